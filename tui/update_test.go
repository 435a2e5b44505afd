package tui

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/tui/common"
	"github.com/icedeck/icedeck/tui/listeners"
	"github.com/icedeck/icedeck/tui/mounts"
)

// cursorBars returns the lines drawn as the focused cursor bar (the
// Selected style); the colour theme tells it from the dim marker.
func cursorBars(m *Model) []string {
	pre, _, _ := strings.Cut(m.styles.Selected.Render("\uE000"), "\uE000")
	var out []string
	for _, l := range strings.Split(m.render(), "\n") {
		if pre != "" && strings.HasPrefix(l, pre) {
			out = append(out, strings.TrimSpace(ansi.Strip(l)))
		}
	}
	return out
}

// The focus lives in the root: after tab, l, shift+tab, tab, l, l (the
// sequence that used to leave a pane with the keyboard and a dim cursor)
// exactly one list draws a cursor bar, and it is the one the keys move.
func TestOneFocus(t *testing.T) {
	m, _ := newTestModel(t, 10, func(o *Options) { o.NoColor = false })
	press(t, m, "j") // /live.mp3
	if bars := cursorBars(m); len(bars) != 1 || !strings.HasPrefix(bars[0], "▸   /live.mp3") {
		t.Fatalf("mounts focused: bars %q", bars)
	}
	press(t, m, "tab", "l", "shift+tab", "tab", "l", "l")
	if m.focus != paneDetail || m.tab != tabGraphs {
		t.Fatalf("focus %v tab %v, want the Graphs tab focused", m.focus, m.tab)
	}
	// The graphs have no cursor; the mounts list shows its selection with a marker only.
	if bars := cursorBars(m); len(bars) != 0 {
		t.Fatalf("Graphs focused: bars %q", bars)
	}
	if !strings.Contains(plain(m), "▸   /live.mp3") {
		t.Errorf("no dim marker on the unfocused selection:\n%s", plain(m))
	}
	press(t, m, "l") // round to the Listeners tab
	if m.focus != paneDetail || m.tab != tabListeners {
		t.Fatalf("focus %v tab %v", m.focus, m.tab)
	}
	press(t, m, "j", "j")
	if l, _ := m.listeners.Selected(); l.ID != 102 {
		t.Fatalf("j moved the listeners cursor to %d, want 102", l.ID)
	}
	bars := cursorBars(m)
	if len(bars) != 1 || !strings.HasPrefix(bars[0], "▸    102 192.0.2.12:40002") {
		t.Fatalf("Listeners focused: bars %q\n%s", bars, plain(m))
	}
	if ms, _ := m.mounts.Selected(); ms.Name != "/live.mp3" {
		t.Fatalf("the mounts cursor moved: %s", ms.Name)
	}
}

// paneSetups put the keyboard in each pane, with the cursor away from the
// list's ends so that every movement key moves.
var paneSetups = []struct {
	name string
	keys []string
}{
	{"mounts", []string{"j"}},
	{"listeners", []string{"j", "tab", "j", "j"}},
	{"source", []string{"j", "2", "tab"}},
	{"events", []string{"j", "3", "tab", "k", "k"}},
	{"graphs", []string{"j", "4", "tab"}},
	{"log", []string{"e", "k"}},
}

// allKeys is every key the interface binds, and some it does not.
var allKeys = []string{
	"up", "k", "down", "j", "pgup", "ctrl+u", "pgdown", "ctrl+d", "home", "g", "end", "G",
	"tab", "shift+tab", "right", "l", "]", "left", "h", "[", "1", "2", "3", "4", "z", "e",
	"/", "s", "S", "esc", "f", "enter", "p", "x", "+", "=", "-", "M", "r", "T", "c", "D", "m",
	"a", "R", "L", "space", "A", "d", "t", "v", "?", "y", "n", "w", "Q",
}

// Every key in every pane either changes what the screen shows or says
// on the status line why it does nothing: never silence. Twice: with
// everything an operator can have, and read-only without audition,
// recording or analysis, where most keys refuse.
func TestEveryKeyActsOrSaysWhy(t *testing.T) {
	for _, full := range []bool{true, false} {
		for _, p := range paneSetups {
			for _, k := range allKeys {
				t.Run(fmt.Sprintf("full=%v/%s/%s", full, p.name, k), func(t *testing.T) {
					m, _ := newTestModel(t, 40, func(o *Options) {
						if full {
							o.Analyzer = fixtureAudio()
							o.Recorder = &testRecorder{on: map[string]bool{}}
							o.Auditioner = &testAuditioner{st: AuditionStatus{Mount: "/jazz.aac", State: "playing", Volume: 0.5, OutputReady: true}}
						} else {
							o.ReadOnly = true
						}
					})
					m.Update(tea.WindowSizeMsg{Width: 160, Height: 40})
					refresh(m)
					// Enough events on /live.mp3 for its cursor to move both ways.
					for i := range 6 {
						ev := fixtureEvents()[3]
						ev.Seq, ev.ID = uint64(10+i), uint64(50+i)
						m.Update(eventsMsg{ev})
					}
					press(t, m, p.keys...)
					m.flash = ""
					before := plain(m)
					out := press(t, m, k)
					if len(out) > 0 {
						return // quit
					}
					if plain(m) == before {
						t.Fatalf("%s in the %s pane changed nothing and said nothing:\n%s", k, p.name, before)
					}
				})
			}
		}
	}
}

