package playback

import (
	"fmt"
	"log/slog"
	"math"
	"os/exec"
	"strings"
	"testing"

	"github.com/icedeck/icedeck/internal/testkit"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

type fixtureCase struct {
	file, ct string
	freq     float64 // Hz
	seconds  float64
	codec    string
	rate     int
	channels int
}

var fixtures = []fixtureCase{
	{"mp3_cbr_1k.mp3", "audio/mpeg", 1000, 2, "MP3", 44100, 2},
	{"mp3_vbr_440.mp3", "audio/mpeg", 440, 2, "MP3", 48000, 2},
	{"vorbis_1k.ogg", "application/ogg", 1000, 2, "Vorbis", 44100, 2},
	{"opus_1k.opus", "audio/ogg; codecs=opus", 1000, 2, "Opus", 48000, 2},
	{"flac_440.oga", "audio/ogg", 440, 2, "FLAC", 22050, 1},
	{"aac_1k.aac", "audio/aac", 1000, 2, "AAC (ffmpeg)", 44100, 2},
}

// checkTone asserts that d is a tone of freq lasting about seconds.
func checkTone(t *testing.T, d decoded, freq, seconds, tolSec float64) {
	t.Helper()
	checkToneRange(t, d, freq, seconds-tolSec, seconds+tolSec)
}

func checkToneRange(t *testing.T, d decoded, freq, lo, hi float64) {
	t.Helper()
	if got := d.seconds(); got < lo || got > hi {
		t.Errorf("duration %.3f s, want %.3f..%.3f", got, lo, hi)
	}
	for c := range 2 {
		x := channel(d.pcm, c)
		if zc := zeroCrossFreq(x, 48000); math.Abs(zc-freq) > freq*0.01 {
			t.Errorf("channel %d: zero-crossing frequency %.1f Hz, want %.0f", c, zc, freq)
		}
		if df := dominantFreq(x, 48000); c == 0 && math.Abs(df-freq) > 10 {
			t.Errorf("channel %d: DFT peak at %.0f Hz, want %.0f", c, df, freq)
		}
	}
}

func TestDecodeFixtures(t *testing.T) {
	for _, fc := range fixtures {
		t.Run(fc.file, func(t *testing.T) {
			if fc.codec == "AAC (ffmpeg)" {
				testkit.NeedTool(t, "ffmpeg")
			}
			data := testkit.Testdata(t, fc.file)
			for _, variant := range []struct {
				name string
				ct   string
				data []byte
			}{
				{"whole", fc.ct, data},
				{"junk-before", fc.ct, concat(junk(3000), data)},
				{"sniffed", "application/octet-stream", data},
			} {
				t.Run(variant.name, func(t *testing.T) {
					d, err := decodeBytes(t, variant.data, variant.ct)
					if err != nil {
						t.Fatal(err)
					}
					if len(d.infos) == 0 {
						t.Fatal("no segment")
					}
					i := d.infos[0]
					if i.Codec != fc.codec || i.SampleRate != fc.rate || i.Channels != fc.channels {
						t.Errorf("info %+v, want %s %d Hz %d ch", i, fc.codec, fc.rate, fc.channels)
					}
					// Codec delay/padding (MP3 ~50 ms, AAC/Opus priming) stays under 0.1 s.
					checkTone(t, d, fc.freq, fc.seconds, 0.1)
				})
			}
		})
	}
}

// TestDecodeMP3Joins starts MP3 streams at arbitrary byte offsets, behind
// junk: go-mp3 alone latched onto false headers in most such joins.
func TestDecodeMP3Joins(t *testing.T) {
	for _, name := range []string{"mp3_cbr_1k.mp3", "mp3_vbr_440.mp3"} {
		data := testkit.Testdata(t, name)
		freq := 1000.0
		if strings.Contains(name, "440") {
			freq = 440
		}
		for off := 0; off < 5000; off += 611 {
			t.Run(fmt.Sprintf("%s@%d", name, off), func(t *testing.T) {
				if off >= len(data)/2 {
					t.Skip("offset beyond half the file")
				}
				in := concat(junk(off%1500), data[off:])
				d, err := decodeBytes(t, in, "audio/mpeg")
				if err != nil {
					t.Fatal(err)
				}
				// Frames at or after off, minus those dropped for a missing bit
				// reservoir (at most ~0.25 s at these bitrates).
				want := mp3SecondsFrom(t, data, off)
				checkToneRange(t, d, freq, want-0.25, want+0.05)
			})
		}
	}
}

// TestDecodeMP3RateChange: a 22.05 kHz stream after a 44.1 kHz one must be
// decoded by a new decoder, not played at the wrong speed.
func TestDecodeMP3RateChange(t *testing.T) {
	in := concat(testkit.Testdata(t, "mp3_cbr_1k.mp3"), testkit.Testdata(t, "mp3_22k_1k.mp3"))
	d, err := decodeBytes(t, in, "audio/mpeg")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.infos) < 2 || d.infos[0].SampleRate != 44100 || d.infos[len(d.infos)-1].SampleRate != 22050 {
		t.Fatalf("segments %+v, want 44100 then 22050", d.infos)
	}
	if math.Abs(d.seconds()-3) > 0.15 {
		t.Errorf("duration %.3f s, want 3 (2 s + 1 s)", d.seconds())
	}
	// Each part on its own (the encoders' delay leaves a short gap between).
	head := channel(d.pcm[:48000*19/10], 0)
	tail := channel(d.pcm[len(d.pcm)-48000*9/10:], 0)
	for i, x := range [][]float64{head, tail} {
		if f := zeroCrossFreq(x, 48000); math.Abs(f-1000) > 10 {
			t.Errorf("part %d (%s) plays at %.1f Hz, want 1000", i+1, []string{"44.1 kHz", "22.05 kHz"}[i], f)
		}
	}
}

