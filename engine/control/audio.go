package control

import (
	"math"

	"github.com/icedeck/icedeck/engine"
	"github.com/prometheus/client_golang/prometheus"
)

// AudioDoc is a mount's "audio" object in the API: what the audio
// analysis measured. Levels are dB as numbers, null until measurable;
// the peaks, the integrated loudness, its range and the clipped count run
// from when the source connected.
type AudioDoc struct {
	State           string   `json:"state"` // ok, silent, starting, undecodable, off, over max_mounts
	Error           string   `json:"error"` // why it is undecodable
	Codec           string   `json:"codec"`
	SampleRate      int      `json:"sample_rate"`
	Channels        int      `json:"channels"`
	MomentaryLUFS   *float64 `json:"momentary_lufs"`
	ShortTermLUFS   *float64 `json:"short_term_lufs"`
	IntegratedLUFS  *float64 `json:"integrated_lufs"`
	LoudnessRangeLU *float64 `json:"loudness_range_lu"`
	SamplePeakDBFS  *float64 `json:"sample_peak_dbfs"`
	TruePeakDBTP    *float64 `json:"true_peak_dbtp"`
	ClippedSamples  uint64   `json:"clipped_samples"`
	Silent          bool     `json:"silent"`
	SilentSeconds   float64  `json:"silent_seconds"`
	DigitalSilence  bool     `json:"digital_silence"`
	Correlation     *float64 `json:"correlation"`
	BalanceDB       *float64 `json:"balance_db"`
	PhaseWarning    bool     `json:"phase_warning"`
	Mono            bool     `json:"mono"`
	MeasuredSeconds float64  `json:"measured_seconds"`
}

// number is v for JSON: rounded to a thousandth, nil when it is not a
// finite number (JSON has no NaN or infinity).
func number(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	r := math.Round(v*1000) / 1000
	return &r
}

func audioDoc(st engine.AudioStats) *AudioDoc {
	return &AudioDoc{
		State: st.State, Error: st.Error, Codec: st.Codec, SampleRate: st.SampleRate, Channels: st.Channels,
		MomentaryLUFS: number(st.MomentaryLUFS), ShortTermLUFS: number(st.ShortTermLUFS),
		IntegratedLUFS: number(st.IntegratedLUFS), LoudnessRangeLU: number(st.LoudnessRangeLU),
		SamplePeakDBFS: number(st.SamplePeakDBFS), TruePeakDBTP: number(st.TruePeakDBTP),
		ClippedSamples: st.ClippedSamples, Silent: st.Silent, SilentSeconds: st.SilentFor.Seconds(),
		DigitalSilence: st.DigitalSilence, Correlation: number(st.Correlation), BalanceDB: number(st.BalanceDB),
		PhaseWarning: st.PhaseWarning, Mono: st.Mono, MeasuredSeconds: st.Measured.Seconds(),
	}
}

// addAudio fills in the mount document's audio object, through the
// options in force (nil when the analysis has nothing on the mount).
func (h *Handler) addAudio(d *MountDoc) {
	audio := h.o().Audio
	if audio == nil {
		return
	}
	if st, ok := audio(d.Name); ok {
		d.Audio = audioDoc(st)
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
