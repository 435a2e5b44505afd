package testkit

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Tmux is a private tmux server running one command on a terminal of a
// chosen size: a real terminal for an interface under test.
type Tmux struct {
	t      testing.TB
	tmux   string
	socket string
}

// StartTmux runs command (a shell command line) in a new tmux server with
// a w×h window, which is killed when the test ends. When the command ends
// the pane prints EXIT=<status> and stays, so the test can read both.
func StartTmux(t testing.TB, w, h int, command string) *Tmux {
	t.Helper()
	s := &Tmux{t: t, tmux: NeedTool(t, "tmux"), socket: fmt.Sprintf("icedeck-test-%d", time.Now().UnixNano())}
	wrapped := "sh -c '" + command + "; echo EXIT=$?; exec sleep 600'"
	s.Run("-f", "/dev/null", "new-session", "-d", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), wrapped)
	t.Cleanup(func() { _ = exec.Command(s.tmux, "-L", s.socket, "kill-server").Run() })
	return s
}

// Run runs a tmux command against this server and returns its output.
func (s *Tmux) Run(args ...string) string {
	s.t.Helper()
	out, err := exec.Command(s.tmux, append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// Screen returns what the pane shows, as text.
func (s *Tmux) Screen() string { return s.Run("capture-pane", "-p") }

// Keys types keys into the pane, in tmux send-keys notation ("Tab", "C-c").
func (s *Tmux) Keys(keys ...string) { s.Run(append([]string{"send-keys", "-t", "0"}, keys...)...) }

// WaitScreen polls the pane until it shows every one of want, and returns
// that screen. The limit is generous (a busy machine renders late); it is
// not a timing assertion.
func (s *Tmux) WaitScreen(what string, want ...string) string {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		scr := s.Screen()
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
