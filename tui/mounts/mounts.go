// Package mounts is the mounts table: one row per mount with its state,
// format, bitrates, listeners, uptime and title; sortable by column and
// filtered with a typed query.
package mounts

import (
	"cmp"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/engine/frame"
	"github.com/icedeck/icedeck/themes"
	"github.com/icedeck/icedeck/tui/common"
	"github.com/icedeck/icedeck/tui/keys"
)

// SortColumn is what the table is ordered by.
type SortColumn int

const (
	ByName SortColumn = iota
	ByState
	ByListeners
	ByBitrate
	ByUptime
	numSorts
)

func (c SortColumn) String() string {
	return [...]string{"mount", "state", "listeners", "kb/s", "uptime"}[c]
}

const (
	colMark = iota
	colName
	colState
	colLUFS  // short-term loudness, from the audio analysis
	colTP    // true peak since the source connected
	colAudio // the analysis's flags: clipping, phase, undecodable
	colFormat
	colRate
	colListeners
	colUptime
	colTitle
)

// columns are the table's; without the audio analysis its three columns
// are left out (width 0).
func columns(audio bool) []common.Column {
	lufs, tp, flags := common.Column{Title: "LUFS", Width: 5, Right: true, Drop: 1}, common.Column{Title: "TP", Width: 5, Right: true, Drop: 1},
		common.Column{Title: "AUDIO", Width: 5, Drop: 2}
	if !audio {
		lufs, tp, flags = common.Column{}, common.Column{}, common.Column{}
	}
	return []common.Column{
		{Title: "", Width: 1},
		{Title: "MOUNT", Width: 10, Flex: 2},
		{Title: "STATE", Width: 7},
		lufs, tp, flags,
		{Title: "FORMAT", Width: 12, Drop: 2},
		{Title: "KB/S D/M", Width: 10, Right: true, Drop: 3},
		{Title: "LISTENERS", Width: 11, Right: true},
		{Title: "UPTIME", Width: 8, Right: true, Drop: 4},
		{Title: "TITLE", Width: 8, Flex: 3, Drop: 5},
	}
}

// sortCol is the table column of a sort column, for the header arrow.
func sortCol(c SortColumn) int {
	return [...]int{colName, colState, colListeners, colRate, colUptime}[c]
}

// Model is the mounts table.
type Model struct {
	styles  *themes.Styles
	keys    *keys.KeyMap
	cols    []common.Column
	width   int
	height  int
	focused bool

	all  []engine.MountSnapshot
	rows []int // indices into all, filtered and sorted
	now  time.Time

	cursor, offset int
	selected       string // selected mount name, kept across snapshots

	sort    SortColumn
	reverse bool

	filter    string
	filtering bool

	auditioning string
	silent      bool
	recording   map[string]bool
	pushed      map[string]bool

	audio    map[string]engine.AudioStats // nil without the analysis
	analysed bool
	clips    map[string]clipSeen
}

// clipSeen is when a mount's clipped count last grew, for the flag.
type clipSeen struct {
	n  uint64
	at time.Time
}

// clipFlagTime is how long "clip" stays after samples clipped.
const clipFlagTime = 10 * time.Second

// New returns an empty table.
func New(s *themes.Styles, k *keys.KeyMap) *Model {
	return &Model{styles: s, keys: k, cols: columns(false), clips: map[string]clipSeen{}}
}

// SetSize implements common.Component.
func (m *Model) SetSize(w, h int) { m.width, m.height = w, h; m.fix() }

// SetStyles implements common.Component.
func (m *Model) SetStyles(s *themes.Styles) { m.styles = s }

// SetFocused implements common.Component.
func (m *Model) SetFocused(f bool) { m.focused = f }

// SetSnapshot replaces the data. now is the snapshot's clock.
func (m *Model) SetSnapshot(ms []engine.MountSnapshot, now time.Time) {
	m.all, m.now = ms, now
	for name, st := range m.audio {
		if c, ok := m.clips[name]; !ok || st.ClippedSamples < c.n {
			m.clips[name] = clipSeen{n: st.ClippedSamples} // first look, or counted afresh: nothing new
		} else if st.ClippedSamples > c.n {
			m.clips[name] = clipSeen{n: st.ClippedSamples, at: now}
		}
	}
	m.rebuild()
}

// SetMarks tells the table which mount is auditioned (and whether the
// player hears silence) and which are being recorded.
func (m *Model) SetMarks(auditioning string, silent bool, recording map[string]bool) {
	m.auditioning, m.silent, m.recording = auditioning, silent, recording
}

