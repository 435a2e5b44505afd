package main

import (
	"log/slog"
	"time"

	"github.com/icedeck/icedeck/analysis"
	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/engine/control"
)

// analysisConfig is the file's [analysis] and the mounts' analysis keys
// over the defaults (no file: the defaults, analysis on).
func analysisConfig(f *control.File) analysis.Config {
	c := analysis.DefaultConfig()
	if f == nil {
		return c
	}
	a := f.Analysis
	if a.Enabled != nil {
		c.Enabled = *a.Enabled
	}
	if a.MaxMounts != nil {
		c.MaxMounts = *a.MaxMounts
	}
	if a.SilenceThreshold != nil {
		c.Silence.SilenceThreshold = *a.SilenceThreshold
	}
	if a.SilenceAfter > 0 {
		c.Silence.SilenceAfter = time.Duration(a.SilenceAfter)
	}
	for _, m := range f.Mounts {
		ma := m.MountAnalysis
		if ma.Analyze == nil && ma.SilenceThreshold == nil && ma.SilenceAfter == 0 {
			continue
		}
		if c.Mounts == nil {
			c.Mounts = map[string]analysis.MountConfig{}
		}
		c.Mounts[string(m.Name)] = analysis.MountConfig{Analyze: ma.Analyze, SilenceThreshold: ma.SilenceThreshold, SilenceAfter: time.Duration(ma.SilenceAfter)}
	}
	return c
}

// startAnalysis starts measuring every mount's audio and gives the
// control plane what is measured (before control.New takes o.ctl).
func startAnalysis(o *options, srv *engine.Server, log *slog.Logger) *analysis.Manager {
	mg := analysis.NewManager(srv, analysisConfig(o.file), log)
	o.ctl.Audio = mg.Audio
	mg.Start()
	return mg
}

// reloadAnalysis puts a reloaded [analysis] in force; the control plane
// goes on reading the same analysis.
func (st *station) reloadAnalysis(o *options) {
	o.ctl.Audio = st.analysis.Audio
	st.analysis.Reconfigure(analysisConfig(o.file))
}
