package tui

import (
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine"
)

// testAnalyzer stands in for the analysis with fixed readings.
type testAnalyzer struct {
	mu    sync.Mutex
	stats map[string]engine.AudioStats
	hist  []float64
}

func (a *testAnalyzer) Audio(m string) (engine.AudioStats, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	st, ok := a.stats[m]
	return st, ok
}

func (a *testAnalyzer) History(m string) []float64 {
	if m != "/live.mp3" {
		return nil
	}
	return a.hist
}

func (a *testAnalyzer) Reset(m string) bool {
	a.set(m, func(st *engine.AudioStats) { st.IntegratedLUFS, st.ClippedSamples = math.NaN(), 0 })
	return true
}

func (a *testAnalyzer) set(m string, f func(*engine.AudioStats)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.stats[m]
	f(&st)
	a.stats[m] = st
}

// fixtureAudio: /live.mp3 measured (a history that swells and falls, a
// quiet start), /jazz.aac undecodable, /talk.ogg (in grace) nothing.
func fixtureAudio() *testAnalyzer {
	hist := make([]float64, 300)
	for i := range hist {
		hist[i] = -23 + 6*math.Sin(float64(i)/15)
		if i < 20 {
			hist[i] = math.NaN()
		}
	}
	return &testAnalyzer{hist: hist, stats: map[string]engine.AudioStats{
		"/live.mp3": {State: "ok", Codec: "MP3", SampleRate: 44100, Channels: 2, MomentaryLUFS: -22.84, ShortTermLUFS: -23.41,
			IntegratedLUFS: -23.06, LoudnessRangeLU: 4.2, SamplePeakDBFS: -1.52, TruePeakDBTP: -1.31, Levels: [2]float64{-12, -14.5},
			Correlation: 0.853, BalanceDB: 0.31, Measured: time.Hour},
		"/jazz.aac": {State: "undecodable", Error: "AAC needs ffmpeg, which is not installed (no pure-Go HE-AAC decoder)",
			MomentaryLUFS: math.NaN(), ShortTermLUFS: math.NaN(), IntegratedLUFS: math.NaN(), TruePeakDBTP: math.NaN()},
	}}
}

// The mounts table's audio columns: short-term loudness and true peak;
// the analysis's flags join the health column: "clip" while the clipped
// count grows (and 10 s after), then back to nothing; "undec" for a
// stream it cannot decode.
func TestMountsAudioColumns(t *testing.T) {
	a := fixtureAudio()
	m, e := newTestModel(t, 3, func(o *Options) { o.Analyzer = a })
	wide(m)
	screen := plain(m)
	for _, want := range []string{"LUFS", "TP", "HEALTH", "-23.4  -1.3"} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%s", want, screen)
		}
	}
	if row := rowOf(m, "/jazz.aac"); !strings.Contains(row, "stalled  stall undec") {
		t.Errorf("row of /jazz.aac: %q", row)
	}
	a.set("/live.mp3", func(st *engine.AudioStats) { st.ClippedSamples = 25 })
	refresh(m)
	if row := rowOf(m, "/live.mp3"); !strings.Contains(row, "live     clip") {
		t.Fatalf("no clip flag: %q", row)
	}
	// Clipping counted before the table first looked is no news.
	if m2, _ := newTestModel(t, 3, func(o *Options) { o.Analyzer = a }); strings.Contains(rowOf(m2, "/live.mp3"), "clip") {
		t.Fatalf("old clipping flagged:\n%s", plain(m2))
	}
	e.mu.Lock()
	e.snap.Time = e.snap.Time.Add(11 * time.Second)
	e.mu.Unlock()
	a.set("/live.mp3", func(st *engine.AudioStats) { st.PhaseWarning = true })
	refresh(m)
	if row := rowOf(m, "/live.mp3"); strings.Contains(row, "clip") || !strings.Contains(row, "phase") {
		t.Fatalf("10 s on, the flag should read phase: %q", row)
	}
}

// Without an analysis the table is as it was: no audio columns.
func TestMountsWithoutAnalysis(t *testing.T) {
	m, _ := newTestModel(t, 3, nil)
	if s := plain(m); strings.Contains(s, "LUFS") || strings.Contains(s, " TP ") {
		t.Fatalf("audio columns without an analysis:\n%s", s)
	}
}

// L on the Source tab measures the mount afresh, and says so.
func TestResetLoudness(t *testing.T) {
	a := fixtureAudio()
	m, _ := newTestModel(t, 3, func(o *Options) { o.Analyzer = a })
	press(t, m, "j", "tab", "l")
	if !strings.Contains(plain(m), "L reset LUFS") {
		t.Fatalf("the help line does not offer L:\n%s", plain(m))
	}
	press(t, m, "L")
	refresh(m)
	if st, _ := a.Audio("/live.mp3"); !math.IsNaN(st.IntegratedLUFS) || !strings.Contains(plain(m), "measured afresh") {
		t.Fatalf("integrated %v after L; screen:\n%s", st.IntegratedLUFS, plain(m))
	}
}
