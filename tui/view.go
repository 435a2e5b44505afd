package tui

import (
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/icedeck/icedeck/tui/common"
	"github.com/icedeck/icedeck/tui/keys"
	"github.com/icedeck/icedeck/tui/meter"
)

// screen is where each part of the screen is, in rows; computed by layout
// and used by View and the mouse handlers alike.
type screen struct {
	tiny             bool
	headerH          int
	mountsY, mountsH int
	tabsY            int
	bodyY, bodyH     int
	audY, audH       int
	statusY, helpY   int
	tabX             [numTabs][2]int // x range of each tab label on the tabs line
}

// layout sizes every pane for the current terminal and state.
func (m *Model) layout() screen {
	w, h := m.width, m.height
	var l screen
	if w < 20 || h < 6 {
		l.tiny = true
		return l
	}
	l.headerH = 1
	switch {
	case h >= 20:
		l.headerH += len(m.commandLines(2))
	case h >= 14:
		l.headerH++
	}
	if m.aud.Active() && h >= 16 {
		l.audH = meter.Height
	}
	rest := h - l.headerH - 2 - l.audH // 2 = status + help lines
	l.mountsY = l.headerH
	if m.help.ShowAll {
		// The full help takes the whole middle of the screen.
		l.tabsY, l.bodyY, l.bodyH = -1, l.mountsY, max(rest, 0)
	} else {
		l.mountsH = m.mounts.WantHeight(common.Clamp(rest*2/5, 2, rest-2))
		l.tabsY = l.mountsY + l.mountsH
		l.bodyY = l.tabsY + 1
		l.bodyH = max(rest-l.mountsH-1, 0)
		m.mounts.SetSize(w, l.mountsH)
	}
	l.audY = l.bodyY + l.bodyH
	l.statusY = l.audY + l.audH
	l.helpY = l.statusY + 1

	for _, c := range []common.Component{m.listeners, m.source, m.mountEvs, m.logView} {
		c.SetSize(w, l.bodyH)
	}
	x := ansi.StringWidth(m.tabPrefix())
	for i, label := range m.tabLabels() {
		n := ansi.StringWidth(label) + 2
		l.tabX[i] = [2]int{x, x + n}
		x += n + 1
	}
	return l
}

func (m *Model) tabPrefix() string {
	ms, ok := m.mounts.Selected()
	if !ok {
		return " (no mount) "
	}
	return " " + ms.Name + " "
}

func (m *Model) tabLabels() [numTabs]string {
	return [numTabs]string{m.listeners.Title(), "Source", "Events"}
}

// View implements tea.Model.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = m.altScreen
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "icedeck"
	return v
}

// render draws the whole screen: exactly height lines of at most width cells.
func (m *Model) render() string {
	w, h := m.width, m.height
	if w <= 0 || h <= 0 {
		return ""
	}
	l := m.layout()
	s := m.styles
	if l.tiny {
		return common.Lines([]string{
			"icedeck " + plural(m.snap.Sources, "src", "src") + " " + plural(m.snap.Listeners, "lst", "lst"),
			"enlarge the terminal",
			"(" + strconv.Itoa(w) + "×" + strconv.Itoa(h) + ", need 20×6)",
			"q quits",
		}, w, h)
	}
	var b strings.Builder
	b.Grow(w * h * 2)
	add := func(text string) {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(text)
	}

	add(s.Header.Render(common.Fit(m.headerText(), w)))
	for _, line := range m.commandLines(l.headerH - 1) {
		add(s.Dim.Render(line))
	}
	if l.mountsH > 0 {
		add(m.mounts.View())
	}
	if l.tabsY >= 0 {
		add(m.tabsLine())
	}
	if l.bodyH > 0 {
		add(m.body(l))
	}
	if l.audH > 0 {
		add(meter.View(m.aud, w, s))
	}
	add(m.statusLine())
	add(m.helpLine())
	return b.String()
}

// commandLines is the ffmpeg command wrapped at spaces into at most n lines
// of the screen width (the last one clipped), so it can be copied whole
// from an 80-column terminal.
func (m *Model) commandLines(n int) []string {
	if n <= 0 {
		return nil
	}
	w := m.width
	words := strings.Fields(m.ffmpegCommand())
	var lines []string
	cur := " $"
	for _, word := range words {
		if ansi.StringWidth(cur)+1+ansi.StringWidth(word) > w && len(lines) < n-1 && cur != "   " {
			lines = append(lines, cur)
			cur = "   " + word
			continue
		}
		if cur == "   " {
			cur += word
		} else {
			cur += " " + word
		}
	}
	return append(lines, common.Clip(cur, w))
}

