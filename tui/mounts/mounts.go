// Package mounts is the mounts table: one row per mount with its state,
// what is wrong with it (the health flags), loudness, format, bitrate,
// listeners, uptime and title; sortable by column and filtered.
package mounts

import (
	"cmp"
	"net/url"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/engine/frame"
	"github.com/icedeck/icedeck/themes"
	"github.com/icedeck/icedeck/tui/common"
	"github.com/icedeck/icedeck/tui/health"
	"github.com/icedeck/icedeck/tui/keys"
)

// SortColumn is what the table is ordered by.
type SortColumn int

const (
	ByName SortColumn = iota
	ByState
	ByHealth
	ByListeners
	ByBitrate
	ByUptime
	numSorts
)

func (c SortColumn) String() string {
	return [...]string{"mount", "state", "health", "listeners", "kb/s", "uptime"}[c]
}

const (
	colMark      = iota // cursor (unfocused), audition, recording
	colServer           // the fleet console's server, when all servers are shown
	colName             //
	colState            //
	colHealth           // the health flags
	colLUFS             // short-term loudness, from the audio analysis
	colTP               // true peak since the source connected
	colFormat           //
	colRate             // measured kb/s
	colListeners        //
	colUptime           //
	colTitle            //
	numCols
)

// columns are the table's; without the audio analysis its two columns
// are left out (width 0). The flexing columns grow to their longest
// cell (set in measure), so a wide terminal gives its room to FORMAT and
// TITLE rather than to padding.
func columns(audio, servers bool) []common.Column {
	lufs, tp := common.Column{Title: "LUFS", Width: 5, Right: true, Drop: 3}, common.Column{Title: "TP", Width: 5, Right: true, Drop: 3}
	if !audio {
		lufs, tp = common.Column{}, common.Column{}
	}
	server := common.Column{}
	if servers {
		server = common.Column{Title: "SERVER", Width: 6}
	}
	return []common.Column{
		{Title: "", Width: 3},
		server,
		{Title: "MOUNT", Width: 10, Flex: 2},
		{Title: "STATE", Width: 8},
		{Title: "HEALTH", Width: 6, Flex: 1},
		lufs, tp,
		{Title: "FORMAT", Width: 8, Flex: 2, Drop: 2},
		{Title: "kb/s", Width: 6, Right: true, Drop: 4},
		{Title: "LISTENERS", Width: 11, Right: true},
		{Title: "UPTIME", Width: 8, Right: true, Drop: 5},
		{Title: "TITLE", Width: 8, Flex: 4, Drop: 6},
	}
}

// sortCol is the table column of a sort column, for the header arrow.
func sortCol(c SortColumn) int {
	return [...]int{colName, colState, colHealth, colListeners, colRate, colUptime}[c]
}

// Model is the mounts table.
type Model struct {
	styles *themes.Styles
	keys   *keys.KeyMap
	cols   []common.Column
	widths []int
	width  int
	height int

	all   []engine.MountSnapshot
	rows  []int // indices into all, filtered and sorted
	now   time.Time
	flags func(name string) []health.Flag

	cursor, offset int
	selected       string // selected mount name, kept across snapshots

	sort    SortColumn
	reverse bool
	filter  string

	auditioning string
	silent      bool
	recording   map[string]bool
	pushed      map[string]bool

	audio    map[string]engine.AudioStats // nil without the analysis
	analysed bool

	// The fleet console: mounts are named "SERVER/path" (local ones
	// "/path"); the MOUNT column shows the path.
	fleet       bool
	showServers bool            // the SERVER column: every server's mounts are shown
	stale       map[string]bool // servers whose mounts are shown as last known, dimmed
}

// SetServers tells the table it shows a fleet's mounts: whether to show
// the SERVER column, and which servers' figures are old (dimmed).
func (m *Model) SetServers(show bool, stale map[string]bool) {
	m.fleet, m.stale = true, stale
	if show != m.showServers {
		m.showServers = show
		m.cols = columns(m.analysed, show)
		m.measure()
	}
}

// serverAndPath parts a mount's name for its two columns.
func (m *Model) serverAndPath(name string) (server, path string) {
	if !m.fleet {
		return "", name
	}
	server, path = common.SplitMount(name)
	if server == "" {
		server = "local"
	}
	return server, path
}

