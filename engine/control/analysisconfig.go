package control

import (
	"fmt"
	"time"

	"github.com/icedeck/icedeck/engine"
)

// AnalysisSection is [analysis]: the audio analysis of every mount
// (loudness, true peak, silence, phase) and the dead-air switch. The
// control plane only reads it; the command gives it to the analysis.
type AnalysisSection struct {
	Enabled   *bool `toml:"enabled"`    // default true
	MaxMounts *int  `toml:"max_mounts"` // default 64
	MountAnalysis
}

// MountAnalysis are the analysis keys [analysis] and each [[mount]] set;
// a mount's override [analysis]'s.
type MountAnalysis struct {
	Analyze *bool `toml:"analyze"` // a [[mount]] only: false leaves it unmeasured
	// SilenceThreshold (dBFS, default -50) and SilenceAfter (default
	// 10 s): a mount whose every channel stays under the threshold for
	// that long is silent.
	SilenceThreshold *float64 `toml:"silence_threshold"`
	SilenceAfter     Duration `toml:"silence_after"`
	// OnSilence is "none" (the default) or "fallback": the mount's
	// listeners wait on its fallback mount while it is silent.
	OnSilence OnSilence `toml:"on_silence"`
}

// OnSilence is "none" or "fallback".
type OnSilence string

// UnmarshalText implements encoding.TextUnmarshaler.
func (o *OnSilence) UnmarshalText(b []byte) error {
	switch v := string(b); v {
	case "none", engine.OnSilenceFallback:
		*o = OnSilence(v)
		return nil
	}
	return fmt.Errorf("on_silence is \"none\" or \"fallback\", not %q", b)
}

// onSilence is what a mount does when silent: its own setting, else
// [analysis]'s; "" for nothing.
func (f File) onSilence(m MountSection) string {
	o := m.OnSilence
	if o == "" {
		o = f.Analysis.OnSilence
	}
	if o == "none" {
		return ""
	}
	return string(o)
}

// checkAnalysis lists what is wrong with [analysis] and the mounts'
// analysis keys, each at its line.
func (f File) checkAnalysis() []error {
	var errs []error
	check := func(table string, index int, name string, a MountAnalysis) {
		if t := a.SilenceThreshold; t != nil && (*t < -120 || *t > 0) {
			errs = append(errs, &ConfigError{File: f.Path, Line: f.lines.at(table, index, "silence_threshold"),
				Msg: fmt.Sprintf("%s: silence_threshold is in dBFS, between -120 and 0, not %g", name, *t)})
		}
		if d := time.Duration(a.SilenceAfter); d < 0 || d > 24*time.Hour || (d > 0 && d < 100*time.Millisecond) {
			errs = append(errs, &ConfigError{File: f.Path, Line: f.lines.at(table, index, "silence_after"),
				Msg: fmt.Sprintf("%s: silence_after must be between 100ms and 24h0m0s, got %s", name, d)})
		}
	}
	a := f.Analysis
	check("analysis", -1, "analysis", a.MountAnalysis)
	if a.Analyze != nil {
		errs = append(errs, &ConfigError{File: f.Path, Line: f.lines.at("analysis", -1, "analyze"),
			Msg: "analysis: analyze is a [[mount]] key; [analysis] has enabled"})
	}
	if a.MaxMounts != nil && *a.MaxMounts < 0 {
		errs = append(errs, &ConfigError{File: f.Path, Line: f.lines.at("analysis", -1, "max_mounts"),
			Msg: fmt.Sprintf("analysis: max_mounts is 0 or more, not %d", *a.MaxMounts)})
	}
	for i, m := range f.Mounts {
		check("mount", i, "mount "+string(m.Name), m.MountAnalysis)
	}
	return errs
}
