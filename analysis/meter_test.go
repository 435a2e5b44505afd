package analysis

import (
	"bytes"
	"context"
	"math"
	"math/cmplx"
	"math/rand"
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/internal/testkit"
	"github.com/icedeck/icedeck/playback"
)

// At 48 kHz the K-weighting derived from its analogue prototype is the
// filter BS.1770-4 tabulates.
func TestKWeighting48k(t *testing.T) {
	shelf, hp := kWeighting(48000)
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"shelf b0", shelf.b0, 1.53512485958697}, {"shelf b1", shelf.b1, -2.69169618940638}, {"shelf b2", shelf.b2, 1.19839281085285},
		{"shelf a1", shelf.a1, -1.69065929318241}, {"shelf a2", shelf.a2, 0.73248077421585},
		{"hp b0", hp.b0, 1}, {"hp b1", hp.b1, -2}, {"hp b2", hp.b2, 1},
		{"hp a1", hp.a1, -1.99004745483398}, {"hp a2", hp.a2, 0.99007225036621},
	} {
		if math.Abs(c.got-c.want) > 1e-8 {
			t.Errorf("%s = %.14f, BS.1770-4 has %.14f", c.name, c.got, c.want)
		}
	}
}

// Each interpolating phase of the true-peak filter passes the audio band
// within 0.02 dB, and phase 0 is the sample itself.
func TestTruePeakFilterFlat(t *testing.T) {
	for p, taps := range truePeakTaps {
		for f := 0.0; f <= 0.375; f += 0.005 { // of the sample rate
			var h complex128
			for j, c := range taps {
				h += complex(c, 0) * cmplx.Exp(complex(0, -2*math.Pi*f*float64(j)))
			}
			if db := 20 * math.Log10(cmplx.Abs(h)); math.Abs(db) > 0.02 {
				t.Errorf("phase %d: %.3f dB at %.3f of the rate", p+1, db, f)
			}
		}
	}
	var tp truePeak
	for _, x := range []float64{0.1, -0.7, 0.3} {
		tp.add(x)
	}
	if tp.peak < 0.7 {
		t.Errorf("true peak %.3f under the sample peak 0.7", tp.peak)
	}
}

// sine returns seconds of a sine at amplitude a on both channels, the
// second one's phase shifted by phase2 radians.
func sine(rate int, freq, a, phase2, seconds float64) [][2]float64 {
	n := int(float64(rate) * seconds)
	out := make([][2]float64, n)
	for i := range out {
		w := 2 * math.Pi * freq * float64(i) / float64(rate)
		out[i] = [2]float64{a * math.Sin(w), a * math.Sin(w+phase2)}
	}
	return out
}

func reading(m *Meter) engine.AudioStats {
	var st engine.AudioStats
	m.Fill(&st)
	return st
}

// Silence: every channel under the threshold for the time set, told apart
// from exact zeros; a hop over the threshold ends it at once.
func TestMeterSilence(t *testing.T) {
	s := Settings{SilenceThreshold: -50, SilenceAfter: 2 * time.Second}
	m := NewMeter(48000, 2, s)
	m.Add(sine(48000, 1000, 0.1, 0, 1))
	if st := reading(m); st.Silent || st.SilentFor != 0 || !m.Audible() {
		t.Fatalf("a -20 dBFS tone: %+v", st)
	}
	quiet := sine(48000, 1000, math.Pow(10, -55.0/20), 0, 1.9)
	m.Add(quiet)
	if st := reading(m); st.Silent || st.SilentFor != 1900*time.Millisecond || st.DigitalSilence {
		t.Fatalf("1.9 s at -55 dBFS: silent %v for %s, digital %v", st.Silent, st.SilentFor, st.DigitalSilence)
	}
	m.Add(quiet[:4800])
	if st := reading(m); !st.Silent || st.DigitalSilence || m.Audible() {
		t.Fatalf("2 s at -55 dBFS: silent %v, digital %v", st.Silent, st.DigitalSilence)
	}
	m.Add(make([][2]float64, 48000*3))
	if st := reading(m); !st.Silent || st.DigitalSilence || st.SilentFor != 5*time.Second {
		t.Fatalf("a run that began quiet is not digital silence: %+v", st)
	}
	m.Add(sine(48000, 1000, 0.1, 0, 0.1))
	if st := reading(m); st.Silent || !m.Audible() {
		t.Fatalf("audio back, still silent: %+v", st)
	}
	m.Add(make([][2]float64, 48000*2))
	if st := reading(m); !st.Silent || !st.DigitalSilence || !math.IsNaN(st.MomentaryLUFS) || st.Levels[0] != -120 {
		t.Fatalf("2 s of zeros: %+v", st)
	}
}