// New returns an empty table; flags gives a mount's health flags.
func New(s *themes.Styles, k *keys.KeyMap, flags func(name string) []health.Flag) *Model {
	return &Model{styles: s, keys: k, cols: columns(false, false), flags: flags}
}

// SetSize implements common.Pane.
func (m *Model) SetSize(w, h int) {
	m.width, m.height = w, h
	m.measure()
	m.fix()
}

// SetSnapshot replaces the data (after SetMarks, SetAudio and SetPushed).
// now is the snapshot's clock.
func (m *Model) SetSnapshot(ms []engine.MountSnapshot, now time.Time) {
	m.all, m.now = ms, now
	m.rebuild()
	m.measure()
}

// SetMarks tells the table which mount is auditioned (and whether the
// player hears silence) and which are being recorded.
func (m *Model) SetMarks(auditioning string, silent bool, recording map[string]bool) {
	m.auditioning, m.silent, m.recording = auditioning, silent, recording
}

// SetAudio gives the table what the audio analysis measured per mount;
// analysed false (no analysis at all) leaves its columns out.
func (m *Model) SetAudio(audio map[string]engine.AudioStats, analysed bool) {
	m.audio = audio
	if analysed != m.analysed {
		m.analysed = analysed
		m.cols = columns(analysed, m.showServers)
	}
}

// SetPushed tells the table which mounts are pushed to another server.
func (m *Model) SetPushed(pushed map[string]bool) { m.pushed = pushed }

// Selected returns the mount under the cursor.
func (m *Model) Selected() (engine.MountSnapshot, bool) {
	if m.cursor < 0 || m.cursor >= len(m.rows) {
		return engine.MountSnapshot{}, false
	}
	return m.all[m.rows[m.cursor]], true
}

// Select puts the cursor on the mount called name, and reports whether it
// is in the table (it may be filtered out).
func (m *Model) Select(name string) bool {
	for i, r := range m.rows {
		if m.all[r].Name == name {
			m.cursor = i
			m.fix()
			return true
		}
	}
	return false
}

// Mounts returns every mount of the snapshot, filter ignored.
func (m *Model) Mounts() []engine.MountSnapshot { return m.all }

// Names returns every mount name in the snapshot, filter ignored.
func (m *Model) Names() []string {
	out := make([]string, len(m.all))
	for i, ms := range m.all {
		out[i] = ms.Name
	}
	return out
}

// Order returns the mount names as shown: filtered and sorted.
func (m *Model) Order() []string {
	out := make([]string, len(m.rows))
	for i, r := range m.rows {
		out[i] = m.all[r].Name
	}
	return out
}

// Sort returns the sort column and direction.
func (m *Model) Sort() (SortColumn, bool) { return m.sort, m.reverse }

// Filter returns the filter kept.
func (m *Model) Filter() string { return m.filter }

// SetFilter filters the rows by text (name, title, format, state).
func (m *Model) SetFilter(text string) {
	m.filter = text
	m.rebuild()
}

// Len is the number of rows shown after filtering.
func (m *Model) Len() int { return len(m.rows) }

// WantHeight is the height the table would like, at most limit: a header,
// its rows (at least one, for the "no mounts" line) and the filter line.
func (m *Model) WantHeight(limit int) int {
	h := 1 + max(len(m.rows), 1)
	if m.filter != "" {
		h++
	}
	return common.Clamp(h, 1, max(limit, 1))
}

// Window returns the rows in view, first and last counted from 1, and
// how many there are: "12–22 of 42".
func (m *Model) Window() (first, last, total int) {
	if len(m.rows) == 0 || m.bodyHeight() == 0 {
		return 0, 0, len(m.rows)
	}
	return m.offset + 1, min(m.offset+m.bodyHeight(), len(m.rows)), len(m.rows)
}

// Scrolls reports whether some rows are out of view.
func (m *Model) Scrolls() bool { return m.bodyHeight() > 0 && len(m.rows) > m.bodyHeight() }

