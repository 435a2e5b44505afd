package tui

import (
	"slices"
	"strconv"
	"strings"
	"sync"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/icedeck/icedeck/themes"
	"github.com/icedeck/icedeck/tui/common"
	"github.com/icedeck/icedeck/tui/mounts"
)

// What read-only mode turns off, for the refusals.
const (
	clientsOff = "read-only mode: disconnecting and moving clients is off"
	relaysOff  = "read-only mode: adding and removing relays is off"
	titlesOff  = "read-only mode: setting titles is off"
)

// globalBindings are the keys that work from every pane: they come before
// the focused pane's, so no pane may bind them.
func (m *Model) globalBindings() []common.Binding {
	k := m.keys
	idle := !m.aud.Active()
	const notPlaying = "nothing is being auditioned (p plays the selected mount)"
	tabs := []common.Binding{}
	for i, kb := range []key.Binding{k.Tab1, k.Tab2, k.Tab3, k.Tab4} {
		tabs = append(tabs, common.Do(kb, func() { m.showTab(tab(i)) }))
	}
	bs := []common.Binding{
		common.Bind(k.Quit, m.quit).OnHelp(),
		common.Do(k.Help, func() { m.help = !m.help }).OnHelp(),
		common.Do(k.NextPane, m.cycleFocus).OnHelp(),
		common.Do(k.PrevPane, m.cycleFocusBack),
		common.Do(k.NextTab, func() { m.showTab((m.shownTab() + 1) % numTabs) }),
		common.Do(k.PrevTab, func() { m.showTab((m.shownTab() + numTabs - 1) % numTabs) }),
	}
	bs = append(bs, tabs...)
	if m.fleet != nil {
		bs = append(bs, common.Bind(k.AllServers, func() tea.Cmd { return m.scopeTo("") }).OnHelp().
			OffIf(m.fleet.Scope() == "", "every server's mounts are shown already (enter on a server shows only its own)"))
	}
	return append(bs,
		common.Do(k.Zoom, func() { m.zoom = !m.zoom }).OnHelp(),
		common.Do(k.Log, m.toggleLog),
		common.Do(k.Clear, m.clearFilter).OffIf(!m.hasFilter() && !m.zoom, "esc clears the focused list's filter: it has none"),
		common.Do(k.Theme, m.nextTheme),
		common.Do(k.Reveal, m.toggleReveal),
		common.Bind(k.Stop, m.stopAudition).OffIf(idle, notPlaying),
		common.Bind(k.VolUp, func() tea.Cmd { return m.volume(0.1) }).OffIf(idle, notPlaying),
		common.Bind(k.VolDown, func() tea.Cmd { return m.volume(-0.1) }).OffIf(idle, notPlaying),
		common.Bind(k.Mute, m.toggleMute).OffIf(idle, notPlaying),
		common.Do(k.AddRelay, m.promptRelay).OffIf(m.opts.ReadOnly, relaysOff),
	)
}

// mountBindings act on the selected mount from any pane, after the
// focused pane's own keys.
func (m *Model) mountBindings() []common.Binding {
	k := m.keys
	ms, ok := m.mounts.Selected()
	ro := m.opts.ReadOnly
	const none = "no mount selected"
	remoteRO := "" // a remote server watched without admin credentials
	if m.fleet != nil && ok {
		remoteRO = m.fleet.readOnly(ms.Name)
	}
	onMounts := m.focus == paneMounts
	noAudition := "audition not available (no audio output configured)"
	enter := common.Bind(k.Audition, m.toggleAudition).
		OffIf(!onMounts, "enter auditions from the mounts list; p does from anywhere").
		OffIf(m.opts.Auditioner == nil, noAudition).OffIf(!ok, none)
	if onMounts {
		enter = enter.OnHelp()
	}
	moving := m.moveIDs()
	remove := common.Do(k.RemoveRelay, m.requestRemoveRelay).OffIf(ro, relaysOff).OffIf(remoteRO != "", remoteRO).OffIf(!ok, none).
		OffIf(ms.Relay == nil, ms.Name+" is not relayed: R removes a pull relay (a adds one)")
	if ms.Relay != nil {
		remove = remove.OnHelp()
	}
	return []common.Binding{
		enter,
		common.Bind(k.Play, m.toggleAudition).OffIf(m.opts.Auditioner == nil, noAudition).OffIf(!ok, none),
		common.Bind(k.Copy, m.copyURL).OnHelp().OffIf(!ok, none),
		common.Do(k.Title, m.promptTitle).OnHelp().OffIf(ro, titlesOff).OffIf(remoteRO != "", remoteRO).OffIf(!ok, none),
		common.Do(k.KickSource, m.requestKickSourceOf).OffIf(ro, clientsOff).OffIf(remoteRO != "", remoteRO).OffIf(!ok, none).
			OffIf(ms.Source == nil, ms.Name+" has no source connected"),
		common.Do(k.Move, m.requestMove).OnHelp().OffIf(ro, clientsOff).OffIf(remoteRO != "", remoteRO).OffIf(!ok, none).
			OffIf(moving == nil && ms.ListenerCount == 0, "no listener on "+ms.Name+" to move"),
		common.Bind(k.Record, m.toggleRecord).OffIf(m.opts.Recorder == nil, "recording not available").OffIf(!ok, none),
		remove,
	}
}