// Prompts take the keyboard: while one is open, keys are its own.
func TestPromptsTakeTheKeys(t *testing.T) {
	m, e := newTestModel(t, 10, nil)
	theme := m.theme
	press(t, m, "/")
	if m.input == nil {
		t.Fatal("/ did not open the filter prompt")
	}
	// q, t, e, d are text now: nothing quits, changes theme, or kicks.
	if out := press(t, m, "j", "a", "z", "z", "q"); len(out) != 0 {
		t.Fatalf("typing produced %v", out)
	}
	press(t, m, "t", "e", "d", "backspace", "backspace", "backspace", "backspace")
	if m.theme != theme || m.log || m.confirm != nil || len(e.Calls()) != 0 {
		t.Fatalf("global keys acted while typing: theme %s log %v confirm %v calls %v", m.theme, m.log, m.confirm, e.Calls())
	}
	// The list follows the typing.
	if got := m.mounts.Order(); m.mounts.Filter() != "jazz" || !slices.Equal(got, []string{"/jazz.aac"}) {
		t.Fatalf("filter %q rows %v", m.mounts.Filter(), got)
	}
	if status, _ := bottomLines(m); !strings.HasPrefix(status, " filter mounts (name, title, format, state, health): jazz▏") {
		t.Fatalf("status line %q", status)
	}
	// esc cancels: the filter goes, all rows are back, keys are global again.
	press(t, m, "esc")
	if m.input != nil || m.mounts.Filter() != "" || m.mounts.Len() != 3 {
		t.Fatalf("after esc: input %v filter %q rows %d", m.input, m.mounts.Filter(), m.mounts.Len())
	}
	// enter keeps the filter; esc outside the prompt clears it.
	press(t, m, "/", "o", "g", "g", "enter")
	if m.input != nil || m.mounts.Filter() != "ogg" || m.mounts.Len() != 1 {
		t.Fatalf("after enter: filter %q rows %d", m.mounts.Filter(), m.mounts.Len())
	}
	if !strings.Contains(plain(m), "/ogg  1 of 3 mounts · / edits, esc clears") {
		t.Errorf("kept filter not shown:\n%s", plain(m))
	}
	press(t, m, "t")
	if m.theme == theme {
		t.Fatal("t does not change theme after the filter was kept")
	}
	press(t, m, "esc")
	if m.mounts.Filter() != "" || !strings.Contains(plain(m), "filter cleared") {
		t.Fatalf("esc did not clear the kept filter: %q", m.mounts.Filter())
	}
	press(t, m, "esc")
	if s, _ := bottomLines(m); !strings.Contains(s, "esc clears the focused list's filter: it has none") {
		t.Errorf("esc with nothing to clear: %q", s)
	}
	// ctrl+c always quits, even while typing.
	press(t, m, "/")
	if out := press(t, m, "ctrl+c"); len(out) != 1 {
		t.Fatalf("ctrl+c while typing: %v", out)
	}
}

// Tabs change from any pane, by number or arrow, and the event log makes
// way; the number of the tab shown moves the keyboard there.
func TestTabsFromAnyPane(t *testing.T) {
	m, _ := newTestModel(t, 10, nil)
	press(t, m, "2")
	if m.tab != tabSource || m.focus != paneMounts {
		t.Fatalf("2 from the mounts list: tab %v focus %v", m.tab, m.focus)
	}
	press(t, m, "2")
	if m.focus != paneDetail {
		t.Fatal("2 again does not move the keyboard to the Source tab")
	}
	press(t, m, "e", "3")
	if m.log || m.tab != tabEvents {
		t.Fatalf("3 from the event log: log %v tab %v", m.log, m.tab)
	}
	press(t, m, "shift+tab", "right")
	if m.tab != tabGraphs || m.focus != paneMounts {
		t.Fatalf("→ from the mounts list: tab %v focus %v", m.tab, m.focus)
	}
	press(t, m, "left", "left", "h", "h")
	if m.tab != tabGraphs {
		t.Fatalf("← four times: tab %v", m.tab)
	}
	press(t, m, "1")
	if !strings.Contains(plain(m), " /jazz.aac [Listeners 2]  Source   Events   Graphs ") {
		t.Errorf("tabs line:\n%s", plain(m))
	}
}

// z gives the focused pane the whole middle; tab moves the zoom with the
// keyboard; esc or z again ends it.
func TestZoom(t *testing.T) {
	m, _ := newTestModel(t, 10, nil)
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 30})
	press(t, m, "z")
	if m.lay.tabsY != -1 || m.lay.mountsH != 30-3-2 {
		t.Fatalf("mounts zoomed: %+v", m.lay)
	}
	if s := plain(m); strings.Contains(s, "ADDRESS") || !strings.Contains(s, "zoomed (z)") {
		t.Fatalf("zoomed mounts screen:\n%s", s)
	}
	press(t, m, "tab")
	if m.lay.mountsH != 0 || m.lay.bodyH != 30-3-2-1 || !strings.Contains(plain(m), "ADDRESS") {
		t.Fatalf("listeners zoomed: %+v\n%s", m.lay, plain(m))
	}
	press(t, m, "esc")
	if m.zoom || m.lay.mountsH == 0 {
		t.Fatal("esc did not end the zoom")
	}
}

// The mounts list takes the rows it needs, up to what leaves the lower
// pane readable, and says which rows are in view.
func TestMountsHeightAndPosition(t *testing.T) {
	m, e := newTestModel(t, 0, nil)
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	if m.lay.mountsH != 4 { // header and three rows
		t.Fatalf("three mounts take %d rows", m.lay.mountsH)
	}
	e.mu.Lock()
	e.snap = fixture42()
	e.mu.Unlock()
	refresh(m)
	rest := 40 - m.lay.headerH - 2
	if m.lay.mountsH != rest-rest*2/5 || m.lay.bodyH < minDetail-1 {
		t.Fatalf("42 mounts: mounts %d rows, body %d (rest %d)", m.lay.mountsH, m.lay.bodyH, rest)
	}
	press(t, m, "G")
	first, last, total := m.mounts.Window()
	want := fmt.Sprintf("%d–%d of %d", first, last, total)
	if last != 42 || total != 42 || !strings.Contains(plain(m), want) {
		t.Fatalf("position %q not on screen:\n%s", want, plain(m))
	}
}

