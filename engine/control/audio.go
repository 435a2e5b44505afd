package control

import (
	"math"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/engine/apidoc"
	"github.com/prometheus/client_golang/prometheus"
)

// addAudio fills in the mount document's audio object, through the
// options in force (nil when the analysis has nothing on the mount).
func (h *Handler) addAudio(d *apidoc.Mount) {
	audio := h.o().Audio
	if audio == nil {
		return
	}
	if st, ok := audio(d.Name); ok {
		d.Audio = apidoc.NewAudio(st)
	}
}

var (
	descLoudness    = prometheus.NewDesc("icedeck_mount_loudness_lufs", "Loudness per ITU-R BS.1770-4: momentary (400 ms), short-term (3 s) or integrated (gated, since the source connected).", []string{"mount", "window"}, nil)
	descTruePeak    = prometheus.NewDesc("icedeck_mount_true_peak_dbtp", "Highest true peak (4x oversampled) since the source connected.", mountLabel, nil)
	descSilent      = prometheus.NewDesc("icedeck_mount_silent", "1 while every channel has been under the silence threshold for silence_after.", mountLabel, nil)
	descClipped     = prometheus.NewDesc("icedeck_mount_clipped_samples_total", "Samples at full scale since the source connected.", mountLabel, nil)
	descCorrelation = prometheus.NewDesc("icedeck_mount_correlation", "Stereo correlation over 3 s: +1 the same, 0 unrelated, -1 cancelling.", mountLabel, nil)
	// audioDescriptions are in allDescriptions.
	audioDescriptions = []*prometheus.Desc{descLoudness, descTruePeak, descSilent, descClipped, descCorrelation}
)

// collectAudio sends the mount's audio metrics; a value not measurable
// yet is left out rather than sent as NaN.
func collectAudio(m engine.MountSnapshot, audio func(string) (engine.AudioStats, bool), gauge, counter func(d *prometheus.Desc, v float64, labels ...string)) {
	if audio == nil {
		return
	}
	st, ok := audio(m.Name)
	if !ok {
		return
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	for _, w := range []struct {
		name string
		v    float64
	}{{"momentary", st.MomentaryLUFS}, {"short_term", st.ShortTermLUFS}, {"integrated", st.IntegratedLUFS}} {
		if finite(w.v) {
			gauge(descLoudness, w.v, m.Name, w.name)
		}
	}
	if finite(st.TruePeakDBTP) {
		gauge(descTruePeak, st.TruePeakDBTP, m.Name)
	}
	silent := 0.0
	if st.Silent {
		silent = 1
	}
	gauge(descSilent, silent, m.Name)
	counter(descClipped, float64(st.ClippedSamples), m.Name)
	if finite(st.Correlation) {
		gauge(descCorrelation, st.Correlation, m.Name)
	}
}
