package engine

import (
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// A source blasting as fast as the network goes is read at its mount's
// limit-rate, by the engine's own count of what it read.
func TestLimitRate(t *testing.T) {
	t.Parallel()
	const limit = 160000 // bit/s: 20,000 bytes a second
	const perSec = limit / 8
	s, addr := startServer(t, func(c *Config) {
		c.Mounts = map[string]MountConfig{"/slow.mp3": {LimitRate: limit}}
	})
	src, r := connectSource(t, addr, "PUT", "/slow.mp3", "audio/mpeg")
	if src == nil {
		t.Fatalf("source refused: %+v", r)
	}
	src.Feed(testkit.Media(t, "tone.mp3"), 16<<10, 0) // no pause: as fast as it is read
	bytesIn := func() uint64 {
		if m := mountSnap(s, "/slow.mp3"); m != nil && m.Source != nil {
			return m.Source.BytesIn
		}
		return 0
	}
	// Past the first second's allowance, then measure over two seconds
	// more. Time that passes only lowers the measured rate: the upper
	// bound cannot flake, and the lower one waits up to 20 s.
	testkit.Eventually(t, 10*time.Second, "the allowance used", func() bool { return bytesIn() >= 1.5*perSec })
	b0, t0 := bytesIn(), time.Now()
	testkit.Eventually(t, 20*time.Second, "two seconds' worth more", func() bool { return bytesIn() >= b0+2*perSec })
	b1, t1 := bytesIn(), time.Now()
	got := float64(b1-b0) / t1.Sub(t0).Seconds()
	// Two reads' windows (a tenth of a second each) may be owed at t0 or
	// on their way to the count.
	if max := float64(perSec) + 2*float64(perSec/10)/t1.Sub(t0).Seconds(); got > max*1.05 {
		t.Fatalf("read at %.0f bytes/s, the limit is %d", got, perSec)
	}
	t.Logf("read at %.0f bytes/s with a limit of %d (%.1f%%)", got, perSec, 100*got/perSec)
	n := 0
	for _, e := range s.Events(0) {
		if e.Type == EventWarning && e.Detail == "limit-rate" && e.Mount == "/slow.mp3" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d limit-rate events, want 1", n)
	}
}
