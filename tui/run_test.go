package tui

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/internal/testkit"
)

// The tmux tests run this test binary again as the program under test: with
// ICEDECK_TUI_CHILD set, TestMain calls Run on a real terminal (a tmux pane)
// instead of running tests.
func TestMain(m *testing.M) {
	switch os.Getenv("ICEDECK_TUI_CHILD") {
	case "":
		os.Exit(m.Run())
	case "run":
		e := newTestEngine(10)
		err := Run(context.Background(), Options{Engine: e, Tick: 50 * time.Millisecond, LogFile: "/tmp/icedeck.log"})
		if err != nil {
			fmt.Println("RUN ERROR:", err)
			os.Exit(1)
		}
		fmt.Println("calls:", strings.Join(e.Calls(), ","))
		os.Exit(0)
	case "panic":
		// The engine panics on a later snapshot: Run must give the terminal
		// back and return an error.
		err := Run(context.Background(), Options{Engine: &panicky{testEngine: newTestEngine(3)}, Tick: 50 * time.Millisecond})
		fmt.Println("RUN ERROR:", err)
		os.Exit(1)
	}
}

type panicky struct {
	*testEngine
	n int
}

func (p *panicky) Summary() engine.Snapshot {
	p.n++
	if p.n > 5 {
		panic("engine exploded")
	}
	return p.testEngine.Summary()
}

// startTmux runs this test binary as a child in a private tmux server.
func startTmux(t *testing.T, mode string, w, h int, env ...string) *testkit.Tmux {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	envs := strings.Join(append([]string{"ICEDECK_TUI_CHILD=" + mode, "TERM=xterm-256color"}, env...), " ")
	return testkit.StartTmux(t, w, h, fmt.Sprintf("env %s %s -test.run=^$", envs, exe))
}

func TestRunInTmux(t *testing.T) {
	s := startTmux(t, "run", 80, 24)
	scr := s.WaitScreen("the mounts", "/live.mp3")
	for _, want := range []string{"icedeck │ up 3h04m │ 2 sources", "icecast://source:••••@localhost:8000/live.mp3", "MOUNT"} {
		if !strings.Contains(scr, want) {
			t.Errorf("screen lacks %q:\n%s", want, scr)
		}
	}
	// Select /live.mp3, go to its listeners, kick the first one.
	s.Keys("j")
	s.WaitScreen("the mount selected", "Listeners 10")
	s.Keys("Tab")
	s.WaitScreen("the Listeners pane", "space mark")
	s.Keys("d")
	s.WaitScreen("the confirmation", "Disconnect listener 100 (192.0.2.10:40000) from /live.mp3? [y/N]")
	s.Keys("y")
	s.WaitScreen("the kick reported", "disconnected 1 listener from /live.mp3")
	// q asks because sources are connected; y quits and restores the screen.
	s.Keys("q")
	s.WaitScreen("the quit confirmation", "Quit icedeck and stop the server? [y/N]")
	s.Keys("y")
	scr = s.WaitScreen("a clean exit", "EXIT=0")
	if !strings.Contains(scr, "calls: kick /live.mp3 100") {
		t.Errorf("engine calls not as expected:\n%s", scr)
	}
	if strings.Contains(scr, "MOUNT") {
		t.Errorf("the interface is still on screen after exit (alternate screen not left):\n%s", scr)
	}
}

func TestRunRestoresTerminalOnPanic(t *testing.T) {
	s := startTmux(t, "panic", 80, 24)
	scr := s.WaitScreen("the crash exit", "EXIT=1")
	if !strings.Contains(scr, "RUN ERROR: tui: the interface crashed") {
		t.Errorf("no crash error reported:\n%s", scr)
	}
	if strings.Contains(scr, "MOUNT") {
		t.Errorf("the interface is still on screen after the panic:\n%s", scr)
	}
	// The terminal works again: the shell wrapper is sleeping, so check the
	// pane is in normal mode (not the alternate screen) via tmux.
	if alt := strings.TrimSpace(s.Run("display-message", "-p", "#{alternate_on}")); alt != "0" {
		t.Errorf("alternate screen still on after the panic: %q", alt)
	}
}

func TestRunNoColorInTmux(t *testing.T) {
	s := startTmux(t, "run", 80, 24, "NO_COLOR=1")
	s.WaitScreen("the mounts", "/live.mp3")
	esc := s.Run("capture-pane", "-p", "-e")
	// tmux re-encodes the cells as SGR sequences; a colour is a parameter
	// 30–38, 40–48, 90–97 or 100–107 (39 and 49 are "default colour").
	for _, sgr := range regexp.MustCompile(`\x1b\[([0-9;:]*)m`).FindAllStringSubmatch(esc, -1) {
		for _, p := range strings.FieldsFunc(sgr[1], func(r rune) bool { return r == ';' || r == ':' }) {
			n, _ := strconv.Atoi(p)
			if (n >= 30 && n <= 38) || (n >= 40 && n <= 48) || (n >= 90 && n <= 97) || (n >= 100 && n <= 107) {
				t.Errorf("NO_COLOR screen has colour sequence %q", sgr[0])
			}
		}
	}
	if !strings.Contains(esc, "7m") {
		t.Errorf("NO_COLOR screen has no reverse video (header, selection):\n%q", esc)
	}
	s.Keys("q")
	s.WaitScreen("the quit confirmation", "[y/N]")
	s.Keys("y")
	s.WaitScreen("a clean exit", "EXIT=0")
}
