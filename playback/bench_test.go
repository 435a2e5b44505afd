//go:build unix

package playback

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// noSeek hides bytes.Reader's Seek, like a network body.
type noSeek struct{ r *bytes.Reader }

func (n noSeek) Read(p []byte) (int, error) { return n.r.Read(p) }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDecodeMP3_320k measures the CPU cost of decoding a 320 kb/s
// 44.1 kHz stereo MP3 (10 s of pink noise plus a tone, generated with
// ffmpeg) and resampling it to 48 kHz, as the player does. The custom
// metric cpu-ms/audio-s is process CPU time (user+sys, all threads,
// including GC) per second of audio.
func BenchmarkDecodeMP3_320k(b *testing.B) {
	testkit.NeedTool(b, "ffmpeg")
	path := filepath.Join(b.TempDir(), "320k.mp3")
	gen := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i",
		"anoisesrc=c=pink:a=0.2:r=44100:d=10", "-f", "lavfi", "-i", "sine=f=997:r=44100:d=10",
		"-filter_complex", "[0][1]amix=inputs=2,aformat=channel_layouts=stereo",
		"-c:a", "libmp3lame", "-b:a", "320k", path)
	if out, err := gen.CombinedOutput(); err != nil {
		b.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	for _, rate := range []int{44100, 48000} {
		name := "decode+resample48k"
		if rate == 44100 {
			name = "decode-only"
		}
		b.Run(name, func(b *testing.B) {
			var frames int64
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				dec, err := openDecoder(context.Background(), noSeek{bytes.NewReader(data)}, "audio/mpeg", "", discardLogger(), nil)
				if err != nil {
					b.Fatal(err)
				}
				frames = 0
				err = pump(dec, rate, func(streamInfo) bool { return true },
					func(f [][2]float64) bool { frames += int64(len(f)); return true })
				if err != nil {
					b.Fatal(err)
				}
			}
			cpu := cpuTime() - cpu0
			audioSec := float64(frames) / float64(rate)
			b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N)/audioSec, "cpu-ms/audio-s")
			b.ReportMetric(audioSec, "audio-s/op")
		})
	}
}
