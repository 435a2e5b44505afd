package tui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/icedeck/icedeck/tui/common"
	"github.com/icedeck/icedeck/tui/meter"
)

// screen is where each part of the screen is, in rows; computed by layout
// in Update and read by View and the mouse handlers alike.
type screen struct {
	tiny               bool
	headerH            int // the title line, the command lines, the admin line
	cmdLines           []string
	serversY, serversH int // the fleet console's servers; 0 high without
	mountsY, mountsH   int
	tabsY              int // -1: no tabs line
	bodyY, bodyH       int
	audY, audH         int
	statusY, helpY     int
	tabX               [numTabs][2]int // x range of each tab label on the tabs line
}

// minDetail is the least the lower pane keeps: the tabs line, a table
// header and five rows.
const minDetail = 7

// layout sizes every pane for the terminal and the state. The mounts
// list takes the height its rows need, up to what leaves the lower pane
// readable (at least minDetail rows, or two fifths of the middle).
func (m *Model) layout() {
	w, h := m.width, m.height
	var l screen
	defer func() { m.lay = l; m.helpLine = m.shortHelp(max(w, 0)) }()
	if w < 20 || h < 6 {
		l.tiny = true
		return
	}
	l.headerH = 1
	switch {
	case h >= 20:
		l.cmdLines = m.commandLines(2)
	case h >= 14:
		l.cmdLines = m.commandLines(1)
	}
	l.headerH += len(l.cmdLines)
	if m.adminLine() != "" && h >= 14 {
		l.headerH++
	}
	if m.aud.Active() && h >= 16 {
		l.audH = meter.Height
	}
	rest := max(h-l.headerH-2-l.audH, 0) // 2 = status + help lines
	l.serversY = l.headerH
	if m.servers != nil && !m.help && rest >= 8 {
		// Always in view: a server going down must show, whatever is zoomed.
		l.serversH = m.servers.WantHeight(max(rest/4, 3))
		rest -= l.serversH
	}
	if m.servers != nil {
		m.servers.SetSize(w, l.serversH)
	}
	l.mountsY = l.serversY + l.serversH
	l.tabsY = -1
	zoom := m.zoom && m.picker == nil && m.focus != paneServers // a choice is offered in the lower pane; the servers list has no zoom
	switch {
	case m.help:
		// The full help takes the whole middle.
		l.bodyY, l.bodyH = l.mountsY, rest
	case zoom && m.focus == paneMounts:
		l.mountsH = rest
	case zoom:
		l.tabsY, l.bodyY, l.bodyH = l.mountsY, l.mountsY+1, max(rest-1, 0)
	default:
		detail := max(minDetail, rest*2/5)
		l.mountsH = m.mounts.WantHeight(common.Clamp(rest-detail, 2, max(rest-2, 2)))
		l.tabsY = l.mountsY + l.mountsH
		l.bodyY = l.tabsY + 1
		l.bodyH = max(rest-l.mountsH-1, 0)
	}
	m.mounts.SetSize(w, l.mountsH)
	l.audY = l.bodyY + l.bodyH
	if l.mountsH > 0 && l.bodyH == 0 && l.tabsY < 0 {
		l.audY = l.mountsY + l.mountsH
	}
	l.statusY = l.audY + l.audH
	l.helpY = l.statusY + 1
	for _, p := range []common.Pane{m.listeners, m.source, m.mountEvs, m.graphs, m.logView} {
		p.SetSize(w, l.bodyH)
	}
	x := ansi.StringWidth(m.tabPrefix())
	for i, label := range m.tabLabels() {
		n := ansi.StringWidth(label) + 2
		l.tabX[i] = [2]int{x, x + n}
		x += n + 1
	}
}

func (m *Model) tabPrefix() string {
	ms, ok := m.mounts.Selected()
	if !ok {
		return " (no mount) "
	}
	return " " + common.MountLabel(ms.Name) + " "
}

func (m *Model) tabLabels() [numTabs]string {
	ms, _ := m.mounts.Selected()
	l := tabNames
	l[tabListeners] = m.listeners.Title(ms.ListenerCount)
	if f := m.mountEvs.Filters(); f != "" {
		l[tabEvents] += " (" + f + ")"
	}
	return l
}

// commandLines is the ffmpeg command wrapped at spaces into at most n lines
// of the screen width (the last one clipped), so it can be copied whole
// from an 80-column terminal.
func (m *Model) commandLines(n int) []string {
	if n <= 0 || m.fleet != nil && m.fleet.local == nil { // icedeck watch feeds no server of its own
		return nil
	}
	w := m.width
	// An option stays with its value: "-content_type audio/mpeg" is not
	// split across lines.
	var words []string
	for _, f := range strings.Fields(m.ffmpegCommand()) {
		if n := len(words); n > 0 && strings.HasPrefix(words[n-1], "-") && !strings.Contains(words[n-1], " ") && !strings.HasPrefix(f, "-") {
			words[n-1] += " " + f
			continue
		}
		words = append(words, f)
	}
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
