package playback

import (
	"context"
	"encoding/binary"
	"io"
	"math"
	"math/rand"
	"os/exec"
	"testing"
)

// pipeOf returns a non-seekable reader delivering data in uneven chunks
// from another goroutine, like a network body.
func pipeOf(data []byte) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		rng := rand.New(rand.NewSource(int64(len(data))))
		for len(data) > 0 {
			n := min(len(data), 1+rng.Intn(3000))
			if _, err := pw.Write(data[:n]); err != nil {
				return
			}
			data = data[n:]
		}
		_ = pw.Close()
	}()
	return pr
}

// junk returns n deterministic bytes full of false MP3/ADTS sync words and
// a fake Ogg capture pattern.
func junk(n int) []byte {
	rng := rand.New(rand.NewSource(7))
	b := make([]byte, n)
	rng.Read(b)
	for i := 0; i+4 < n; i += 97 {
		b[i], b[i+1] = 0xff, 0xfb // MPEG-1 Layer III sync
	}
	for i := 50; i+4 < n; i += 401 {
		b[i], b[i+1] = 0xff, 0xf1 // ADTS sync
	}
	if n > 300 {
		copy(b[200:], "OggS\x00")
	}
	return b
}

type decoded struct {
	pcm   [][2]float64 // at 48 kHz
	infos []streamInfo
}

func (d decoded) seconds() float64 { return float64(len(d.pcm)) / 48000 }

// decodeBytes runs the player's decode path (sniff/select decoder, decode,
// resample to 48 kHz) over a non-seekable pipe.
func decodeBytes(t testing.TB, data []byte, contentType string) (decoded, error) {
	t.Helper()
	var d decoded
	ff, _ := exec.LookPath("ffmpeg")
	src := pipeOf(data)
	defer src.Close()
	dec, err := openDecoder(context.Background(), src, contentType, ff, discardLogger(), nil)
	if err != nil {
		return d, err
	}
	err = pump(dec, 48000,
		func(i streamInfo) bool { d.infos = append(d.infos, i); return true },
		func(f [][2]float64) bool { d.pcm = append(d.pcm, f...); return true })
	return d, err
}

func channel(pcm [][2]float64, c int) []float64 {
	x := make([]float64, len(pcm))
	for i, f := range pcm {
		x[i] = f[c]
	}
	return x
}

// zeroCrossFreq measures the frequency of a tone from its rising zero
// crossings (interpolated), ignoring the first and last 100 ms. A crossing
// counts only after the signal went below -10% of its peak (hysteresis), so
// low-level noise in codec delay gaps does not add crossings.
func zeroCrossFreq(x []float64, rate int) float64 {
	skip := rate / 10
	if len(x) < 3*skip {
		return 0
	}
	x = x[skip : len(x)-skip]
	peak := 0.0
	for _, v := range x {
		peak = max(peak, math.Abs(v))
	}
	thr := peak / 10
	first, last := -1.0, -1.0
	n := 0
	armed := false
	for i := 1; i < len(x); i++ {
		if x[i] < -thr {
			armed = true
		}
		if armed && x[i-1] < 0 && x[i] >= 0 {
			armed = false
			t := float64(i-1) + (-x[i-1])/(x[i]-x[i-1])
			if first < 0 {
				first = t
			}
			last = t
			n++
		}
	}
	if n < 2 {
		return 0
	}
	return float64(n-1) * float64(rate) / (last - first)
}

// goertzel returns the power of frequency f in x.
func goertzel(x []float64, f float64, rate int) float64 {
	w := 2 * math.Pi * f / float64(rate)
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range x {
		s0 := v + c*s1 - s2
		s2, s1 = s1, s0
	}
	return s1*s1 + s2*s2 - c*s1*s2
}

// dominantFreq is a small DFT over 20..4000 Hz in 5 Hz steps on the middle
// 100 ms of x: a check independent of zero crossings.
func dominantFreq(x []float64, rate int) float64 {
	mid := len(x) / 2
	w := rate / 10
	if len(x) < w {
		w = len(x)
	}
	seg := x[max(0, mid-w/2):min(len(x), mid+w/2)]
	best, bestP := 0.0, -1.0
	for f := 20.0; f <= 4000; f += 5 {
		if p := goertzel(seg, f, rate); p > bestP {
			best, bestP = f, p
		}
	}
	return best
}

// oggPages splits an Ogg file into raw pages with their granule positions.
func oggPages(t testing.TB, b []byte) (pages [][]byte, granules []int64) {
	t.Helper()
	for len(b) >= 27 {
		if string(b[:4]) != "OggS" {
			t.Fatal("not at a page boundary")
		}
		n := int(b[26])
		size := 27 + n
		for _, l := range b[27 : 27+n] {
			size += int(l)
		}
		pages = append(pages, b[:size])
		granules = append(granules, int64(binary.LittleEndian.Uint64(b[6:14])))
		b = b[size:]
	}
	return pages, granules
}

func concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
