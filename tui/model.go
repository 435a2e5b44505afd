package tui

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/themes"
	"github.com/icedeck/icedeck/tui/common"
	"github.com/icedeck/icedeck/tui/events"
	"github.com/icedeck/icedeck/tui/graphs"
	"github.com/icedeck/icedeck/tui/health"
	"github.com/icedeck/icedeck/tui/keys"
	"github.com/icedeck/icedeck/tui/listeners"
	"github.com/icedeck/icedeck/tui/mounts"
	"github.com/icedeck/icedeck/tui/servers"
	"github.com/icedeck/icedeck/tui/source"
)

// pane is which part of the screen has the keyboard: the mounts table or
// the lower pane (a tab of the selected mount, or the server event log).
type pane int

const (
	paneMounts pane = iota
	paneDetail
	paneServers // the fleet console's servers
)

// tab is the detail tab shown for the selected mount.
type tab int

const (
	tabListeners tab = iota
	tabSource
	tabEvents
	tabGraphs
	numTabs
)

var tabNames = [numTabs]string{"Listeners", "Source", "Events", "Graphs"}

// Messages.
type (
	snapshotMsg struct {
		snap      engine.Snapshot
		pushes    []engine.PushStatus // read with snap
		aud       AuditionStatus
		recording map[string]bool
		audio     map[string]engine.AudioStats // nil without an Analyzer
		// listeners is the mount whose Listeners tab was open when the
		// poll began, read with its listeners; nil when none was.
		listeners *engine.MountSnapshot
		// servers are the fleet console's servers, read with snap, whose
		// mounts are those of scope.
		servers []serverState
		scope   string
	}
	// listenersMsg is a mount read with its listeners, when the
	// selection moves to it with the Listeners tab open.
	listenersMsg struct {
		mount string
		ms    engine.MountSnapshot
		ok    bool
	}
	// configMsg is the configuration read again after a reload.
	configMsg struct {
		cfg              engine.Config
		adminUser, admin string
	}
	eventsMsg []engine.Event
	// resultMsg reports the end of an engine or player action, with a
	// snapshot taken after it when the change should show at once.
	resultMsg struct {
		text string
		err  error
		snap *snapshotMsg
	}
	// relayAddedMsg reports a relay added, with a snapshot taken after, so
	// the new mount can be selected at once rather than on the next tick.
	relayAddedMsg struct {
		mount string
		text  string
		snap  snapshotMsg
	}
)

// confirmation is a pending destructive action waiting for y/n.
type confirmation struct {
	prompt string
	action tea.Cmd
}

// textPrompt is a line being typed on the status line: every key is text
// until enter submits it or esc cancels. change, when set, sees every
// edit (a filter follows the typing).
type textPrompt struct {
	label  string
	done   string // what enter does, for the help line
	text   string
	submit func(text string) tea.Cmd
	change func(text string)
	cancel func()
}

// picker is a choice offered in the lower pane.
type picker struct {
	title   string
	options []string
	cursor  int
	choose  func(i int) tea.Cmd
}

// Model is the root of the interface. Use NewModel; it is a tea.Model.
type Model struct {
	opts   Options
	eng    Engine
	cfg    engine.Config
	admin  [2]string      // user, password (Options.Admin)
	styles *themes.Styles // shared with every pane; replaced in place on theme change
	theme  string
	keys   *keys.KeyMap

	width, height int
	altScreen     bool

	snap      engine.Snapshot
	prev      engine.Snapshot
	inRate    float64 // bits/s
	outRate   float64
	aud       AuditionStatus
	recording map[string]bool
	pushes    []engine.PushStatus
	audio     map[string]engine.AudioStats
	health    *health.Tracker
	hist      *graphs.History

	focus pane
	tab   tab
	log   bool // the server event log is shown instead of the tabs
	zoom  bool // the focused pane has the whole middle of the screen

	mounts    *mounts.Model
	listeners *listeners.Model
	source    *source.Model
	mountEvs  *events.Model
	graphs    *graphs.Model
	logView   *events.Model
	store     *events.Store

	evCh        <-chan engine.Event
	evCancel    func()
	listenersAt time.Time // when the listeners shown were read (the snapshot's clock)

	confirm  *confirmation
	picker   *picker
	input    *textPrompt
	help     bool // the full help is shown
	reveal   bool
	flash    string
	flashErr bool
	flashAge int // ticks since the flash was set

	// relayDraft is what was typed at the last relay prompt that added no
	// relay: a offers it again rather than make the operator retype a URL.
	relayDraft string

	lay      screen // where everything is, computed in Update
	helpLine string // the one-line help, computed in Update

	// The fleet console (Options.Remotes): nil fleet without remotes.
	fleet     *fleet
	servers   *servers.Model
	serverOut map[string]*outRate // each server's outgoing bandwidth, once it has answered
	down      int                 // servers not answering, or refusing
	// localAnalysis: this process measures its mounts' audio (the fleet
	// console always has an Analyzer, for remote icedecks' figures).
	localAnalysis bool
}