// rebuild filters and sorts, keeping the selected mount under the cursor.
func (m *Model) rebuild() {
	m.rows = m.rows[:0]
	q := strings.ToLower(m.filter)
	for i := range m.all {
		if q == "" || m.matches(&m.all[i], q) {
			m.rows = append(m.rows, i)
		}
	}
	common.SortRows(m.rows, func(a, b int) int { return m.compare(&m.all[a], &m.all[b]) },
		func(a, b int) int { return cmp.Compare(m.all[a].Name, m.all[b].Name) }, m.reverse)
	m.cursor = 0
	for i, r := range m.rows {
		if m.all[r].Name == m.selected {
			m.cursor = i
			break
		}
	}
	m.fix()
}

// measure sets the flexing columns' limits from the data and lays the
// columns out for the width.
func (m *Model) measure() {
	name, format, flags, server := 10, 8, 6, 6
	for i := range m.all {
		ms := &m.all[i]
		srv, path := m.serverAndPath(ms.Name)
		name = max(name, common.Width(path))
		server = max(server, common.Width(srv))
		format = max(format, common.Width(Format(ms)))
		flags = max(flags, common.Width(flagWords(m.flags(ms.Name))))
	}
	// Up to a limit the longest cell is the least width, so a format or a
	// flag is not cut while a title takes the room; beyond, they share.
	set := func(c, longest, least, limit int) {
		m.cols[c].Width, m.cols[c].Max = common.Clamp(longest, least, limit), longest
	}
	set(colName, name, 10, 20)
	if m.showServers {
		set(colServer, server, 6, 16)
	}
	set(colFormat, format, 8, 14)
	set(colHealth, flags, 6, 12)
	// The sorted column's title carries the arrow, whole.
	if c := &m.cols[sortCol(m.sort)]; c.Width > 0 {
		c.Width = max(c.Width, ansi.StringWidth(c.Title)+2)
	}
	m.widths = common.Widths(m.cols, m.width)
}

func (m *Model) fix() {
	m.cursor = common.Clamp(m.cursor, 0, len(m.rows)-1)
	if len(m.rows) > 0 {
		m.selected = m.all[m.rows[m.cursor]].Name
	}
	m.offset = common.Scroll(m.offset, m.cursor, m.bodyHeight(), len(m.rows))
}

func (m *Model) bodyHeight() int {
	h := m.height - 1
	if m.filter != "" {
		h--
	}
	return max(h, 0)
}

func (m *Model) matches(ms *engine.MountSnapshot, q string) bool {
	return strings.Contains(strings.ToLower(ms.Name), q) ||
		strings.Contains(strings.ToLower(ms.Title), q) ||
		strings.Contains(strings.ToLower(Format(ms)), q) ||
		strings.Contains(m.State(ms), q) || strings.Contains(string(ms.State), q) ||
		strings.Contains(flagWords(m.flags(ms.Name)), q)
}

func (m *Model) compare(a, b *engine.MountSnapshot) int {
	switch m.sort {
	case ByState:
		return cmp.Compare(m.State(a), m.State(b))
	case ByHealth: // the worst first, then the most flags
		fa, fb := m.flags(a.Name), m.flags(b.Name)
		if c := -cmp.Compare(rank(fa), rank(fb)); c != 0 {
			return c
		}
		return -cmp.Compare(len(fa), len(fb))
	case ByListeners:
		return -cmp.Compare(a.ListenerCount, b.ListenerCount) // most first
	case ByBitrate:
		return -cmp.Compare(measured(a), measured(b))
	case ByUptime:
		return -cmp.Compare(m.uptime(a), m.uptime(b))
	}
	return cmp.Compare(a.Name, b.Name)
}

// rank orders flag sets: none, notes only, warnings, bad.
func rank(fs []health.Flag) int {
	if len(fs) == 0 {
		return 0
	}
	return int(health.Worst(fs)) + 1
}

func measured(ms *engine.MountSnapshot) int {
	if ms.Source == nil {
		return 0
	}
	if ms.Source.Bitrate10s > 0 {
		return ms.Source.Bitrate10s
	}
	return ms.Source.Bitrate1s
}

func (m *Model) uptime(ms *engine.MountSnapshot) time.Duration {
	if ms.Source == nil || ms.Source.Connected.IsZero() {
		return 0
	}
	return m.now.Sub(ms.Source.Connected)
}

