package tui

import (
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/icedeck/icedeck/tui/common"
	"github.com/icedeck/icedeck/tui/meter"
)

// View implements tea.Model. It is a pure function of the model: the
// layout, the scroll positions and the help line were settled in Update.
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
	l := &m.lay
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
	add(m.headerBar())
	for _, line := range l.cmdLines {
		add(s.Dim.Render(line))
	}
	if l.headerH > 1+len(l.cmdLines) {
		add(s.Warn.Render(common.Clip(m.adminLine(), w)))
	}
	if l.serversH > 0 {
		add(m.servers.View(m.focus == paneServers && !m.help))
	}
	if l.mountsH > 0 {
		add(m.mounts.View(m.focus == paneMounts && !m.help))
	}
	if l.tabsY >= 0 {
		add(m.tabsLine())
	}
	if l.bodyH > 0 {
		add(m.body())
	}
	if l.audH > 0 {
		add(meter.View(m.aud, w, s))
	}
	add(m.statusLine())
	add(m.helpLine)
	return b.String()
}

// headerBar is the top line: most important first, as it is clipped on
// narrow terminals; "N need attention" in the error colour.
func (m *Model) headerBar() string {
	s, sn, w := m.styles, &m.snap, m.width
	parts := []string{" icedeck"}
	if m.fleet != nil {
		parts = append(parts, m.fleetWord())
	}
	if m.opts.ReadOnly {
		parts = append(parts, "READ-ONLY")
	}
	parts = append(parts,
		"up "+common.Since(sn.Time, sn.Started),
		plural(sn.Sources, "source", "sources"),
		plural(sn.Listeners, "listener", "listeners"),
	)
	left := strings.Join(parts, " │ ") + " │ "
	attention := ""
	if n := m.health.NeedAttention(); n > 0 {
		attention = plural(n, "mount needs", "mounts need") + " attention"
	}
	right := "in " + bps(m.inRate) + " out " + bps(m.outRate) + " │ " + m.addrs()
	if m.opts.LogFile != "" {
		right += " │ log " + m.opts.LogFile
	}
	if attention != "" {
		right = " │ " + right
	}
	lw, aw := ansi.StringWidth(left), ansi.StringWidth(attention)
	switch {
	case lw >= w:
		return s.Header.Render(common.Fit(left, w))
	case lw+aw >= w:
		return s.Header.Render(left) + s.Error.Render(common.Fit(attention, w-lw))
	}
	return s.Header.Render(left) + s.Error.Render(attention) + s.Header.Render(common.Fit(right, w-lw-aw))
}

// bps is a rate in bits/s for the header; negative: not told ("–").
func bps(v float64) string {
	if v < 0 {
		return "–"
	}
	return common.Rate(v) + "b/s"
}

// tabsLine names the selected mount and its tabs, with the listen URL at
// the right when there is room; or says what the event log shows.
func (m *Model) tabsLine() string {
	s := m.styles
	w := m.width
	focused := m.focus == paneDetail
	if m.log {
		t := " Event log · all mounts · " + plural(m.logView.Len(), "event", "events")
		if f := m.logView.Filters(); f != "" {
			t += " · " + f + " (f)"
		}
		if m.store.Missed > 0 {
			t += " · " + strconv.FormatUint(m.store.Missed, 10) + " missed"
		}
		if !m.logView.Following() {
			t += " · scrolled (end follows)"
		}
		if focused {
			return s.TabActive.Render(common.Fit(t, w))
		}
		return s.Accent.Render(common.Fit(t, w))
	}
	var b strings.Builder
	b.WriteString(s.Accent.Render(m.tabPrefix()))
	for i, label := range m.tabLabels() {
		label = " " + label + " "
		switch {
		case tab(i) == m.tab && focused:
			b.WriteString(s.TabActive.Render(label))
		case tab(i) == m.tab:
			b.WriteString(s.Accent.Render("[" + label[1:len(label)-1] + "]"))
		default:
			b.WriteString(s.TabInactive.Render(label))
		}
		b.WriteByte(' ')
	}
	line := b.String()
	ms, _ := m.mounts.Selected()
	if u := m.listenURL(ms.Name); u != "" {
		if room := w - ansi.StringWidth(line) - 1; room >= ansi.StringWidth(u) {
			line += strings.Repeat(" ", room-ansi.StringWidth(u)) + s.Dim.Render(u)
		}
	}
	return common.Clip(line, w)
}