// outRate follows one server's outgoing bandwidth between polls.
type outRate struct {
	bytes uint64
	at    time.Time
	bps   float64 // as shown; -1: not told
}

// flashTicks is how many ticks a status message stays.
const flashTicks = 25

// NewModel builds the model: loads the theme, reads a first snapshot and
// the recent events, and subscribes to new ones (Close ends that).
func NewModel(opts Options) (*Model, error) {
	if opts.Engine == nil && len(opts.Remotes) == 0 {
		return nil, errors.New("tui: Options.Engine is nil")
	}
	if opts.Tick <= 0 {
		opts.Tick = DefaultTick
	}
	th, err := themes.Load(opts.Theme, opts.ThemeDir)
	if err != nil {
		return nil, fmt.Errorf("tui: theme: %w", err)
	}
	st := themes.NewStyles(th, opts.NoColor)
	km := keys.New()
	m := &Model{
		opts:   opts,
		eng:    opts.Engine,
		styles: &st,
		theme:  th.Name,
		keys:   &km,
		store:  events.NewStore(2000),
		health: health.NewTracker(),
		hist:   graphs.NewHistory(),
		width:  80,
		height: 24,
	}
	if opts.Admin != nil {
		m.admin[0], m.admin[1] = opts.Admin()
	}
	if len(opts.Remotes) > 0 {
		f, err := newFleet(opts.Engine, opts.Remotes)
		if err != nil {
			return nil, err
		}
		m.fleet, m.eng = f, f
		m.opts.Recorder = fleetRecorder{f: f, local: opts.Recorder}
		m.opts.Analyzer = fleetAnalyzer{f: f, local: opts.Analyzer}
		m.localAnalysis = opts.Analyzer != nil
		if opts.Auditioner != nil {
			m.opts.Auditioner = fleetAuditioner{Auditioner: opts.Auditioner, f: f}
		}
		m.servers = servers.New(m.styles, m.keys, m.scopeTo)
		m.serverOut = map[string]*outRate{}
	}
	opts = m.opts
	m.cfg = m.eng.Config()
	m.mounts = mounts.New(m.styles, m.keys, m.health.Flags)
	m.listeners = listeners.New(m.styles, m.keys, opts.ReadOnly)
	m.source = source.New(m.styles, m.keys, opts.Analyzer != nil)
	m.mountEvs = events.New(m.styles, m.keys, m.store, "\x00none")
	m.graphs = graphs.New(m.styles, m.hist)
	m.logView = events.New(m.styles, m.keys, m.store, "")
	m.store.Add(m.eng.Events(500)...)
	m.evCh, m.evCancel = m.eng.Subscribe(256)
	m.applySnapshot(m.poll()().(snapshotMsg))
	m.settle()
	return m, nil
}

// Close ends the event subscription.
func (m *Model) Close() {
	if m.evCancel != nil {
		m.evCancel()
		m.evCancel = nil
	}
}

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(m.tick(), waitEvents(m.evCh), tea.RequestWindowSize, m.fetchListeners())
}

// tick reads the engine when the tick comes, so that a tick is one
// message, one update and one render rather than two of each: an idle
// interface's CPU is mostly its wake-ups.
func (m *Model) tick() tea.Cmd {
	poll := m.poll()
	return tea.Tick(m.opts.Tick, func(time.Time) tea.Msg { return poll() })
}

