package playback

import (
	"fmt"
	"io"
	"os/exec"
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/internal/testkit"
)

// The audition path as the operator uses it: ffmpeg streams to the relay,
// the mount is tapped, decoded and played into a PulseAudio null sink.

func startEngine(t *testing.T) (*engine.Server, string) {
	t.Helper()
	srv, err := engine.New(engine.Config{SourcePassword: "pw", BurstSize: 8 << 10})
	if err != nil {
		t.Fatal(err)
	}
	return srv, testkit.Serve(t, srv)
}

// streamTone has ffmpeg send a -6 dBFS tone to mount in real time.
func streamTone(t *testing.T, addr, mount string, freq, seconds float64) {
	t.Helper()
	src := fmt.Sprintf("aevalsrc=0.5*sin(2*PI*%g*t)|0.5*sin(2*PI*%g*t):s=44100:d=%g", freq, freq, seconds)
	cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i", src, "-c:a", "libmp3lame", "-b:a", "128k",
		"-f", "mp3", "-content_type", "audio/mpeg", "icecast://source:pw@"+addr+mount)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
}

func tapWhenLive(t *testing.T, srv *engine.Server, mount string) *engine.Tap {
	t.Helper()
	var tap *engine.Tap
	testkit.Eventually(t, 10*time.Second, mount+" live", func() bool {
		var err error
		tap, err = srv.Tap(mount)
		return err == nil
	})
	return tap
}

func TestE2EEngineMountToPulse(t *testing.T) {
	testkit.NeedTool(t, "ffmpeg")
	p := pulsePlayer(t)
	for attempt := 1; ; attempt++ {
		srv, addr := startEngine(t)
		streamTone(t, addr, "/tone.mp3", 1000, 3)
		tap := tapWhenLive(t, srv, "/tone.mp3")
		problems, overload := playToneOnce(t, p, func() { p.Play(tap, tap.ContentType(), "/tone.mp3") })
		if len(problems) == 0 {
			return
		}
		if overload == "" || attempt == 3 {
			for _, pr := range problems {
				t.Error(pr)
			}
			return
		}
		t.Logf("attempt %d failed while the machine was overloaded (%s): %v; retrying", attempt, overload, problems)
	}
}

func TestE2EEngineSwitchMounts(t *testing.T) {
	testkit.NeedTool(t, "ffmpeg")
	p := pulsePlayer(t)
	srv, addr := startEngine(t)
	streamTone(t, addr, "/a.mp3", 440, 8)
	streamTone(t, addr, "/b.mp3", 1000, 8)
	open := func(mount string) func() (io.ReadCloser, string) {
		return func() (io.ReadCloser, string) {
			tap := tapWhenLive(t, srv, mount)
			return tap, tap.ContentType()
		}
	}
	// Both mounts are live before the switch, as an operator finds them.
	tapWhenLive(t, srv, "/b.mp3").Close()
	checkSwitch(t, p, open("/a.mp3"), open("/b.mp3"))
}

// A source that connects and sends nothing must not hold up the player.
func TestEngineStalledSourceDoesNotBlock(t *testing.T) {
	srv, addr := startEngine(t)
	stall := testkit.SourceRequest{Method: "SOURCE", Mount: "/stall.mp3", User: "source", Password: "pw", ContentType: "audio/mpeg"}
	if src, r := testkit.ConnectSource(t, addr, stall); src == nil {
		t.Fatalf("source refused: %d %q", r.Code, r.Head)
	}
	tap := tapWhenLive(t, srv, "/stall.mp3")
	p := NewPlayer(Options{NoDevice: true, Logger: discardLogger()})
	defer p.Close()
	p.Play(tap, tap.ContentType(), "/stall.mp3")
	time.Sleep(200 * time.Millisecond)
	done := make(chan struct{})
	go func() {
		_ = p.Status()
		p.Stop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Status/Stop blocked on a stalled source")
	}
	if st := p.Status(); st.State != "stopped" {
		t.Fatalf("state after Stop: %q", st.State)
	}
}
