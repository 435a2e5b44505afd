package tui

import (
	"bytes"
	"fmt"
	"io"
	"slices"
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
	playing := func(o *Options) {
		o.Auditioner = &testAuditioner{st: AuditionStatus{
			Mount: "/live.mp3", Codec: "MP3", State: "playing", Output: "pulse", OutputReady: true, SampleRate: 44100, Channels: 2,
			Levels:    AuditionLevels{PeakDB: [2]float64{-12, -3.5}, RMSDB: [2]float64{-18, -9}, HoldDB: [2]float64{-6, -1}},
			SilentFor: 0, Clips: 3, Volume: 0.8,
		}}
	}
	analysed := func(o *Options) { o.Analyzer = fixtureAudio() }
	readOnly := func(o *Options) { o.ReadOnly = true }
	station := func(t *testing.T, m *Model, e *testEngine) {
		e.mu.Lock()
		e.snap = fixture42()
		e.mu.Unlock()
		refresh(m)
		selectMount(t, m, "/live.mp3")
	}
	relays := func(t *testing.T, m *Model, e *testEngine) { e.addRelays(); refresh(m) }
	pushes := func(t *testing.T, m *Model, e *testEngine) { e.addPushes(); refresh(m) }
	cases := []struct {
		name  string
		w, h  int
		opts  func(*Options)
		setup func(*testing.T, *Model, *testEngine)
		keys  []string
	}{
		// The station of the issue: 42 mounts, 2,000 listeners, the
		// analysis on, /live.mp3's Listeners tab with the keyboard.
		{"station", 80, 24, analysed, station, []string{"tab"}},
		{"station", 120, 40, analysed, station, []string{"tab"}},
		{"station", 200, 50, analysed, station, []string{"tab"}},
		{"station_source", 120, 40, analysed, station, []string{"2", "tab"}},
		{"station_events", 120, 40, analysed, station, []string{"3", "tab"}},
		{"station_graphs", 120, 40, analysed, func(t *testing.T, m *Model, e *testEngine) { station(t, m, e); anHour(m, e) }, []string{"4"}},
		{"station_zoom", 120, 40, analysed, station, []string{"z"}},
		{"station_health_sort", 120, 40, analysed, station, []string{"s", "s", "g"}},
		{"station_filter", 80, 24, analysed, station, []string{"tab", "/", "c", "u", "r", "l"}},
		{"station_move", 80, 24, analysed, station, []string{"m"}},
		{"station_help", 80, 24, analysed, station, []string{"?"}},
		{"station_help", 200, 50, analysed, station, []string{"?"}},
		{"listeners", 80, 24, nil, nil, []string{"j"}},
		{"listeners", 120, 40, playing, nil, []string{"j"}},
		{"source", 80, 24, nil, nil, []string{"j", "tab", "l"}},
		{"source", 120, 40, nil, nil, []string{"j", "tab", "l"}},
		{"eventlog", 80, 24, nil, nil, []string{"e"}},
		{"confirm", 80, 24, nil, nil, []string{"j", "tab", "j", "d"}},
		{"move", 80, 24, nil, nil, []string{"j", "tab", "space", "m"}},
		{"filter", 80, 24, nil, nil, []string{"/", "o", "g"}},
		{"help_readonly", 80, 24, readOnly, nil, []string{"?"}},
		{"tiny", 40, 10, nil, nil, []string{"j"}},
		// /relay.mp3 on the Source tab: three rows below /jazz.aac, selected first.
		{"relay_source", 80, 24, nil, relays, []string{"j", "j", "j", "tab", "l"}},
		{"relay_source", 120, 40, nil, relays, []string{"j", "j", "j", "tab", "l"}},
		// /live.mp3 on the Source tab with its two pushes; /jazz.aac's
		// empty title cell says it is pushed.
		{"push_source", 80, 24, nil, pushes, []string{"j", "tab", "l"}},
		{"relay_prompt", 80, 24, nil, relays, append([]string{"a"}, typed...)},
		// The audio analysis: loudness and true-peak columns, and /live.mp3's
		// Source tab with its meter and loudness history; /jazz.aac undecodable.
		{"audio_source", 80, 24, analysed, nil, []string{"j", "tab", "l"}},
		{"audio_source", 120, 40, analysed, nil, []string{"j", "tab", "l"}},
		{"audio_undecodable", 120, 40, analysed, nil, []string{"tab", "l"}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s_%dx%d", c.name, c.w, c.h), func(t *testing.T) {
			m, e := newTestModel(t, 10, func(o *Options) {
				o.NoColor = false
				if c.opts != nil {
					c.opts(o)
				}
			})
			m.Update(tea.WindowSizeMsg{Width: c.w, Height: c.h})
			if c.setup != nil {
				c.setup(t, m, e)
			}
			// Keys are applied before the program starts so that the
			// commands they return (requests, prompts) have finished: the
			// screen is then a function of the model state alone.
			press(t, m, c.keys...)
			screen := screenOf(t, m, c.w, c.h)
			golden.RequireEqual(t, screen)
		})
	}
}

// anHour feeds the model an hour of snapshots, ten seconds apart: the
// station's audience grows through the hour in steps, /live.mp3's most;
// every listener is sent 128 kb/s.
func anHour(m *Model, e *testEngine) {
	e.mu.Lock()
	snap := e.snap
	e.mu.Unlock()
	snap.Mounts = slices.Clone(snap.Mounts)
	start := slices.Clone(snap.Mounts)
	for i := range 360 {
		snap.Time = t0.Add(time.Duration(i+1) * 10 * time.Second)
		snap.Listeners = 0
		snap.BytesIn += 42 * 16000 * 10
		for j := range snap.Mounts {
			ms := &snap.Mounts[j]
			ms.ListenerCount = start[j].ListenerCount * (200 + i + 40*((i/20)%3)) / 560
			ms.ListenerPeak = max(ms.ListenerPeak, ms.ListenerCount)
			ms.BytesOut += 16000 * 10 * uint64(ms.ListenerCount)
			snap.Listeners += ms.ListenerCount
			snap.BytesOut += 16000 * 10 * uint64(ms.ListenerCount)
		}
		m.Update(snapshotMsg{snap: snap})
	}
}