func TestDecodeOggChained(t *testing.T) {
	d, err := decodeBytes(t, testkit.Testdata(t, "vorbis_chained.ogg"), "application/ogg")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.infos) != 2 || d.infos[0].SampleRate != 44100 || d.infos[1].SampleRate != 48000 {
		t.Fatalf("segments %+v, want two Vorbis streams 44100 then 48000", d.infos)
	}
	if math.Abs(d.seconds()-2) > 0.1 {
		t.Errorf("duration %.3f, want 2", d.seconds())
	}
	first := channel(d.pcm[:44000], 0)
	second := channel(d.pcm[len(d.pcm)-44000:], 1)
	if f := zeroCrossFreq(first, 48000); math.Abs(f-440) > 5 {
		t.Errorf("first track %.1f Hz, want 440", f)
	}
	if f := zeroCrossFreq(second, 48000); math.Abs(f-1000) > 10 {
		t.Errorf("second track %.1f Hz, want 1000", f)
	}
}

// TestDecodeOggMidStreamJoin: header pages, then audio from a later page
// boundary (what the relay's tap delivers), with junk in between.
func TestDecodeOggMidStreamJoin(t *testing.T) {
	for _, fc := range fixtures {
		if !strings.HasSuffix(fc.file, ".ogg") && !strings.HasSuffix(fc.file, ".opus") && !strings.HasSuffix(fc.file, ".oga") {
			continue
		}
		t.Run(fc.file, func(t *testing.T) {
			pages, gran := oggPages(t, testkit.Testdata(t, fc.file))
			nh := 0
			for nh < len(pages) && gran[nh] == 0 {
				nh++
			}
			if nh == 0 || nh+4 > len(pages) {
				t.Fatalf("%d header pages of %d", nh, len(pages))
			}
			join := nh + (len(pages)-nh)*2/5
			in := concat(pages[:nh]...)
			in = append(in, junk(500)...)
			in = append(in, concat(pages[join:]...)...)
			d, err := decodeBytes(t, in, fc.ct)
			if err != nil {
				t.Fatal(err)
			}
			granRate := float64(fc.rate)
			if fc.codec == "Opus" {
				granRate = 48000
			}
			last := gran[len(gran)-1]
			want := float64(last-gran[join-1]) / granRate
			checkTone(t, d, fc.freq, want, 0.1)
		})
	}
}