// listenersShown is the mount whose Listeners tab is on screen, the one
// mount whose listeners are read ("" for none).
func (m *Model) listenersShown() string {
	if m.log || m.tab != tabListeners || m.help || (m.zoom && m.focus == paneMounts) {
		return ""
	}
	ms, ok := m.mounts.Selected()
	if !ok {
		return ""
	}
	return ms.Name
}

// poll reads the engine and the optional player off the UI goroutine: the
// summary, and the listeners of the one mount whose tab is open.
func (m *Model) poll() tea.Cmd {
	eng, aud, rec, ana, f := m.eng, m.opts.Auditioner, m.opts.Recorder, m.opts.Analyzer, m.fleet
	want := m.listenersShown()
	// This poll's answer comes about a tick after the last snapshot.
	if age := m.snap.Time.Add(m.opts.Tick).Sub(m.listenersAt); want == m.listeners.Mount() && age < m.listenersEvery()-m.opts.Tick/2 {
		want = "" // read recently enough
	}
	return func() tea.Msg {
		var msg snapshotMsg
		if f != nil {
			msg.scope, msg.snap, msg.servers = f.read() // each server read once
		} else {
			msg.snap = eng.Summary()
		}
		msg.pushes = eng.Pushes()
		if want != "" {
			if ms, ok := eng.Mount(want); ok {
				msg.listeners = &ms
			}
		}
		pollAudio(ana, &msg)
		if aud != nil {
			msg.aud = aud.AuditionStatus()
		}
		msg.recording = pollRecording(rec, msg.snap.Mounts)
		return msg
	}
}

// bigListeners is the length from which the listener list is read once a
// second rather than every tick: copying and sorting 10,000 listeners
// five times a second was a third of the interface's own CPU, and a
// second-old byte count tells an operator as much.
const bigListeners = 1000

// listenersEvery is how often the shown listener list is read.
func (m *Model) listenersEvery() time.Duration {
	if m.listeners.Total() > bigListeners {
		return max(time.Second, m.opts.Tick)
	}
	return m.opts.Tick
}

// fetchListeners reads the listeners of the mount whose tab just came
// into view, or whose list a kick changed, so the tab fills at once
// rather than at the next read (up to a second away for a long list).
// One read is in flight at a time; if it is lost, a poll reads the list
// anyway.
func (m *Model) fetchListeners() tea.Cmd {
	want := m.listenersShown()
	if want == "" {
		m.listenersAt = time.Time{} // hidden: shown again, it is read at once
		return nil
	}
	if want == m.listeners.Mount() && (m.listeners.IsLoading() || !m.listenersAt.Before(m.snap.Time.Add(-2*m.listenersEvery()))) {
		return nil
	}
	m.listeners.Loading(want)
	m.listenersAt = m.snap.Time
	eng := m.eng
	return func() tea.Msg {
		ms, ok := eng.Mount(want)
		return listenersMsg{mount: want, ms: ms, ok: ok}
	}
}

// pollAudio reads what the analysis measured on every mount of msg's
// snapshot.
func pollAudio(a Analyzer, msg *snapshotMsg) {
	if a == nil {
		return
	}
	msg.audio = make(map[string]engine.AudioStats, len(msg.snap.Mounts))
	for _, ms := range msg.snap.Mounts {
		if st, ok := a.Audio(ms.Name); ok {
			msg.audio[ms.Name] = st
		}
	}
}

// pollRecording asks the recorder which mounts it writes (nil without one).
func pollRecording(r Recorder, ms []engine.MountSnapshot) map[string]bool {
	if r == nil {
		return nil
	}
	out := map[string]bool{}
	for _, m := range ms {
		if r.Recording(m.Name) {
			out[m.Name] = true
		}
	}
	return out
}

// waitEvents blocks for the next event, then takes whatever else is queued
// so a burst becomes one message.
func waitEvents(ch <-chan engine.Event) tea.Cmd {
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		e, ok := <-ch
		if !ok {
			return nil
		}
		batch := eventsMsg{e}
		for len(batch) < 256 {
			select {
			case e, ok := <-ch:
				if !ok {
					return batch
				}
				batch = append(batch, e)
			default:
				return batch
			}
		}
		return batch
	}
}

