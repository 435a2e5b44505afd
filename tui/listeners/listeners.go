// Package listeners is the Listeners tab: the listeners of the selected
// mount, sortable and filtered by address or user agent, with marks for
// bulk actions and a histogram of how long they have been listening.
// Only the visible rows are rendered, so a mount with ten thousand
// listeners costs no more to draw than one with ten.
package listeners

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

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
		{Title: "ADDRESS", Width: 15, Flex: 2, Max: 40},
		{Title: "USER AGENT", Width: 10, Flex: 3, Drop: 4},
		{Title: "CONNECTED", Width: 11, Right: true},
		{Title: "SENT", Width: 8, Right: true, Drop: 2},
		{Title: "LAG", Width: 8, Right: true, Drop: 3},
		{Title: "ICY", Width: 3, Drop: 5},
	}
}

// SortColumn is what the list is ordered by.
type SortColumn int

const (
	ByID SortColumn = iota
	ByAddress
	ByAgent
	ByConnected
	BySent
	ByLag
	numSorts
)

func (c SortColumn) String() string {
	return [...]string{"id", "address", "user agent", "connected", "sent", "lag"}[c]
}

func sortCol(c SortColumn) int {
	return [...]int{colID, colAddr, colUA, colConnected, colSent, colLag}[c]
}

// Bins of the listening-time histogram, upper bounds.
var (
	binEdges  = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 3 * time.Hour}
	binLabels = []string{"<1m", "1–5m", "5–15m", "15m–1h", "1–3h", ">3h"}
)

// histW is the width of the histogram beside the table on a wide pane.
const histW = 30

// Model is the listeners table.
type Model struct {
	styles   *themes.Styles
	keys     *keys.KeyMap
	readOnly bool
	cols     []common.Column
	widths   []int
	width    int
	height   int
	tableW   int // the table's width; the histogram takes the rest
	histRow  bool

	mount   string
	unknown engine.Unknown // what the server does not tell about listeners
	loading bool           // the mount is selected but its listeners are not read yet
	ls      []engine.ListenerSnapshot
	rows    []int // indices into ls, filtered and sorted
	bins    []int
	now     time.Time

	sort    SortColumn
	reverse bool
	filter  string

	cursor, offset int
	selID          uint64
	marked         map[uint64]bool

	// scratch, reused between frames
	cells  []string
	paints []common.Paint
}

// New returns an empty table; readOnly turns d off.
func New(s *themes.Styles, k *keys.KeyMap, readOnly bool) *Model {
	return &Model{styles: s, keys: k, readOnly: readOnly, cols: columns(), marked: map[uint64]bool{},
		cells: make([]string, numCols), paints: make([]common.Paint, numCols), bins: make([]int, len(binLabels))}
}

// SetSize implements common.Pane: a wide pane puts the histogram beside
// the table, a narrow one on its last line.
func (m *Model) SetSize(w, h int) {
	m.width, m.height = w, h
	m.tableW, m.histRow = w, false
	switch {
	case w >= 100:
		m.tableW = w - histW - 1
	case h >= 6:
		m.histRow = true
	}
	m.measure()
	m.fix()
}

// measure lays the columns out; the sorted column's title carries the
// arrow, whole.
func (m *Model) measure() {
	m.cols = columns()
	c := &m.cols[sortCol(m.sort)]
	c.Width = max(c.Width, common.Width(c.Title)+2)
	m.widths = common.Widths(m.cols, m.tableW)
}

// Loading says mount's listeners are being read: a list of another
// mount goes at once (the selection moved); the mount's own stays until
// the fresh one comes.
func (m *Model) Loading(mount string) {
	if mount != m.mount {
		m.SetData(mount, nil, m.now)
	}
	m.loading = mount != ""
}

// IsLoading reports whether a read of the listeners is awaited.
func (m *Model) IsLoading() bool { return m.loading }

