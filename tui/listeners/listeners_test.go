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

func list(ids ...uint64) []engine.ListenerSnapshot {
	out := make([]engine.ListenerSnapshot, len(ids))
	for i, id := range ids {
		out[i] = engine.ListenerSnapshot{ID: id, Addr: "192.0.2.1:" + string(rune('0'+id%10))}
	}
	return out
}

func newModel(t *testing.T) *Model {
	th, err := themes.Load("", "")
	if err != nil {
		t.Fatal(err)
	}
	s := themes.NewStyles(th, true)
	k := keys.New(false)
	m := New(&s, &k)
	m.SetSize(60, 5)
	return m
}

func press(s string) tea.KeyPressMsg {
	if s == "space" {
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	}
	return tea.KeyPressMsg{Code: rune(s[0]), Text: s}
}

func TestSelectionFollowsListener(t *testing.T) {
	m := newModel(t)
	now := time.Unix(0, 0)
	m.SetData("/a", list(1, 2, 3, 4), now)
	m.Update(press("j"))
	m.Update(press("j")) // on 3
	// 1 and 2 leave: the cursor stays on listener 3.
	m.SetData("/a", list(3, 4, 5), now)
	if l, _ := m.Selected(); l.ID != 3 {
		t.Fatalf("selected %d, want 3", l.ID)
	}
	// 3 leaves: the cursor stays in range.
	m.SetData("/a", list(4), now)
	if l, ok := m.Selected(); !ok || l.ID != 4 {
		t.Fatalf("selected %d %v", l.ID, ok)
	}
	// Another mount resets.
	m.SetData("/b", list(7, 8), now)
	if l, _ := m.Selected(); l.ID != 7 {
		t.Fatalf("after mount change selected %d", l.ID)
	}
}

func TestMarksAndRequests(t *testing.T) {
	m := newModel(t)
	now := time.Unix(0, 0)
	m.SetData("/a", list(1, 2, 3, 4), now)
	m.Update(press("space")) // 1, cursor to 2
	m.Update(press("j"))
	m.Update(press("space")) // 3
	if got := m.Marked(); !slices.Equal(got, []uint64{1, 3}) {
		t.Fatalf("marked %v", got)
	}
	// A marked listener that leaves is unmarked.
	m.SetData("/a", list(2, 3, 4), now)
	if got := m.Marked(); !slices.Equal(got, []uint64{3}) {
		t.Fatalf("marked after leave %v", got)
	}
	req := m.Update(press("d"))()
	if r, ok := req.(common.KickListenersRequest); !ok || !slices.Equal(r.IDs, []uint64{3}) || r.Mount != "/a" {
		t.Fatalf("d request %#v", req)
	}
	mv := m.Update(press("m"))()
	if r, ok := mv.(common.MoveListenersRequest); !ok || !slices.Equal(r.IDs, []uint64{3}) {
		t.Fatalf("m request %#v", mv)
	}
	m.Update(press("A"))
	if len(m.Marked()) != 3 {
		t.Fatalf("A marked %v", m.Marked())
	}
	m.Update(press("A"))
	if len(m.Marked()) != 0 {
		t.Fatal("A again does not clear")
	}
	mv = m.Update(press("m"))()
	if r := mv.(common.MoveListenersRequest); r.IDs != nil {
		t.Fatalf("m with no marks should move all: %v", r.IDs)
	}
}

func TestOnlyVisibleRowsRendered(t *testing.T) {
	m := newModel(t)
	ids := make([]uint64, 10000)
	for i := range ids {
		ids[i] = uint64(i + 1)
	}
	m.SetData("/a", list(ids...), time.Unix(0, 0))
	m.Update(press("G"))
	out := ansi.Strip(m.View())
	lines := strings.Split(out, "\n")
	if len(lines) != 5 || !strings.Contains(lines[4], "10000") || !strings.Contains(lines[1], "9997") {
		t.Fatalf("end of a long list:\n%s", out)
	}
}
