#!/bin/sh
# Regenerates the fixtures in this directory (ffmpeg 5.1, Debian 12).
# All tones are sines at amplitude 0.5 (-6.02 dBFS) so the meter test can use them.
set -e
F="ffmpeg -v error -y -fflags +bitexact"
tone() { echo "aevalsrc=0.5*sin(2*PI*$1*t)|0.5*sin(2*PI*$1*t):s=$2:d=$3"; }
# MP3 CBR 128k, 1 kHz, 44.1 kHz stereo, 2 s
$F -f lavfi -i "$(tone 1000 44100 2)" -c:a libmp3lame -b:a 128k -write_xing 0 -id3v2_version 0 mp3_cbr_1k.mp3
# MP3 VBR (lame -V4), 440 Hz, 48 kHz stereo, 2 s (Xing header frame kept)
$F -f lavfi -i "$(tone 440 48000 2)" -c:a libmp3lame -q:a 4 mp3_vbr_440.mp3
# MP3 22.05 kHz (MPEG-2) 1 kHz, 1 s: appended to a 44.1 kHz file to test a sample-rate change
$F -f lavfi -i "$(tone 1000 22050 1)" -c:a libmp3lame -b:a 64k -write_xing 0 -id3v2_version 0 mp3_22k_1k.mp3
# Ogg pages of 100 ms (ffmpeg default: 1 s) so a mid-stream join has page boundaries to start at.
# Ogg Vorbis, 1 kHz, 44.1 kHz stereo, 2 s
$F -f lavfi -i "$(tone 1000 44100 2)" -c:a libvorbis -q:a 2 -page_duration 100000 vorbis_1k.ogg
# Chained Ogg Vorbis: 440 Hz @44.1 kHz (1 s) then 1 kHz @48 kHz (1 s), two logical streams
$F -f lavfi -i "$(tone 440 44100 1)" -c:a libvorbis -q:a 2 -serial_offset 100 -page_duration 100000 /tmp/chain_a.ogg
$F -f lavfi -i "$(tone 1000 48000 1)" -c:a libvorbis -q:a 2 -serial_offset 200 -page_duration 100000 /tmp/chain_b.ogg
cat /tmp/chain_a.ogg /tmp/chain_b.ogg > vorbis_chained.ogg
# Ogg Opus, 1 kHz, 48 kHz stereo, 96 kb/s, 2 s
$F -f lavfi -i "$(tone 1000 48000 2)" -c:a libopus -b:a 96k -page_duration 100000 opus_1k.opus
# FLAC in Ogg, 440 Hz, 22.05 kHz mono 16-bit, 2 s
$F -f lavfi -i "aevalsrc=0.5*sin(2*PI*440*t):s=22050:d=2" -sample_fmt s16 -c:a flac -page_duration 100000 -f ogg flac_440.oga
# ADTS AAC-LC, 1 kHz, 44.1 kHz stereo, 96 kb/s, 2 s
$F -f lavfi -i "$(tone 1000 44100 2)" -c:a aac -b:a 96k -f adts aac_1k.aac