func (m *Model) applySnapshot(msg snapshotMsg) {
	snap := msg.snap
	m.prev, m.snap = m.snap, snap
	if snap.Unknown.Has(engine.UnknownBytes) {
		m.inRate, m.outRate = -1, -1 // shown as "–"
	} else if dt := snap.Time.Sub(m.prev.Time).Seconds(); !m.prev.Time.IsZero() && dt > 0 && m.inRate >= 0 && snap.BytesIn >= m.prev.BytesIn && snap.BytesOut >= m.prev.BytesOut {
		// Smoothed over about two seconds: sources deliver in bursts (an Ogg
		// muxer sends a page a second), so one tick's rate jumps about.
		k := 1 - math.Exp(-dt/2)
		m.inRate += (float64(snap.BytesIn-m.prev.BytesIn)*8/dt - m.inRate) * k
		m.outRate += (float64(snap.BytesOut-m.prev.BytesOut)*8/dt - m.outRate) * k
	} else if m.prev.Time.IsZero() || m.inRate < 0 {
		// First look: estimate from the measured source bitrates.
		m.inRate, m.outRate = 0, 0
		for _, ms := range snap.Mounts {
			if ms.Source != nil {
				m.inRate += float64(ms.Source.Bitrate1s)
				m.outRate += float64(ms.Source.Bitrate1s) * float64(max(ms.ListenerCount, 0))
			}
		}
	}
	m.aud = msg.aud
	m.recording = msg.recording
	m.pushes = msg.pushes
	m.audio = msg.audio
	silent := ""
	if m.aud.Silent() {
		silent = m.aud.Mount
	}
	m.health.Observe(snap.Time, snap.Mounts, msg.audio, silent)
	m.hist.Observe(&m.snap)
	m.mounts.SetMarks(m.aud.Mount, m.aud.Silent(), m.recording)
	m.mounts.SetPushed(pushedMounts(m.pushes))
	analysed := m.opts.Analyzer != nil
	if m.fleet != nil {
		// Loudness columns when some server measures: not for Icecasts alone.
		analysed = m.localAnalysis || len(msg.audio) > 0
	}
	m.mounts.SetAudio(msg.audio, analysed)
	if m.fleet != nil {
		m.applyServers(msg.servers)
		m.inRate, m.outRate = m.fleetRates(snap)
	}
	m.mounts.SetSnapshot(snap.Mounts, snap.Time)
	if l := msg.listeners; l != nil {
		if sel, ok := m.mounts.Selected(); ok && sel.Name == l.Name {
			m.listeners.SetUnknown(l.Unknown)
			m.listeners.SetData(l.Name, l.Listeners, snap.Time)
			m.listenersAt = snap.Time
		}
	}
}

// pushedMounts is the set of local mounts that are pushed somewhere (nil
// when none is).
func pushedMounts(ps []engine.PushStatus) map[string]bool {
	if len(ps) == 0 {
		return nil
	}
	out := make(map[string]bool, len(ps))
	for _, p := range ps {
		out[p.Mount] = true
	}
	return out
}

// pushesOf returns the pushes of one mount, in the engine's order.
func pushesOf(ps []engine.PushStatus, mount string) []engine.PushStatus {
	var out []engine.PushStatus
	for _, p := range ps {
		if p.Mount == mount {
			out = append(out, p)
		}
	}
	return out
}

// Update implements tea.Model. Whatever the message, the model settles
// before returning: the selected mount's data reaches the panes, the
// layout follows the state, and the listeners of a Listeners tab that
// came into view are asked for.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := m.update(msg)
	m.settle()
	return m, tea.Batch(cmd, m.fetchListeners())
}

