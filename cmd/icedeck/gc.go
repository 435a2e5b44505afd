package main

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The collector's room, when GOGC does not set it: how much garbage, in
// percent of the live heap, may pile up before the next collection. The
// room is memory the process keeps. A collection marks the live heap
// (about 0.8 ms of CPU per MB here) and comes each time the room's worth
// has been allocated, so collecting costs the allocation rate times
// 0.8 ms/MB over the room as a fraction: the rate, not the heap, is what
// makes a tight room dear.
const (
	// looseGC is the room while the process allocates: the interface
	// redrawing thousands of listeners, audio analysis decoding every
	// mount, a burst of listeners joining (about 2 KB of garbage each).
	// A tighter room would collect more often than the work is worth.
	looseGC = 50
	// tightGC is the room while it hardly allocates: the relay alone, once
	// its listeners have joined, makes little garbage but the audio that
	// passed through (tens of KB a second), so a fifth of the live heap is
	// a collection a minute or so. With 10,000 listeners the heap is
	// mostly their state, about 1 KiB each, so that fifth is what keeps
	// the process under 2 KiB a listener, where half would not.
	tightGC = 20
	// The rates, in bytes a second, below which the room tightens and
	// above which it loosens again. Tight costs at most 0.1 % of a core
	// more than loose below tightBelow; the gap keeps a rate near one
	// bound from switching the room back and forth.
	tightBelow = 256 << 10
	looseAbove = 512 << 10
	// gcEvery is how often the rate is taken: a burst of joins loosens the
	// room within seconds, and its end tightens it again.
	gcEvery = 5 * time.Second
)

// envGC reports whether the environment sets the collector's room. The
// user's GOGC is left as it is; GOMEMLIMIT needs nothing: the runtime
// applies a memory limit whatever the percent.
func envGC() bool { return os.Getenv("GOGC") != "" }

// initGC sets the loose room, for every command, unless GOGC is set.
func initGC() {
	if !envGC() {
		debug.SetGCPercent(looseGC)
	}
}

// gcPercentFor is the room for an allocation rate (bytes a second), cur
// being the one in force.
func gcPercentFor(cur int, rate float64) int {
	switch {
	case rate < tightBelow:
		return tightGC
	case rate > looseAbove:
		return looseGC
	}
	return cur
}

// tuneGC sets the room from the allocation rate, taken every interval,
// until ctx ends; it does nothing when GOGC is set.
func tuneGC(ctx context.Context, every time.Duration) {
	if envGC() {
		return
	}
	go func() {
		s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
		metrics.Read(s)
		prev, at, cur := s[0].Value.Uint64(), time.Now(), looseGC
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				metrics.Read(s)
				n := s[0].Value.Uint64()
				if p := gcPercentFor(cur, float64(n-prev)/now.Sub(at).Seconds()); p != cur {
					debug.SetGCPercent(p)
					if p == tightGC {
						// The runtime keeps the memory a burst took (its
						// garbage, the stacks of the goroutines that served
						// it) for as long as the room stays as large as it
						// was; handed back at its end, once.
						debug.FreeOSMemory()
					}
					cur = p
				}
				prev, at = n, now
			}
		}
	}()
}
