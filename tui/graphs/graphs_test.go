package graphs

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/themes"
)

var t0 = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

// The history keeps an hour in ten-second buckets: the most listeners
// of each bucket, and the bandwidth from the bytes counter between the
// buckets' last samples; a mount that goes is forgotten.
func TestHistory(t *testing.T) {
	h := NewHistory()
	var sent uint64
	for s := 0; s <= 2*3600; s += 2 { // two hours, a snapshot every 2 s
		listeners := 10
		if s%10 == 4 {
			listeners = 30 // a peak inside the bucket
		}
		sent += 2 * 16000 * uint64(listeners) // 128 kb/s each
		snap := engine.Snapshot{Time: t0.Add(time.Duration(s) * time.Second), Listeners: listeners, BytesOut: sent,
			Mounts: []engine.MountSnapshot{{Name: "/a", ListenerCount: listeners, BytesOut: sent}}}
		if s > 3600 {
			snap.Mounts = nil
		}
		h.Observe(&snap)
	}
	ls, bps := h.Server()
	if len(ls) != buckets || len(bps) != buckets {
		t.Fatalf("%d and %d points, want %d", len(ls), len(bps), buckets)
	}
	for i, v := range ls[:buckets-1] { // the last bucket has begun only
		if v != 30 {
			t.Fatalf("bucket %d: %v listeners, want the peak 30", i, v)
		}
	}
	// Four samples of 10 and one of 30 per 10 s: 14 listeners on average,
	// 14 × 128 kb/s.
	if got := bps[buckets-2]; math.Abs(got-14*128000) > 1 {
		t.Fatalf("bandwidth %v, want %v", got, 14*128000)
	}
	if ml, _ := h.Mount("/a"); !math.IsNaN(ml[buckets-1]) {
		t.Fatal("a mount gone an hour still has history")
	}
}

// Unknown bytes (a remote Icecast's status page) give no bandwidth.
func TestHistoryUnknownBytes(t *testing.T) {
	h := NewHistory()
	for s := 0; s < 60; s += 10 {
		h.Observe(&engine.Snapshot{Time: t0.Add(time.Duration(s) * time.Second), Listeners: 5, Unknown: engine.UnknownBytes})
	}
	ls, bps := h.Server()
	if ls[buckets-1] != 5 || !math.IsNaN(bps[buckets-1]) {
		t.Fatalf("listeners %v bandwidth %v", ls[buckets-1], bps[buckets-1])
	}
}

// The tab fills its size exactly, a graph per subject, the hour under
// them.
func TestView(t *testing.T) {
	th, _ := themes.Load("", "")
	st := themes.NewStyles(th, true)
	h := NewHistory()
	for s := 0; s < 3600; s += 10 {
		h.Observe(&engine.Snapshot{Time: t0.Add(time.Duration(s) * time.Second), Listeners: s / 100, BytesOut: uint64(s) * 1000,
			Mounts: []engine.MountSnapshot{{Name: "/a", ListenerCount: s / 200}}})
	}
	m := New(&st, h)
	m.SetMount("/a")
	for _, sz := range [][2]int{{120, 20}, {60, 12}, {30, 4}} {
		m.SetSize(sz[0], sz[1])
		m.Refresh()
		out := ansi.Strip(m.View(true))
		lines := strings.Split(out, "\n")
		if len(lines) != sz[1] {
			t.Fatalf("%v: %d lines", sz, len(lines))
		}
		for _, l := range lines {
			if ansi.StringWidth(l) > sz[0] {
				t.Fatalf("%v: line %q too wide", sz, l)
			}
		}
		if !strings.Contains(out, "listeners · server  now 35") {
			t.Fatalf("%v:\n%s", sz, out)
		}
	}
}
