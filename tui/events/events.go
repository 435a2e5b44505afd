// Package events shows engine events: the server-wide log, or one mount's
// events in its Events tab. Newest at the bottom; the view follows new
// events until the operator moves up. f filters by level and type; the
// selected event is spelled out whole on the pane's detail lines.
package events

import (
	"log/slog"
	"slices"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/themes"
	"github.com/icedeck/icedeck/tui/common"
	"github.com/icedeck/icedeck/tui/keys"
)

// Store keeps the most recent events, oldest first, bounded.
type Store struct {
	limit   int
	evs     []engine.Event
	lastSeq uint64
	Missed  uint64 // events the subscription dropped (seq gaps)
	version uint64 // changes with every Add that kept an event
}

// NewStore keeps up to limit events.
func NewStore(limit int) *Store { return &Store{limit: max(limit, 1)} }

// Add appends events, skipping ones already held (by Seq) and counting gaps.
func (s *Store) Add(evs ...engine.Event) {
	for _, e := range evs {
		if e.Seq != 0 && e.Seq <= s.lastSeq {
			continue
		}
		if s.lastSeq != 0 && e.Seq > s.lastSeq+1 {
			s.Missed += e.Seq - s.lastSeq - 1
		}
		if e.Seq != 0 {
			s.lastSeq = e.Seq
		}
		if len(s.evs) >= 2*s.limit {
			// Drop the oldest half in one copy rather than one per event.
			n := copy(s.evs, s.evs[len(s.evs)-s.limit:])
			s.evs = s.evs[:n]
		}
		s.evs = append(s.evs, e)
		s.version++
	}
}

// Len is the number of events held (at most 2×limit).
func (s *Store) Len() int { return len(s.evs) }

