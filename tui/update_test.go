package tui

import (
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/icedeck/icedeck/tui/mounts"
)

func TestTabMovesFocus(t *testing.T) {
	m, _ := newTestModel(t, 10, nil)
	if m.focus != paneMounts {
		t.Fatalf("initial focus %v", m.focus)
	}
	press(t, m, "tab")
	if m.focus != paneDetail || m.keyContext() != 1 /* keys.Listeners */ {
		t.Fatalf("after tab: focus %v context %v", m.focus, m.keyContext())
	}
	if !strings.Contains(plain(m), "space mark") {
		t.Error("help line does not show the listeners keys while the listeners pane has focus")
	}
	press(t, m, "tab")
	if m.focus != paneMounts {
		t.Fatalf("tab does not wrap back to mounts: %v", m.focus)
	}
	press(t, m, "shift+tab")
	if m.focus != paneDetail {
		t.Fatalf("shift+tab: %v", m.focus)
	}
	// Detail tabs move with l / h; k stays "up" everywhere.
	press(t, m, "l")
	if m.tab != tabSource || !strings.Contains(plain(m), "SHA-256") {
		t.Fatalf("l: tab %v", m.tab)
	}
	press(t, m, "l", "l")
	if m.tab != tabListeners {
		t.Fatalf("tabs do not wrap: %v", m.tab)
	}
	// The event log takes the lower pane and joins the tab cycle.
	press(t, m, "e")
	if !m.log || m.focus != paneLog {
		t.Fatalf("e: log %v focus %v", m.log, m.focus)
	}
	press(t, m, "tab")
	if m.focus != paneMounts {
		t.Fatalf("tab from log: %v", m.focus)
	}
	press(t, m, "tab")
	if m.focus != paneLog {
		t.Fatalf("tab to log: %v", m.focus)
	}
	press(t, m, "e")
	if m.log || m.focus != paneMounts {
		t.Fatalf("e again: log %v focus %v", m.log, m.focus)
	}
}

