package engine

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// On-air health: the engine decodes nothing, but the audio analysis
// (package analysis, above it) tells it when a mount goes silent. The
// mount then reads "silent", and with on_silence = "fallback" its
// listeners wait on its fallback mount until the audio returns.

// StateSilent is a mount whose source sends audio that the analysis hears
// as silence (every channel under the silence threshold for long enough).
const StateSilent MountState = "silent"

// The analysis's events.
const (
	EventAudioSilence  EventType = "audio.silence"  // a mount went silent; Detail says for how long, and whether digital
	EventAudioRestored EventType = "audio.restored" // its audio came back
	EventAudioClipping EventType = "audio.clipping" // samples at full scale
	EventAudioPhase    EventType = "audio.phase"    // the channels cancel (or stopped cancelling)
)

// OnSilenceFallback is MountConfig.OnSilence's dead-air switch.
const OnSilenceFallback = "fallback"

// AudioStats is what the audio analysis measured on a mount, for the API,
// the metrics and the interface. Levels are in dB; NaN means not
// measurable yet (too little audio, or silence where a loudness is
// asked).
type AudioStats struct {
	// State is "ok", "silent", "starting" (no audio decoded yet),
	// "undecodable" (Error says why), "off" (analyze = false) or
	// "over max_mounts".
	State string
	Error string
	// Codec, SampleRate and Channels are the decoded stream's.
	Codec      string
	SampleRate int
	Channels   int

	MomentaryLUFS   float64 // 400 ms
	ShortTermLUFS   float64 // 3 s
	IntegratedLUFS  float64 // gated, since the source connected or the last reset
	LoudnessRangeLU float64 // EBU Tech 3342, over the same span
	SamplePeakDBFS  float64 // highest since the source connected
	TruePeakDBTP    float64 // highest since the source connected, 4x oversampled
	ClippedSamples  uint64  // samples at full scale since the source connected
	// Levels are each channel's sample peak over the last 100 ms (dBFS;
	// a mono stream's second is its first), for a meter.
	Levels [2]float64

	Silent         bool          // under the threshold for silence_after
	SilentFor      time.Duration // how long every channel has been under the threshold (0: it is not)
	DigitalSilence bool          // that silence is exact zeros
	Correlation    float64       // -1..+1 over 3 s; NaN in silence or for mono
	BalanceDB      float64       // left over right, over 3 s
	Mono           bool          // one channel, or two the same
	PhaseWarning   bool          // the channels cancel: a mono listener hears little

	// Measured is how much audio was measured since the source connected.
	Measured time.Duration
}

// silence is a mount's silent state; m.mu guards it.
type silence struct {
	since  time.Time // zero when not silent
	detail string
}

// SetSilent tells the engine whether mount is silent, with what the
// analysis measured (detail, e.g. "no audio for 10s, digital silence").
// The first call of a silence emits audio.silence and, when the mount's
// on_silence is "fallback", moves its listeners to its fallback mount
// (the move a source leaving makes, marked to come back); repeating it
// moves the listeners that joined since. silent = false emits
// audio.restored (detail: how long the silence lasted) and brings them
// home at a frame boundary.
func (s *Server) SetSilent(mountName string, silent bool, detail string) error {
	m := s.lookup(mountName)
	if m == nil {
		return ErrNoMount
	}
	m.mu.Lock()
	was := !m.silence.since.IsZero()
	switch {
	case silent && !was:
		m.silence = silence{since: time.Now(), detail: detail}
	case !silent && was:
		m.silence = silence{}
	}
	fallback := m.cfg.OnSilence == OnSilenceFallback
	m.mu.Unlock()
	if silent != was {
		typ, level, msg := EventAudioRestored, slog.LevelInfo, strings.TrimSpace(fmt.Sprintf("%s: audio restored %s", m.name, detail))
		if silent {
			typ, level, msg = EventAudioSilence, slog.LevelWarn, fmt.Sprintf("%s is silent: %s", m.name, detail)
		}
		s.Emit(Event{Type: typ, Level: level, Mount: m.name, Detail: detail, Message: msg})
	}
	if !fallback {
		return nil
	}
	if !silent {
		if was {
			s.mu.Lock()
			s.callHome(m)
			s.mu.Unlock()
		}
		return nil
	}
	s.startFileFallback(m) // a file in the webroot plays as a fallback mount would
	s.mu.Lock()
	fb := s.fallbackFor(m)
	s.mu.Unlock()
	if fb == nil {
		if !was {
			s.Emit(Event{Type: EventWarning, Level: slog.LevelWarn, Mount: m.name,
				Message: fmt.Sprintf("%s is silent but its fallback is not live with the same format: listeners stay", m.name)})
		}
		return nil
	}
	if n := m.sendListeners(fb, true); n > 0 || !was {
		s.Emit(Event{Type: EventMountFallback, Level: slog.LevelWarn, Mount: m.name,
			Message: fmt.Sprintf("%s is silent: %d listeners move to %s until its audio returns", m.name, n, fb.name)})
	}
	for _, sh := range m.shards {
		sh.poke()
	}
	return nil
}

// sendListeners asks each of m's listeners to move to fb at its next
// frame boundary; with home, those not already away from a mount of
// their own are marked to come back to m. It returns how many were asked.
func (m *mount) sendListeners(fb *mount, home bool) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, l := range m.listeners {
		if l.home == "" && home {
			l.home = m.name
		}
		if l.moveTo.CompareAndSwap(nil, fb) {
			n++
		}
	}
	return n
}

// silentSince is when the mount went silent (zero: it is not); m.mu must
// be held. A mount without a source is in grace or gone, not silent.
func (m *mount) silentSince() time.Time {
	if m.source == nil {
		return time.Time{}
	}
	return m.silence.since
}

// MeterTap opens an in-process reader on mount for measuring it: a Tap
// that is not counted among the mount's taps (those are people
// auditioning), and that skips to live when its reader falls behind.
func (s *Server) MeterTap(mountName string) (*Tap, error) { return s.openTap(mountName, false) }
