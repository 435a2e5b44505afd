// Package listeners is the Listeners tab: every listener of the selected
// mount, with marks for bulk actions. Only the visible rows are rendered, so
// a mount with ten thousand listeners costs no more to draw than one with ten.
package listeners

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/themes"
	"github.com/icedeck/icedeck/tui/common"
	"github.com/icedeck/icedeck/tui/keys"
)

const (
	colMark = iota
	colID
	colAddr
	colUA
	colConnected
	colSent
	colLag
	colICY
	numCols
)

func columns() []common.Column {
	return []common.Column{
		{Title: "", Width: 1},
		{Title: "ID", Width: 6, Right: true},
		{Title: "ADDRESS", Width: 15, Flex: 2},
		{Title: "USER AGENT", Width: 10, Flex: 3, Drop: 4},
		{Title: "CONNECTED", Width: 9, Right: true},
		{Title: "SENT", Width: 8, Right: true, Drop: 2},
		{Title: "LAG", Width: 8, Right: true, Drop: 3},
		{Title: "ICY", Width: 3, Drop: 5},
	}
}

// Model is the listeners table.
type Model struct {
	styles  *themes.Styles
	keys    *keys.KeyMap
	cols    []common.Column
	width   int
	height  int
	focused bool

	mount string
	ls    []engine.ListenerSnapshot
	now   time.Time

	cursor, offset int
	selID          uint64
	marked         map[uint64]bool

	// scratch, reused between frames
	cells  []string
	paints []common.Paint
	b      strings.Builder
	widths []int
	wFor   int
}

// New returns an empty table.
func New(s *themes.Styles, k *keys.KeyMap) *Model {
	return &Model{styles: s, keys: k, cols: columns(), marked: map[uint64]bool{},
		cells: make([]string, numCols), paints: make([]common.Paint, numCols)}
}

// SetSize implements common.Component.
func (m *Model) SetSize(w, h int) { m.width, m.height = w, h; m.fix() }

// SetStyles implements common.Component.
func (m *Model) SetStyles(s *themes.Styles) { m.styles = s }

// SetFocused implements common.Component.
func (m *Model) SetFocused(f bool) { m.focused = f }

// SetData shows the listeners of mount. The selected listener stays selected
// while it is connected; marks of listeners that left are dropped. A new
// mount resets cursor and marks.
func (m *Model) SetData(mount string, ls []engine.ListenerSnapshot, now time.Time) {
	if mount != m.mount {
		m.mount, m.cursor, m.offset, m.selID = mount, 0, 0, 0
		clear(m.marked)
	}
	m.ls, m.now = ls, now
	if m.selID != 0 && (m.cursor >= len(ls) || ls[m.cursor].ID != m.selID) {
		// The list moved under the cursor: find the listener again.
		for i := range ls {
			if ls[i].ID == m.selID {
				m.cursor = i
				break
			}
		}
	}
	if len(m.marked) > 0 {
		seen := 0
		for i := range ls {
			if m.marked[ls[i].ID] {
				seen++
			}
		}
		if seen != len(m.marked) {
			keep := make(map[uint64]bool, seen)
			for i := range ls {
				if m.marked[ls[i].ID] {
					keep[ls[i].ID] = true
				}
			}
			m.marked = keep
		}
	}
	m.fix()
}

func (m *Model) fix() {
	m.cursor = common.Clamp(m.cursor, 0, len(m.ls)-1)
	if len(m.ls) > 0 {
		m.selID = m.ls[m.cursor].ID
	} else {
		m.selID = 0
	}
	m.offset = common.Scroll(m.offset, m.cursor, m.bodyHeight(), len(m.ls))
}

func (m *Model) bodyHeight() int { return max(m.height-1, 0) }

// Selected returns the listener under the cursor.
func (m *Model) Selected() (engine.ListenerSnapshot, bool) {
	if m.cursor < 0 || m.cursor >= len(m.ls) {
		return engine.ListenerSnapshot{}, false
	}
	return m.ls[m.cursor], true
}