func (m *Model) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case snapshotMsg:
		if m.flash != "" {
			m.flashAge++
			if m.flashAge > flashTicks {
				m.flash = ""
			}
		}
		// A poll begun before a relay was added may arrive after the
		// fresher snapshot that came with it; the older one is dropped.
		if !msg.snap.Time.Before(m.snap.Time) && (m.fleet == nil || msg.scope == m.fleet.Scope()) {
			m.applySnapshot(msg)
		}
		return m.tick()
	case listenersMsg:
		if sel, ok := m.mounts.Selected(); ok && sel.Name == msg.mount {
			m.listeners.SetUnknown(msg.ms.Unknown)
			m.listeners.SetData(msg.mount, msg.ms.Listeners, m.snap.Time) // the clock the rest of the screen shows
			m.listenersAt = m.snap.Time
		}
	case configMsg:
		m.cfg, m.admin = msg.cfg, [2]string{msg.adminUser, msg.admin}
	case eventsMsg:
		m.store.Add(msg...)
		var cmd tea.Cmd
		for _, e := range msg {
			if e.Type == engine.EventReload { // SIGHUP or the API: say what came of it
				m.setFlash(e.Message, e.Level >= slog.LevelWarn)
				cmd = m.rereadConfig()
			}
		}
		return tea.Batch(cmd, waitEvents(m.evCh))
	case resultMsg:
		m.listenersAt = time.Time{} // a kick shows at once, even in a long list
		if msg.snap != nil && !msg.snap.snap.Time.Before(m.snap.Time) {
			m.applySnapshot(*msg.snap)
		}
		if msg.err != nil {
			m.setFlash(msg.err.Error(), true)
		} else if msg.text != "" {
			m.setFlash(msg.text, false)
		}
	case relayAddedMsg:
		m.relayDraft = ""
		m.applySnapshot(msg.snap)
		m.mounts.Select(msg.mount)
		m.setFlash(msg.text, false)
	case tea.PasteMsg:
		if m.input != nil {
			// A pasted URL often ends in a newline; it is not an enter.
			m.input.text += strings.Join(strings.Fields(msg.Content), " ")
			if m.input.change != nil {
				m.input.change(m.input.text)
			}
		}
	case common.KickListenersRequest:
		m.requestKickListeners(msg)
	case common.KickSourceRequest:
		m.requestKickSource(msg)
	case common.ResetLoudnessRequest:
		if a := m.opts.Analyzer; a != nil && a.Reset(msg.Mount) {
			m.setFlash("loudness and peaks of "+msg.Mount+" measured afresh from now", false)
		}
	case common.FilterRequest:
		m.input = &textPrompt{label: "filter " + msg.What + ": ", done: "keep filter", text: msg.Text, change: msg.Set,
			submit: func(string) tea.Cmd { return nil }, cancel: func() { msg.Set("") }}
	case common.PickRequest:
		m.picker = &picker{title: msg.Title, options: msg.Options, cursor: common.Clamp(msg.Cursor, 0, len(msg.Options)-1), choose: msg.Choose}
	case tea.KeyPressMsg:
		return m.handleKey(msg)
	case tea.MouseClickMsg:
		m.handleClick(msg.Mouse())
	case tea.MouseWheelMsg:
		m.handleWheel(msg.Mouse())
	}
	return nil
}

// rereadConfig reads the settings a reload may have changed: the source
// password and address in the ffmpeg command, the admin password.
func (m *Model) rereadConfig() tea.Cmd {
	eng, admin := m.eng, m.opts.Admin
	return func() tea.Msg {
		msg := configMsg{cfg: eng.Config()}
		if admin != nil {
			msg.adminUser, msg.admin = admin()
		}
		return msg
	}
}

// settle hands the selected mount's data to the detail panes and lays
// the screen out; Update calls it after every message.
func (m *Model) settle() {
	ms, ok := m.mounts.Selected()
	if !ok {
		ms = engine.MountSnapshot{}
	}
	if m.listeners.Mount() != ms.Name && m.listenersShown() == "" {
		// Hidden: nothing is read for it; the next showing reads afresh.
		m.listeners.SetData(ms.Name, nil, m.snap.Time)
		m.listenersAt = time.Time{}
	}
	m.mountEvs.SetMount(ms.Name)
	if !ok {
		m.mountEvs.SetMount("\x00none")
	}
	m.mountEvs.Sync()
	m.logView.Sync()
	m.graphs.SetMount(ms.Name)
	m.layout()
	if m.detailShown(tabSource) {
		m.source.SetData(ms, ok, m.snap.Time, m.health.Flags(ms.Name), m.listenURL(ms.Name))
		m.source.SetPushes(pushesOf(m.pushes, ms.Name))
		if a := m.opts.Analyzer; a != nil {
			// A copy of 300 numbers, never a wait.
			st, has := m.audio[ms.Name]
			m.source.SetAudio(st, has, a.History(ms.Name))
		}
		m.source.Refresh()
	}
	if m.detailShown(tabGraphs) {
		m.graphs.Refresh()
	}
}

