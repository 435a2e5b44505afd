package tui

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/internal/testkit"
)

// TestRealEngine drives the model with a real *engine.Server fed by a real
// ffmpeg source and one HTTP listener: the screen shows them, and the
// d → y flow really disconnects the listener.
func TestRealEngine(t *testing.T) {
	ffmpeg := testkit.NeedTool(t, "ffmpeg")

	s, err := engine.New(engine.Config{SourcePassword: "pw", Listen: []string{"127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	addr := testkit.Serve(t, s)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-ac", "2",
		"-c:a", "libmp3lame", "-b:a", "128k", "-content_type", "audio/mpeg",
		"-f", "mp3", "icecast://source:pw@"+addr+"/live.mp3")
	if err := src.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = src.Wait() })

	var eng Engine = s // *engine.Server is the interface's engine
	m, err := NewModel(Options{Engine: eng, NoColor: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})

	until := func(what string, ok func() bool) { t.Helper(); untilScreen(t, m, what, ok) }
	until("source connected", func() bool { return m.snap.Sources == 1 })

	req, _ := http.NewRequest("GET", "http://"+addr+"/live.mp3", nil)
	req.Header.Set("User-Agent", "tui-test/1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	done := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, resp.Body); done <- err }()

	until("listener visible", func() bool { return strings.Contains(plain(m), "tui-test/1.0") })
	scr := plain(m)
	for _, want := range []string{"/live.mp3", "live", "MP3", "127.0.0.1:", "Listeners 1"} {
		if !strings.Contains(scr, want) {
			t.Errorf("screen lacks %q:\n%s", want, scr)
		}
	}
	if !strings.Contains(scr, "MP3 44.1k st") {
		// Filled in by the engine's frame analysis, which may still be in progress.
		t.Logf("frame analysis not shown yet (no \"MP3 44.1k st\")")
	}
	press(t, m, "tab", "d")
	if !strings.Contains(plain(m), "Disconnect listener") {
		t.Fatalf("no prompt:\n%s", plain(m))
	}
	press(t, m, "y")
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatalf("listener still connected after the kick; screen:\n%s", plain(m))
	}
	until("listener gone", func() bool { return strings.Contains(plain(m), "Listeners 0") })
	// The event log has the story, from Subscribe.
	press(t, m, "e")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(plain(m), "source.connected") {
		select {
		case msg := <-m.evCh:
			m.Update(eventsMsg{msg})
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("event log:\n%s", plain(m))
		}
	}
}
