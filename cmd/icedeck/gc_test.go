package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// gogc is the collector's room in force, as the runtime reports it.
func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// keepGC restores the process's room when the test ends.
func keepGC(t *testing.T) {
	old := debug.SetGCPercent(looseGC)
	t.Cleanup(func() { debug.SetGCPercent(old) })
}

func TestGCPercentFor(t *testing.T) {
	for _, c := range []struct {
		cur  int
		rate float64
		want int
	}{
		{looseGC, 0, tightGC},
		{looseGC, 40 << 10, tightGC}, // the relay's audio at 320 kb/s
		{looseGC, tightBelow + 1, looseGC},
		{tightGC, tightBelow + 1, tightGC}, // between the bounds: as it was
		{tightGC, looseAbove + 1, looseGC},
		{tightGC, 2 << 20, looseGC}, // listeners joining at 1,000 a second
	} {
		if got := gcPercentFor(c.cur, c.rate); got != c.want {
			t.Errorf("gcPercentFor(%d, %.0f) = %d, want %d", c.cur, c.rate, got, c.want)
		}
	}
}

// The room follows what the process allocates: tight while it is quiet,
// loose while it makes garbage, tight again after.
func TestTuneGCFollowsAllocation(t *testing.T) {
	t.Setenv("GOGC", "")
	keepGC(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tuneGC(ctx, 20*time.Millisecond)
	testkit.Eventually(t, 5*time.Second, "tight while quiet", func() bool { return gogc() == tightGC })

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var sink []byte
		for {
			select {
			case <-stop:
				_ = sink
				return
			default:
				sink = make([]byte, 64<<10)
			}
		}
	}()
	testkit.Eventually(t, 5*time.Second, "loose while allocating", func() bool { return gogc() == looseGC })
	close(stop)
	<-done
	testkit.Eventually(t, 5*time.Second, "tight again after", func() bool { return gogc() == tightGC })
}

// GOGC in the environment is the user's: neither the start nor the tuner
// changes the room.
func TestGOGCFromTheEnvironmentIsKept(t *testing.T) {
	t.Setenv("GOGC", "77")
	keepGC(t)
	debug.SetGCPercent(77)
	initGC()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tuneGC(ctx, 10*time.Millisecond)
	time.Sleep(100 * time.Millisecond) // ten of the tuner's turns, had it started
	if got := gogc(); got != 77 {
		t.Fatalf("room %d with GOGC=77", got)
	}
}