// s sorts and / filters the Listeners tab too, from its own bindings.
func TestListenersSortAndFilter(t *testing.T) {
	m, _ := newTestModel(t, 10, nil)
	press(t, m, "j", "tab", "s", "s")
	if c, _ := m.listeners.Sort(); c != listeners.ByAgent {
		t.Fatalf("sort %v", c)
	}
	press(t, m, "/")
	typeText(t, m, "curl")
	press(t, m, "enter")
	if m.listeners.Len() != 2 || !strings.Contains(plain(m), "Listeners 2/10") {
		t.Fatalf("filter curl: %d rows\n%s", m.listeners.Len(), plain(m))
	}
	scr := plain(m)
	if strings.Contains(scr, "VLC/3.0.20") || !strings.Contains(scr, "curl/8.5.0") {
		t.Fatalf("filtered rows:\n%s", scr)
	}
	// The address matches too.
	press(t, m, "/", "ctrl+u")
	typeText(t, m, "192.0.2.15:")
	press(t, m, "enter")
	if l, _ := m.listeners.Selected(); m.listeners.Len() != 1 || l.ID != 105 {
		t.Fatalf("filter by address: %d rows, selected %d", m.listeners.Len(), l.ID)
	}
	press(t, m, "esc")
	if m.listeners.Len() != 10 {
		t.Fatalf("esc left %d rows", m.listeners.Len())
	}
}

func TestKickListenerConfirmFlow(t *testing.T) {
	m, e := newTestModel(t, 10, nil)
	press(t, m, "j") // /live.mp3
	press(t, m, "tab", "j")
	l, _ := m.listeners.Selected()
	if l.ID != 101 {
		t.Fatalf("selected listener %d", l.ID)
	}
	press(t, m, "d")
	if m.confirm == nil || len(e.Calls()) != 0 {
		t.Fatalf("d did not ask first: confirm %v calls %v", m.confirm, e.Calls())
	}
	if s := plain(m); !strings.Contains(s, "Disconnect listener 101 (192.0.2.11:40001) from /live.mp3? [y/N]") {
		t.Fatalf("prompt not shown:\n%s", s)
	}
	// Other keys wait while asking; n cancels.
	press(t, m, "j", "q", "n")
	if m.confirm != nil || len(e.Calls()) != 0 {
		t.Fatalf("n: confirm %v calls %v", m.confirm, e.Calls())
	}
	press(t, m, "d", "esc")
	if m.confirm != nil || len(e.Calls()) != 0 {
		t.Fatalf("esc: confirm %v calls %v", m.confirm, e.Calls())
	}
	press(t, m, "d", "y")
	if got := e.Calls(); !slices.Equal(got, []string{"kick /live.mp3 101"}) {
		t.Fatalf("calls = %v", got)
	}
	if !strings.Contains(plain(m), "disconnected 1 listener from /live.mp3") {
		t.Error("result not reported")
	}
	e.failAll = true
	press(t, m, "d", "y")
	if !strings.Contains(plain(m), "no such client") {
		t.Errorf("engine error not shown:\n%s", plain(m))
	}
	// d where it does not work says where it does.
	press(t, m, "shift+tab", "d")
	if s, _ := bottomLines(m); !strings.Contains(s, "d (disconnect) works in the Listeners tab") {
		t.Errorf("d in the mounts list: %q", s)
	}
}

func TestKickMarkedListeners(t *testing.T) {
	m, e := newTestModel(t, 10, nil)
	press(t, m, "j", "tab", "space", "j", "space") // marks 100 and 102
	if got := m.listeners.Marked(); !slices.Equal(got, []uint64{100, 102}) {
		t.Fatalf("marked %v", got)
	}
	if !strings.Contains(plain(m), "Listeners 10 · 2 marked") {
		t.Error("marked count not on the tab")
	}
	press(t, m, "d")
	if !strings.Contains(plain(m), "Disconnect 2 marked listeners from /live.mp3?") {
		t.Fatalf("prompt:\n%s", plain(m))
	}
	press(t, m, "y")
	if got := e.Calls(); !slices.Equal(got, []string{"kick /live.mp3 100", "kick /live.mp3 102"}) {
		t.Fatalf("calls %v", got)
	}
	if len(m.listeners.Marked()) != 0 {
		t.Error("marks kept after the bulk kick")
	}
}

