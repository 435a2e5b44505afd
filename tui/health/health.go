// Package health decides what is wrong with a mount at a glance: the
// short flag words of the mounts table (sync, crc, pace, stall, silent,
// clip, and the audio analysis's undec, phase, mono, off) and whether the
// mount needs attention. Error counters flag a mount only while they grow:
// a source that lost sync an hour ago and has been clean since is healthy.
package health

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"charm.land/lipgloss/v2"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/themes"
)

// Level is how much a flag matters.
type Level int

const (
	Note Level = iota // worth knowing, nothing to do (mono, off, undecodable for the analysis)
	Warn              // look soon (pace, phase)
	Bad               // listeners hear it now (sync, crc, stall, silent, clip)
)

// Style is the colour a flag of the level is shown in: bad red, warn
// yellow, a note dim.
func (l Level) Style(s *themes.Styles) lipgloss.Style {
	switch l {
	case Bad:
		return s.Error
	case Warn:
		return s.Warn
	}
	return s.Dim
}

// Flag is one trouble of a mount.
type Flag struct {
	Word  string
	Level Level
	Why   string // the whole story, for the Source tab and the help
}

// Window is how far back new errors count.
const Window = time.Minute

// sampleEvery spaces the kept samples; the current values are always
// compared, so a flag appears at the first new error.
const sampleEvery = 5 * time.Second

// noFrameBytes is how much a source may send before a first frame: two
// seconds at 128 kb/s. More without one is not audio of its type.
const noFrameBytes = 32 << 10

// clipFor is how long clip stays after samples last clipped.
const clipFor = 10 * time.Second

// Pace bounds: a source delivering audio outside these multiples of real
// time starves or floods its listeners.
const (
	PaceLow  = 0.9
	PaceHigh = 1.1
	// paceAfter: the ratio of the first seconds is mostly the source's
	// start-up burst.
	paceAfter = 10 * time.Second
)

type counters struct {
	t                   time.Time
	sync, crc, skipped  uint64
	stalls              int
	clipped             uint64
	clippedAt           time.Time // when the clipped count last grew
	sourceID            uint64
	sourceConnectedTime time.Time
}

// history is a mount's counters: samples at least sampleEvery apart over
// the last minute (oldest first), and the latest reading.
type history struct {
	kept []counters
	last counters
}