// Bindings implements common.Pane: the list keys, filter and sort.
func (m *Model) Bindings() []common.Binding {
	k := m.keys
	return append(common.Movement(k, m.bodyHeight(), len(m.rows), m.Move),
		common.Bind(k.Filter, func() tea.Cmd {
			return common.Send(common.FilterRequest{What: "mounts (name, title, format, state, health)", Text: m.filter, Set: m.SetFilter})
		}).OnHelp(),
		common.Do(k.Sort, func() { m.sort = (m.sort + 1) % numSorts; m.rebuild(); m.measure() }).OnHelp(),
		common.Do(k.SortReverse, func() { m.reverse = !m.reverse; m.rebuild() }),
	)
}

// Move moves the cursor by delta rows.
func (m *Model) Move(delta int) {
	m.cursor += delta
	m.fix()
}

// Scroll moves the view (mouse wheel): the cursor follows.
func (m *Model) Scroll(delta int) { m.Move(delta) }

// Click selects the row at line y of the pane (0 = header). It reports
// whether a row was hit.
func (m *Model) Click(y int) bool {
	i := m.offset + y - 1
	if y < 1 || y > m.bodyHeight() || i >= len(m.rows) {
		return false
	}
	m.cursor = i
	m.fix()
	return true
}

// View implements common.Pane. The focused table draws its cursor as a
// full-width bar; without focus the selected row keeps its colours. A ▸
// marks it either way (it is what a screen without colours shows).
func (m *Model) View(focused bool) string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	s := m.styles
	widths := m.widths
	arrow := " ▼"
	if m.reverse {
		arrow = " ▲"
	}
	header := common.Row(m.cols, widths, common.HeaderCells(m.cols, sortCol(m.sort), arrow))
	if first, last, total := m.Window(); m.Scrolls() {
		// The position goes where the header has room for it whole.
		pos := strconv.Itoa(first) + "–" + strconv.Itoa(last) + " of " + strconv.Itoa(total)
		trimmed := strings.TrimRight(header, " ")
		if room := m.width - ansi.StringWidth(trimmed) - 2; room >= ansi.StringWidth(pos) {
			header = trimmed + strings.Repeat(" ", room-ansi.StringWidth(pos)+2) + pos
		}
	}
	lines := make([]string, 0, m.height)
	lines = append(lines, s.TableHeader.Render(common.Fit(header, m.width)))

	body := m.bodyHeight()
	if len(m.rows) == 0 && body > 0 {
		msg := "no mounts yet: waiting for a source to connect"
		if m.filter != "" {
			msg = "no mount matches the filter"
		}
		lines = append(lines, s.Dim.Render(common.Clip("  "+msg, m.width)))
	}
	cells := make([]string, numCols)
	paints := make([]common.Paint, numCols)
	pal := newPalette(s) // styles become escape strings once per frame, not once per cell
	markPaint, titlePaint, dim := pal.accent, pal.dim, pal.dim
	var b strings.Builder
	for i := m.offset; i < len(m.rows) && i < m.offset+body; i++ {
		ms := &m.all[m.rows[i]]
		selected := i == m.cursor
		flags := m.flags(ms.Name)
		m.cells(ms, flags, selected, cells)
		b.Reset()
		if selected && focused {
			common.WriteRow(&b, m.cols, widths, cells)
			lines = append(lines, s.Selected.Render(common.Fit(b.String(), m.width)))
			continue
		}
		clear(paints) // a stale row before dimmed them all
		paints[colMark] = markPaint
		if selected {
			paints[colMark] = dim // without focus, the cursor is a dim ▸ only
		}
		paints[colState] = m.statePaint(ms, flags, pal)
		paints[colHealth] = pal.level(health.Worst(flags))
		paints[colLUFS], paints[colTP] = m.audioPaints(ms.Name, pal)
		paints[colTitle] = titlePaint
		paints[colRate], paints[colUptime] = common.Paint{}, common.Paint{}
		if ms.Source == nil {
			paints[colRate], paints[colUptime] = dim, dim
		}
		if srv, _ := common.SplitMount(ms.Name); m.stale[srv] {
			// Last known figures of a server that does not answer now.
			for c := colServer; c < numCols; c++ {
				paints[c] = dim
			}
		}
		common.WriteStyledRow(&b, m.cols, widths, cells, paints)
		lines = append(lines, b.String())
	}
	if m.filter != "" {
		for len(lines) < m.height-1 {
			lines = append(lines, "")
		}
		lines = append(lines, s.Dim.Render(common.Clip("/"+m.filter+"  "+strconv.Itoa(len(m.rows))+" of "+
			strconv.Itoa(len(m.all))+" mounts · / edits, esc clears", m.width)))
	}
	return common.Lines(lines, m.width, m.height)
}