// D and m act on the selected mount from the mounts list; the move
// picker offers only mounts of the same format.
func TestKickSourceAndMove(t *testing.T) {
	m, e := newTestModel(t, 0, nil)
	e.mu.Lock()
	e.snap = fixture42()
	e.mu.Unlock()
	refresh(m)
	selectMount(t, m, "/live.mp3")
	press(t, m, "D")
	if !strings.Contains(plain(m), "Disconnect the source of /live.mp3 (203.0.113.38:50028)?") {
		t.Fatalf("prompt:\n%s", plain(m))
	}
	press(t, m, "y")
	press(t, m, "m")
	want := []string{"/ambient.mp3", "/blues.mp3", "/classic.mp3", "/country.mp3", "/dance.mp3", "/folk.mp3", "/jazz.mp3",
		"/kids.mp3", "/latin.mp3", "/metal.mp3", "/news.mp3", "/soul.mp3", "/talk.mp3"}
	if m.picker == nil || !slices.Equal(m.picker.options, want) {
		t.Fatalf("picker %+v", m.picker)
	}
	live, _ := e.Mount("/live.mp3")
	if !strings.Contains(plain(m), fmt.Sprintf("Move all %d listeners from /live.mp3 to (MP3 mounts):", live.ListenerCount)) {
		t.Fatalf("picker not shown:\n%s", plain(m))
	}
	press(t, m, "j", "enter")
	if !strings.Contains(plain(m), fmt.Sprintf("Move all %d listeners from /live.mp3 to /blues.mp3? [y/N]", live.ListenerCount)) {
		t.Fatalf("confirm:\n%s", plain(m))
	}
	press(t, m, "y")
	// Marked listeners only, from the Listeners tab; esc in the picker cancels.
	press(t, m, "tab", "space", "m", "esc")
	press(t, m, "m", "enter", "y")
	calls := e.Calls()
	if len(calls) != 3 || calls[0] != "kick-source /live.mp3" || calls[1] != "move /live.mp3 /blues.mp3 [] n=-1" ||
		!strings.HasPrefix(calls[2], "move /live.mp3 /ambient.mp3 [") || !strings.HasSuffix(calls[2], "] n=1") {
		t.Fatalf("calls %q", calls)
	}
	// A format of its own: nowhere to go, and it says so.
	e.mu.Lock()
	e.snap.Mounts[0].ContentType = "audio/flac"
	e.mu.Unlock()
	refresh(m)
	selectMount(t, m, e.snap.Mounts[0].Name)
	press(t, m, "shift+tab", "m")
	if s, _ := bottomLines(m); !strings.Contains(s, "no other FLAC mount to move listeners to") {
		t.Errorf("m without a mount of the format: %q", s)
	}
}

func TestReadOnlyRefuses(t *testing.T) {
	m, e := newTestModel(t, 10, func(o *Options) { o.ReadOnly = true })
	press(t, m, "j")
	for _, k := range []string{"D", "m", "T", "a"} {
		press(t, m, k)
		if m.confirm != nil || m.picker != nil || m.input != nil {
			t.Fatalf("%s asked or prompted in read-only mode", k)
		}
		if s, _ := bottomLines(m); !strings.Contains(s, "read-only mode") {
			t.Fatalf("%s: no refusal shown: %q", k, s)
		}
	}
	press(t, m, "tab", "space", "d")
	if s, _ := bottomLines(m); s != " read-only mode: disconnecting listeners is off" {
		t.Fatalf("d: %q", s)
	}
	press(t, m, "y")
	if len(e.Calls()) != 0 || m.confirm != nil {
		t.Fatalf("read-only engine calls %v confirm %v", e.Calls(), m.confirm)
	}
	_, help := bottomLines(m)
	if !strings.Contains(help, "d disconnect") {
		t.Errorf("help line lacks the (dimmed) d: %q", help)
	}
	press(t, m, "?")
	if s := plain(m); !strings.Contains(s, "disconnect ✗") || !strings.Contains(s, "READ-ONLY") {
		t.Errorf("full help/header do not show read-only:\n%s", s)
	}
}

func TestQuitAsksWhileSourcesConnected(t *testing.T) {
	m, e := newTestModel(t, 10, nil)
	if out := press(t, m, "q"); len(out) != 0 || m.confirm == nil {
		t.Fatalf("q with sources: out %v confirm %v", out, m.confirm)
	}
	if !strings.Contains(plain(m), "2 sources are connected. Quit icedeck and stop the server? [y/N]") {
		t.Fatalf("prompt:\n%s", plain(m))
	}
	press(t, m, "n")
	if out := press(t, m, "q", "y"); len(out) != 1 {
		t.Fatalf("q y: %v", out)
	} else if _, ok := out[0].(tea.QuitMsg); !ok {
		t.Fatalf("q y gave %T", out[0])
	}
	// No sources: q quits at once.
	e.mu.Lock()
	e.snap.Sources = 0
	e.mu.Unlock()
	refresh(m)
	if out := press(t, m, "q"); len(out) != 1 {
		t.Fatalf("q without sources: %v", out)
	}
}

type testRecorder struct{ on map[string]bool }

func (r *testRecorder) StartRecording(mount string) (string, error) {
	r.on[mount] = true
	return "/tmp/rec" + strings.ReplaceAll(mount, "/", "-"), nil
}
func (r *testRecorder) StopRecording(mount string) error { delete(r.on, mount); return nil }
func (r *testRecorder) Recording(mount string) bool      { return r.on[mount] }

// Recording and auditioning can both show on a row.
func TestRecordAndAuditionMarks(t *testing.T) {
	m, _ := newTestModel(t, 10, nil)
	press(t, m, "r")
	if s, _ := bottomLines(m); !strings.Contains(s, "recording not available") {
		t.Fatalf("no 'not available' without a recorder: %q", s)
	}
	rec := &testRecorder{on: map[string]bool{}}
	a := &testAuditioner{st: AuditionStatus{Volume: 1, OutputReady: true}}
	m, _ = newTestModel(t, 10, func(o *Options) { o.Recorder = rec; o.Auditioner = a })
	press(t, m, "j", "r")
	if !rec.on["/live.mp3"] || !strings.Contains(plain(m), "recording /live.mp3 to /tmp/rec-live.mp3") {
		t.Fatalf("recorder %v screen:\n%s", rec.on, plain(m))
	}
	press(t, m, "p")
	refresh(m) // the next tick sees both
	if !strings.Contains(plain(m), "▶● /live.mp3") {
		t.Errorf("both marks not shown:\n%s", plain(m))
	}
	press(t, m, "r")
	if rec.on["/live.mp3"] {
		t.Error("second r did not stop the recording")
	}
}

type testAuditioner struct {
	st    AuditionStatus
	calls []string
}