// Tracker remembers each mount's counters over the last minute. The zero
// value is not usable; use NewTracker.
type Tracker struct {
	hist  map[string]*history
	flags map[string][]Flag
	need  int
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker {
	return &Tracker{hist: map[string]*history{}, flags: map[string][]Flag{}}
}

// Observe takes a snapshot's mounts, what the audio analysis measured
// (nil without one), and the mount the operator auditions whose player
// hears silence ("" for none), and works out every mount's flags.
func (t *Tracker) Observe(now time.Time, mounts []engine.MountSnapshot, audio map[string]engine.AudioStats, silentAudition string) {
	seen := make(map[string]bool, len(mounts))
	t.need = 0
	for i := range mounts {
		ms := &mounts[i]
		seen[ms.Name] = true
		st, hasAudio := audio[ms.Name]
		cur := t.observe(now, ms, &st, hasAudio)
		f := t.judge(now, ms, cur, &st, hasAudio, silentAudition == ms.Name)
		t.flags[ms.Name] = f
		if Attention(f) {
			t.need++
		}
	}
	for name := range t.hist {
		if !seen[name] {
			delete(t.hist, name)
			delete(t.flags, name)
		}
	}
}

// observe records the mount's counters and returns the current ones.
func (t *Tracker) observe(now time.Time, ms *engine.MountSnapshot, st *engine.AudioStats, hasAudio bool) counters {
	h := t.hist[ms.Name]
	if h == nil {
		h = &history{}
		t.hist[ms.Name] = h
	}
	cur := counters{t: now}
	if src := ms.Source; src != nil {
		cur.sync, cur.crc, cur.skipped = src.Frames.SyncLosses, src.Frames.CRCErrors, src.Frames.SkippedBytes
		cur.stalls, cur.sourceID, cur.sourceConnectedTime = src.Stalls, src.ID, src.Connected
	}
	if hasAudio {
		cur.clipped = st.ClippedSamples
	}
	if len(h.kept) > 0 {
		if h.last.sourceID != cur.sourceID {
			h.kept = h.kept[:0] // another source: its counters start afresh
		} else {
			cur.clippedAt = h.last.clippedAt
			if cur.clipped > h.last.clipped {
				cur.clippedAt = now
			}
		}
	}
	h.last = cur
	if n := len(h.kept); n == 0 || now.Sub(h.kept[n-1].t) >= sampleEvery {
		h.kept = append(h.kept, cur)
	}
	// Keep the newest sample at or before the window's start: the base.
	drop := 0
	for drop+1 < len(h.kept) && !h.kept[drop+1].t.After(now.Add(-Window)) {
		drop++
	}
	h.kept = h.kept[drop:]
	return cur
}

// base is what the counters were a minute ago: zero for a source that
// connected within the minute (all its errors are new), else the sample
// at the window's start, or the first one taken when the interface has
// not watched that long (what came before it counts as old).
func (t *Tracker) base(name string, now time.Time) counters {
	h := t.hist[name]
	if h == nil || len(h.kept) == 0 {
		return counters{}
	}
	b := h.kept[0]
	if c := b.sourceConnectedTime; !c.IsZero() && c.After(now.Add(-Window)) {
		return counters{sourceID: b.sourceID}
	}
	return b
}

func (t *Tracker) judge(now time.Time, ms *engine.MountSnapshot, cur counters, st *engine.AudioStats, hasAudio, auditionSilent bool) []Flag {
	var out []Flag
	add := func(word string, l Level, why string) { out = append(out, Flag{Word: word, Level: l, Why: why}) }
	b := t.base(ms.Name, now)
	if src := ms.Source; src != nil {
		framed := src.Known && !ms.Unknown.Has(engine.UnknownFrames)
		switch {
		case framed && src.Frames.Frames == 0 && src.Frames.Bytes >= noFrameBytes:
			add("sync", Bad, "no frame found in "+strconv.FormatUint(src.Frames.Bytes>>10, 10)+" KB: the stream is not what its content type says")
		case cur.sync > b.sync || cur.skipped > b.skipped:
			add("sync", Bad, "the stream lost its frame sync in the last minute (garbage or a cut between frames)")
		}
		if cur.crc > b.crc {
			add("crc", Bad, "frames failed their CRC in the last minute")
		}
		if src.Stalled || ms.State == engine.StateStalled || cur.stalls > b.stalls {
			add("stall", Bad, "the source fell behind real time: listeners wait for audio")
		}
		if src.Realtime > 0 && now.Sub(src.Connected) >= paceAfter && (src.Realtime < PaceLow || src.Realtime > PaceHigh) {
			add("pace", Warn, "the source sends audio at other than real time (outside 0.9–1.1×)")
		}
	}
	if ms.State == engine.StateSilent || (hasAudio && st.Silent) || auditionSilent {
		add("silent", Bad, "no audio above the silence threshold")
	}
	if !cur.clippedAt.IsZero() && now.Sub(cur.clippedAt) < clipFor {
		add("clip", Bad, "samples clipped in the last 10 s")
	}
	if hasAudio {
		switch {
		case st.PhaseWarning:
			add("phase", Warn, "the channels cancel: a mono listener hears little")
		case st.State == "undecodable":
			add("undec", Note, "the analysis cannot decode this stream: "+st.Error)
		case st.State == "off" || st.State == "over max_mounts":
			add("off", Note, "not analysed ("+st.State+")")
		case st.Mono && st.Channels == 2:
			add("mono", Note, "both channels carry the same signal")
		}
	}
	slices.SortStableFunc(out, func(a, b Flag) int { return cmp.Compare(b.Level, a.Level) })
	return out
}

// Flags returns the mount's flags from the last Observe, most serious
// first.
func (t *Tracker) Flags(name string) []Flag { return t.flags[name] }

// NeedAttention is how many mounts have a flag above Note.
func (t *Tracker) NeedAttention() int { return t.need }

// Attention reports whether flags include one above Note.
func Attention(flags []Flag) bool {
	for _, f := range flags {
		if f.Level > Note {
			return true
		}
	}
	return false
}

// Worst is the highest level among flags (Note for none).
func Worst(flags []Flag) Level {
	l := Note
	for _, f := range flags {
		l = max(l, f.Level)
	}
	return l
}
