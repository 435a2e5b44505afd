package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// When a mount's source leaves, its listeners get every byte it sent, move
// to the fallback without reconnecting, and come back when a source returns.
func TestFallbackAndReturn(t *testing.T) {
	s, addr := startServer(t, func(c *Config) {
		c.BurstSize = 4096
		c.Mounts = map[string]MountConfig{"/main.mp3": {Fallback: "/backup.mp3"}}
	})
	a, b := testkit.Media(t, "tone.mp3"), testkit.Media(t, "tone440.mp3")
	starts := []map[int]bool{mpegFrameStarts(t, a), mpegFrameStarts(t, b)}
	// The first source stops mid-frame at 20000: its listeners get every
	// byte it sent before they move, so that is where the first run ends.
	starts[0][20000] = true
	// A returning source's first byte is a place to join it too: the
	// listener may come home to the very start of its stream.
	starts[0][0] = true
	backup, _ := connectSource(t, addr, "PUT", "/backup.mp3", "audio/mpeg")
	backup.Send(b[:8000], 1000, time.Millisecond)
	main1, _ := connectSource(t, addr, "PUT", "/main.mp3", "audio/mpeg")
	main1.Send(a[:1000], 1000, 0)
	testkit.Eventually(t, 2*time.Second, "main up", func() bool { return mountSnap(s, "/main.mp3") != nil })
	l := testkit.Listen(t, addr, "/main.mp3")
	main1.Send(a[1000:20000], 1000, time.Millisecond)
	main1.Close()

	testkit.Eventually(t, 3*time.Second, "listener on the fallback", func() bool {
		m := mountSnap(s, "/backup.mp3")
		return m != nil && m.ListenerCount == 1 && m.Listeners[0].Home == "/main.mp3"
	})
	// The mount without its source is shown as on fallback, not forgotten.
	if m := mountSnap(s, "/main.mp3"); m == nil || m.State != StateFallback || m.FallbackTo != "/backup.mp3" || m.ListenerCount != 1 {
		t.Fatalf("main while on fallback: %+v", m)
	}
	if sn := s.Snapshot(); sn.Listeners != 1 {
		t.Fatalf("listener counted %d times", sn.Listeners)
	}
	backup.Send(b[8000:20000], 1000, time.Millisecond)

	main2, r := connectSource(t, addr, "PUT", "/main.mp3", "audio/mpeg")
	if main2 == nil {
		t.Fatalf("returning source refused: %+v", r)
	}
	main2.Send(a[:2000], 1000, time.Millisecond)
	// The listener leaves the fallback at its next frame boundary: the
	// fallback keeps streaming, as a live one does.
	backup.Send(b[20000:26000], 1000, time.Millisecond)
	testkit.Eventually(t, 3*time.Second, "listener back home", func() bool {
		m := mountSnap(s, "/main.mp3")
		return m != nil && m.State == StateLive && m.ListenerCount == 1 && m.Listeners[0].Home == ""
	})
	main2.Send(a[2000:30000], 1000, time.Millisecond)
	backup.Close()
	time.Sleep(50 * time.Millisecond)
	main2.Close() // no live fallback now: the listener is closed at the end

	got := l.Wait(t, 5*time.Second)
	runs := splitRuns(t, got, [][]byte{a, b}, starts)
	want := "stream 0 [0:20000] stream 1 … stream 0 …[…:30000]"
	if len(runs) != 3 || runs[0] != (run{0, 0, 20000}) || runs[1].stream != 1 || runs[2].stream != 0 || runs[2].to != 30000 {
		t.Fatalf("want %s, got %v", want, runs)
	}
	if e := findEvent(s, EventMountFallback, "/main.mp3"); e == nil || !strings.Contains(e.Message, "1 listeners move to /backup.mp3") {
		t.Errorf("fallback event %+v", e)
	}
}

func TestFallbackLoopRefused(t *testing.T) {
	_, err := New(Config{SourcePassword: "x", Mounts: map[string]MountConfig{
		"/a": {Fallback: "/b"}, "/b": {Fallback: "/c"}, "/c": {Fallback: "/a"},
	}})
	if err == nil || !strings.Contains(err.Error(), "fallback loop") {
		t.Fatalf("loop accepted: %v", err)
	}
	if _, err := New(Config{SourcePassword: "x", Mounts: map[string]MountConfig{"/a": {Fallback: "/b"}, "/b": {Fallback: "/c"}}}); err != nil {
		t.Fatalf("chain refused: %v", err)
	}
}