func (a *testAuditioner) Audition(mount string) error {
	a.calls = append(a.calls, "play "+mount)
	a.st.Mount, a.st.State = mount, "playing"
	return nil
}
func (a *testAuditioner) StopAudition()                  { a.calls = append(a.calls, "stop"); a.st.State = "stopped" }
func (a *testAuditioner) SetVolume(v float64)            { a.st.Volume = v }
func (a *testAuditioner) SetMuted(b bool)                { a.st.Muted = b }
func (a *testAuditioner) AuditionStatus() AuditionStatus { return a.st }

// Audition without a sound device says so before the meter and keeps the
// warnings in view; x stops it from any pane.
func TestAudition(t *testing.T) {
	m, _ := newTestModel(t, 10, nil)
	press(t, m, "p")
	if !strings.Contains(plain(m), "audition not available") {
		t.Fatal("no 'not available' without an auditioner")
	}
	a := &testAuditioner{st: AuditionStatus{Volume: 0.8, SilentFor: 12e9, Channels: 2, Codec: "MP3", SampleRate: 44100, Clips: 4,
		Output: "no audio output: pulse: connection refused; alsa: no such device (metering only)"}}
	m, _ = newTestModel(t, 10, func(o *Options) { o.Auditioner = a })
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	press(t, m, "j", "enter")
	refresh(m)
	s := plain(m)
	if !strings.Contains(s, "▶ /live.mp3  no sound device — meter only  vol 80%  SILENT 12s  CLIP 4") || stateOf(m, "/live.mp3") != "silent" {
		t.Fatalf("audition panel / silent state missing:\n%s", s)
	}
	press(t, m, "-", "M")
	if a.st.Volume != 0.7 || !a.st.Muted {
		t.Fatalf("volume %v muted %v", a.st.Volume, a.st.Muted)
	}
	if !strings.Contains(plain(m), "vol 70% MUTED") {
		t.Errorf("mute not shown:\n%s", plain(m))
	}
	press(t, m, "tab", "3", "x")
	if !slices.Equal(a.calls, []string{"play /live.mp3", "stop"}) {
		t.Fatalf("calls %v", a.calls)
	}
	if strings.Contains(plain(m), "▶ /live.mp3") {
		t.Errorf("the meter stays after x:\n%s", plain(m))
	}
	press(t, m, "x")
	if s, _ := bottomLines(m); !strings.Contains(s, "nothing is being auditioned") {
		t.Errorf("x with nothing playing: %q", s)
	}
}

func TestMouse(t *testing.T) {
	m, _ := newTestModel(t, 10, nil)
	l := m.lay
	// Click the third mount row (header is line 0 of the pane).
	update(t, m, tea.MouseClickMsg{X: 5, Y: l.mountsY + 3, Button: tea.MouseLeft})
	if ms, _ := m.mounts.Selected(); ms.Name != "/talk.ogg" {
		t.Fatalf("click selected %s", ms.Name)
	}
	update(t, m, tea.MouseClickMsg{X: 5, Y: l.mountsY + 2, Button: tea.MouseLeft})
	l = m.lay
	// Click the Source tab label.
	x := l.tabX[tabSource][0] + 1
	update(t, m, tea.MouseClickMsg{X: x, Y: l.tabsY, Button: tea.MouseLeft})
	if m.tab != tabSource || m.focus != paneDetail {
		t.Fatalf("tab click: tab %v focus %v", m.tab, m.focus)
	}
	update(t, m, tea.MouseClickMsg{X: m.lay.tabX[tabListeners][0], Y: l.tabsY, Button: tea.MouseLeft})
	update(t, m, tea.MouseClickMsg{X: 3, Y: m.lay.bodyY + 4, Button: tea.MouseLeft})
	if sel, _ := m.listeners.Selected(); sel.ID != 103 {
		t.Fatalf("listener click selected %d", sel.ID)
	}
	update(t, m, tea.MouseWheelMsg{X: 3, Y: m.lay.bodyY + 2, Button: tea.MouseWheelDown})
	if sel, _ := m.listeners.Selected(); sel.ID != 106 {
		t.Fatalf("wheel moved to %d", sel.ID)
	}
}