func TestDecodeOggWithoutHeaders(t *testing.T) {
	pages, _ := oggPages(t, testkit.Testdata(t, "vorbis_1k.ogg"))
	_, err := decodeBytes(t, concat(pages[5:]...), "application/ogg")
	if err == nil || !strings.Contains(err.Error(), "without headers") {
		t.Fatalf("err = %v, want a 'joined mid-stream without headers' error", err)
	}
}

func TestDecodeAACJoin(t *testing.T) {
	testkit.NeedTool(t, "ffmpeg")
	data := testkit.Testdata(t, "aac_1k.aac")
	off := 7777
	d, err := decodeBytes(t, concat(junk(1000), data[off:]), "audio/aac")
	if err != nil {
		t.Fatal(err)
	}
	want := 2 * float64(len(data)-off) / float64(len(data))
	checkTone(t, d, 1000, want, 0.15)
}

func TestDecodeUnsupported(t *testing.T) {
	src := pipeOf([]byte(strings.Repeat("FLV\x01 not audio we know ", 1000)))
	_, err := openDecoder(t.Context(), src, "video/x-flv", "", discardLogger(), nil)
	if err == nil || !strings.Contains(err.Error(), "ffmpeg is not installed") {
		t.Fatalf("err = %v", err)
	}
	_, err = openDecoder(t.Context(), pipeOf(nil), "audio/aac", "", discardLogger(), nil)
	if err == nil || !strings.Contains(err.Error(), "AAC needs ffmpeg") {
		t.Fatalf("err = %v", err)
	}
}

// mp3SecondsFrom walks the fixture's frames from its start (after an
// ID3v2 tag) and returns the audio duration of the frames starting at or
// after byte off.
func mp3SecondsFrom(t *testing.T, data []byte, off int) float64 {
	t.Helper()
	pos := 0
	if len(data) > 10 && string(data[:3]) == "ID3" {
		pos = 10 + (int(data[6])<<21 | int(data[7])<<14 | int(data[8])<<7 | int(data[9]))
	}
	sec := 0.0
	for pos+4 <= len(data) {
		h, ok := mp3At(data[pos:])
		if !ok {
			t.Fatalf("no frame at %d", pos)
		}
		if pos >= off {
			sec += float64(h.Samples) / float64(h.SampleRate)
		}
		pos += h.Length
	}
	return sec
}

// TestDecodeThroughFFmpeg: types without a decoder here go to ffmpeg
// whole, named by their content type. LATM is not ADTS: forced to ffmpeg's
// ADTS demuxer it decoded to nothing; ffmpeg's probe finds it.
func TestDecodeThroughFFmpeg(t *testing.T) {
	testkit.NeedTool(t, "ffmpeg")
	for _, c := range []struct {
		ct, args, codec string
	}{
		{"audio/flac", "-c:a flac -f flac", "FLAC (ffmpeg)"},
		{"audio/webm", "-c:a libopus -b:a 64k -f webm", "WebM (ffmpeg)"},
		{"audio/mp4a-latm", "-c:a aac -b:a 96k -f latm", "ffmpeg (ffmpeg)"},
	} {
		t.Run(c.ct, func(t *testing.T) {
			args := append([]string{"-v", "error", "-fflags", "+bitexact", "-f", "lavfi", "-i", "sine=f=1000:d=2:r=48000"}, strings.Fields(c.args)...)
			data, err := exec.Command("ffmpeg", append(args, "pipe:1")...).Output()
			if err != nil {
				t.Fatalf("ffmpeg: %v", err)
			}
			d, err := decodeBytes(t, data, c.ct)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.infos) == 0 || d.infos[0].Codec != c.codec {
				t.Fatalf("segments %+v, want codec %q", d.infos, c.codec)
			}
			checkTone(t, d, 1000, 2, 0.1)
		})
	}
}