// SetUnknown says what the server cannot tell about the mount's
// listeners (a remote Icecast's: the list, or their bytes and lag).
func (m *Model) SetUnknown(u engine.Unknown) { m.unknown = u }

// SetData shows the listeners of mount. The selected listener stays
// selected while it is connected; marks of listeners that left are
// dropped. A new mount resets cursor and marks (not the sort or filter).
func (m *Model) SetData(mount string, ls []engine.ListenerSnapshot, now time.Time) {
	if mount != m.mount {
		m.mount, m.cursor, m.offset, m.selID = mount, 0, 0, 0
		clear(m.marked)
	}
	m.ls, m.now, m.loading = ls, now, false
	if len(m.marked) > 0 {
		keep := make(map[uint64]bool, len(m.marked))
		for i := range ls {
			if m.marked[ls[i].ID] {
				keep[ls[i].ID] = true
			}
		}
		m.marked = keep
	}
	m.rebuild()
}

// rebuild filters and sorts, keeps the selected listener under the
// cursor, and counts the histogram.
func (m *Model) rebuild() {
	m.rows = m.rows[:0]
	q := strings.ToLower(m.filter)
	for i := range m.ls {
		if q == "" || strings.Contains(strings.ToLower(m.ls[i].Addr), q) || strings.Contains(strings.ToLower(m.ls[i].UserAgent), q) {
			m.rows = append(m.rows, i)
		}
	}
	common.SortRows(m.rows, func(a, b int) int { return m.compare(&m.ls[a], &m.ls[b]) },
		func(a, b int) int { return cmp.Compare(m.ls[a].ID, m.ls[b].ID) }, m.reverse)
	if m.selID != 0 {
		for i, r := range m.rows {
			if m.ls[r].ID == m.selID {
				m.cursor = i
				break
			}
		}
	}
	clear(m.bins)
	for _, r := range m.rows {
		d := m.now.Sub(m.ls[r].Connected)
		i, _ := slices.BinarySearch(binEdges, d+1)
		m.bins[i]++
	}
	m.fix()
}

func (m *Model) compare(a, b *engine.ListenerSnapshot) int {
	switch m.sort {
	case ByAddress:
		return cmp.Compare(a.Addr, b.Addr)
	case ByAgent:
		return cmp.Compare(strings.ToLower(a.UserAgent), strings.ToLower(b.UserAgent))
	case ByConnected: // longest first
		return a.Connected.Compare(b.Connected)
	case BySent:
		return -cmp.Compare(a.BytesSent, b.BytesSent)
	case ByLag:
		return -cmp.Compare(a.Lag, b.Lag)
	}
	return cmp.Compare(a.ID, b.ID)
}

func (m *Model) fix() {
	m.cursor = common.Clamp(m.cursor, 0, len(m.rows)-1)
	if len(m.rows) > 0 {
		m.selID = m.ls[m.rows[m.cursor]].ID
	} else {
		m.selID = 0
	}
	m.offset = common.Scroll(m.offset, m.cursor, m.bodyHeight(), len(m.rows))
}

func (m *Model) bodyHeight() int {
	h := m.height - 1
	if m.filter != "" {
		h--
	}
	if m.histRow {
		h--
	}
	return max(h, 0)
}

// Mount is the mount whose listeners are shown.
func (m *Model) Mount() string { return m.mount }