// Phase: identical channels are mono, opposite ones cancel, and a
// quarter-period shift is neither.
func TestMeterPhase(t *testing.T) {
	for _, c := range []struct {
		name    string
		phase   float64
		corr    float64
		mono    bool
		warning bool
	}{
		{"same", 0, 1, true, false},
		{"inverted", math.Pi, -1, false, true},
		{"quadrature", math.Pi / 2, 0, false, false},
	} {
		m := NewMeter(44100, 2, Defaults)
		m.Add(sine(44100, 440, 0.3, c.phase, 4))
		st := reading(m)
		if math.Abs(st.Correlation-c.corr) > 0.01 || st.Mono != c.mono || st.PhaseWarning != c.warning || math.Abs(st.BalanceDB) > 0.01 {
			t.Errorf("%s: correlation %.3f balance %.3f mono %v warning %v", c.name, st.Correlation, st.BalanceDB, st.Mono, st.PhaseWarning)
		}
	}
	// One channel 6 dB down: balance +6 dB, still in phase.
	m := NewMeter(48000, 2, Defaults)
	pcm := sine(48000, 1000, 0.4, 0, 3)
	for i := range pcm {
		pcm[i][1] /= 2
	}
	m.Add(pcm)
	if st := reading(m); math.Abs(st.BalanceDB-6.02) > 0.01 || st.Mono || st.PhaseWarning {
		t.Errorf("right 6 dB down: balance %.2f mono %v warning %v", st.BalanceDB, st.Mono, st.PhaseWarning)
	}
	// A mono stream has no correlation and is mono.
	mono := NewMeter(48000, 1, Defaults)
	mono.Add(sine(48000, 1000, 0.4, 1, 1))
	if st := reading(mono); !st.Mono || !math.IsNaN(st.Correlation) || st.Channels != 1 {
		t.Errorf("mono stream: %+v", st)
	}
}

// Every sample at or over full scale is counted, per channel.
func TestMeterClipping(t *testing.T) {
	m := NewMeter(48000, 2, Defaults)
	pcm := sine(48000, 1000, 1.5, 0, 1)
	want := uint64(0)
	for i := range pcm {
		for c := range 2 {
			pcm[i][c] = max(min(pcm[i][c], 1), -1)
			if math.Abs(pcm[i][c]) >= 0.999 {
				want++
			}
		}
	}
	m.Add(pcm)
	if st := reading(m); st.ClippedSamples != want || want < 10000 || st.SamplePeakDBFS != 0 {
		t.Errorf("clipped %d, want %d; sample peak %.2f", st.ClippedSamples, want, st.SamplePeakDBFS)
	}
}

// A long measurement keeps constant memory and gates quiet passages out
// of the integrated loudness.
func TestMeterGating(t *testing.T) {
	m := NewMeter(48000, 2, Defaults)
	a := math.Pow(10, -23.0/20)
	m.Add(sine(48000, 1000, a, 0, 20))
	m.Add(sine(48000, 1000, a/100, 0, 20)) // -63 dBFS: under the relative gate
	st := reading(m)
	if math.Abs(st.IntegratedLUFS+23) > 0.05 { // blocks that straddle the change count
		t.Errorf("integrated %.3f LUFS, want -23 (the quiet half gated out)", st.IntegratedLUFS)
	}
	if st.Measured != 40*time.Second {
		t.Errorf("measured %s", st.Measured)
	}
}

func BenchmarkMeterStereo44k(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	pcm := make([][2]float64, 44100)
	for i := range pcm {
		pcm[i] = [2]float64{rng.Float64() - 0.5, rng.Float64() - 0.5}
	}
	m := NewMeter(44100, 2, Defaults)
	b.SetBytes(int64(len(pcm)) * 16)
	b.ReportAllocs()
	for b.Loop() {
		m.Add(pcm) // one second of audio
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e9*100, "%core/stream")
}

// The cost of analysing one 128 kb/s MP3 mount, decode included: the
// issue allows 3 % of a core. %core/mount is the CPU time per second of
// audio.
func BenchmarkAnalyseMP3_128k(b *testing.B) {
	testkit.NeedTool(b, "ffmpeg")
	const seconds = 10
	mp3 := encodeB(b, "anoisesrc=c=pink:a=0.3:r=44100:d=10,aformat=channel_layouts=stereo", mp3Args...)
	b.SetBytes(int64(len(mp3)))
	b.ReportAllocs()
	for b.Loop() {
		d, err := playback.NewDecoder(context.Background(), bytes.NewReader(mp3), "audio/mpeg", playback.DecoderOptions{FFmpeg: "-"})
		if err != nil {
			b.Fatal(err)
		}
		var m *Meter
		for {
			pcm, f, err := d.Next()
			if err != nil {
				break
			}
			if m == nil {
				m = NewMeter(f.SampleRate, f.Channels, Defaults)
			}
			m.Add(pcm)
		}
		if m == nil || m.Hops() < seconds*hopsPerSecond-2 {
			b.Fatal("not all of the audio decoded")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/seconds/1e9*100, "%core/mount")
}