// Marked returns the marked listener ids, sorted.
func (m *Model) Marked() []uint64 {
	out := make([]uint64, 0, len(m.marked))
	for id := range m.marked {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// ClearMarks unmarks everything (after a bulk action).
func (m *Model) ClearMarks() { clear(m.marked) }

// Move moves the cursor by delta rows.
func (m *Model) Move(delta int) { m.cursor += delta; m.fix() }

// Scroll is the mouse wheel: the cursor follows.
func (m *Model) Scroll(delta int) { m.Move(delta) }

// Click selects the row at line y of the pane (0 = header).
func (m *Model) Click(y int) bool {
	i := m.offset + y - 1
	if y < 1 || y > m.bodyHeight() || i >= len(m.ls) {
		return false
	}
	m.cursor = i
	m.fix()
	return true
}

// Update implements common.Component. Destructive keys only produce
// requests; the root model confirms them.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	if d, ok := m.keys.Step(k, m.bodyHeight(), len(m.ls)); ok {
		m.Move(d)
		return nil
	}
	switch {
	case key.Matches(k, m.keys.Mark):
		if l, ok := m.Selected(); ok {
			if m.marked[l.ID] {
				delete(m.marked, l.ID)
			} else {
				m.marked[l.ID] = true
			}
			m.Move(1)
		}
	case key.Matches(k, m.keys.MarkAll):
		if len(m.marked) == len(m.ls) {
			clear(m.marked)
		} else {
			for i := range m.ls {
				m.marked[m.ls[i].ID] = true
			}
		}
	case key.Matches(k, m.keys.Kick):
		if len(m.marked) > 0 {
			ids := m.Marked()
			return common.Send(common.KickListenersRequest{Mount: m.mount, IDs: ids,
				Label: strconv.Itoa(len(ids)) + " marked listeners"})
		}
		if l, ok := m.Selected(); ok {
			return common.Send(common.KickListenersRequest{Mount: m.mount, IDs: []uint64{l.ID},
				Label: "listener " + strconv.FormatUint(l.ID, 10) + " (" + l.Addr + ")"})
		}
	case key.Matches(k, m.keys.Move):
		if m.mount == "" {
			return nil
		}
		var ids []uint64 // nil: all of them
		if len(m.marked) > 0 {
			ids = m.Marked()
		}
		return common.Send(common.MoveListenersRequest{Mount: m.mount, IDs: ids})
	}
	return nil
}

// ShortHelp implements common.Component.
func (m *Model) ShortHelp() []key.Binding {
	return []key.Binding{m.keys.Mark, m.keys.Kick, m.keys.Move}
}

// Title is the tab label: "Listeners 12", with the marked count.
func (m *Model) Title() string {
	t := "Listeners " + strconv.Itoa(len(m.ls))
	if len(m.marked) > 0 {
		t += " · " + strconv.Itoa(len(m.marked)) + " marked"
	}
	return t
}

// View implements common.Component.
func (m *Model) View() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	s := m.styles
	if m.wFor != m.width || m.widths == nil {
		m.widths, m.wFor = common.Widths(m.cols, m.width), m.width
	}
	widths := m.widths
	lines := make([]string, 0, m.height)
	lines = append(lines, s.TableHeader.Render(common.Fit(common.Row(m.cols, widths, common.HeaderCells(m.cols, -1, "")), m.width)))
	if len(m.ls) == 0 && m.height > 1 {
		msg := "no listeners"
		if m.mount == "" {
			msg = "no mount selected"
		}
		lines = append(lines, s.Dim.Render(common.Clip("  "+msg, m.width)))
	}
	body := m.bodyHeight()
	// Styles become escape strings once per frame, not once per cell.
	m.paints[colUA] = common.PaintOf(s.Dim)
	markedPaint := common.PaintOf(s.Marked)
	for i := m.offset; i < len(m.ls) && i < m.offset+body; i++ {
		l := &m.ls[i]
		m.rowCells(l)
		m.b.Reset()
		marked := m.marked[l.ID]
		if i == m.cursor {
			common.WriteRow(&m.b, m.cols, widths, m.cells)
			row := common.Fit(m.b.String(), m.width)
			if m.focused {
				lines = append(lines, s.Selected.Render(row))
			} else {
				lines = append(lines, s.SelectedDim.Render(row))
			}
			continue
		}
		if marked {
			common.WriteRow(&m.b, m.cols, widths, m.cells)
			lines = append(lines, markedPaint.S(m.b.String()))
			continue
		}
		common.WriteStyledRow(&m.b, m.cols, widths, m.cells, m.paints)
		lines = append(lines, m.b.String())
	}
	return common.Lines(lines, m.width, m.height)
}

func (m *Model) rowCells(l *engine.ListenerSnapshot) {
	c := m.cells
	c[colMark] = ""
	if m.marked[l.ID] {
		c[colMark] = "*"
	}
	c[colID] = strconv.FormatUint(l.ID, 10)
	c[colAddr] = l.Addr
	c[colUA] = l.UserAgent
	c[colConnected] = common.Since(m.now, l.Connected)
	c[colSent] = common.Bytes(l.BytesSent)
	if l.Lag < 0 {
		c[colLag] = "–"
	} else {
		c[colLag] = common.Bytes(uint64(l.Lag))
	}
	c[colICY] = "off"
	if l.ICY {
		c[colICY] = "on"
	}
}