// Types returns the event types held, sorted.
func (s *Store) Types() []engine.EventType {
	seen := map[engine.EventType]bool{}
	for i := range s.evs {
		seen[s.evs[i].Type] = true
	}
	out := make([]engine.EventType, 0, len(seen))
	for t := range seen {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Levels the filter offers, lowest first, with their names.
var (
	levels     = []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}
	levelNames = []string{"debug and up", "info and up", "warnings and errors", "errors only"}
)

// detailH is how many lines at the bottom spell out the selected event.
const detailH = 2

// Model is an event list over a Store.
type Model struct {
	styles *themes.Styles
	keys   *keys.KeyMap
	store  *Store
	width  int
	height int

	mount    string // "" = all mounts
	minLevel slog.Level
	typ      engine.EventType // "" = all types

	rows   []int // indices into store.evs that pass the filters
	seen   uint64
	cursor int
	offset int
	follow bool // the cursor sticks to the newest event
	dirty  bool
}

// New returns a view of store; mount "" shows every event. Debug events
// are hidden until the level filter asks for them.
func New(s *themes.Styles, k *keys.KeyMap, store *Store, mount string) *Model {
	return &Model{styles: s, keys: k, store: store, mount: mount, minLevel: slog.LevelInfo, follow: true, dirty: true}
}

// SetSize implements common.Pane.
func (m *Model) SetSize(w, h int) {
	m.width, m.height = w, h
	m.Sync()
}

// SetMount changes which mount's events are shown.
func (m *Model) SetMount(name string) {
	if name != m.mount {
		m.mount, m.follow, m.dirty = name, true, true
		m.Sync()
	}
}

// Sync takes the events added to the store since the last call; call it
// from Update whenever events arrive.
func (m *Model) Sync() {
	if m.dirty || m.seen != m.store.version {
		m.refilter()
	}
	m.fix()
}

func (m *Model) refilter() {
	var sel uint64
	if !m.follow && m.cursor < len(m.rows) && m.rows[m.cursor] < len(m.store.evs) && !m.dirty {
		sel = m.store.evs[m.rows[m.cursor]].Seq
	}
	m.rows = m.rows[:0]
	for i := range m.store.evs {
		if m.pass(&m.store.evs[i]) {
			m.rows = append(m.rows, i)
		}
	}
	m.seen, m.dirty = m.store.version, false
	if sel != 0 {
		// The list may have lost its oldest half: find the event again.
		i, _ := slices.BinarySearchFunc(m.rows, sel, func(r int, seq uint64) int {
			return cmpSeq(m.store.evs[r].Seq, seq)
		})
		m.cursor = i
	}
}

func cmpSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (m *Model) pass(e *engine.Event) bool {
	return (m.mount == "" || e.Mount == m.mount) && e.Level >= m.minLevel && (m.typ == "" || e.Type == m.typ)
}

func (m *Model) listH() int {
	if m.height >= 6 {
		return m.height - detailH
	}
	return m.height
}

func (m *Model) fix() {
	if m.follow {
		m.cursor = len(m.rows) - 1
	}
	m.cursor = common.Clamp(m.cursor, 0, len(m.rows)-1)
	m.offset = common.Scroll(m.offset, m.cursor, m.listH(), len(m.rows))
}

// Following reports whether the view sticks to the newest event.
func (m *Model) Following() bool { return m.follow }

// Len is the number of events that pass the filters.
func (m *Model) Len() int { return len(m.rows) }

// Filters describes the filters in force ("" for the default: info and
// up, every type).
func (m *Model) Filters() string {
	var f []string
	if m.minLevel != slog.LevelInfo {
		f = append(f, levelNames[slices.Index(levels, m.minLevel)])
	}
	if m.typ != "" {
		f = append(f, string(m.typ))
	}
	return strings.Join(f, ", ")
}

// ClearFilters goes back to info and up, every type.
func (m *Model) ClearFilters() { m.minLevel, m.typ, m.dirty = slog.LevelInfo, "", true; m.Sync() }

// SetLevel shows events of level l and above.
func (m *Model) SetLevel(l slog.Level) { m.minLevel, m.dirty = l, true; m.Sync() }

// SetType shows events of type t only ("" for all).
func (m *Model) SetType(t engine.EventType) { m.typ, m.dirty = t, true; m.Sync() }

// Scroll moves the selection; negative is towards older events.
func (m *Model) Scroll(delta int) {
	m.cursor += delta
	m.follow = m.cursor >= len(m.rows)-1
	m.fix()
}

// Selected returns the selected event.
func (m *Model) Selected() (engine.Event, bool) {
	if m.cursor < 0 || m.cursor >= len(m.rows) {
		return engine.Event{}, false
	}
	return m.store.evs[m.rows[m.cursor]], true
}

// Bindings implements common.Pane.
func (m *Model) Bindings() []common.Binding {
	k := m.keys
	bs := common.Movement(k, m.listH(), len(m.rows), m.Scroll)
	bs[5].Key.SetHelp("end/G", "follow") // End goes back to following
	bs[5] = bs[5].OnHelp()
	return append(bs, common.Bind(k.EventFilter, m.pick).OnHelp())
}

// pick offers the level and type filters.
func (m *Model) pick() tea.Cmd {
	types := m.store.Types()
	opts := make([]string, 0, len(levels)+1+len(types))
	mark := func(on bool) string {
		if on {
			return " ✓"
		}
		return ""
	}
	for i, l := range levels {
		opts = append(opts, "level: "+levelNames[i]+mark(l == m.minLevel))
	}
	opts = append(opts, "type: all"+mark(m.typ == ""))
	for _, t := range types {
		opts = append(opts, "type: "+string(t)+mark(t == m.typ))
	}
	return common.Send(common.PickRequest{
		Title: "Show events of", Options: opts, Cursor: slices.Index(levels, m.minLevel),
		Choose: func(i int) tea.Cmd {
			switch {
			case i < len(levels):
				m.SetLevel(levels[i])
			case i == len(levels):
				m.SetType("")
			default:
				m.SetType(types[i-len(levels)-1])
			}
			return nil
		},
	})
}

// View implements common.Pane.
func (m *Model) View(focused bool) string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	s := m.styles
	lh := m.listH()
	if len(m.rows) == 0 {
		msg := "  no events yet"
		if f := m.Filters(); f != "" {
			msg = "  no events of " + f + " (f changes the filter)"
		}
		return common.Lines([]string{s.Dim.Render(msg)}, m.width, m.height)
	}
	lines := make([]string, 0, m.height)
	for i := m.offset; i < len(m.rows) && i < m.offset+lh; i++ {
		e := &m.store.evs[m.rows[i]]
		switch {
		case i == m.cursor && focused:
			lines = append(lines, s.Selected.Render(common.Fit("▸"+m.text(e), m.width)))
		case i == m.cursor:
			lines = append(lines, s.Accent.Render("▸")+m.line(e))
		default:
			lines = append(lines, " "+m.line(e))
		}
	}
	if lh < m.height {
		for len(lines) < lh {
			lines = append(lines, "")
		}
		if e, ok := m.Selected(); ok {
			wrapped := strings.Split(ansi.Wrap(Detail(&e), max(m.width-2, 1), " "), "\n")
			if len(wrapped) > detailH {
				wrapped = wrapped[:detailH]
				wrapped[detailH-1] = common.Clip(wrapped[detailH-1]+" …", m.width-2)
			}
			for _, w := range wrapped {
				lines = append(lines, s.Dim.Render("  "+w))
			}
		}
	}
	return common.Lines(lines, m.width, m.height)
}

