package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tmuxSession runs a command in a private tmux server of its own size.
type tmuxSession struct {
	t      *testing.T
	tmux   string
	socket string
}

func startTmux(t *testing.T, w, h int, command string) *tmuxSession {
	t.Helper()
	s := &tmuxSession{t: t, tmux: needTool(t, "tmux"), socket: fmt.Sprintf("icedeck-e2e-%d", time.Now().UnixNano())}
	// The wrapper keeps the pane after the program ends, so its exit code can be read.
	wrapped := "sh -c '" + command + "; echo EXIT=$?; exec sleep 600'"
	if out, err := exec.Command(s.tmux, "-L", s.socket, "-f", "/dev/null", "new-session", "-d", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), wrapped).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command(s.tmux, "-L", s.socket, "kill-server").Run() })
	return s
}

func (s *tmuxSession) screen() string {
	out, _ := exec.Command(s.tmux, "-L", s.socket, "capture-pane", "-p").Output()
	return string(out)
}

func (s *tmuxSession) keys(keys ...string) {
	s.t.Helper()
	if out, err := exec.Command(s.tmux, append([]string{"-L", s.socket, "send-keys"}, keys...)...).CombinedOutput(); err != nil {
		s.t.Fatalf("send-keys: %v: %s", err, out)
	}
}

// waitScreen polls the pane until it shows every one of want.
func (s *tmuxSession) waitScreen(what string, want ...string) string {
	s.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		scr := s.screen()
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(scr, w)
		}
		if ok {
			return scr
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("screen never showed %s (%q); last screen:\n%s", what, want, scr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The operator's first session, on the real binary: a source arrives, a
// listener appears, it is disconnected by key, and it is really gone.
func TestInterfaceEndToEnd(t *testing.T) {
	ff := needTool(t, "ffmpeg")
	curl := needTool(t, "curl")
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	log := filepath.Join(t.TempDir(), "icedeck.log")
	tm := startTmux(t, 80, 24, fmt.Sprintf("%s --listen %s --source-password e2epass --log-file %s", bin, addr, log))
	tm.waitScreen("the header", "icedeck", "0 sources")

	src := exec.Command(ff, "-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i", "sine=f=1000:d=60", "-c:a", "libmp3lame", "-b:a", "128k",
		"-f", "mp3", "-content_type", "audio/mpeg", "icecast://source:e2epass@"+addr+"/e2e.mp3")
	if err := src.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Process.Kill(); _ = src.Wait() })
	tm.waitScreen("the mount live", "/e2e.mp3", "live", "1 source")

	listener := exec.Command(curl, "-s", "-A", "curl-e2e", "-o", "/dev/null", "-w", "%{size_download}", "http://"+addr+"/e2e.mp3")
	var got strings.Builder
	listener.Stdout = &got
	if err := listener.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- listener.Wait() }()
	t.Cleanup(func() { _ = listener.Process.Kill() })
	tm.waitScreen("the listener in the Listeners tab", "curl-e2e", "1 listener")

	tm.keys("Tab")
	tm.keys("d")
	tm.waitScreen("the confirmation", "Disconnect listener")
	tm.keys("y")
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
		t.Fatalf("the listener's connection is still open after the kick; screen:\n%s", tm.screen())
	}
	tm.waitScreen("the listener gone", "0 listeners")

	// Quitting with a source connected asks first.
	tm.keys("q")
	tm.waitScreen("the quit confirmation", "Quit icedeck and stop the server?")
	tm.keys("y")
	tm.waitScreen("a clean exit", "EXIT=0")
}

// Closing the terminal the interface runs in (here: killing the tmux
// server, which hangs up its terminal) sends SIGHUP: icedeck still shuts
// down cleanly and writes its report.
func TestInterfaceTerminalClosedWritesReport(t *testing.T) {
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	addr := freePort(t)
	report := filepath.Join(dir, "report.json")
	tm := startTmux(t, 80, 24, fmt.Sprintf("%s --listen %s --source-password huppw --admin-password hupadmin --log-file %s --report %s",
		bin, addr, filepath.Join(dir, "icedeck.log"), report))
	tm.waitScreen("the header", "icedeck", "0 sources")

	data := toneMP3(t, 40000)
	src := rawSource(t, addr, "/term.mp3", "huppw")
	if _, err := src.Write(data); err != nil {
		t.Fatal(err)
	}
	waitBytesIn(t, addr, "hupadmin", "/term.mp3", len(data))
	tm.waitScreen("the source", "/term.mp3", "1 source")

	if out, err := exec.Command(tm.tmux, "-L", tm.socket, "kill-server").CombinedOutput(); err != nil {
		t.Fatalf("kill-server: %v: %s", err, out)
	}
	waitFor(t, "the report", func() bool {
		b, err := os.ReadFile(report)
		return err == nil && len(b) > 0 && b[len(b)-1] == '\n' // written whole
	})
	checkReport(t, report, "/term.mp3", data)
}