// Events: each line says each thing once; f filters by level or type;
// the selected event is spelled out whole below the list; debug events
// show only at debug level.
func TestEventViews(t *testing.T) {
	m, e := newTestModel(t, 10, nil)
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 30})
	press(t, m, "e")
	s := plain(m)
	for _, want := range []string{
		"11:59:59 ERR warning /jazz.aac: source stalled for 4 s",
		"11:59:50 INF listener.left /live.mp3 #42 192.0.2.99:40999 (too slow): listener dropped",
	} {
		if !strings.Contains(s, want) {
			t.Fatalf("event log lacks %q:\n%s", want, s)
		}
	}
	// A message that names the listener is not followed by its id again.
	ev := fixtureEvents()[3]
	ev.Seq, ev.Time, ev.Message = 6, t0, "listener 42 left /live.mp3: too slow after 3m0s, 1000 bytes"
	e.ch <- ev
	m.Update(eventsMsg{<-e.ch})
	if s := plain(m); !strings.Contains(s, "12:00:00 INF listener.left 192.0.2.99:40999: listener 42 left /live.mp3: too slow after 3m0s") {
		t.Fatalf("repeated fields:\n%s", s)
	}
	// The detail lines spell the selected (newest) event out.
	if s := plain(m); !strings.Contains(s, "2026-03-14 12:00:00.000 · INF · listener.left · mount /live.mp3 · id 42 · from 192.0.2.99:40999 · reason too slow") {
		t.Fatalf("detail lines:\n%s", s)
	}
	// Debug events wait for the debug level.
	dbg := fixtureEvents()[0]
	dbg.Seq, dbg.Level, dbg.Message = 7, -4, "a debugging note"
	m.Update(eventsMsg{dbg})
	if strings.Contains(plain(m), "a debugging note") {
		t.Fatal("a debug event shows at info level")
	}
	press(t, m, "f")
	if m.picker == nil || m.picker.options[1] != "level: info and up ✓" {
		t.Fatalf("picker %+v", m.picker)
	}
	press(t, m, "k", "enter") // debug and up
	if !strings.Contains(plain(m), "a debugging note") {
		t.Fatalf("debug level set, no debug event:\n%s", plain(m))
	}
	// Warnings and up: the info events go.
	press(t, m, "f", "j", "j", "enter")
	if s := plain(m); strings.Contains(s, "source.connected") || !strings.Contains(s, "mount.grace") || !strings.Contains(s, "warnings and errors (f)") {
		t.Fatalf("warnings and errors:\n%s", s)
	}
	// One type.
	press(t, m, "f")
	i := slices.Index(m.picker.options, "type: source.rejected")
	for range i - m.picker.cursor {
		press(t, m, "j")
	}
	press(t, m, "enter")
	if s := plain(m); !strings.Contains(s, "source.rejected") || strings.Contains(s, "mount.grace") {
		t.Fatalf("type source.rejected:\n%s", s)
	}
	press(t, m, "esc")
	if m.logView.Filters() != "" {
		t.Fatalf("esc left filters %q", m.logView.Filters())
	}
	// The mount's Events tab shows only its own events.
	press(t, m, "e", "shift+tab", "j", "3")
	s = plain(m)
	if !strings.Contains(s, "too slow") || strings.Contains(s, "stalled for 4 s") {
		t.Fatalf("per-mount events:\n%s", s)
	}
}

func TestThemeCycle(t *testing.T) {
	m, _ := newTestModel(t, 10, nil)
	seen := map[string]bool{m.theme: true}
	for range 6 {
		press(t, m, "t")
		seen[m.theme] = true
	}
	if len(seen) != 7 {
		t.Fatalf("themes seen %v", seen)
	}
	press(t, m, "t")
	if m.theme != "default" {
		t.Fatalf("theme cycle does not wrap: %s", m.theme)
	}
}

// v reveals the source password in the ffmpeg command (which carries
// -content_type) and the admin password, which interface mode shows
// nowhere else.
func TestPasswordReveal(t *testing.T) {
	m, _ := newTestModel(t, 10, func(o *Options) { o.Admin = func() (string, string) { return "admin", "s3cret-admin" } })
	s := plain(m)
	if !strings.Contains(s, "ffmpeg -re -i input.mp3 -c:a libmp3lame -b:a 128k -f mp3 -content_type audio/mpeg") ||
		!strings.Contains(s, "icecast://source:••••@localhost:8000/live.mp3") || strings.Contains(s, "hackme") || strings.Contains(s, "s3cret-admin") {
		t.Fatalf("masked command:\n%s", s)
	}
	press(t, m, "v")
	s = plain(m)
	if !strings.Contains(s, "icecast://source:hackme@localhost:8000/live.mp3") || !strings.Contains(s, "admin admin / s3cret-admin  ·  http://localhost:8000/admin/") {
		t.Fatalf("v does not reveal the passwords:\n%s", s)
	}
	press(t, m, "v")
	if strings.Contains(plain(m), "s3cret-admin") {
		t.Fatal("v again does not hide them")
	}
}

// c copies the selected mount's listen URL with OSC 52; T sets its title
// through the engine's SetTitle, the path /admin/metadata takes.
func TestCopyURLAndTitle(t *testing.T) {
	m, e := newTestModel(t, 10, nil)
	m.Update(tea.WindowSizeMsg{Width: 160, Height: 40})
	press(t, m, "j")
	if !strings.Contains(plain(m), "http://localhost:8000/live.mp3") {
		t.Errorf("listen URL not on the tabs line:\n%s", plain(m))
	}
	b, ok := common.Match(m.mountBindings(), keyMsg("c"))
	if !ok || b.Off != "" {
		t.Fatalf("c binding %+v", b)
	}
	msg := b.Run()()
	if got := fmt.Sprintf("%T %v", msg, msg); got != "tea.setClipboardMsg http://localhost:8000/live.mp3" {
		t.Fatalf("c gives %s", got)
	}
	if !strings.Contains(plain(m), "copied http://localhost:8000/live.mp3 to the terminal's clipboard") {
		t.Errorf("c not reported:\n%s", plain(m))
	}
	press(t, m, "T")
	if s, _ := bottomLines(m); s != " Title of /live.mp3: Nina Simone - Sinnerman▏" {
		t.Fatalf("title prompt %q", s)
	}
	press(t, m, "ctrl+u")
	typeText(t, m, "Miles Davis - So What")
	press(t, m, "enter")
	if got := e.Calls(); !slices.Equal(got, []string{`title /live.mp3 "Miles Davis - So What"`}) {
		t.Fatalf("calls %q", got)
	}
	if row := rowOf(m, "/live.mp3"); !strings.HasSuffix(row, "Miles Davis - So What") {
		t.Errorf("the table does not show the new title: %q", row)
	}
	if !strings.Contains(plain(m), `title of /live.mp3 set: "Miles Davis - So What"`) {
		t.Errorf("title not reported:\n%s", plain(m))
	}
}

