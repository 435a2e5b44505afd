package health

import (
	"slices"
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/engine/frame"
)

var t0 = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

func words(fs []Flag) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Word)
	}
	return out
}

func mount(name string, connected time.Time, sync, crc uint64) engine.MountSnapshot {
	return engine.MountSnapshot{Name: name, State: engine.StateLive, Source: &engine.SourceSnapshot{
		ID: 1, Connected: connected, Realtime: 1, Frames: frame.Stats{SyncLosses: sync, CRCErrors: crc},
	}}
}

// Errors flag a mount while they grow: from the first new one until a
// minute without any. A source that connected within the minute has all
// its errors counted; one seen first long after it connected, none of its
// old ones.
func TestNewErrorsFlagForAMinute(t *testing.T) {
	tr := NewTracker()
	at := func(d time.Duration, ms ...engine.MountSnapshot) time.Time {
		now := t0.Add(d)
		tr.Observe(now, ms, nil, "")
		return now
	}
	old := t0.Add(-time.Hour)
	at(0, mount("/old.mp3", old, 39, 0), mount("/new.mp3", t0.Add(-30*time.Second), 39, 2))
	if got := words(tr.Flags("/old.mp3")); len(got) != 0 {
		t.Fatalf("old errors flagged: %v", got)
	}
	if got := words(tr.Flags("/new.mp3")); !slices.Equal(got, []string{"sync", "crc"}) {
		t.Fatalf("a new source's errors: %v", got)
	}
	if tr.NeedAttention() != 1 {
		t.Fatalf("need attention %d", tr.NeedAttention())
	}
	// One more sync loss on the old source: flagged at once, for a minute.
	for s := time.Duration(0); s <= 70*time.Second; s += time.Second {
		syncs := uint64(39)
		if s >= 10*time.Second {
			syncs = 40
		}
		at(s, mount("/old.mp3", old, syncs, 0), mount("/new.mp3", t0.Add(-30*time.Second), 39, 2))
		flagged := slices.Contains(words(tr.Flags("/old.mp3")), "sync")
		if want := s >= 10*time.Second && s < 70*time.Second; flagged != want {
			t.Fatalf("at %s: flagged %v, want %v", s, flagged, want)
		}
	}
	// A minute after the last new error (and past its source's first
	// minute) the flag goes.
	for s := 70 * time.Second; s <= 80*time.Second; s += time.Second {
		at(s, mount("/old.mp3", old, 40, 0), mount("/new.mp3", t0.Add(-30*time.Second), 39, 2))
	}
	if got := words(tr.Flags("/new.mp3")); len(got) != 0 {
		t.Fatalf("errors older than a minute still flagged: %v", got)
	}
	if got := words(tr.Flags("/old.mp3")); len(got) != 0 {
		t.Fatalf("/old.mp3 at 80 s: %v", got)
	}
	// Another source on the mount starts afresh.
	ms := mount("/old.mp3", t0.Add(80*time.Second), 3, 0)
	ms.Source.ID = 2
	at(81*time.Second, ms)
	if got := words(tr.Flags("/old.mp3")); !slices.Equal(got, []string{"sync"}) {
		t.Fatalf("a new source's first errors: %v", got)
	}
	if tr.Flags("/new.mp3") != nil {
		t.Fatal("a mount that is gone keeps its flags")
	}
}

// Every trouble has its word and level, the worst first.
func TestFlagWords(t *testing.T) {
	tr := NewTracker()
	stalled := mount("/a", t0.Add(-time.Hour), 0, 0)
	stalled.State, stalled.Source.Stalled = engine.StateStalled, true
	slow := mount("/b", t0.Add(-time.Hour), 0, 0)
	slow.Source.Realtime = 0.85
	starting := mount("/c", t0.Add(-5*time.Second), 0, 0)
	starting.Source.Realtime = 3 // a start-up burst is not a pace problem
	silent := mount("/d", t0.Add(-time.Hour), 0, 0)
	silent.State = engine.StateSilent
	audio := map[string]engine.AudioStats{
		"/b": {State: "ok", PhaseWarning: true},
		"/c": {State: "undecodable", Error: "no decoder"},
		"/e": {State: "ok", Mono: true, Channels: 2},
	}
	ms := []engine.MountSnapshot{stalled, slow, starting, silent, mount("/e", t0.Add(-time.Hour), 0, 0), mount("/f", t0.Add(-time.Hour), 0, 0)}
	tr.Observe(t0, ms, audio, "/f")
	for name, want := range map[string][]string{
		"/a": {"stall"}, "/b": {"pace", "phase"}, "/c": {"undec"}, "/d": {"silent"}, "/e": {"mono"}, "/f": {"silent"},
	} {
		if got := words(tr.Flags(name)); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
	if tr.NeedAttention() != 4 {
		t.Errorf("need attention %d, want 4 (not undec or mono)", tr.NeedAttention())
	}
	// Clipping flags while the count grows, and ten seconds after.
	audio["/e"] = engine.AudioStats{State: "ok", ClippedSamples: 10}
	tr.Observe(t0.Add(time.Second), ms, audio, "")
	audio["/e"] = engine.AudioStats{State: "ok", ClippedSamples: 12}
	tr.Observe(t0.Add(2*time.Second), ms, audio, "")
	if got := words(tr.Flags("/e")); !slices.Equal(got, []string{"clip"}) {
		t.Fatalf("clipping: %v", got)
	}
	tr.Observe(t0.Add(13*time.Second), ms, audio, "")
	if got := words(tr.Flags("/e")); len(got) != 0 {
		t.Fatalf("11 s after: %v", got)
	}
}

// A source whose bytes never make a frame is flagged too: the analysis
// counts no sync loss while it has never been in sync.
func TestNoFrameIsSync(t *testing.T) {
	tr := NewTracker()
	ms := mount("/noise.mp3", t0.Add(-time.Hour), 0, 0)
	ms.Source.Known, ms.Source.Frames.Bytes = true, 16<<10
	tr.Observe(t0, []engine.MountSnapshot{ms}, nil, "")
	if got := words(tr.Flags("/noise.mp3")); len(got) != 0 {
		t.Fatalf("16 KB without a frame: %v", got)
	}
	ms.Source.Frames.Bytes = 40 << 10
	tr.Observe(t0.Add(time.Second), []engine.MountSnapshot{ms}, nil, "")
	if got := tr.Flags("/noise.mp3"); len(got) != 1 || got[0].Word != "sync" || got[0].Why != "no frame found in 40 KB: the stream is not what its content type says" {
		t.Fatalf("40 KB without a frame: %+v", got)
	}
	// A server that does not analyse frames (a remote Icecast) is not
	// taken for garbage.
	ms.Unknown = engine.UnknownFrames
	tr.Observe(t0.Add(2*time.Second), []engine.MountSnapshot{ms}, nil, "")
	if got := words(tr.Flags("/noise.mp3")); len(got) != 0 {
		t.Fatalf("frames unknown: %v", got)
	}
}