func TestFilterTypingDisablesGlobalKeys(t *testing.T) {
	m, e := newTestModel(t, 10, nil)
	theme := m.theme
	press(t, m, "/")
	if !m.mounts.Filtering() {
		t.Fatal("/ did not start the filter")
	}
	// q, t, e, d are text now: nothing quits, changes theme, or kicks.
	if out := press(t, m, "j", "a", "z", "z", "q"); len(out) != 0 {
		t.Fatalf("typing produced %v", out)
	}
	press(t, m, "t", "e", "d", "backspace", "backspace", "backspace", "backspace")
	if m.theme != theme || m.log || m.confirm != nil || len(e.Calls()) != 0 {
		t.Fatalf("global keys acted while typing: theme %s log %v confirm %v calls %v", m.theme, m.log, m.confirm, e.Calls())
	}
	if f, typing := m.mounts.Filter(); f != "jazz" || !typing {
		t.Fatalf("filter = %q typing %v, want jazz", f, typing)
	}
	if got := m.mounts.Order(); !slices.Equal(got, []string{"/jazz.aac"}) {
		t.Fatalf("filtered rows = %v", got)
	}
	screen := plain(m)
	if !strings.Contains(screen, "/jazz▏") || strings.Contains(screen, "/talk.ogg") {
		t.Fatalf("screen while filtering:\n%s", screen)
	}
	// esc cancels: filter gone, all rows back, keys global again.
	press(t, m, "esc")
	if f, typing := m.mounts.Filter(); f != "" || typing || m.mounts.Len() != 3 {
		t.Fatalf("after esc: filter %q typing %v rows %d", f, typing, m.mounts.Len())
	}
	// enter keeps the filter and gives the keys back.
	press(t, m, "/", "o", "g", "g", "enter")
	if f, typing := m.mounts.Filter(); f != "ogg" || typing || m.mounts.Len() != 1 {
		t.Fatalf("after enter: filter %q typing %v rows %d", f, typing, m.mounts.Len())
	}
	press(t, m, "t")
	if m.theme == theme {
		t.Fatal("t does not change theme after the filter was closed")
	}
	// ctrl+c always quits, even while typing.
	press(t, m, "/")
	if out := press(t, m, "ctrl+c"); len(out) != 1 {
		t.Fatalf("ctrl+c while typing: %v", out)
	}
}

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
	// The selection follows the mount, not the row, across re-sorts and snapshots.
	press(t, m, "j") // /live.mp3
	press(t, m, "s", "s")
	if ms, _ := m.mounts.Selected(); ms.Name != "/live.mp3" || m.mounts.Order()[0] != "/live.mp3" {
		t.Fatalf("selected %s order %v", ms.Name, m.mounts.Order())
	}
	if !strings.Contains(plain(m), "LISTENERS ▼") {
		t.Error("sort column not marked in the header")
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
	// Other keys are ignored while asking; n cancels.
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
	// An engine error is shown.
	e.failAll = true
	press(t, m, "d", "y")
	if !strings.Contains(plain(m), "no such client") {
		t.Errorf("engine error not shown:\n%s", plain(m))
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

func TestKickSourceAndMove(t *testing.T) {
	m, e := newTestModel(t, 10, nil)
	press(t, m, "j") // /live.mp3, mounts pane focused: D acts on its source
	press(t, m, "D")
	if !strings.Contains(plain(m), "Disconnect the source of /live.mp3 (203.0.113.5:50312)?") {
		t.Fatalf("prompt:\n%s", plain(m))
	}
	press(t, m, "y")
	// m with nothing marked moves everyone: pick the destination, confirm.
	press(t, m, "m")
	if m.picker == nil || !slices.Equal(m.picker.options, []string{"/jazz.aac", "/talk.ogg"}) {
		t.Fatalf("picker %+v", m.picker)
	}
	if !strings.Contains(plain(m), "Move all 10 listeners from /live.mp3 to:") {
		t.Fatalf("picker not shown:\n%s", plain(m))
	}
	press(t, m, "j", "enter")
	if !strings.Contains(plain(m), "Move all 10 listeners from /live.mp3 to /talk.ogg? [y/N]") {
		t.Fatalf("confirm:\n%s", plain(m))
	}
	press(t, m, "y")
	// Marked listeners only; esc in the picker cancels.
	press(t, m, "tab", "space", "m", "esc")
	press(t, m, "m", "enter", "y")
	want := []string{"kick-source /live.mp3", "move /live.mp3 /talk.ogg [] n=-1", "move /live.mp3 /jazz.aac [100] n=1"}
	if got := e.Calls(); !slices.Equal(got, want) {
		t.Fatalf("calls\n%q\nwant\n%q", got, want)
	}
}

func TestReadOnlyRefuses(t *testing.T) {
	m, e := newTestModel(t, 10, func(o *Options) { o.ReadOnly = true })
	press(t, m, "j")
	for _, k := range []string{"d", "D", "m"} {
		press(t, m, k)
		if m.confirm != nil || m.picker != nil {
			t.Fatalf("%s asked for confirmation in read-only mode", k)
		}
		if !strings.Contains(plain(m), "read-only mode") {
			t.Fatalf("%s: no refusal shown:\n%s", k, plain(m))
		}
	}
	press(t, m, "tab", "space", "d", "y")
	// A request that reaches the root anyway (e.g. from a pane) is refused too.
	m.Update(mustReq(m))
	if len(e.Calls()) != 0 || m.confirm != nil {
		t.Fatalf("read-only engine calls %v confirm %v", e.Calls(), m.confirm)
	}
	press(t, m, "?")
	if s := plain(m); !strings.Contains(s, "disconnect (read-only: off)") || !strings.Contains(s, "READ-ONLY") {
		t.Errorf("full help/header do not show read-only:\n%s", s)
	}
}

func mustReq(m *Model) tea.Msg {
	cmd := m.listeners.Update(keyMsg("d"))
	if cmd == nil {
		return nil
	}
	return cmd()
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
	e.snap.Sources = 0
	m.Update(snapshotMsg{snap: e.Snapshot()})
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

func TestRecord(t *testing.T) {
	m, _ := newTestModel(t, 10, nil)
	press(t, m, "r")
	if !strings.Contains(plain(m), "recording not available") {
		t.Fatal("no 'not available' without a recorder")
	}
	rec := &testRecorder{on: map[string]bool{}}
	m, _ = newTestModel(t, 10, func(o *Options) { o.Recorder = rec })
	press(t, m, "j", "r")
	if !rec.on["/live.mp3"] || !strings.Contains(plain(m), "recording /live.mp3 to /tmp/rec-live.mp3") {
		t.Fatalf("recorder %v screen:\n%s", rec.on, plain(m))
	}
	refresh(m) // next tick sees it: ● in the table
	if !strings.Contains(plain(m), "● /live.mp3") {
		t.Errorf("recording mark missing:\n%s", plain(m))
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

func TestAudition(t *testing.T) {
	m, _ := newTestModel(t, 10, nil)
	press(t, m, "p")
	if !strings.Contains(plain(m), "audition not available") {
		t.Fatal("no 'not available' without an auditioner")
	}
	a := &testAuditioner{st: AuditionStatus{Volume: 0.8, SilentFor: 12e9, Channels: 2, Codec: "MP3", SampleRate: 44100}}
	m, _ = newTestModel(t, 10, func(o *Options) { o.Auditioner = a })
	press(t, m, "j", "enter")
	refresh(m)
	s := plain(m)
	if !strings.Contains(s, "▶ /live.mp3") || !strings.Contains(s, "SILENT 12s") || !strings.Contains(s, "silent") {
		t.Fatalf("audition panel / silent state missing:\n%s", s)
	}
	press(t, m, "-", "M")
	if a.st.Volume != 0.7 || !a.st.Muted {
		t.Fatalf("volume %v muted %v", a.st.Volume, a.st.Muted)
	}
	press(t, m, "p")
	if !slices.Equal(a.calls, []string{"play /live.mp3", "stop"}) {
		t.Fatalf("calls %v", a.calls)
	}
}

func TestMouse(t *testing.T) {
	m, _ := newTestModel(t, 10, nil)
	l := m.layout()
	// Click the third mount row (header is line 0 of the pane).
	m.Update(tea.MouseClickMsg{X: 5, Y: l.mountsY + 3, Button: tea.MouseLeft})
	if ms, _ := m.mounts.Selected(); ms.Name != "/talk.ogg" {
		t.Fatalf("click selected %s", ms.Name)
	}
	m.Update(tea.MouseClickMsg{X: 5, Y: l.mountsY + 2, Button: tea.MouseLeft})
	l = m.layout()
	// Click the Source tab label.
	x := l.tabX[tabSource][0] + 1
	m.Update(tea.MouseClickMsg{X: x, Y: l.tabsY, Button: tea.MouseLeft})
	if m.tab != tabSource || m.focus != paneDetail {
		t.Fatalf("tab click: tab %v focus %v", m.tab, m.focus)
	}
	m.Update(tea.MouseClickMsg{X: l.tabX[tabListeners][0], Y: l.tabsY, Button: tea.MouseLeft})
	m.Update(tea.MouseClickMsg{X: 3, Y: l.bodyY + 4, Button: tea.MouseLeft})
	if sel, _ := m.listeners.Selected(); sel.ID != 103 {
		t.Fatalf("listener click selected %d", sel.ID)
	}
	m.Update(tea.MouseWheelMsg{X: 3, Y: l.bodyY + 2, Button: tea.MouseWheelDown})
	if sel, _ := m.listeners.Selected(); sel.ID != 106 {
		t.Fatalf("wheel moved to %d", sel.ID)
	}
}

func TestEventsFlowIntoLog(t *testing.T) {
	m, e := newTestModel(t, 10, nil)
	press(t, m, "e")
	if s := plain(m); !strings.Contains(s, "11:59:59 ERR warning /jazz.aac: source stalled for 4 s") {
		t.Fatalf("event log:\n%s", s)
	}
	ev := fixtureEvents()[0]
	ev.Seq, ev.Time, ev.Message = 6, t0, "late arrival"
	e.ch <- ev
	_, cmd := m.Update(eventsMsg{<-e.ch})
	if cmd == nil {
		t.Fatal("no re-subscribe after events")
	}
	if s := plain(m); !strings.Contains(s, "late arrival") {
		t.Fatalf("new event not shown:\n%s", s)
	}
	// The mount's Events tab shows only its own events.
	press(t, m, "e", "j", "tab", "l", "l")
	s := plain(m)
	if !strings.Contains(s, "too slow") || strings.Contains(s, "late arrival") {
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

func TestPasswordReveal(t *testing.T) {
	m, _ := newTestModel(t, 10, nil)
	s := plain(m)
	if !strings.Contains(s, "ffmpeg -re -i input.mp3 -c:a libmp3lame -b:a 128k -f mp3 icecast://source:••••@localhost:8000/live.mp3") || strings.Contains(s, "hackme") {
		t.Fatalf("masked command:\n%s", s)
	}
	press(t, m, "v")
	if !strings.Contains(plain(m), "icecast://source:hackme@localhost:8000/live.mp3") {
		t.Fatal("v does not reveal the password")
	}
}

// Every size from tiny to large renders exactly the screen, never wider.
func TestRenderAnySize(t *testing.T) {
	m, _ := newTestModel(t, 10, nil)
	a := &testAuditioner{st: AuditionStatus{Mount: "/live.mp3", State: "playing", Volume: 1, Clips: 3}}
	m.opts.Auditioner = a
	refresh(m)
	sizes := [][2]int{{1, 1}, {5, 3}, {19, 5}, {20, 6}, {30, 8}, {40, 10}, {60, 15}, {80, 24}, {120, 40}, {250, 70}}
	for _, state := range []string{"plain", "help", "log", "picker", "filter"} {
		switch state {
		case "help":
			press(t, m, "?")
		case "log":
			press(t, m, "?", "e")
		case "picker":
			press(t, m, "e", "j", "m")
		case "filter":
			press(t, m, "esc", "/", "x")
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