// The interface reads listener lists only for the one mount whose
// Listeners tab is open: a tick with the Source tab shown copies none.
func TestListenersReadOnlyWhenShown(t *testing.T) {
	m, e := newTestModel(t, 0, nil)
	e.mu.Lock()
	e.snap = fixture42()
	e.mu.Unlock()
	selectMount(t, m, "/live.mp3")
	live, _ := e.Mount("/live.mp3")
	tick := func() {
		e.mu.Lock()
		e.snap.Time = e.snap.Time.Add(DefaultTick)
		e.mu.Unlock()
		refresh(m)
	}
	// A list this long is read once a second, not at every tick.
	if live.ListenerCount <= bigListeners {
		t.Fatalf("/live.mp3 has %d listeners: not a long list", live.ListenerCount)
	}
	e.mu.Lock()
	e.mountReads, e.listenersCopied = nil, 0
	e.mu.Unlock()
	for range int(time.Second / DefaultTick) {
		tick()
	}
	if !slices.Equal(e.mountReads, []string{"/live.mp3"}) || e.listenersCopied != live.ListenerCount {
		t.Fatalf("Listeners tab open for a second: reads %v, %d listeners copied", e.mountReads, e.listenersCopied)
	}
	press(t, m, "2")
	e.mountReads, e.listenersCopied = nil, 0
	for range 5 {
		tick()
	}
	if len(e.mountReads) != 0 || e.listenersCopied != 0 {
		t.Fatalf("Source tab: reads %v, %d listeners copied", e.mountReads, e.listenersCopied)
	}
	// Back on the Listeners tab, the list is read at once, not at the next tick.
	press(t, m, "1")
	if !slices.Equal(e.mountReads, []string{"/live.mp3"}) || m.listeners.Len() != live.ListenerCount {
		t.Fatalf("Listeners tab again: reads %v, %d shown", e.mountReads, m.listeners.Len())
	}
	// A kick's answer reads the long list at once, not a second later.
	e.mountReads = nil
	_, cmd := m.Update(resultMsg{text: "disconnected 1 listener from /live.mp3"})
	runOnce(t, m, cmd)
	if !slices.Equal(e.mountReads, []string{"/live.mp3"}) {
		t.Fatalf("after a kick: reads %v", e.mountReads)
	}
	// Another mount selected: its list, and only its.
	e.mountReads = nil
	press(t, m, "j")
	if !slices.Equal(e.mountReads, []string{"/live.opus"}) || m.listeners.Mount() != "/live.opus" {
		t.Fatalf("next mount: reads %v, shown %s", e.mountReads, m.listeners.Mount())
	}
	// A short list is read at every tick.
	e.mountReads = nil
	tick()
	tick()
	if !slices.Equal(e.mountReads, []string{"/live.opus", "/live.opus"}) {
		t.Fatalf("short list over two ticks: reads %v", e.mountReads)
	}
}

// View changes nothing: rendering twice gives the same screen, and the
// scroll positions and sizes stay as Update left them.
func TestViewIsPure(t *testing.T) {
	m, e := newTestModel(t, 0, func(o *Options) { o.Analyzer = fixtureAudio() })
	e.mu.Lock()
	e.snap = fixture42()
	e.mu.Unlock()
	for _, keys := range [][]string{{"G"}, {"tab", "G"}, {"2", "G"}, {"3", "G", "k"}, {"4"}, {"e", "g"}, {"z"}, {"?"}} {
		refresh(m)
		press(t, m, keys...)
		state := func() string {
			first, last, total := m.mounts.Window()
			l, _ := m.listeners.Selected()
			ev, _ := m.logView.Selected()
			return fmt.Sprintf("%+v %d %d %d %d %d %v", m.lay, first, last, total, l.ID, ev.Seq, m.helpLine)
		}
		before, screen := state(), m.render()
		for range 3 {
			if m.render() != screen {
				t.Fatalf("%v: the screen changed between two renders", keys)
			}
		}
		if after := state(); after != before {
			t.Fatalf("%v: View changed the model:\n%s\n%s", keys, before, after)
		}
	}
}

// Every size from tiny to large renders exactly the screen, never wider.
func TestRenderAnySize(t *testing.T) {
	m, e := newTestModel(t, 10, func(o *Options) { o.Analyzer = fixtureAudio() })
	a := &testAuditioner{st: AuditionStatus{Mount: "/live.mp3", State: "playing", Volume: 1, Clips: 3}}
	m.opts.Auditioner = a
	e.mu.Lock()
	e.snap = fixture42()
	e.mu.Unlock()
	refresh(m)
	sizes := [][2]int{{1, 1}, {5, 3}, {19, 5}, {20, 6}, {30, 8}, {40, 10}, {60, 15}, {80, 24}, {120, 40}, {250, 70}}
	for _, state := range []string{"plain", "help", "log", "picker", "filter", "graphs", "zoom"} {
		switch state {
		case "help":
			press(t, m, "?")
		case "log":
			press(t, m, "?", "e")
		case "picker":
			press(t, m, "e", "j", "m")
		case "filter":
			press(t, m, "esc", "/", "x")
		case "graphs":
			press(t, m, "esc", "4")
		case "zoom":
			press(t, m, "tab", "z")
		}
		for _, sz := range sizes {
			m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
			out := m.render()
			lines := strings.Split(out, "\n")
			if len(lines) != sz[1] {
				t.Errorf("%s %dx%d: %d lines", state, sz[0], sz[1], len(lines))
			}
			for i, l := range lines {
				if w := ansiWidth(l); w > sz[0] {
					t.Errorf("%s %dx%d: line %d is %d wide: %q", state, sz[0], sz[1], i, w, l)
				}
			}
		}
		m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	}
}