// detailShown reports whether tab t is on screen.
func (m *Model) detailShown(t tab) bool {
	return !m.log && m.tab == t && !m.help && !(m.zoom && m.focus == paneMounts) && m.lay.bodyH > 0
}

func (m *Model) setFlash(text string, isErr bool) {
	m.flash, m.flashErr, m.flashAge = text, isErr, 0
}

// handleKey routes a key: ctrl+c, then an open prompt, then the global
// keys, then the focused pane's, then the selected mount's. A key that
// matches nothing, or whose binding is off, says why.
func (m *Model) handleKey(k tea.KeyPressMsg) tea.Cmd {
	km := m.keys
	if key.Matches(k, km.ForceQuit) {
		return tea.Quit
	}
	switch {
	case m.confirm != nil:
		return m.answer(k)
	case m.picker != nil:
		return m.pick(k)
	case m.input != nil:
		return m.typeInput(k)
	case m.help && !key.Matches(k, km.Help, km.Quit):
		m.help = false
		return nil
	}
	for _, group := range [][]common.Binding{m.globalBindings(), m.focusedPane().Bindings(), m.mountBindings()} {
		if b, ok := common.Match(group, k); ok {
			if b.Off != "" {
				m.setFlash(b.Off, true)
				return nil
			}
			return b.Run()
		}
	}
	m.setFlash(m.whereKeyWorks(k), true)
	return nil
}

// answer takes y or n for the pending confirmation; other keys wait.
func (m *Model) answer(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(k, m.keys.Yes):
		c := m.confirm
		m.confirm = nil
		return c.action
	case key.Matches(k, m.keys.No):
		m.confirm = nil
		m.setFlash("cancelled", false)
	}
	return nil
}

// pick moves in the picker, chooses with enter and cancels with esc.
func (m *Model) pick(k tea.KeyPressMsg) tea.Cmd {
	p, km := m.picker, m.keys
	switch {
	case key.Matches(k, km.PickUp):
		p.cursor = common.Clamp(p.cursor-1, 0, len(p.options)-1)
	case key.Matches(k, km.PickDown):
		p.cursor = common.Clamp(p.cursor+1, 0, len(p.options)-1)
	case key.Matches(k, km.No):
		m.picker = nil
		m.setFlash("cancelled", false)
	case key.Matches(k, km.Accept):
		m.picker = nil
		return p.choose(p.cursor)
	}
	return nil
}

// typeInput edits the prompt line: printable text appends, backspace
// deletes, ctrl+u/ctrl+w clear, enter submits, esc cancels.
func (m *Model) typeInput(k tea.KeyPressMsg) tea.Cmd {
	in := m.input
	switch k.String() {
	case "esc":
		m.input = nil
		if in.cancel != nil {
			in.cancel()
		}
		m.setFlash("cancelled", false)
		return nil
	case "enter":
		m.input = nil
		return in.submit(strings.TrimSpace(in.text))
	case "backspace":
		if r := []rune(in.text); len(r) > 0 {
			in.text = string(r[:len(r)-1])
		}
	case "ctrl+u", "ctrl+w":
		in.text = ""
	default:
		if k.Text == "" || k.Mod&^tea.ModShift != 0 {
			return nil
		}
		in.text += k.Text
	}
	if in.change != nil {
		in.change(in.text)
	}
	return nil
}

// focusedPane is the pane with the keyboard.
func (m *Model) focusedPane() common.Pane {
	switch m.focus {
	case paneMounts:
		return m.mounts
	case paneServers:
		return m.servers
	}
	return m.detailPane()
}

// detailPane is what the lower pane shows.
func (m *Model) detailPane() common.Pane {
	if m.log {
		return m.logView
	}
	return m.tabPane(m.tab)
}

func (m *Model) tabPane(t tab) common.Pane {
	switch t {
	case tabSource:
		return m.source
	case tabEvents:
		return m.mountEvs
	case tabGraphs:
		return m.graphs
	}
	return m.listeners
}

var _ tea.Model = (*Model)(nil)