// helpLine is the one-line help, cached: it only changes with the context,
// whether the selected mount is relayed, the width and the theme.
func (m *Model) helpLine() string {
	ms, _ := m.mounts.Selected()
	k := helpKey{ctx: m.keyContext(), relayed: ms.Relay != nil, width: m.width, theme: m.theme}
	if k != m.helpKey || m.helpText == "" {
		m.keys.Context, m.keys.Relayed = k.ctx, k.relayed
		m.help.SetWidth(k.width)
		m.helpKey, m.helpText = k, common.Clip(m.help.ShortHelpView(m.keys.ShortHelp()), k.width)
	}
	return m.helpText
}

type helpKey struct {
	ctx     keys.Context
	relayed bool
	width   int
	theme   string
}

func (m *Model) headerText() string {
	sn := &m.snap
	// Most important first: the line is clipped on narrow terminals.
	parts := []string{" icedeck"}
	if m.opts.ReadOnly {
		parts = append(parts, "READ-ONLY")
	}
	parts = append(parts,
		"up "+common.Since(sn.Time, sn.Started),
		plural(sn.Sources, "source", "sources"),
		plural(sn.Listeners, "listener", "listeners"),
		"in "+common.Rate(m.inRate)+" out "+common.Rate(m.outRate)+" b/s",
		m.addrs(),
	)
	if m.opts.LogFile != "" {
		parts = append(parts, "log "+m.opts.LogFile)
	}
	return strings.Join(parts, " │ ")
}

func (m *Model) tabsLine() string {
	s := m.styles
	w := m.width
	if m.log {
		t := " Event log · all mounts · " + plural(m.store.Len(), "event", "events")
		if m.store.Missed > 0 {
			t += " · " + strconv.FormatUint(m.store.Missed, 10) + " missed"
		}
		if !m.logView.Following() {
			t += " · scrolled (end to follow)"
		}
		return s.TabActive.Render(common.Fit(t, w))
	}
	var b strings.Builder
	b.WriteString(s.Accent.Render(m.tabPrefix()))
	for i, label := range m.tabLabels() {
		label = " " + label + " "
		switch {
		case tab(i) == m.tab && m.focus == paneDetail:
			b.WriteString(s.TabActive.Render(label))
		case tab(i) == m.tab:
			b.WriteString(s.Accent.Render("[" + label[1:len(label)-1] + "]"))
		default:
			b.WriteString(s.TabInactive.Render(label))
		}
		b.WriteByte(' ')
	}
	return common.Clip(b.String(), w)
}

func (m *Model) body(l screen) string {
	w, h := m.width, l.bodyH
	s := m.styles
	switch {
	case m.help.ShowAll:
		lines := append([]string{s.Accent.Render(" Keys") + s.Dim.Render("  (any key closes)")}, m.fullHelp(w)...)
		if m.opts.ReadOnly {
			lines = append(lines, s.Warn.Render(" read-only: d, D, m, a and R are disabled"))
		}
		return common.Lines(lines, w, h)
	case m.picker != nil:
		p := m.picker
		what := plural(p.count, "listener", "listeners")
		if p.ids == nil {
			what = "all " + what
		}
		lines := []string{s.Accent.Render(" Move " + what + " from " + p.from + " to:")}
		start := common.Scroll(0, p.cursor, max(h-1, 1), len(p.options))
		for i := start; i < len(p.options) && len(lines) < h; i++ {
			row := common.Fit("   "+p.options[i], w)
			if i == p.cursor {
				row = s.Selected.Render(common.Fit(" ▸ "+p.options[i], w))
			}
			lines = append(lines, row)
		}
		return common.Lines(lines, w, h)
	case m.log:
		return m.logView.View()
	}
	return m.focusedDetail().View()
}

