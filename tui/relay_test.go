package tui

import (
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

// typeText presses each character of s.
func typeText(t *testing.T, m *Model, s string) {
	t.Helper()
	press(t, m, strings.Split(s, "")...)
}

// statusLine is the second-to-last line of the screen, help is the last.
func bottomLines(m *Model) (status, help string) {
	lines := strings.Split(plain(m), "\n")
	return lines[len(lines)-2], lines[len(lines)-1]
}

// stateOf is the STATE cell of the mount's row in the table on screen.
func stateOf(m *Model, mount string) string {
	for _, line := range strings.Split(plain(m), "\n") {
		f := strings.Fields(line)
		if i := slices.Index(f, mount); i >= 0 && i <= 1 && i+1 < len(f) {
			return f[i+1]
		}
	}
	return ""
}

// wide makes the title column and the help line long enough to read whole.
func wide(m *Model) { m.Update(tea.WindowSizeMsg{Width: 200, Height: 40}) }

func TestAddRelayPrompt(t *testing.T) {
	m, e := newTestModel(t, 10, nil)
	wide(m)
	theme := m.theme
	press(t, m, "a")
	status, help := bottomLines(m)
	if !strings.HasPrefix(status, " Relay from URL: ▏") || !strings.Contains(help, "enter add relay") || !strings.Contains(help, "URL as /mount") {
		t.Fatalf("prompt not shown:\n%s", plain(m))
	}
	// Keys are text while typing: t, e, d, q and R do nothing else.
	// A poll that began before the relay was added, delivered after.
	stale := e.Snapshot()
	stale.Time = stale.Time.Add(-time.Second)
	typeText(t, m, "origin.example:8000/stream.mp3")
	if m.theme != theme || m.log || m.confirm != nil || len(e.Calls()) != 0 {
		t.Fatalf("global keys acted while typing: theme %s log %v confirm %v calls %v", m.theme, m.log, m.confirm, e.Calls())
	}
	if status, _ := bottomLines(m); status != " Relay from URL: origin.example:8000/stream.mp3▏" {
		t.Fatalf("status line %q", status)
	}
	press(t, m, "enter")
	want := []string{"add-relay /stream.mp3 [http://origin.example:8000/stream.mp3] icy=true on-demand=false"}
	if got := e.Calls(); !slices.Equal(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
	// The new mount is in the table at once, selected, and says where it
	// comes from.
	scr := plain(m)
	if st := stateOf(m, "/stream.mp3"); st != "relay" {
		t.Errorf("state of the new mount %q, want relay", st)
	}
	for _, w := range []string{
		"relaying /stream.mp3 from http://origin.example:8000/stream.mp3",
		"from origin.example:8000 · connecting",
		" /stream.mp3 [Listeners 0]",
	} {
		if !strings.Contains(scr, w) {
			t.Errorf("screen lacks %q:\n%s", w, scr)
		}
	}
	if ms, _ := m.mounts.Selected(); ms.Name != "/stream.mp3" {
		t.Errorf("selected %s, want the new mount", ms.Name)
	}
	m.Update(snapshotMsg{snap: stale})
	if ms, _ := m.mounts.Selected(); ms.Name != "/stream.mp3" {
		t.Errorf("an older snapshot undid the new row: selected %s", ms.Name)
	}

	// "URL as /mount" names the local mount; a pasted URL arrives whole.
	press(t, m, "a")
	m.Update(tea.PasteMsg{Content: "http://user:pw@origin.example:8000/live.mp3\n"})
	typeText(t, m, " as jazz2.aac")
	press(t, m, "enter")
	if got := e.Calls(); len(got) != 2 || got[1] != "add-relay /jazz2.aac [http://user:pw@origin.example:8000/live.mp3] icy=true on-demand=false" {
		t.Fatalf("calls %q", got)
	}
	if scr := plain(m); !strings.Contains(scr, "relaying /jazz2.aac from http://user:xxxxx@origin.example:8000/live.mp3") || strings.Contains(scr, ":pw@") {
		t.Errorf("password shown or result missing:\n%s", scr)
	}

	// esc cancels; the keys are global again.
	press(t, m, "a", "x", "esc")
	if m.input != nil || len(e.Calls()) != 2 || !strings.Contains(plain(m), "cancelled") {
		t.Fatalf("esc: input %v calls %v\n%s", m.input, e.Calls(), plain(m))
	}
	press(t, m, "t")
	if m.theme == theme {
		t.Error("t does not work after the prompt was cancelled")
	}
}

func TestAddRelayErrors(t *testing.T) {
	m, e := newTestModel(t, 10, nil)
	status := func() string { s, _ := bottomLines(m); return s }
	press(t, m, "a", "enter")
	if s := status(); !strings.Contains(s, "no relay added: type http://host:port/mount") {
		t.Errorf("empty URL: %q", s)
	}
	press(t, m, "a")
	typeText(t, m, "http://origin.example:8000")
	press(t, m, "enter")
	if s := status(); !strings.Contains(s, "no relay added: http://origin.example:8000 names no mount") {
		t.Errorf("URL without a path: %q", s)
	}
	// What failed is offered again: the operator fixes it, not retypes it.
	press(t, m, "a")
	if s := status(); s != " Relay from URL: http://origin.example:8000▏" {
		t.Fatalf("draft not offered: %q", s)
	}
	typeText(t, m, "/a.mp3")
	press(t, m, "enter")
	if len(e.Calls()) != 1 {
		t.Fatalf("calls %v", e.Calls())
	}
	// The engine's refusal, in its words.
	press(t, m, "a")
	typeText(t, m, "http://other.example:8000/a.mp3")
	press(t, m, "enter")
	if s := status(); !strings.Contains(s, "could not add the relay: /a.mp3 is relayed already") {
		t.Errorf("engine error: %q", s)
	}
	e.failAll = true
	press(t, m, "a", "ctrl+u")
	typeText(t, m, "http://o.example/b.mp3")
	press(t, m, "enter")
	if s := status(); !strings.Contains(s, "could not add the relay: no such client") {
		t.Errorf("engine error: %q", s)
	}
	if m.input != nil {
		t.Error("prompt still open after an error")
	}
}

func TestRemoveRelay(t *testing.T) {
	m, e := newTestModel(t, 10, nil)
	wide(m)
	e.addRelays()
	refresh(m)
	// /jazz.aac is selected and has no relay.
	press(t, m, "R")
	if m.confirm != nil || !strings.Contains(plain(m), "/jazz.aac is not relayed: R removes a pull relay (a adds one)") {
		t.Fatalf("R on a mount without a relay:\n%s", plain(m))
	}
	press(t, m, "j", "j", "j") // /relay.mp3
	if _, help := bottomLines(m); !strings.Contains(help, "R drop relay") {
		t.Errorf("help line does not offer R on a relayed mount: %q", help)
	}
	press(t, m, "R")
	if !strings.Contains(plain(m), "Remove the relay of /relay.mp3 (from http://origin.example:8000/live.mp3)? [y/N]") {
		t.Fatalf("prompt:\n%s", plain(m))
	}
	press(t, m, "n")
	if m.confirm != nil || len(e.Calls()) != 0 {
		t.Fatalf("n: confirm %v calls %v", m.confirm, e.Calls())
	}
	press(t, m, "R", "y")
	if got := e.Calls(); !slices.Equal(got, []string{"remove-relay /relay.mp3"}) {
		t.Fatalf("calls %v", got)
	}
	refresh(m)
	if scr := plain(m); !strings.Contains(scr, "relay of /relay.mp3 removed") || slices.Contains(m.mounts.Names(), "/relay.mp3") {
		t.Errorf("after removal:\n%s", scr)
	}
	// A mirrored relay comes back with the master's next update: say so.
	// (The removed mount's row is gone, so the cursor went to the top.)
	press(t, m, "j", "j", "j", "R")
	if s := plain(m); !strings.Contains(s, "Remove the relay of /night.mp3 (from http://relay:xxxxx@master.example:8000/night.mp3)? The master's next update brings it back.") {
		t.Fatalf("prompt for a mirrored relay:\n%s", s)
	}
	press(t, m, "esc")
	e.failAll = true
	press(t, m, "R", "y")
	if !strings.Contains(plain(m), "could not remove the relay of /night.mp3: no such client") {
		t.Errorf("engine error not shown:\n%s", plain(m))
	}
}

// Relayed mounts that are not live: the table says what each is doing,
// the Source tab says why, and no password is ever on the screen.
func TestRelayRows(t *testing.T) {
	m, e := newTestModel(t, 10, nil)
	wide(m)
	e.addRelays()
	refresh(m)
	if a, b, c := stateOf(m, "/edge.ogg"), stateOf(m, "/night.mp3"), stateOf(m, "/relay.mp3"); a != "relay" || b != "idle" || c != "live" {
		t.Errorf("states %q %q %q, want relay idle live", a, b, c)
	}
	scr := plain(m)
	for _, w := range []string{
		"from 192.0.2.81:8000 · retrying, 3 failed",
		"from master.example:8000 · on demand",
	} {
		if !strings.Contains(scr, w) {
			t.Errorf("table lacks %q:\n%s", w, scr)
		}
	}
	press(t, m, "k", "tab", "l") // /edge.ogg, Source tab
	scr = plain(m)
	for _, w := range []string{
		"Relay       relayed from http://192.0.2.81:8000/edge.ogg",
		"Relay state retrying · 3 failed attempts · last error: dial tcp 192.0.2.81:8000: connect: connection refused",
		"waiting for the upstream",
	} {
		if !strings.Contains(scr, w) {
			t.Errorf("Source tab lacks %q:\n%s", w, scr)
		}
	}
	press(t, m, "tab", "j", "j", "j") // /night.mp3
	press(t, m, "tab")
	scr = plain(m)
	for _, w := range []string{
		"relayed from http://relay:xxxxx@master.example:8000/night.mp3 (on demand, mirrored from the master)",
		"Relay state idle · 0 failed attempts",
		"the relay connects when a listener arrives",
	} {
		if !strings.Contains(scr, w) {
			t.Errorf("Source tab lacks %q:\n%s", w, scr)
		}
	}
	if strings.Contains(scr, "s3cret") {
		t.Errorf("password on screen:\n%s", scr)
	}
	// The filter matches the state shown.
	press(t, m, "tab", "/")
	typeText(t, m, "idle")
	if got := m.mounts.Order(); !slices.Equal(got, []string{"/night.mp3"}) {
		t.Errorf("filter idle: %v", got)
	}
}

func TestReadOnlyRefusesRelays(t *testing.T) {
	m, e := newTestModel(t, 10, func(o *Options) { o.ReadOnly = true })
	e.addRelays()
	refresh(m)
	press(t, m, "j", "j", "j") // /relay.mp3
	for _, k := range []string{"a", "R"} {
		m.flash = ""
		press(t, m, k)
		if m.input != nil || m.confirm != nil {
			t.Fatalf("%s opened a prompt in read-only mode", k)
		}
		if s, _ := bottomLines(m); s != " read-only mode: adding and removing relays is off" {
			t.Fatalf("%s: refusal %q", k, s)
		}
	}
	// Typing after the refusal is keys, not a URL: q asks to quit.
	press(t, m, "q")
	if m.confirm == nil || len(e.Calls()) != 0 {
		t.Fatalf("confirm %v calls %v", m.confirm, e.Calls())
	}
	press(t, m, "n", "?")
	if s := plain(m); !strings.Contains(s, "add relay ✗") || !strings.Contains(s, "drop relay ✗") {
		t.Errorf("full help does not mark the relay keys off:\n%s", s)
	}
}

// The prompt fits every width: a long URL shows its end, where the typing is.
func TestRelayPromptAnySize(t *testing.T) {
	m, _ := newTestModel(t, 10, nil)
	press(t, m, "a")
	long := "http://a-very-long-host-name.example.org:8000/a/deeply/nested/mount/path/stream.mp3 as /x.mp3"
	m.Update(tea.PasteMsg{Content: long})
	for _, sz := range [][2]int{{1, 1}, {19, 5}, {20, 6}, {30, 8}, {40, 10}, {80, 24}, {250, 70}} {
		m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		lines := strings.Split(m.render(), "\n")
		if len(lines) != sz[1] {
			t.Errorf("%dx%d: %d lines", sz[0], sz[1], len(lines))
		}
		for i, l := range lines {
			if w := ansiWidth(l); w > sz[0] {
				t.Errorf("%dx%d: line %d is %d wide: %q", sz[0], sz[1], i, w, l)
			}
		}
	}
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	if s, _ := bottomLines(m); !strings.HasPrefix(s, " Relay from URL: …") || !strings.HasSuffix(s, "stream.mp3 as /x.mp3▏") {
		t.Errorf("long text: %q", s)
	}
}