// State is the state word shown for a mount: the engine's; "silent" when
// it is being auditioned and the player hears silence; "idle" for an
// on-demand relay that waits for a listener (the engine's "relay" would
// read as if it were trying to connect).
func (m *Model) State(ms *engine.MountSnapshot) string {
	switch {
	case ms.Name == m.auditioning && m.silent && ms.State == engine.StateLive:
		return "silent"
	case ms.State == engine.StateRelay && ms.Relay != nil && ms.Relay.State == engine.RelayIdle:
		return "idle"
	}
	return string(ms.State)
}

// statePaint colours the state; a live mount with trouble takes the
// colour of its worst flag, so it never reads as a healthy green live.
func (m *Model) statePaint(ms *engine.MountSnapshot, flags []health.Flag, p *palette) common.Paint {
	if w := health.Worst(flags); w > health.Note {
		return p.level(w)
	}
	switch m.State(ms) {
	case "live":
		return p.live
	case "stalled":
		return p.stalled
	case "grace", "fallback", "relay":
		return p.grace
	case "silent":
		return p.err
	case "idle":
		return p.dim
	}
	return p.text
}

// flagWords is the flags as the cell shows them: "sync crc".
func flagWords(fs []health.Flag) string {
	switch len(fs) {
	case 0:
		return ""
	case 1:
		return fs[0].Word
	}
	w := make([]string, len(fs))
	for i, f := range fs {
		w[i] = f.Word
	}
	return strings.Join(w, " ")
}

// flagCell fits the flags in width: every word, or the worst and how
// many more ("sync+2") rather than a word cut in half.
func flagCell(fs []health.Flag, width int) string {
	all := flagWords(fs)
	if len(fs) < 2 || common.Width(all) <= width {
		return all
	}
	return fs[0].Word + "+" + strconv.Itoa(len(fs)-1)
}

func (m *Model) cells(ms *engine.MountSnapshot, flags []health.Flag, cursor bool, out []string) {
	marks := " "
	if cursor {
		marks = "▸"
	}
	if ms.Name == m.auditioning {
		marks += "▶"
	} else {
		marks += " "
	}
	if m.recording[ms.Name] {
		marks += "●"
	}
	out[colMark] = marks
	out[colServer], out[colName] = m.serverAndPath(ms.Name)
	out[colState] = m.State(ms)
	out[colHealth] = flagCell(flags, max(m.widths[colHealth], 1))
	out[colLUFS], out[colTP] = m.audioCells(ms.Name)
	out[colFormat] = Format(ms)
	out[colRate] = common.Kbps(measured(ms))
	out[colListeners] = common.Count(ms.ListenerCount) + " (" + common.Count(ms.ListenerPeak) + ")"
	switch {
	case ms.Source != nil:
		out[colUptime] = common.Since(m.now, ms.Source.Connected)
	case ms.State == engine.StateGrace && !ms.GraceUntil.IsZero():
		out[colUptime] = "-" + common.Duration(ms.GraceUntil.Sub(m.now))
	default:
		out[colUptime] = "–"
	}
	out[colTitle] = ms.Title
	switch {
	case ms.State == engine.StateFallback:
		out[colTitle] = "listeners on " + ms.FallbackTo
	case ms.Relay != nil && (ms.Source == nil || ms.Title == ""):
		// Where a relayed mount comes from matters more than a stale
		// title while its relay is down.
		out[colTitle] = relayNote(ms.Relay)
	case ms.Title == "" && m.pushed[ms.Name]:
		// Only in an empty cell: a title says more, and the Source tab
		// has the push's details.
		out[colTitle] = "→ pushed"
	}
}