// fullHelp packs the key groups into rows of columns no wider than w, so
// every key is listed on a narrow terminal too.
func (m *Model) fullHelp(w int) []string {
	hm := m.help
	hm.SetWidth(0) // measure unclipped
	groups := m.keys.FullHelp()
	var out []string
	for start := 0; start < len(groups); {
		end := start + 1
		for end < len(groups) && ansi.StringWidth(firstLine(hm.FullHelpView(groups[start:end+1]))) <= w {
			end++
		}
		out = append(out, strings.Split(hm.FullHelpView(groups[start:end]), "\n")...)
		out = append(out, "")
		start = end
	}
	return out
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func (m *Model) focusedDetail() common.Component {
	switch m.tab {
	case tabSource:
		return m.source
	case tabEvents:
		return m.mountEvs
	}
	return m.listeners
}

func (m *Model) statusLine() string {
	s := m.styles
	w := m.width
	switch {
	case m.confirm != nil:
		return s.Warn.Render(common.Clip(" "+m.confirm.prompt+" [y/N]", w))
	case m.picker != nil:
		return s.Info.Render(common.Clip(" choose the destination mount: ↑/↓, enter; esc cancels", w))
	case m.input != nil:
		return s.Info.Render(promptLine(" "+m.input.label, m.input.text, w))
	case m.mounts.Filtering():
		return s.Info.Render(common.Clip(" filter: type to match mount, title, format, state; enter keeps it, esc clears it", w))
	case m.flash != "":
		if m.flashErr {
			return s.Error.Render(common.Clip(" "+m.flash, w))
		}
		return s.Info.Render(common.Clip(" "+m.flash, w))
	}
	col, rev := m.mounts.Sort()
	dir := "▼"
	if rev {
		dir = "▲"
	}
	parts := []string{" sort " + col.String() + " " + dir, "theme " + m.theme}
	if f, _ := m.mounts.Filter(); f != "" {
		parts = append(parts, strconv.Itoa(m.mounts.Len())+" of "+strconv.Itoa(len(m.snap.Mounts))+" mounts")
	}
	if m.reveal {
		parts = append(parts, "password shown (v hides)")
	} else {
		parts = append(parts, "v shows password")
	}
	return s.Dim.Render(common.Clip(strings.Join(parts, " · "), w))
}

// promptLine is label, text and a cursor in w cells; a text too long shows
// its end, where the typing is.
func promptLine(label, text string, w int) string {
	room := w - ansi.StringWidth(label) - 1
	if room < 2 {
		return common.Clip(label+text+"▏", w)
	}
	if ansi.StringWidth(text) > room {
		r := []rune(text)
		for len(r) > 0 && ansi.StringWidth(string(r))+1 > room {
			r = r[1:]
		}
		text = "…" + string(r)
	}
	return label + text + "▏"
}

// handleClick selects what was clicked: a mount row, a tab, a listener.
func (m *Model) handleClick(ms tea.Mouse) tea.Cmd {
	if ms.Button != tea.MouseLeft || m.confirm != nil || m.picker != nil {
		return nil
	}
	l := m.layout()
	if l.tiny {
		return nil
	}
	switch {
	case ms.Y >= l.mountsY && ms.Y < l.mountsY+l.mountsH:
		m.setFocus(paneMounts)
		if m.mounts.Click(ms.Y - l.mountsY) {
			m.syncSelection()
		}
	case ms.Y == l.tabsY && !m.log:
		for i, r := range l.tabX {
			if ms.X >= r[0] && ms.X < r[1] {
				m.tab = tab(i)
				m.setFocus(paneDetail)
			}
		}
	case ms.Y >= l.bodyY && ms.Y < l.bodyY+l.bodyH && !m.help.ShowAll:
		if m.log {
			m.setFocus(paneLog)
			return nil
		}
		m.setFocus(paneDetail)
		if m.tab == tabListeners {
			m.listeners.Click(ms.Y - l.bodyY)
		}
	}
	return nil
}

// handleWheel scrolls the pane under the pointer.
func (m *Model) handleWheel(ms tea.Mouse) {
	d := 0
	switch ms.Button {
	case tea.MouseWheelUp:
		d = -3
	case tea.MouseWheelDown:
		d = 3
	default:
		return
	}
	l := m.layout()
	switch {
	case l.tiny:
	case ms.Y >= l.mountsY && ms.Y < l.mountsY+l.mountsH:
		m.mounts.Scroll(d)
		m.syncSelection()
	case ms.Y >= l.bodyY && ms.Y < l.bodyY+l.bodyH:
		switch {
		case m.log:
			m.logView.Scroll(d)
		case m.tab == tabListeners:
			m.listeners.Scroll(d)
		case m.tab == tabSource:
			m.source.Scroll(d)
		default:
			m.mountEvs.Scroll(d)
		}
	}
}
