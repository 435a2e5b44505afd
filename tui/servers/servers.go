// Package servers is the fleet console's servers pane: one line per
// server (the engine in this process and each remote icedeck or Icecast)
// with its kind, version, how it answers, its sources, listeners and
// outgoing bandwidth. enter shows only that server's mounts; 0 (a root
// key) shows every server's again. A server that stopped answering keeps
// its last known line, dimmed, with how old it is.
package servers

import (
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/icedeck/icedeck/themes"
	"github.com/icedeck/icedeck/tui/common"
	"github.com/icedeck/icedeck/tui/keys"
)

// Level is how a server's state is coloured.
type Level int

const (
	OK      Level = iota // up
	Waiting              // connecting, slow
	Bad                  // unreachable, refused, not a server we know
)

// Row is one server as the pane shows it; the root model builds it.
type Row struct {
	Name, Kind, Version string
	State               string // "up", "slow 1.2s", "unreachable 35s", "401" …
	Level               Level
	Stale               bool   // the figures are the last known ones: shown dimmed
	Sources, Listeners  string // "–" when not told
	Out                 string // bits/s, "–" when not told
	Note                string // why it fails, "read-only", …
}

const (
	colMark = iota
	colName
	colKind
	colVersion
	colState
	colSources
	colListeners
	colOut
	colNote
	numCols
)

var columns = []common.Column{
	{Title: "", Width: 2},
	{Title: "SERVER", Width: 8, Flex: 2, Max: 24},
	{Title: "KIND", Width: 7, Drop: 4},
	{Title: "VERSION", Width: 8, Flex: 1, Max: 22, Drop: 3},
	{Title: "STATE", Width: 15},
	{Title: "SOURCES", Width: 7, Right: true, Drop: 2},
	{Title: "LISTENERS", Width: 9, Right: true},
	{Title: "OUT", Width: 9, Right: true, Drop: 1},
	{Title: "NOTE", Width: 4, Flex: 3, Drop: 5},
}

// Model is the servers pane.
type Model struct {
	styles        *themes.Styles
	keys          *keys.KeyMap
	rows          []Row
	scope         string
	cursor        int
	offset        int
	width, height int
	scopeTo       func(name string) tea.Cmd
}

// New returns the pane; scopeTo shows only the named server's mounts.
func New(s *themes.Styles, k *keys.KeyMap, scopeTo func(name string) tea.Cmd) *Model {
	return &Model{styles: s, keys: k, scopeTo: scopeTo}
}

// SetRows replaces the servers shown (the cursor stays on its server) and
// says which one the mounts table is scoped to ("" for all).
func (m *Model) SetRows(rows []Row, scope string) {
	name := ""
	if sel, ok := m.Selected(); ok {
		name = sel.Name
	}
	m.rows, m.scope = rows, scope
	for i, r := range rows {
		if r.Name == name {
			m.cursor = i
		}
	}
	m.fix()
}

// Selected is the server under the cursor.
func (m *Model) Selected() (Row, bool) {
	if m.cursor < 0 || m.cursor >= len(m.rows) {
		return Row{}, false
	}
	return m.rows[m.cursor], true
}

// Len is how many servers there are.
func (m *Model) Len() int { return len(m.rows) }

// WantHeight is a header and a line per server, up to limit.
func (m *Model) WantHeight(limit int) int {
	return common.Clamp(1+max(len(m.rows), 1), 1, max(limit, 1))
}

// SetSize implements common.Pane.
func (m *Model) SetSize(w, h int) {
	m.width, m.height = w, h
	m.fix()
}

func (m *Model) body() int { return max(m.height-1, 0) }

func (m *Model) fix() {
	m.cursor = common.Clamp(m.cursor, 0, len(m.rows)-1)
	m.offset = common.Scroll(m.offset, m.cursor, m.body(), len(m.rows))
}

// Move moves the cursor by delta servers.
func (m *Model) Move(delta int) {
	m.cursor += delta
	m.fix()
}

// Click puts the cursor on the server at line y of the pane (0 is the
// header) and reports whether one was hit.
func (m *Model) Click(y int) bool {
	i := m.offset + y - 1
	if y < 1 || y > m.body() || i >= len(m.rows) {
		return false
	}
	m.cursor = i
	m.fix()
	return true
}

// Bindings implements common.Pane: the list keys and enter.
func (m *Model) Bindings() []common.Binding {
	sel, ok := m.Selected()
	scope := common.Bind(m.keys.Scope, func() tea.Cmd { return m.scopeTo(sel.Name) }).OnHelp().
		OffIf(!ok, "no server").OffIf(ok && sel.Name == m.scope, "only "+sel.Name+"'s mounts are shown already (0 shows all)")
	return append(common.Movement(m.keys, m.body(), len(m.rows), m.Move), scope)
}

// View implements common.Pane.
func (m *Model) View(focused bool) string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	s := m.styles
	widths := common.Widths(columns, m.width)
	head := common.HeaderCells(columns, -1, "")
	if m.scope != "" {
		head[colName] = "SERVER (" + m.scope + ")"
	}
	lines := []string{s.TableHeader.Render(common.Fit(common.Row(columns, widths, head), m.width))}
	if len(m.rows) == 0 && m.body() > 0 {
		lines = append(lines, s.Dim.Render(common.Clip("  no servers", m.width)))
	}
	cells := make([]string, numCols)
	paints := make([]common.Paint, numCols)
	dim := common.PaintOf(s.Dim)
	var b strings.Builder
	for i := m.offset; i < len(m.rows) && i < m.offset+m.body(); i++ {
		r := m.rows[i]
		mark := " "
		if r.Name == m.scope {
			mark = "◆"
		}
		if i == m.cursor {
			mark = "▸"
		}
		cells[colMark], cells[colName], cells[colKind], cells[colVersion] = mark, r.Name, r.Kind, r.Version
		cells[colState], cells[colSources], cells[colListeners] = r.State, r.Sources, r.Listeners
		cells[colOut], cells[colNote] = r.Out, r.Note
		b.Reset()
		if i == m.cursor && focused {
			common.WriteRow(&b, columns, widths, cells)
			lines = append(lines, s.Selected.Render(common.Fit(b.String(), m.width)))
			continue
		}
		base := common.Paint{}
		if r.Stale {
			base = dim
		}
		for c := range paints {
			paints[c] = base
		}
		paints[colMark] = common.PaintOf(s.Accent)
		switch r.Level {
		case OK:
			paints[colState] = common.PaintOf(s.Live)
		case Waiting:
			paints[colState] = common.PaintOf(s.Warn)
		case Bad:
			paints[colState] = common.PaintOf(s.Error)
		}
		paints[colNote] = dim
		common.WriteStyledRow(&b, columns, widths, cells, paints)
		lines = append(lines, b.String())
	}
	return common.Lines(lines, m.width, m.height)
}