// The help line and ? come from the bindings: ? and q are always on the
// line, whatever the width; a key that is off is listed as such.
func TestHelpFromBindings(t *testing.T) {
	m, _ := newTestModel(t, 10, nil)
	for _, w := range []int{30, 50, 80, 200} {
		m.Update(tea.WindowSizeMsg{Width: w, Height: 24})
		for _, keys := range [][]string{nil, {"tab"}, {"2"}, {"3"}, {"e"}} {
			press(t, m, keys...)
			if _, help := bottomLines(m); !strings.HasSuffix(help, "? help • q quit") {
				t.Errorf("width %d after %v: help line %q", w, keys, help)
			}
		}
		press(t, m, "1", "shift+tab")
	}
	m.Update(tea.WindowSizeMsg{Width: 200, Height: 50})
	press(t, m, "?")
	full := plain(m)
	for _, group := range [][]common.Binding{m.globalBindings(), m.mountBindings(), m.mounts.Bindings(), m.listeners.Bindings(), m.mountEvs.Bindings()} {
		for _, b := range group {
			if h := b.Key.Help(); !strings.Contains(full, h.Desc) {
				t.Errorf("full help lacks %q (%s)", h.Desc, h.Key)
			}
		}
	}
}

// The mounts table sorts by health too: the worst first.
func TestSortOrder(t *testing.T) {
	m, _ := newTestModel(t, 10, nil)
	want := func(col mounts.SortColumn, rev bool, names ...string) {
		t.Helper()
		c, r := m.mounts.Sort()
		if c != col || r != rev {
			t.Fatalf("sort = %v/%v, want %v/%v", c, r, col, rev)
		}
		if got := m.mounts.Order(); !slices.Equal(got, names) {
			t.Fatalf("order by %v rev %v = %v, want %v", col, rev, got, names)
		}
	}
	want(mounts.ByName, false, "/jazz.aac", "/live.mp3", "/talk.ogg")
	press(t, m, "s")
	want(mounts.ByState, false, "/talk.ogg", "/live.mp3", "/jazz.aac") // grace < live < stalled
	press(t, m, "s")
	want(mounts.ByHealth, false, "/jazz.aac", "/live.mp3", "/talk.ogg") // stalled and off pace first
	press(t, m, "s")
	want(mounts.ByListeners, false, "/live.mp3", "/jazz.aac", "/talk.ogg")
	press(t, m, "S")
	want(mounts.ByListeners, true, "/talk.ogg", "/jazz.aac", "/live.mp3")
	press(t, m, "s")
	want(mounts.ByBitrate, true, "/talk.ogg", "/jazz.aac", "/live.mp3")
	press(t, m, "S")
	want(mounts.ByBitrate, false, "/live.mp3", "/jazz.aac", "/talk.ogg")
	press(t, m, "s")
	want(mounts.ByUptime, false, "/live.mp3", "/jazz.aac", "/talk.ogg")
	press(t, m, "s")
	want(mounts.ByName, false, "/jazz.aac", "/live.mp3", "/talk.ogg")
	// The selection follows the mount, not the row, across re-sorts.
	press(t, m, "j", "s", "s", "s")
	if ms, _ := m.mounts.Selected(); ms.Name != "/live.mp3" || m.mounts.Order()[0] != "/live.mp3" {
		t.Fatalf("selected %s order %v", ms.Name, m.mounts.Order())
	}
	if !strings.Contains(plain(m), "LISTENERS ▼") || !strings.Contains(plain(m), "kb/s") {
		t.Error("sort column not marked, or kb/s not labelled so")
	}
}

// The history graphs fill from the snapshots.
func TestGraphsTab(t *testing.T) {
	m, e := newTestModel(t, 10, nil)
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	press(t, m, "j", "4")
	for i := range 120 { // twenty minutes at 10 s
		e.mu.Lock()
		e.snap.Time = t0.Add(time.Duration(i) * 10 * time.Second)
		e.snap.Listeners = 13 + i%40
		e.snap.BytesOut += 16000 * 10 * uint64(e.snap.Listeners)
		e.snap.Mounts[1].ListenerCount = 10 + i%40
		e.snap.Mounts[1].BytesOut += 16000 * 10 * uint64(e.snap.Mounts[1].ListenerCount)
		e.mu.Unlock()
		refresh(m)
	}
	s := plain(m)
	for _, want := range []string{"listeners · server  now 52  top 52", "listeners · /live.mp3  now 49  top 49", "bandwidth out · /live.mp3  now 6.3Mb/s", "−60m", "−30m", "now"} {
		if !strings.Contains(s, want) {
			t.Errorf("graphs lack %q:\n%s", want, s)
		}
	}
	if n := strings.Count(s, "⣿"); n < 50 {
		t.Errorf("only %d full braille cells:\n%s", n, s)
	}
}

// What a server does not tell (a remote Icecast's frames, bytes,
// listener list) shows as not told, never as a made-up zero.
func TestUnknownShownAsSuch(t *testing.T) {
	m, e := newTestModel(t, 10, nil)
	e.mu.Lock()
	e.snap.Unknown = engine.UnknownBytes
	for i := range e.snap.Mounts {
		e.snap.Mounts[i].Unknown = engine.UnknownFrames | engine.UnknownSource | engine.UnknownBytes | engine.UnknownListeners | engine.UnknownSourceClient
		e.snap.Mounts[i].Listeners = nil
	}
	e.mu.Unlock()
	refresh(m)
	selectMount(t, m, "/live.mp3")
	s := plain(m)
	if !strings.Contains(s, "in – out –") || !strings.Contains(s, "this server does not list its listeners") {
		t.Fatalf("unknowns:\n%s", s)
	}
	press(t, m, "2")
	s = plain(m)
	for _, want := range []string{"Frames      not told by this server", "Timing      not told by this server", "Received    not told by this server", "Address     – · connected 1h02m"} {
		if !strings.Contains(s, want) {
			t.Errorf("Source tab lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "SHA-256") || strings.Contains(s, "sync losses 0") {
		t.Errorf("unknowns shown as values:\n%s", s)
	}
}
