package listeners

import (
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/themes"
	"github.com/icedeck/icedeck/tui/common"
	"github.com/icedeck/icedeck/tui/keys"
)

var t0 = time.Unix(1_000_000, 0)

func list(ids ...uint64) []engine.ListenerSnapshot {
	out := make([]engine.ListenerSnapshot, len(ids))
	for i, id := range ids {
		out[i] = engine.ListenerSnapshot{ID: id, Addr: "192.0.2.1:" + string(rune('0'+id%10)), Connected: t0.Add(-time.Duration(id) * time.Minute)}
	}
	return out
}

func newModel(t *testing.T, w, h int) *Model {
	th, err := themes.Load("", "")
	if err != nil {
		t.Fatal(err)
	}
	s := themes.NewStyles(th, true)
	k := keys.New()
	m := New(&s, &k, false)
	m.SetSize(w, h)
	return m
}

func press(s string) tea.KeyPressMsg {
	if s == "space" {
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	}
	return tea.KeyPressMsg{Code: rune(s[0]), Text: s}
}

// do presses a key on the pane as the root would: the matching binding
// runs, unless it is off; it returns the command and why it was off.
func do(t *testing.T, m *Model, k string) (tea.Cmd, string) {
	t.Helper()
	b, ok := common.Match(m.Bindings(), press(k))
	if !ok {
		t.Fatalf("%s is not a key of the pane", k)
	}
	if b.Off != "" {
		return nil, b.Off
	}
	return b.Run(), ""
}

func TestSelectionFollowsListener(t *testing.T) {
	m := newModel(t, 60, 5)
	m.SetData("/a", list(1, 2, 3, 4), t0)
	do(t, m, "j")
	do(t, m, "j") // on 3
	// 1 and 2 leave: the cursor stays on listener 3.
	m.SetData("/a", list(3, 4, 5), t0)
	if l, _ := m.Selected(); l.ID != 3 {
		t.Fatalf("selected %d, want 3", l.ID)
	}
	// 3 leaves: the cursor stays in range.
	m.SetData("/a", list(4), t0)
	if l, ok := m.Selected(); !ok || l.ID != 4 {
		t.Fatalf("selected %d %v", l.ID, ok)
	}
	// Another mount resets.
	m.SetData("/b", list(7, 8), t0)
	if l, _ := m.Selected(); l.ID != 7 {
		t.Fatalf("after mount change selected %d", l.ID)
	}
}

func TestMarksAndRequests(t *testing.T) {
	m := newModel(t, 60, 5)
	m.SetData("/a", list(1, 2, 3, 4), t0)
	do(t, m, "space") // 1, cursor to 2
	do(t, m, "j")
	do(t, m, "space") // 3
	if got := m.Marked(); !slices.Equal(got, []uint64{1, 3}) {
		t.Fatalf("marked %v", got)
	}
	// A marked listener that leaves is unmarked.
	m.SetData("/a", list(2, 3, 4), t0)
	if got := m.Marked(); !slices.Equal(got, []uint64{3}) {
		t.Fatalf("marked after leave %v", got)
	}
	cmd, _ := do(t, m, "d")
	if r, ok := cmd().(common.KickListenersRequest); !ok || !slices.Equal(r.IDs, []uint64{3}) || r.Mount != "/a" {
		t.Fatalf("d request %#v", cmd())
	}
	do(t, m, "A")
	if len(m.Marked()) != 3 {
		t.Fatalf("A marked %v", m.Marked())
	}
	do(t, m, "A")
	if len(m.Marked()) != 0 {
		t.Fatal("A again does not clear")
	}
	// Nothing to act on: the keys say why.
	m.SetData("/a", nil, t0)
	for _, k := range []string{"d", "space", "A", "j"} {
		if _, off := do(t, m, k); off == "" {
			t.Errorf("%s on an empty list gives no reason", k)
		}
	}
	ro := New(m.styles, m.keys, true)
	ro.SetData("/a", list(1), t0)
	if _, off := do(t, ro, "d"); !strings.Contains(off, "read-only") {
		t.Errorf("read-only d: %q", off)
	}
}

func TestSortFilterAndHistogram(t *testing.T) {
	m := newModel(t, 70, 12)
	ls := list(5, 1, 30, 200)
	ls[0].UserAgent, ls[1].UserAgent, ls[2].UserAgent, ls[3].UserAgent = "VLC/3", "curl/8", "mpv", "VLC/2"
	m.SetData("/a", ls, t0)
	ids := func() []uint64 {
		var out []uint64
		for _, r := range m.rows {
			out = append(out, m.ls[r].ID)
		}
		return out
	}
	if got := ids(); !slices.Equal(got, []uint64{1, 5, 30, 200}) {
		t.Fatalf("by id %v", got)
	}
	for m.sort != ByAgent {
		do(t, m, "s")
	}
	if head, _, _ := strings.Cut(ansi.Strip(m.View(true)), "\n"); !strings.Contains(head, "USER AGENT ▼") {
		t.Errorf("the sorted column's title is cut: %q", head)
	}
	for m.sort != ByConnected {
		do(t, m, "s")
	}
	if got := ids(); !slices.Equal(got, []uint64{200, 30, 5, 1}) {
		t.Fatalf("longest connected first %v", got)
	}
	m.SetFilter("vlc")
	if got := ids(); !slices.Equal(got, []uint64{200, 5}) {
		t.Fatalf("filter vlc %v", got)
	}
	if m.Title(4) != "Listeners 2/4" {
		t.Errorf("title %q", m.Title(4))
	}
	// 1m, 5m: "1–5m" and "5–15m"; 30m and 200m: "15m–1h" and "> 3h".
	m.SetFilter("")
	if _, bins := m.Bins(); !slices.Equal(bins, []int{0, 1, 1, 1, 0, 1}) {
		t.Fatalf("bins %v", bins)
	}
	out := ansi.Strip(m.View(true))
	if !strings.Contains(out, "listening <1m 0 · 1–5m 1 · 5–15m 1 · 15m–1h 1 · 1–3h 0 · >3h 1") {
		t.Errorf("histogram line:\n%s", out)
	}
	// Wide: the histogram beside the table, as bars.
	m.SetSize(120, 12)
	out = ansi.Strip(m.View(true))
	if !strings.Contains(out, "LISTENING FOR") || !strings.Contains(out, ">3h") || !strings.Contains(out, "█") {
		t.Errorf("histogram beside the table:\n%s", out)
	}
}

func TestOnlyVisibleRowsRendered(t *testing.T) {
	m := newModel(t, 60, 5)
	ids := make([]uint64, 10000)
	for i := range ids {
		ids[i] = uint64(i + 1)
	}
	m.SetData("/a", list(ids...), t0)
	do(t, m, "G")
	out := ansi.Strip(m.View(true))
	lines := strings.Split(out, "\n")
	if len(lines) != 5 || !strings.Contains(lines[4], "10000") || !strings.Contains(lines[1], "9997") {
		t.Fatalf("end of a long list:\n%s", out)
	}
}