// Selected returns the listener under the cursor.
func (m *Model) Selected() (engine.ListenerSnapshot, bool) {
	if m.cursor < 0 || m.cursor >= len(m.rows) {
		return engine.ListenerSnapshot{}, false
	}
	return m.ls[m.rows[m.cursor]], true
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

// Filter returns the filter kept.
func (m *Model) Filter() string { return m.filter }

// SetFilter shows only the listeners whose address or user agent
// contains text.
func (m *Model) SetFilter(text string) { m.filter = text; m.rebuild() }

// Sort returns the sort column and direction.
func (m *Model) Sort() (SortColumn, bool) { return m.sort, m.reverse }

// Len is the number of listeners shown (after the filter).
func (m *Model) Len() int { return len(m.rows) }

// Total is the number of listeners read, before the filter.
func (m *Model) Total() int { return len(m.ls) }

// Bins returns the histogram's labels and counts.
func (m *Model) Bins() ([]string, []int) { return binLabels, slices.Clone(m.bins) }

// Move moves the cursor by delta rows.
func (m *Model) Move(delta int) { m.cursor += delta; m.fix() }

// Scroll is the mouse wheel: the cursor follows.
func (m *Model) Scroll(delta int) { m.Move(delta) }

// Click selects the row at line y of the pane (0 = header).
func (m *Model) Click(y int) bool {
	i := m.offset + y - 1
	if y < 1 || y > m.bodyHeight() || i >= len(m.rows) {
		return false
	}
	m.cursor = i
	m.fix()
	return true
}

// Bindings implements common.Pane. Disconnecting only asks the root;
// the root confirms it.
func (m *Model) Bindings() []common.Binding {
	k := m.keys
	none := len(m.rows) == 0
	nobody := "no listener on " + m.mount
	if m.mount == "" {
		nobody = "no mount selected"
	}
	return append(common.Movement(k, m.bodyHeight(), len(m.rows), m.Move),
		common.Do(k.Mark, m.toggleMark).OnHelp().OffIf(none, nobody),
		common.Do(k.MarkAll, m.markAll).OffIf(none, nobody),
		common.Bind(k.Kick, m.kick).OnHelp().
			OffIf(m.readOnly, "read-only mode: disconnecting listeners is off").OffIf(none, nobody),
		common.Bind(k.Filter, func() tea.Cmd {
			return common.Send(common.FilterRequest{What: "listeners (address, user agent)", Text: m.filter, Set: m.SetFilter})
		}).OnHelp(),
		common.Do(k.Sort, func() { m.sort = (m.sort + 1) % numSorts; m.measure(); m.rebuild() }).OnHelp(),
		common.Do(k.SortReverse, func() { m.reverse = !m.reverse; m.rebuild() }),
	)
}

func (m *Model) toggleMark() {
	if l, ok := m.Selected(); ok {
		if m.marked[l.ID] {
			delete(m.marked, l.ID)
		} else {
			m.marked[l.ID] = true
		}
		m.Move(1)
	}
}

// markAll marks every listener shown (the filter's), or, when they all
// are, none.
func (m *Model) markAll() {
	all := true
	for _, r := range m.rows {
		all = all && m.marked[m.ls[r].ID]
	}
	if all {
		clear(m.marked)
		return
	}
	for _, r := range m.rows {
		m.marked[m.ls[r].ID] = true
	}
}

func (m *Model) kick() tea.Cmd {
	if len(m.marked) > 0 {
		ids := m.Marked()
		return common.Send(common.KickListenersRequest{Mount: m.mount, IDs: ids,
			Label: strconv.Itoa(len(ids)) + " marked listeners"})
	}
	if l, ok := m.Selected(); ok {
		return common.Send(common.KickListenersRequest{Mount: m.mount, IDs: []uint64{l.ID},
			Label: "listener " + strconv.FormatUint(l.ID, 10) + " (" + l.Addr + ")"})
	}
	return nil
}

// Title is the tab label: "Listeners 12", with the filter's and the
// marked count.
func (m *Model) Title(count int) string {
	t := "Listeners " + common.Count(count)
	if m.filter != "" {
		t = "Listeners " + strconv.Itoa(len(m.rows)) + "/" + common.Count(count)
	}
	if len(m.marked) > 0 {
		t += " · " + strconv.Itoa(len(m.marked)) + " marked"
	}
	return t
}

// View implements common.Pane.
func (m *Model) View(focused bool) string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	table := m.table(focused)
	if m.tableW == m.width {
		return table
	}
	// The histogram beside the table.
	s := m.styles
	side := []string{s.TableHeader.Render(common.Fit("LISTENING FOR", histW))}
	for _, l := range common.Histogram(binLabels, m.bins, histW) {
		side = append(side, s.Accent.Render(l))
	}
	tl := strings.Split(table, "\n")
	for i := range tl {
		right := ""
		if i < len(side) {
			right = side[i]
		}
		tl[i] = common.Fit(tl[i], m.tableW) + " " + right
	}
	return common.Lines(tl, m.width, m.height)
}

