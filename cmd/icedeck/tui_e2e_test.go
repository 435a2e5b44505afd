package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// The operator's first session, on the real binary: a source arrives, a
// listener appears, it is disconnected by key, and it is really gone.
func TestInterfaceEndToEnd(t *testing.T) {
	ff := testkit.NeedTool(t, "ffmpeg")
	curl := testkit.NeedTool(t, "curl")
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	log := filepath.Join(t.TempDir(), "icedeck.log")
	tm := testkit.StartTmux(t, 80, 24, fmt.Sprintf("%s --listen %s --source-password e2epass --log-file %s", bin, addr, log))
	tm.WaitScreen("the header", "icedeck", "0 sources")

	src := exec.Command(ff, "-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i", "sine=f=1000:d=60", "-c:a", "libmp3lame", "-b:a", "128k",
		"-f", "mp3", "-content_type", "audio/mpeg", "icecast://source:e2epass@"+addr+"/e2e.mp3")
	if err := src.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Process.Kill(); _ = src.Wait() })
	tm.WaitScreen("the mount live", "/e2e.mp3", "live", "1 source")

	listener := exec.Command(curl, "-s", "-A", "curl-e2e", "-o", "/dev/null", "-w", "%{size_download}", "http://"+addr+"/e2e.mp3")
	var got strings.Builder
	listener.Stdout = &got
	if err := listener.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- listener.Wait() }()
	t.Cleanup(func() { _ = listener.Process.Kill() })
	tm.WaitScreen("the listener in the Listeners tab", "curl-e2e", "1 listener")

	tm.Keys("Tab")
	tm.Keys("d")
	tm.WaitScreen("the confirmation", "Disconnect listener")
	tm.Keys("y")
	select {
	case err := <-done:
		// curl ends normally when the server closes a stream of unknown length.
		if err != nil {
			t.Fatalf("curl: %v", err)
		}
		if got.String() == "0" {
			t.Fatal("the listener received nothing before the kick")
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("the listener's connection is still open after the kick; screen:\n%s", tm.Screen())
	}
	tm.WaitScreen("the listener gone", "0 listeners")

	// Quitting with a source connected asks first.
	tm.Keys("q")
	tm.WaitScreen("the quit confirmation", "Quit icedeck and stop the server?")
	tm.Keys("y")
	tm.WaitScreen("a clean exit", "EXIT=0")
}

// SIGHUP reloads the configuration, but closing the terminal the
// interface runs in (here: killing the tmux server, which hangs up its
// terminal) sends SIGHUP too: then icedeck shuts down cleanly and writes
// its report.
func TestInterfaceTerminalClosedWritesReport(t *testing.T) {
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	addr := freePort(t)
	report := filepath.Join(dir, "report.json")
	tm := testkit.StartTmux(t, 80, 24, fmt.Sprintf("%s --listen %s --source-password huppw --admin-password hupadmin --log-file %s --report %s",
		bin, addr, filepath.Join(dir, "icedeck.log"), report))
	tm.WaitScreen("the header", "icedeck", "0 sources")

	data := testkit.Media(t, "tone.mp3")[:40000]
	src := rawSource(t, addr, "/term.mp3", "huppw")
	src.Send(data, len(data), 0)
	waitBytesIn(t, addr, "hupadmin", "/term.mp3", len(data))
	tm.WaitScreen("the source", "/term.mp3", "1 source")

	// SIGHUP with the terminal still there reloads, and says so.
	pane := strings.TrimSpace(tm.Run("list-panes", "-F", "#{pane_pid}"))
	out, err := exec.Command("pgrep", "-P", pane, "-f", bin).Output()
	if err != nil {
		t.Fatalf("icedeck's pid under pane %s: %v", pane, err)
	}
	if err := exec.Command("kill", "-HUP", strings.Fields(string(out))[0]).Run(); err != nil {
		t.Fatal(err)
	}
	tm.WaitScreen("the reload said", "configuration reloaded", "/term.mp3")

	tm.Run("kill-server")
	testkit.Eventually(t, 10*time.Second, "the report", func() bool {
		b, err := os.ReadFile(report)
		return err == nil && len(b) > 0 && b[len(b)-1] == '\n' // written whole
	})
	checkReport(t, report, "/term.mp3", data)
}
