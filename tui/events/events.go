// Package events shows engine events: the server-wide log, or one mount's
// events in its Events tab. Newest at the bottom; the view follows new
// events until the operator scrolls up.
package events

import (
	"log/slog"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

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
	}
}

// Len is the number of events held (at most 2×limit).
func (s *Store) Len() int { return len(s.evs) }

// Model is an event list over a Store.
type Model struct {
	styles  *themes.Styles
	keys    *keys.KeyMap
	store   *Store
	width   int
	height  int
	focused bool

	mount  string // "" = all mounts
	scroll int    // matching events hidden below the view; 0 = follow
}

// New returns a view of store; mount "" shows every event.
func New(s *themes.Styles, k *keys.KeyMap, store *Store, mount string) *Model {
	return &Model{styles: s, keys: k, store: store, mount: mount}
}

// SetSize implements common.Component.
func (m *Model) SetSize(w, h int) { m.width, m.height = w, h }

// SetStyles implements common.Component.
func (m *Model) SetStyles(s *themes.Styles) { m.styles = s }

// SetFocused implements common.Component.
func (m *Model) SetFocused(f bool) { m.focused = f }

// SetMount changes which mount's events are shown.
func (m *Model) SetMount(name string) {
	if name != m.mount {
		m.mount, m.scroll = name, 0
	}
}

// Following reports whether the view sticks to the newest event.
func (m *Model) Following() bool { return m.scroll == 0 }

// Scroll moves the view; negative is towards older events.
func (m *Model) Scroll(delta int) { m.scroll = common.Clamp(m.scroll-delta, 0, m.store.Len()) }

// Update implements common.Component.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	if d, ok := m.keys.Step(k, m.height-1, m.store.Len()); ok {
		m.Scroll(d)
	}
	return nil
}

// ShortHelp implements common.Component.
func (m *Model) ShortHelp() []key.Binding { return []key.Binding{m.keys.End} }

// View implements common.Component.
func (m *Model) View() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	// Walk back from the newest event, skipping `scroll` matches, and keep
	// the height that fit; only those are formatted.
	picked := make([]int, 0, m.height)
	skip := m.scroll
	total := 0
	for i := len(m.store.evs) - 1; i >= 0; i-- {
		if m.mount != "" && m.store.evs[i].Mount != m.mount {
			continue
		}
		total++
		if skip > 0 {
			skip--
			continue
		}
		if len(picked) < m.height {
			picked = append(picked, i)
		}
	}
	if len(picked) < m.height && m.scroll > 0 {
		// Scrolled past the oldest event: pin the view at the top.
		m.scroll = max(total-m.height, 0)
		return m.View()
	}
	if len(picked) == 0 {
		return common.Lines([]string{m.styles.Dim.Render("  no events yet")}, m.width, m.height)
	}
	lines := make([]string, 0, len(picked))
	for j := len(picked) - 1; j >= 0; j-- {
		lines = append(lines, m.line(&m.store.evs[picked[j]]))
	}
	return common.Lines(lines, m.width, m.height)
}

func (m *Model) line(e *engine.Event) string {
	s := m.styles
	lvl := s.Info
	word := "INF"
	switch {
	case e.Level >= slog.LevelError:
		lvl, word = s.Error, "ERR"
	case e.Level >= slog.LevelWarn:
		lvl, word = s.Warn, "WRN"
	case e.Level < slog.LevelInfo:
		lvl, word = s.Dim, "DBG"
	}
	var b strings.Builder
	b.WriteString(s.Dim.Render(e.Time.Format("15:04:05")))
	b.WriteByte(' ')
	b.WriteString(lvl.Render(word))
	b.WriteByte(' ')
	text := string(e.Type)
	if m.mount == "" && e.Mount != "" {
		text += " " + e.Mount
	}
	if e.ID != 0 {
		text += " #" + strconv.FormatUint(e.ID, 10)
	}
	if e.Addr != "" {
		text += " " + e.Addr
	}
	if e.Reason != engine.ReasonNone {
		text += " (" + e.Reason.String() + ")"
	}
	if e.Message != "" {
		text += ": " + e.Message
	}
	b.WriteString(lvl.Render(common.Clip(text, max(m.width-13, 1))))
	return b.String()
}