func (m *Model) table(focused bool) string {
	s := m.styles
	w := m.tableW
	widths := m.widths
	arrow := " ▼"
	if m.reverse {
		arrow = " ▲"
	}
	lines := make([]string, 0, m.height)
	lines = append(lines, s.TableHeader.Render(common.Fit(common.Row(m.cols, widths, common.HeaderCells(m.cols, sortCol(m.sort), arrow)), w)))
	if len(m.rows) == 0 && m.height > 1 {
		msg := "no listeners"
		switch {
		case m.mount == "":
			msg = "no mount selected"
		case m.unknown.Has(engine.UnknownListeners):
			msg = "this server does not list its listeners (Icecast without admin credentials)"
		case m.loading && len(m.ls) == 0:
			msg = "reading the listeners of " + m.mount + "…"
		case m.filter != "" && len(m.ls) > 0:
			msg = "no listener matches the filter"
		}
		lines = append(lines, s.Dim.Render(common.Clip("  "+msg, w)))
	}
	body := m.bodyHeight()
	// Styles become escape strings once per frame, not once per cell.
	clear(m.paints)
	m.paints[colUA] = common.PaintOf(s.Dim)
	markedPaint, accent, dim := common.PaintOf(s.Marked), common.PaintOf(s.Accent), common.PaintOf(s.Dim)
	var b strings.Builder
	for i := m.offset; i < len(m.rows) && i < m.offset+body; i++ {
		l := &m.ls[m.rows[i]]
		cursor := i == m.cursor
		m.rowCells(l, cursor)
		b.Reset()
		switch {
		case cursor && focused:
			common.WriteRow(&b, m.cols, widths, m.cells)
			lines = append(lines, s.Selected.Render(common.Fit(b.String(), w)))
		case m.marked[l.ID]:
			common.WriteRow(&b, m.cols, widths, m.cells)
			lines = append(lines, markedPaint.S(b.String()))
		default:
			m.paints[colMark] = accent
			if cursor {
				m.paints[colMark] = dim // without focus, the cursor is a dim ▸ only
			}
			common.WriteStyledRow(&b, m.cols, widths, m.cells, m.paints)
			lines = append(lines, b.String())
		}
	}
	for len(lines) < m.height-btoi(m.filter != "")-btoi(m.histRow) {
		lines = append(lines, "")
	}
	if m.filter != "" {
		lines = append(lines, s.Dim.Render(common.Clip("/"+m.filter+"  "+strconv.Itoa(len(m.rows))+" of "+
			strconv.Itoa(len(m.ls))+" listeners · / edits, esc clears", w)))
	}
	if m.histRow {
		parts := make([]string, len(binLabels))
		for i, l := range binLabels {
			parts[i] = l + " " + strconv.Itoa(m.bins[i])
		}
		lines = append(lines, s.Dim.Render(common.Clip("listening "+strings.Join(parts, " · "), w)))
	}
	return common.Lines(lines, w, m.height)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (m *Model) rowCells(l *engine.ListenerSnapshot, cursor bool) {
	c := m.cells
	c[colMark] = ""
	switch {
	case m.marked[l.ID]:
		c[colMark] = "*"
	case cursor:
		c[colMark] = "▸"
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
	if m.unknown.Has(engine.UnknownListenerDetail) {
		c[colSent], c[colLag], c[colICY] = "–", "–", "–"
	}
}
