package tui

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/charmbracelet/x/vt"
)

// screenOf runs the model in a real Bubble Tea program at w×h on the
// alternate screen, as Run does, sends the messages, quits, and returns the
// last screen as a terminal emulator shows it (text only). No WaitFor: the
// whole output is read once at the end. The output is cut where the program
// leaves the alternate screen, which is the screen the operator last saw.
func screenOf(t *testing.T, m *Model, w, h int, msgs ...tea.Msg) string {
	t.Helper()
	m.altScreen = true
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(w, h))
	for _, msg := range msgs {
		tm.Send(msg)
	}
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(tm.FinalOutput(t, teatest.WithFinalTimeout(10*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.LastIndex(out, []byte(ansi.ResetModeAltScreenSaveCursor)); i >= 0 {
		out = out[:i]
	} else {
		t.Fatalf("program never left the alternate screen; output %q", out)
	}
	emu := vt.NewEmulator(w, h)
	// Drain the emulator's answers to terminal queries, or Write blocks on
	// the pipe. The goroutine is left blocked when the test ends: vt's
	// Close races with a pending Read (an unsynchronised flag), so it is
	// not called.
	go func() { _, _ = io.Copy(io.Discard, emu) }()
	if _, err := emu.Write(bytes.ReplaceAll(out, []byte("\n"), []byte("\r\n"))); err != nil {
		t.Fatal(err)
	}
	return emu.String()
}

// Golden screens: run with -update to rewrite testdata/*.golden.
func TestGoldenScreens(t *testing.T) {
	typed := strings.Split("origin.example:8000/live.mp3 as /edge2.mp3", "")
	cases := []struct {
		name   string
		w, h   int
		aud    bool
		ro     bool
		relays bool // three relayed mounts added to the fixture
		pushes bool // /live.mp3 pushed live and retrying, /jazz.aac connecting
		keys   []string
		audio  bool // the audio analysis (fixtureAudio)
	}{
		{"listeners", 80, 24, false, false, false, false, []string{"j"}, false},
		{"listeners", 120, 40, true, false, false, false, []string{"j"}, false},
		{"source", 80, 24, false, false, false, false, []string{"j", "tab", "l"}, false},
		{"source", 120, 40, false, false, false, false, []string{"j", "tab", "l"}, false},
		{"eventlog", 80, 24, false, false, false, false, []string{"e"}, false},
		{"confirm", 80, 24, false, false, false, false, []string{"j", "tab", "j", "d"}, false},
		{"move", 80, 24, false, false, false, false, []string{"j", "tab", "space", "m"}, false},
		{"filter", 80, 24, false, false, false, false, []string{"/", "o", "g"}, false},
		{"help_readonly", 80, 24, false, true, false, false, []string{"?"}, false},
		{"tiny", 40, 10, false, false, false, false, []string{"j"}, false},
		// /relay.mp3 on the Source tab: three rows below /jazz.aac, selected first.
		{"relay_source", 80, 24, false, false, true, false, []string{"j", "j", "j", "tab", "l"}, false},
		{"relay_source", 120, 40, false, false, true, false, []string{"j", "j", "j", "tab", "l"}, false},
		// /live.mp3 on the Source tab with its two pushes; /jazz.aac's
		// empty title cell says it is pushed.
		{"push_source", 80, 24, false, false, false, true, []string{"j", "tab", "l"}, false},
		{"relay_prompt", 80, 24, false, false, true, false, append([]string{"a"}, typed...), false},
		// The audio analysis: loudness and true-peak columns, and /live.mp3's
		// Source tab with its meter and loudness history; /jazz.aac undecodable.
		{"audio_source", 80, 24, false, false, false, false, []string{"j", "tab", "l"}, true},
		{"audio_source", 120, 40, false, false, false, false, []string{"j", "tab", "l"}, true},
		{"audio_undecodable", 120, 40, false, false, false, false, []string{"tab", "l"}, true},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s_%dx%d", c.name, c.w, c.h), func(t *testing.T) {
			m, e := newTestModel(t, 10, func(o *Options) {
				o.NoColor = false
				o.ReadOnly = c.ro
				if c.audio {
					o.Analyzer = fixtureAudio()
				}
				if c.aud {
					o.Auditioner = &testAuditioner{st: AuditionStatus{
						Mount: "/live.mp3", Codec: "MP3", State: "playing", Output: "pulse", SampleRate: 44100, Channels: 2,
						Levels:    AuditionLevels{PeakDB: [2]float64{-12, -3.5}, RMSDB: [2]float64{-18, -9}, HoldDB: [2]float64{-6, -1}},
						SilentFor: 0, Clips: 3, Volume: 0.8,
					}}
				}
			})
			if c.relays {
				e.addRelays()
				refresh(m)
			}
			if c.pushes {
				e.addPushes()
				refresh(m)
			}
			// Keys are applied before the program starts so that the
			// commands they return (requests, prompts) have finished: the
			// screen is then a function of the model state alone.
			m.Update(tea.WindowSizeMsg{Width: c.w, Height: c.h})
			press(t, m, c.keys...)
			screen := screenOf(t, m, c.w, c.h)
			golden.RequireEqual(t, screen)
		})
	}
}