// relayNote says where a relay pulls from and, unless it is live, what it
// is doing: "from origin:8000 · retrying, 3 failed".
func relayNote(rs *engine.RelayStatus) string {
	host := rs.Upstream
	if u, err := url.Parse(rs.Upstream); err == nil && u.Host != "" {
		host = u.Host // never the credentials
	}
	note := "from " + host
	switch {
	case rs.State == engine.RelayLive:
	case rs.State == engine.RelayIdle:
		note += " · on demand"
	case rs.Attempts > 0:
		note += " · " + string(rs.State) + ", " + strconv.Itoa(rs.Attempts) + " failed"
	default:
		note += " · " + string(rs.State)
	}
	return note
}

// Format describes a mount's stream: "MP3 44.1k st", "AAC 48k mono", or the
// content type when the frame analysis knows nothing yet.
func Format(ms *engine.MountSnapshot) string {
	if ms.Source == nil {
		return Codec(ms.ContentType, "")
	}
	src := ms.Source
	rate, ch := src.Frames.SampleRate, src.Frames.Channels
	if rate == 0 {
		rate = src.Ice.SampleRate
	}
	if ch == 0 {
		ch = src.Ice.Channels
	}
	return common.Join(" ", Codec(src.ContentType, src.Frames.Codec), common.SampleRate(rate), common.Channels(ch))
}

// Codec names a codec for people: the frame analysis's name when known,
// else the name the content type gives (frame.FormatOf), else the content
// type itself.
func Codec(contentType, codec string) string {
	if codec != "" {
		return codec
	}
	if name := frame.FormatOf(contentType).Name; name != "" {
		return name
	}
	ct, _, _ := strings.Cut(contentType, ";")
	return strings.TrimSpace(ct)
}

// SameType reports whether two content types name the same stream
// format (frame.FormatOf's table: audio/mpeg and audio/mp3 are one), so a
// listener's player can be moved from one to the other; unknown types
// must be the same type.
func SameType(a, b string) bool {
	fa, fb := frame.FormatOf(a), frame.FormatOf(b)
	if fa.Kind != frame.KindUnknown || fb.Kind != frame.KindUnknown {
		return fa == fb
	}
	ta, _, _ := strings.Cut(a, ";")
	tb, _, _ := strings.Cut(b, ";")
	return strings.EqualFold(strings.TrimSpace(ta), strings.TrimSpace(tb))
}

// audioCells are the short-term loudness and the true peak of a mount
// ("–" where the analysis has nothing).
func (m *Model) audioCells(name string) (lufs, tp string) {
	st, ok := m.audio[name]
	if !ok {
		return "–", "–"
	}
	return common.Level(st.ShortTermLUFS), common.Level(st.TruePeakDBTP)
}

// audioPaints colour the audio cells: a true peak over -1 dBTP red,
// loudness over -9 LUFS (short-term) yellow.
func (m *Model) audioPaints(name string, pal *palette) (lufs, tp common.Paint) {
	st, ok := m.audio[name]
	if !ok {
		return pal.dim, pal.dim
	}
	lufs, tp = pal.text, pal.text
	if st.ShortTermLUFS > -9 {
		lufs = pal.warn
	}
	if st.TruePeakDBTP > -1 {
		tp = pal.err
	}
	return lufs, tp
}

// palette is the styles a frame of the table uses, made paints once.
type palette struct {
	accent, dim, text, warn, err, live, stalled, grace common.Paint
	levels                                             [health.Bad + 1]common.Paint
}

func newPalette(s *themes.Styles) *palette {
	p := common.PaintOf
	pal := &palette{accent: p(s.Accent), dim: p(s.Dim), text: p(s.Text), warn: p(s.Warn), err: p(s.Error),
		live: p(s.Live), stalled: p(s.Stalled), grace: p(s.Grace)}
	for l := range pal.levels {
		pal.levels[l] = p(health.Level(l).Style(s))
	}
	return pal
}

// level is the paint of a flag level (health.Level.Style).
func (p *palette) level(l health.Level) common.Paint { return p.levels[l] }