// levelWord is the level's three letters.
func levelWord(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERR"
	case l >= slog.LevelWarn:
		return "WRN"
	case l < slog.LevelInfo:
		return "DBG"
	}
	return "INF"
}

// line is one event, coloured by its level.
func (m *Model) line(e *engine.Event) string {
	s := m.styles
	lvl := s.Info
	switch {
	case e.Level >= slog.LevelError:
		lvl = s.Error
	case e.Level >= slog.LevelWarn:
		lvl = s.Warn
	case e.Level < slog.LevelInfo:
		lvl = s.Dim
	}
	text := m.text(e)
	return s.Dim.Render(text[:8]) + " " + lvl.Render(common.Clip(text[9:], max(m.width-10, 1)))
}

// text is one event as one line: time, level, type, then the message,
// with the mount, listener and address only where the message does not
// already say them.
func (m *Model) text(e *engine.Event) string {
	var b strings.Builder
	b.WriteString(e.Time.Format("15:04:05"))
	b.WriteString(" " + levelWord(e.Level) + " " + string(e.Type))
	msg := e.Message
	if m.mount == "" && e.Mount != "" && !strings.Contains(msg, e.Mount) {
		b.WriteString(" " + e.Mount)
	}
	if e.ID != 0 && !strings.Contains(msg, strconv.FormatUint(e.ID, 10)) {
		b.WriteString(" #" + strconv.FormatUint(e.ID, 10))
	}
	if e.Addr != "" && !strings.Contains(msg, e.Addr) {
		b.WriteString(" " + e.Addr)
	}
	if e.Reason != engine.ReasonNone && !strings.Contains(msg, e.Reason.String()) {
		b.WriteString(" (" + e.Reason.String() + ")")
	}
	if msg != "" {
		b.WriteString(": " + msg)
	}
	return b.String()
}

// Detail spells an event out whole, every field it has.
func Detail(e *engine.Event) string {
	parts := []string{e.Time.Format("2006-01-02 15:04:05.000"), levelWord(e.Level), string(e.Type)}
	add := func(label, v string) {
		if v != "" {
			parts = append(parts, label+v)
		}
	}
	add("mount ", e.Mount)
	if e.ID != 0 {
		add("id ", strconv.FormatUint(e.ID, 10))
	}
	add("from ", e.Addr)
	if e.Reason != engine.ReasonNone {
		add("reason ", e.Reason.String())
	}
	add("", e.Detail)
	add("", e.Subject)
	out := strings.Join(parts, " · ")
	if e.Message != "" {
		out += " — " + e.Message
	}
	return out
}