// panes names every pane, for the full help and for saying where a key
// works.
func (m *Model) panes() []struct {
	name string
	p    common.Pane
} {
	ps := []struct {
		name string
		p    common.Pane
	}{
		{"the mounts list", m.mounts}, {"the Listeners tab", m.listeners}, {"the Source tab", m.source},
		{"the Events tab", m.mountEvs}, {"the event log", m.logView},
	}
	if m.servers != nil {
		ps = append(ps, struct {
			name string
			p    common.Pane
		}{"the servers list", m.servers})
	}
	return ps
}

// whereKeyWorks says why a key did nothing: where it does work, or that
// it is no key at all.
func (m *Model) whereKeyWorks(k tea.KeyPressMsg) string {
	var where []string
	var desc string
	for _, p := range m.panes() {
		if p.p == m.focusedPane() {
			continue
		}
		if b, ok := common.Match(p.p.Bindings(), k); ok {
			where = append(where, p.name)
			desc = b.Key.Help().Desc
		}
	}
	if len(where) == 0 {
		return k.String() + ": not a key of icedeck (? lists them)"
	}
	return k.String() + " (" + desc + ") works in " + strings.Join(where, " and ") + " — tab moves there"
}

// shortHelp is the one-line help: the focused pane's keys, the selected
// mount's, the global ones, with ? and q always at the end (the middle
// gives way on a narrow terminal). Keys that are off are dimmed.
func (m *Model) shortHelp(w int) string {
	s := m.styles
	var items []common.Binding
	switch {
	case m.confirm != nil:
		return helpItems(s, w, []common.Binding{{Key: m.keys.Yes}, {Key: m.keys.No}}, nil)
	case m.picker != nil:
		return helpItems(s, w, []common.Binding{{Key: m.keys.PickUp}, {Key: m.keys.PickDown}, {Key: m.keys.Accept}, {Key: m.keys.No}}, nil)
	case m.input != nil:
		bs := []common.Binding{
			{Key: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", m.input.done))},
			{Key: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel"))},
		}
		if strings.HasPrefix(m.input.label, "Relay") {
			// Not a key: the syntax, where the operator looks while typing.
			bs = append(bs, common.Binding{Key: key.NewBinding(key.WithKeys("as"), key.WithHelp("URL as /mount", "choose the local mount"))})
		}
		return helpItems(s, w, bs, nil)
	case m.help:
		return helpItems(s, w, []common.Binding{{Key: key.NewBinding(key.WithKeys("any"), key.WithHelp("any key", "closes the help"))}}, nil)
	}
	for _, group := range [][]common.Binding{m.focusedPane().Bindings(), m.mountBindings(), m.globalBindings()} {
		for _, b := range group {
			if b.Short && !key.Matches(tea.KeyPressMsg{Code: '?', Text: "?"}, b.Key) && !key.Matches(tea.KeyPressMsg{Code: 'q', Text: "q"}, b.Key) {
				items = append(items, b)
			}
		}
	}
	return helpItems(s, w, items, []common.Binding{{Key: m.keys.Help}, {Key: m.keys.Quit}})
}

// helpItems lays "key desc" items out with " • " between them, as many of
// items as fit beside all of pinned.
func helpItems(s *themes.Styles, w int, items, pinned []common.Binding) string {
	return helpCache.get(s, w, items, pinned)
}

// helpLines remembers the last help lines laid out: the keys that apply
// change far less often than the model updates.
type helpLines struct {
	mu   sync.Mutex
	seen map[string]string
}

var helpCache = &helpLines{seen: map[string]string{}}

func (c *helpLines) get(s *themes.Styles, w int, items, pinned []common.Binding) string {
	var k strings.Builder
	k.WriteString(s.Theme + strconv.FormatBool(s.NoColor) + strconv.Itoa(w))
	for _, b := range append(items, pinned...) {
		h := b.Key.Help()
		k.WriteString("\x00" + h.Key + "\x01" + h.Desc + strconv.FormatBool(b.Off != ""))
	}
	key := k.String()
	c.mu.Lock()
	defer c.mu.Unlock()
	if line, ok := c.seen[key]; ok {
		return line
	}
	if len(c.seen) > 256 {
		clear(c.seen)
	}
	line := layoutHelp(s, w, items, pinned)
	c.seen[key] = line
	return line
}

func layoutHelp(s *themes.Styles, w int, items, pinned []common.Binding) string {
	const sep = " • "
	render := func(b common.Binding) (string, int) {
		h := b.Key.Help()
		plain := h.Key + " " + h.Desc
		if b.Off != "" {
			return s.Dim.Render(plain), ansi.StringWidth(plain)
		}
		return s.HelpKey.Render(h.Key) + " " + s.HelpDesc.Render(h.Desc), ansi.StringWidth(plain)
	}
	tail, tailW := "", 0
	for _, b := range pinned {
		r, n := render(b)
		tail += s.HelpSep.Render(sep) + r
		tailW += len([]rune(sep)) + n
	}
	var out strings.Builder
	used := 0
	for _, b := range items {
		r, n := render(b)
		add := n
		if used > 0 {
			add += len([]rune(sep))
		}
		if used+add+tailW > w {
			break
		}
		if used > 0 {
			out.WriteString(s.HelpSep.Render(sep))
		}
		out.WriteString(r)
		used += add
	}
	if used == 0 {
		tail = strings.TrimPrefix(tail, s.HelpSep.Render(sep))
	}
	return common.Clip(out.String()+tail, w)
}

// fullHelp is every key, grouped by where it works, flowed into as many
// columns of h lines as it needs; a key that is off says why in a word.
func (m *Model) fullHelp(w, h int) []string {
	s := m.styles
	type group struct {
		title string
		bs    []common.Binding
	}
	// The list keys are the same in every list: listed once.
	moves := common.Movement(m.keys, 1, 1, func(int) {})
	isMove := func(b common.Binding) bool {
		return slices.ContainsFunc(moves, func(mv common.Binding) bool { return mv.Key.Help() == b.Key.Help() })
	}
	groups := []group{{"Everywhere", m.globalBindings()}, {"In lists", moves}, {"Selected mount", m.mountBindings()}}
	for _, p := range m.panes() {
		if p.p == m.logView {
			continue // the Events tab's keys
		}
		groups = append(groups, group{strings.TrimPrefix(p.name, "the "), p.p.Bindings()})
	}
	var lines []string
	keyW := 0
	for _, g := range groups {
		if len(lines) > 0 {
			lines = append(lines, "")
		}
		lines = append(lines, s.Accent.Render(g.title))
		seen := map[string]bool{}
		for _, b := range g.bs {
			hk := b.Key.Help()
			if seen[hk.Key] || (g.title != "In lists" && isMove(b)) {
				continue
			}
			seen[hk.Key] = true
			keyW = max(keyW, ansi.StringWidth(hk.Key))
			desc := hk.Desc
			if offHere(b.Off) {
				desc += " ✗"
			}
			lines = append(lines, "\x00"+hk.Key+"\x00"+desc)
		}
	}
	h = max(h, 1)
	cols := (len(lines) + h - 1) / h
	colW := max(w/max(cols, 1)-1, 10)
	out := make([]string, min(h, len(lines)))
	for i, l := range lines {
		if k, desc, ok := strings.Cut(strings.TrimPrefix(l, "\x00"), "\x00"); ok {
			l = s.HelpKey.Render(common.Fit(k, keyW)) + " " + s.HelpDesc.Render(desc)
		}
		r := i % h
		if i >= h {
			out[r] = common.Fit(out[r], (i/h)*(colW+1))
		}
		out[r] += common.Clip(" "+l, colW)
	}
	return out
}

// offHere tells a key that is off for the whole session (read-only, no
// audio output, no recorder, no analysis) from one off for the moment.
func offHere(why string) bool {
	return strings.HasPrefix(why, "read-only") || strings.Contains(why, "not available") || strings.Contains(why, "analysis is off")
}

// shownTab is the tab the lower pane shows or would show.
func (m *Model) shownTab() tab { return m.tab }

// showTab shows tab t in the lower pane, whichever pane has the keyboard;
// the event log and a zoomed mounts list make way for it. Asked for the
// tab already shown, it gives that tab the keyboard.
func (m *Model) showTab(t tab) {
	shown := m.tab == t && !m.log && !(m.zoom && m.focus == paneMounts)
	m.tab, m.log = t, false
	if m.zoom && m.focus == paneMounts {
		m.zoom = false
	}
	switch {
	case shown && m.focus == paneMounts:
		m.focus = paneDetail
	case shown:
		m.setFlash("the "+tabNames[t]+" tab is open already", false)
	}
}

// cycleFocus moves the keyboard from the mounts list to the lower pane,
// then (the fleet console) to the servers, and round; a zoom follows it.
func (m *Model) cycleFocus() { m.moveFocus(1) }

func (m *Model) cycleFocusBack() { m.moveFocus(-1) }

func (m *Model) moveFocus(d int) {
	order := []pane{paneMounts, paneDetail}
	if m.servers != nil {
		order = append(order, paneServers)
	}
	i := slices.Index(order, m.focus)
	m.focus = order[(i+d+len(order))%len(order)]
}

// toggleLog shows the server event log in the lower pane, with the
// keyboard, or the tabs again.
func (m *Model) toggleLog() {
	m.log = !m.log
	if m.log {
		m.focus = paneDetail
	}
}

// filterable is a pane with a filter that esc clears.
type filterable interface {
	Filter() string
	SetFilter(string)
}

func (m *Model) hasFilter() bool {
	if f, ok := m.focusedPane().(filterable); ok {
		return f.Filter() != ""
	}
	if e, ok := m.focusedPane().(interface{ Filters() string }); ok {
		return e.Filters() != ""
	}
	return false
}

// clearFilter drops the focused list's filter, or, with none, the zoom.
func (m *Model) clearFilter() {
	switch p := m.focusedPane().(type) {
	case filterable:
		if p.Filter() != "" {
			p.SetFilter("")
			m.setFlash("filter cleared", false)
			return
		}
	case interface{ ClearFilters() }:
		if m.hasFilter() {
			p.ClearFilters()
			m.setFlash("event filter cleared", false)
			return
		}
	}
	m.zoom = false
}

func (m *Model) toggleReveal() {
	m.reveal = !m.reveal
	if m.reveal {
		m.setFlash("passwords shown in the header (v hides them)", false)
	}
}

func (m *Model) quit() tea.Cmd {
	sources := m.snap.Sources
	if m.fleet != nil {
		sources = m.fleet.localSources() // quitting cuts no remote server's
	}
	if sources > 0 {
		m.confirm = &confirmation{
			prompt: plural(sources, "source is", "sources are") + " connected. Quit icedeck and stop the server?",
			action: tea.Quit,
		}
		return nil
	}
	return tea.Quit
}

// moveIDs are the listeners m moves: the marked ones when the Listeners
// tab has the keyboard and marks, else nil (all of them).
func (m *Model) moveIDs() []uint64 {
	if m.focus == paneDetail && !m.log && m.tab == tabListeners {
		if ids := m.listeners.Marked(); len(ids) > 0 {
			return ids
		}
	}
	return nil
}

// moveTargets are the mounts listeners of from can move to: every other
// mount of the same stream format.
func (m *Model) moveTargets(from string) (targets []string, format string) {
	var ct string
	for _, ms := range m.mounts.Mounts() {
		if ms.Name == from {
			ct = ms.ContentType
			format = mounts.Codec(ms.ContentType, "")
		}
	}
	for _, ms := range m.mounts.Mounts() {
		if ms.Name != from && mounts.SameType(ms.ContentType, ct) {
			targets = append(targets, ms.Name)
		}
	}
	slices.Sort(targets)
	return targets, format
}
