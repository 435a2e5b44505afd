#!/bin/sh
# Regenerates the shared test media (ffmpeg 5.1), which testkit embeds.
# Small, so they are committed.
set -e
cd "$(dirname "$0")"
ffmpeg -v error -y -f lavfi -i "sine=f=1000:d=5" -ac 2 -c:a libmp3lame -b:a 128k -write_xing 0 tone.mp3
ffmpeg -v error -y -f lavfi -i "sine=f=440:d=5" -ac 2 -c:a libvorbis -q:a 1 tone.ogg
ffmpeg -v error -y -f lavfi -i "sine=f=440:d=5" -ac 2 -c:a libopus -b:a 48k tone.opus
ffmpeg -v error -y -f lavfi -i "sine=f=440:d=5" -ac 2 -c:a aac -b:a 64k -f adts tone.aac
ffmpeg -v error -y -f lavfi -i "sine=f=440:d=2" -ac 2 -c:a libmp3lame -b:a 128k -write_xing 0 tone440.mp3
ffmpeg -v error -y -f lavfi -i "sine=f=440:d=2" -ac 2 -c:a libvorbis -q:a 0 -metadata artist="Night Band" -metadata title="Blue Hour" titled.ogg