// body is the lower pane: the full help, a picker, the event log or the
// selected mount's tab.
func (m *Model) body() string {
	w, h := m.width, m.lay.bodyH
	s := m.styles
	switch {
	case m.help:
		title := s.Accent.Render(" Keys") + s.Dim.Render("  (any key closes; ✗ off in this session)")
		if m.opts.ReadOnly {
			title += s.Warn.Render("  read-only: d D m T a R")
		}
		return common.Lines(append([]string{title}, m.fullHelp(w, h-1)...), w, h)
	case m.picker != nil:
		p := m.picker
		lines := []string{s.Accent.Render(common.Clip(" "+p.title, w))}
		start := common.Scroll(0, p.cursor, max(h-1, 1), len(p.options))
		for i := start; i < len(p.options) && len(lines) < h; i++ {
			row := common.Fit("   "+p.options[i], w)
			if i == p.cursor {
				row = s.Selected.Render(common.Fit(" ▸ "+p.options[i], w))
			}
			lines = append(lines, row)
		}
		return common.Lines(lines, w, h)
	}
	return m.detailPane().View(m.focus == paneDetail)
}

// statusLine is the prompt being answered, the last message, or what
// holds: the sort, the filter, the zoom, the theme.
func (m *Model) statusLine() string {
	s := m.styles
	w := m.width
	switch {
	case m.confirm != nil:
		return s.Warn.Render(common.Clip(" "+m.confirm.prompt+" [y/N]", w))
	case m.picker != nil:
		return s.Info.Render(common.Clip(" choose: ↑/↓, enter; esc cancels", w))
	case m.input != nil:
		return s.Info.Render(promptLine(" "+m.input.label, m.input.text, w))
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
	parts := []string{" sort " + col.String() + " " + dir}
	if first, last, total := m.mounts.Window(); m.mounts.Scrolls() {
		parts = append(parts, "mounts "+strconv.Itoa(first)+"–"+strconv.Itoa(last)+" of "+strconv.Itoa(total))
	}
	if f := m.mounts.Filter(); f != "" {
		parts = append(parts, strconv.Itoa(m.mounts.Len())+" of "+strconv.Itoa(len(m.snap.Mounts))+" mounts")
	}
	if m.zoom {
		parts = append(parts, "zoomed (z)")
	}
	parts = append(parts, "theme "+m.theme)
	if m.reveal {
		parts = append(parts, "passwords shown (v hides)")
	} else {
		parts = append(parts, "v shows passwords")
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

// handleClick selects what was clicked: a mount row, a tab, a listener,
// an event.
func (m *Model) handleClick(ms tea.Mouse) {
	l := &m.lay
	if ms.Button != tea.MouseLeft || m.confirm != nil || m.picker != nil || l.tiny {
		return
	}
	switch {
	case ms.Y >= l.serversY && ms.Y < l.serversY+l.serversH:
		m.focus = paneServers
		m.servers.Click(ms.Y - l.serversY)
	case ms.Y >= l.mountsY && ms.Y < l.mountsY+l.mountsH:
		m.focus = paneMounts
		m.mounts.Click(ms.Y - l.mountsY)
	case ms.Y == l.tabsY && !m.log:
		for i, r := range l.tabX {
			if ms.X >= r[0] && ms.X < r[1] {
				m.tab = tab(i)
				m.focus = paneDetail
			}
		}
	case ms.Y >= l.bodyY && ms.Y < l.bodyY+l.bodyH && !m.help:
		m.focus = paneDetail
		if !m.log && m.tab == tabListeners {
			m.listeners.Click(ms.Y - l.bodyY)
		}
	}
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
	l := &m.lay
	switch {
	case l.tiny:
	case ms.Y >= l.serversY && ms.Y < l.serversY+l.serversH:
		m.servers.Move(d / 3)
	case ms.Y >= l.mountsY && ms.Y < l.mountsY+l.mountsH:
		m.mounts.Scroll(d)
	case ms.Y >= l.bodyY && ms.Y < l.bodyY+l.bodyH:
		switch p := m.detailPane().(type) {
		case interface{ Scroll(int) }:
			p.Scroll(d)
		}
	}
}