// SetAudio gives the table what the audio analysis measured per mount;
// analysed false (no analysis at all) leaves its columns out. Call it
// before SetSnapshot.
func (m *Model) SetAudio(audio map[string]engine.AudioStats, analysed bool) {
	m.audio = audio
	if analysed != m.analysed {
		m.analysed = analysed
		m.cols = columns(analysed)
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

// Names returns every mount name in the snapshot, in table order, filter ignored.
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

// Filter returns the filter text and whether it is being typed.
func (m *Model) Filter() (string, bool) { return m.filter, m.filtering }

// Filtering reports whether the filter is being typed (global keys are off).
func (m *Model) Filtering() bool { return m.filtering }

// Len is the number of rows shown after filtering.
func (m *Model) Len() int { return len(m.rows) }

// WantHeight is the height the table would like, at most limit: a header,
// its rows (at least one, for the "no mounts" line) and the filter line.
func (m *Model) WantHeight(limit int) int {
	h := 1 + max(len(m.rows), 1)
	if m.filtering || m.filter != "" {
		h++
	}
	return common.Clamp(h, 1, max(limit, 1))
}

// rebuild filters and sorts, keeping the selected mount under the cursor.
func (m *Model) rebuild() {
	m.rows = m.rows[:0]
	q := strings.ToLower(m.filter)
	for i := range m.all {
		if q == "" || m.matches(&m.all[i], q) {
			m.rows = append(m.rows, i)
		}
	}
	slices.SortStableFunc(m.rows, func(a, b int) int {
		c := m.compare(&m.all[a], &m.all[b])
		if m.reverse {
			c = -c
		}
		if c == 0 {
			c = cmp.Compare(m.all[a].Name, m.all[b].Name)
		}
		return c
	})
	m.cursor = 0
	for i, r := range m.rows {
		if m.all[r].Name == m.selected {
			m.cursor = i
			break
		}
	}
	m.fix()
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
	if m.filtering || m.filter != "" {
		h--
	}
	return max(h, 0)
}

func (m *Model) matches(ms *engine.MountSnapshot, q string) bool {
	return strings.Contains(strings.ToLower(ms.Name), q) ||
		strings.Contains(strings.ToLower(ms.Title), q) ||
		strings.Contains(strings.ToLower(Format(ms)), q) ||
		strings.Contains(m.State(ms), q) || strings.Contains(string(ms.State), q)
}

func (m *Model) compare(a, b *engine.MountSnapshot) int {
	switch m.sort {
	case ByState:
		return cmp.Compare(m.State(a), m.State(b))
	case ByListeners:
		return -cmp.Compare(a.ListenerCount, b.ListenerCount) // most first
	case ByBitrate:
		return -cmp.Compare(measured(a), measured(b))
	case ByUptime:
		return -cmp.Compare(m.uptime(a), m.uptime(b))
	}
	return cmp.Compare(a.Name, b.Name)
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

// Update implements common.Component.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	if m.filtering {
		m.typeFilter(k)
		return nil
	}
	if d, ok := m.keys.Step(k, m.bodyHeight(), len(m.rows)); ok {
		m.Move(d)
		return nil
	}
	switch {
	case key.Matches(k, m.keys.Sort):
		m.sort = (m.sort + 1) % numSorts
		m.rebuild()
	case key.Matches(k, m.keys.SortReverse):
		m.reverse = !m.reverse
		m.rebuild()
	case key.Matches(k, m.keys.Filter):
		m.filtering = true
		m.fix()
	}
	return nil
}

// typeFilter edits the filter: printable text appends, backspace deletes,
// ctrl+u/ctrl+w clear, enter keeps the filter, esc drops it.
func (m *Model) typeFilter(k tea.KeyPressMsg) {
	switch k.String() {
	case "esc":
		m.filter, m.filtering = "", false
	case "enter":
		m.filtering = false
	case "backspace":
		if r := []rune(m.filter); len(r) > 0 {
			m.filter = string(r[:len(r)-1])
		}
	case "ctrl+u", "ctrl+w":
		m.filter = ""
	default:
		if k.Text != "" && k.Mod&^tea.ModShift == 0 {
			m.filter += k.Text
		}
	}
	m.rebuild()
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

// ShortHelp implements common.Component.
func (m *Model) ShortHelp() []key.Binding {
	return []key.Binding{m.keys.Filter, m.keys.Sort, m.keys.SortReverse, m.keys.Audition}
}

// View implements common.Component.
func (m *Model) View() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	s := m.styles
	widths := common.Widths(m.cols, m.width)
	arrow := " ▼"
	if m.reverse {
		arrow = " ▲"
	}
	lines := make([]string, 0, m.height)
	lines = append(lines, s.TableHeader.Render(common.Fit(common.Row(m.cols, widths, common.HeaderCells(m.cols, sortCol(m.sort), arrow)), m.width)))

	body := m.bodyHeight()
	if len(m.rows) == 0 && body > 0 {
		msg := "no mounts yet: waiting for a source to connect"
		if m.filter != "" {
			msg = "no mount matches the filter"
		}
		lines = append(lines, s.Dim.Render(common.Clip("  "+msg, m.width)))
	}
	cells := make([]string, len(m.cols))
	paints := make([]common.Paint, len(m.cols))
	markPaint, titlePaint := common.PaintOf(s.Accent), common.PaintOf(s.Dim)
	var b strings.Builder
	for i := m.offset; i < len(m.rows) && i < m.offset+body; i++ {
		ms := &m.all[m.rows[i]]
		m.cells(ms, cells)
		b.Reset()
		selected := i == m.cursor
		if selected {
			common.WriteRow(&b, m.cols, widths, cells)
			row := common.Fit(b.String(), m.width)
			if m.focused {
				lines = append(lines, s.Selected.Render(row))
			} else {
				lines = append(lines, s.SelectedDim.Render(row))
			}
			continue
		}
		paints[colState] = common.PaintOf(m.stateStyle(ms))
		paints[colLUFS], paints[colTP], paints[colAudio] = m.audioPaints(ms.Name)
		paints[colMark] = markPaint
		paints[colTitle] = titlePaint
		common.WriteStyledRow(&b, m.cols, widths, cells, paints)
		lines = append(lines, b.String())
	}
	if m.filtering || m.filter != "" {
		for len(lines) < m.height-1 {
			lines = append(lines, "")
		}
		f := "/" + m.filter
		if m.filtering {
			f += "▏"
			lines = append(lines, s.Accent.Render(common.Clip(f, m.width)))
		} else {
			lines = append(lines, s.Dim.Render(common.Clip(f+"   (/ edit, esc in filter clears)", m.width)))
		}
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

func (m *Model) stateStyle(ms *engine.MountSnapshot) lipgloss.Style {
	switch m.State(ms) {
	case "live":
		return m.styles.Live
	case "stalled":
		return m.styles.Stalled
	case "grace", "fallback", "relay":
		return m.styles.Grace
	case "silent":
		return m.styles.Warn
	case "idle":
		return m.styles.Dim
	}
	return m.styles.Text
}

func (m *Model) cells(ms *engine.MountSnapshot, out []string) {
	mark := ""
	switch {
	case ms.Name == m.auditioning:
		mark = "▶"
	case m.recording[ms.Name]:
		mark = "●"
	}
	out[colMark] = mark
	out[colName] = ms.Name
	out[colState] = m.State(ms)
	out[colLUFS], out[colTP], out[colAudio] = m.audioCells(ms.Name)
	out[colFormat] = Format(ms)
	decl := 0
	if ms.Source != nil {
		decl = ms.Source.Ice.Bitrate
	}
	out[colRate] = common.Kbps(decl) + "/" + common.Kbps(measured(ms))
	out[colListeners] = strconv.Itoa(ms.ListenerCount) + " (" + strconv.Itoa(ms.ListenerPeak) + ")"
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

// audioCells are the short-term loudness, the true peak and the flag of
// a mount ("–" where the analysis has nothing).
func (m *Model) audioCells(name string) (lufs, tp, flag string) {
	st, ok := m.audio[name]
	if !ok {
		return "–", "–", ""
	}
	return common.Level(st.ShortTermLUFS), common.Level(st.TruePeakDBTP), m.flag(name, &st)
}

// flag is the one word that matters most about a mount's audio.
func (m *Model) flag(name string, st *engine.AudioStats) string {
	switch {
	case st.State == "undecodable":
		return "undec" // the Source tab says why
	case m.clipping(name):
		return "clip"
	case st.PhaseWarning:
		return "phase"
	case st.State == "over max_mounts" || st.State == "off":
		return "off"
	case st.Mono && st.Channels == 2:
		return "mono"
	}
	return ""
}

func (m *Model) clipping(name string) bool {
	c := m.clips[name]
	return !c.at.IsZero() && m.now.Sub(c.at) < clipFlagTime
}

// audioPaints colour the audio cells: a true peak over -1 dBTP and
// clipping red, loudness over -9 LUFS (short-term) and a phase problem
// yellow.
func (m *Model) audioPaints(name string) (lufs, tp, flag common.Paint) {
	st, ok := m.audio[name]
	if !ok {
		return common.PaintOf(m.styles.Dim), common.PaintOf(m.styles.Dim), common.Paint{}
	}
	s := m.styles
	lufs, tp, flag = common.PaintOf(s.Text), common.PaintOf(s.Text), common.PaintOf(s.Dim)
	if st.ShortTermLUFS > -9 {
		lufs = common.PaintOf(s.Warn)
	}
	if st.TruePeakDBTP > -1 {
		tp = common.PaintOf(s.Error)
	}
	switch m.flag(name, &st) {
	case "undec", "clip":
		flag = common.PaintOf(s.Error)
	case "phase":
		flag = common.PaintOf(s.Warn)
	}
	return lufs, tp, flag
}
