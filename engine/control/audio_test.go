package control

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/engine/apidoc"
)

// The audio object: numbers in dB, null where nothing is measurable (not
// NaN, which is no JSON), and absent for a mount the analysis has nothing
// on; the gauges leave an unmeasurable value out the same way.
func TestAudioDocAndMetrics(t *testing.T) {
	nan := math.NaN()
	stats := map[string]engine.AudioStats{
		"/a.mp3": {State: "silent", Codec: "MP3", SampleRate: 44100, Channels: 2, MomentaryLUFS: nan, ShortTermLUFS: -40.12345,
			IntegratedLUFS: -23.0004, LoudnessRangeLU: 4.5, SamplePeakDBFS: -1, TruePeakDBTP: 0.4, ClippedSamples: 12,
			Silent: true, SilentFor: 12 * time.Second, DigitalSilence: true, Correlation: -0.9, BalanceDB: 0.5, PhaseWarning: true,
			Measured: time.Minute},
	}
	e := start(t, Options{Audio: func(m string) (engine.AudioStats, bool) { st, ok := stats[m]; return st, ok }}, nil)
	e.connectSource("/a.mp3", "source", srcPass)
	e.connectSource("/b.mp3", "source", srcPass)

	code, body := e.admin("/api/v1/mounts/a.mp3")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var doc struct {
		Audio map[string]any `json:"audio"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"state": "silent", "error": "", "codec": "MP3", "sample_rate": 44100.0, "channels": 2.0,
		"momentary_lufs": nil, "short_term_lufs": -40.123, "integrated_lufs": -23.0, "loudness_range_lu": 4.5,
		"sample_peak_dbfs": -1.0, "true_peak_dbtp": 0.4, "clipped_samples": 12.0, "silent": true, "silent_seconds": 12.0,
		"digital_silence": true, "correlation": -0.9, "balance_db": 0.5, "phase_warning": true, "mono": false, "measured_seconds": 60.0}
	for k, v := range want {
		if got, ok := doc.Audio[k]; !ok || got != v {
			t.Errorf("audio.%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	if len(doc.Audio) != len(want) {
		t.Errorf("audio has %d keys, want %d: %v", len(doc.Audio), len(want), doc.Audio)
	}
	_, body = e.admin("/api/v1/status")
	var st apidoc.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	for _, m := range st.Mounts {
		if (m.Audio != nil) != (m.Name == "/a.mp3") {
			t.Errorf("%s: audio %+v", m.Name, m.Audio)
		}
	}

	_, _, metrics := e.get("/metrics", "", "")
	for _, line := range []string{
		`icedeck_mount_loudness_lufs{mount="/a.mp3",window="integrated"} -23.0004`,
		`icedeck_mount_loudness_lufs{mount="/a.mp3",window="short_term"} -40.12345`,
		`icedeck_mount_true_peak_dbtp{mount="/a.mp3"} 0.4`,
		`icedeck_mount_silent{mount="/a.mp3"} 1`,
		`icedeck_mount_clipped_samples_total{mount="/a.mp3"} 12`,
		`icedeck_mount_correlation{mount="/a.mp3"} -0.9`,
	} {
		if !strings.Contains(metrics, line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
	for _, absent := range []string{`window="momentary"`, `icedeck_mount_silent{mount="/b.mp3"}`} {
		if strings.Contains(metrics, absent) {
			t.Errorf("/metrics has %s", absent)
		}
	}
}
