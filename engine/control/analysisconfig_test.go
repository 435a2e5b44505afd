package control

import (
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine"
)

// [analysis] and the mounts' analysis keys are read; on_silence reaches
// the engine's mount settings, a mount's own over [analysis]'s.
func TestAnalysisConfig(t *testing.T) {
	f, err := ParseConfig("a.toml", []byte(`
[analysis]
enabled = true
max_mounts = 8
silence_threshold = -45.5
silence_after = "4s"
on_silence = "fallback"

[[mount]]
name = "/a.mp3"
fallback = "/b.mp3"

[[mount]]
name = "/b.mp3"
analyze = false
silence_threshold = -60
silence_after = "30s"
on_silence = "none"
`))
	if err != nil {
		t.Fatal(err)
	}
	a := f.Analysis
	if a.Enabled == nil || !*a.Enabled || a.MaxMounts == nil || *a.MaxMounts != 8 || a.SilenceThreshold == nil || *a.SilenceThreshold != -45.5 ||
		time.Duration(a.SilenceAfter) != 4*time.Second || a.OnSilence != "fallback" {
		t.Fatalf("[analysis] read as %+v", a)
	}
	b := f.Mounts[1].MountAnalysis
	if b.Analyze == nil || *b.Analyze || *b.SilenceThreshold != -60 || time.Duration(b.SilenceAfter) != 30*time.Second {
		t.Fatalf("mount /b.mp3's analysis read as %+v", b)
	}
	cfg := engine.Defaults()
	f.Apply(&cfg)
	if got := cfg.Mounts["/a.mp3"].OnSilence; got != engine.OnSilenceFallback {
		t.Errorf("/a.mp3 on_silence %q, want [analysis]'s fallback", got)
	}
	if got := cfg.Mounts["/b.mp3"].OnSilence; got != "" {
		t.Errorf("/b.mp3 on_silence %q, want its own none", got)
	}
}

func TestAnalysisConfigErrors(t *testing.T) {
	for _, c := range []struct{ toml, want string }{
		{"[analysis]\non_silence = \"panic\"\n", `bad.toml:2: analysis.on_silence: on_silence is "none" or "fallback", not "panic"`},
		{"[analysis]\n\nsilence_threshold = 3\n", "bad.toml:3: analysis: silence_threshold is in dBFS, between -120 and 0, not 3"},
		{"[analysis]\nsilence_after = \"-1s\"\n", "bad.toml:2: analysis: silence_after must be between 100ms and 24h0m0s, got -1s"},
		{"[analysis]\nmax_mounts = -1\n", "bad.toml:2: analysis: max_mounts is 0 or more, not -1"},
		{"[analysis]\nanalyze = false\n", "bad.toml:2: analysis: analyze is a [[mount]] key"},
		{"[[mount]]\nname = \"/a\"\nsilence_after = \"1ms\"\n", "bad.toml:3: mount /a: silence_after must be between 100ms"},
		{"[[mount]]\nname = \"/a\"\non_silence = \"yes\"\n", `bad.toml:3:`},
	} {
		_, err := ParseConfig("bad.toml", []byte(c.toml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.toml, err, c.want)
		}
	}
}
