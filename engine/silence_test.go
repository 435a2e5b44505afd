package engine

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// The dead-air switch: a silent mount with on_silence = "fallback" sends
// its listeners to its fallback while the source goes on, and takes them
// back at a frame boundary when the audio returns; both ways, each
// listener's bytes are whole frames of one stream then the other.
func TestSilenceFallbackAndReturn(t *testing.T) {
	s, addr := startServer(t, func(c *Config) {
		c.BurstSize = 4096
		c.Mounts = map[string]MountConfig{"/main.mp3": {Fallback: "/backup.mp3", OnSilence: OnSilenceFallback}}
	})
	a, b := testkit.Media(t, "tone.mp3"), testkit.Media(t, "tone440.mp3")
	starts := []map[int]bool{mpegFrameStarts(t, a), mpegFrameStarts(t, b)}
	starts[0][0] = true
	backup, _ := connectSource(t, addr, "PUT", "/backup.mp3", "audio/mpeg")
	backup.Send(b[:8000], 1000, time.Millisecond)
	main, _ := connectSource(t, addr, "PUT", "/main.mp3", "audio/mpeg")
	main.Send(a[:1000], 1000, 0)
	testkit.Eventually(t, 2*time.Second, "main up", func() bool { return mountSnap(s, "/main.mp3") != nil })
	tap, err := s.MeterTap("/main.mp3")
	if err != nil {
		t.Fatal(err)
	}
	defer tap.Close()
	l := testkit.Listen(t, addr, "/main.mp3")
	main.Send(a[1000:12000], 1000, time.Millisecond)
	testkit.Eventually(t, 2*time.Second, "listener on main", func() bool { return mountSnap(s, "/main.mp3").ListenerCount == 1 })

	if err := s.SetSilent("/main.mp3", true, "under -50 dBFS for 10s"); err != nil {
		t.Fatal(err)
	}
	main.Send(a[12000:16000], 1000, time.Millisecond)
	backup.Send(b[8000:16000], 1000, time.Millisecond)
	testkit.Eventually(t, 3*time.Second, "listener on the fallback", func() bool {
		m := mountSnap(s, "/backup.mp3")
		return m.ListenerCount == 1 && m.Listeners[0].Home == "/main.mp3"
	})
	m := mountSnap(s, "/main.mp3")
	if m.State != StateSilent || m.SilentSince.IsZero() || m.Source == nil || m.Taps != 0 {
		t.Fatalf("main while silent: state %s since %v taps %d (the meter's tap is not one)", m.State, m.SilentSince, m.Taps)
	}
	// A listener arriving meanwhile goes too when the analysis says so again.
	l2 := testkit.Listen(t, addr, "/main.mp3")
	testkit.Eventually(t, 2*time.Second, "second listener on main", func() bool { return mountSnap(s, "/main.mp3").ListenerCount == 1 })
	if err := s.SetSilent("/main.mp3", true, "under -50 dBFS for 11s"); err != nil {
		t.Fatal(err)
	}
	main.Send(a[16000:20000], 1000, time.Millisecond)
	backup.Send(b[16000:20000], 1000, time.Millisecond)
	testkit.Eventually(t, 3*time.Second, "both on the fallback", func() bool { return mountSnap(s, "/backup.mp3").ListenerCount == 2 })

	if err := s.SetSilent("/main.mp3", false, ""); err != nil {
		t.Fatal(err)
	}
	backup.Send(b[20000:26000], 1000, time.Millisecond)
	main.Send(a[20000:24000], 1000, time.Millisecond)
	testkit.Eventually(t, 3*time.Second, "listeners back home", func() bool {
		m := mountSnap(s, "/main.mp3")
		return m.State == StateLive && m.ListenerCount == 2
	})
	main.Send(a[24000:30000], 1000, time.Millisecond)
	backup.Close()
	testkit.Eventually(t, 2*time.Second, "backup gone", func() bool { return mountSnap(s, "/backup.mp3") == nil })
	main.Close() // no fallback now: the listeners are closed at the end

	runs := splitRuns(t, l.Wait(t, 5*time.Second), [][]byte{a, b}, starts)
	if len(runs) != 3 || runs[0].stream != 0 || runs[1].stream != 1 || runs[2].stream != 0 || runs[2].to != 30000 {
		t.Fatalf("want main, backup, main to its end; got %v", runs)
	}
	_ = l2.Wait(t, 5*time.Second)
	silenceEv, restored := findEvent(s, EventAudioSilence, "/main.mp3"), findEvent(s, EventAudioRestored, "/main.mp3")
	if silenceEv == nil || silenceEv.Detail != "under -50 dBFS for 10s" || restored == nil || restored.Seq < silenceEv.Seq {
		t.Fatalf("events: silence %+v, restored %+v", silenceEv, restored)
	}
	n := 0
	for _, e := range s.Events(0) {
		if e.Type == EventAudioSilence {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d audio.silence events for one silence", n)
	}
	if e := findEvent(s, EventMountFallback, "/main.mp3"); e == nil || !strings.Contains(e.Message, "is silent: 1 listeners move to /backup.mp3") {
		t.Errorf("fallback event %+v", e)
	}
}

// Without on_silence, a silent mount only reads silent; with no source
// it is not silent whatever it was told.
func TestSilenceWithoutSwitch(t *testing.T) {
	s, addr := startServer(t, func(c *Config) {
		c.Grace = time.Minute
		c.Mounts = map[string]MountConfig{"/main.mp3": {Fallback: "/backup.mp3"}}
	})
	a := testkit.Media(t, "tone.mp3")
	backup, _ := connectSource(t, addr, "PUT", "/backup.mp3", "audio/mpeg")
	backup.Send(a[:4000], 1000, 0)
	main, _ := connectSource(t, addr, "PUT", "/main.mp3", "audio/mpeg")
	main.Send(a[:8000], 1000, 0)
	testkit.Eventually(t, 2*time.Second, "main up", func() bool { return mountSnap(s, "/main.mp3") != nil })
	l := testkit.Listen(t, addr, "/main.mp3")
	testkit.Eventually(t, 2*time.Second, "listener", func() bool { return mountSnap(s, "/main.mp3").ListenerCount == 1 })
	if err := s.SetSilent("/main.mp3", true, "x"); err != nil {
		t.Fatal(err)
	}
	if m := mountSnap(s, "/main.mp3"); m.State != StateSilent || m.ListenerCount != 1 {
		t.Fatalf("state %s, %d listeners", m.State, m.ListenerCount)
	}
	main.Close()
	testkit.Eventually(t, 2*time.Second, "grace", func() bool { return mountSnap(s, "/main.mp3").State == StateGrace })
	if err := s.SetSilent("/nope", true, ""); err != ErrNoMount {
		t.Errorf("unknown mount: %v", err)
	}
	l.Conn.Close()
}

// The dead-air switch moves listeners to a file fallback too, as a source
// leaving does: the file under the webroot starts playing for them.
func TestSilenceFallbackToFile(t *testing.T) {
	t.Parallel()
	file := testkit.Media(t, "tone440.mp3")
	const fb = "/fb.mp3"
	s, addr := startServer(t, func(c *Config) {
		c.Webroot, c.BurstSize = webroot(t, fb[1:], file), 4096
		c.Mounts = map[string]MountConfig{"/main.mp3": {Fallback: fb, OnSilence: OnSilenceFallback}}
	})
	main, _ := connectSource(t, addr, "PUT", "/main.mp3", "audio/mpeg")
	a := testkit.Media(t, "tone.mp3")
	main.Send(a[:8000], 1000, time.Millisecond)
	l := testkit.Listen(t, addr, "/main.mp3")
	testkit.Eventually(t, 2*time.Second, "listener on main", func() bool { return mountSnap(s, "/main.mp3").ListenerCount == 1 })
	if err := s.SetSilent("/main.mp3", true, "under -50 dBFS for 10s"); err != nil {
		t.Fatal(err)
	}
	main.Send(a[8000:12000], 1000, time.Millisecond)
	testkit.Eventually(t, 5*time.Second, "listener on the file", func() bool {
		f := mountSnap(s, fb)
		return f != nil && f.ListenerCount == 1 && f.Listeners[0].Home == "/main.mp3"
	})
	n := len(l.Bytes())
	testkit.Eventually(t, 5*time.Second, "the file's bytes", func() bool { return len(l.Bytes()) > n+4000 })
	if got := l.Bytes(); !bytes.Contains(file, got[len(got)-2000:]) {
		t.Fatal("the listener's latest bytes are not the file's")
	}
}
