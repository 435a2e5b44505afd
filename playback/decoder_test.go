package playback

import (
	"bytes"
	"context"
	"io"
	"math"
	"testing"

	"github.com/icedeck/icedeck/internal/testkit"
)

// decodeAll runs the exported Decoder over data from a pipe and returns
// each run of one format with its PCM.
func decodeAll(t *testing.T, data []byte, contentType string) ([]Format, [][][2]float64) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := pipeOf(data)
	defer src.Close()
	d, err := NewDecoder(ctx, src, contentType, DecoderOptions{Logger: testkit.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var formats []Format
	var pcm [][][2]float64
	for {
		b, f, err := d.Next()
		if err == io.EOF {
			return formats, pcm
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(formats) == 0 || formats[len(formats)-1] != f {
			formats = append(formats, f)
			pcm = append(pcm, nil)
		}
		pcm[len(pcm)-1] = append(pcm[len(pcm)-1], b...)
	}
}

// The Decoder gives the stream's own rate and channel count (a mono FLAC
// is one channel, at 22.05 kHz), and the tone at its level.
func TestDecoderNativeFormat(t *testing.T) {
	for _, fc := range fixtures {
		t.Run(fc.file, func(t *testing.T) {
			rate, ch := fc.rate, fc.channels
			if fc.codec == "AAC (ffmpeg)" {
				testkit.NeedTool(t, "ffmpeg")
				rate = 48000 // ffmpeg's output
			}
			formats, pcm := decodeAll(t, testkit.Testdata(t, fc.file), fc.ct)
			if len(formats) != 1 {
				t.Fatalf("formats %+v, want one", formats)
			}
			if want := (Format{Codec: fc.codec, SampleRate: rate, Channels: ch}); formats[0] != want {
				t.Fatalf("format %+v, want %+v", formats[0], want)
			}
			x := channel(pcm[0], 0)
			if got := float64(len(x)) / float64(rate); math.Abs(got-fc.seconds) > 0.15 {
				t.Errorf("%.3f s decoded, want %.1f", got, fc.seconds)
			}
			if zc := zeroCrossFreq(x, rate); math.Abs(zc-fc.freq) > fc.freq*0.01 {
				t.Errorf("tone at %.1f Hz, want %.0f", zc, fc.freq)
			}
			peak := 0.0
			for _, v := range x[len(x)/4 : 3*len(x)/4] {
				peak = max(peak, math.Abs(v))
			}
			if math.Abs(peak-0.5) > 0.03 {
				t.Errorf("peak %.3f, want the fixtures' 0.5", peak)
			}
		})
	}
}

// A chained Ogg stream changes format where its second track starts.
func TestDecoderFormatChange(t *testing.T) {
	formats, pcm := decodeAll(t, testkit.Testdata(t, "vorbis_chained.ogg"), "application/ogg")
	want := []Format{{"Vorbis", 44100, 2}, {"Vorbis", 48000, 2}}
	if len(formats) != 2 || formats[0] != want[0] || formats[1] != want[1] {
		t.Fatalf("formats %+v, want %+v", formats, want)
	}
	for i, f := range []float64{440, 1000} {
		if zc := zeroCrossFreq(channel(pcm[i], 0), want[i].SampleRate); math.Abs(zc-f) > f*0.01 {
			t.Errorf("track %d at %.1f Hz, want %.0f", i, zc, f)
		}
	}
}

// What cannot be decoded says why instead of yielding noise.
func TestDecoderRefuses(t *testing.T) {
	_, err := NewDecoder(context.Background(), pipeOf(bytes.Repeat([]byte("not audio "), 1000)), "text/plain", DecoderOptions{FFmpeg: "-"})
	if err == nil {
		t.Fatal("an unknown format without ffmpeg was accepted")
	}
	d, err := NewDecoder(context.Background(), pipeOf(junk(20000)), "audio/mpeg", DecoderOptions{FFmpeg: "-"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Next(); err == nil {
		t.Fatal("junk decoded as MP3")
	}
}
