package tui

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/themes"
	"github.com/icedeck/icedeck/tui/common"
	"github.com/icedeck/icedeck/tui/events"
	"github.com/icedeck/icedeck/tui/keys"
	"github.com/icedeck/icedeck/tui/listeners"
	"github.com/icedeck/icedeck/tui/mounts"
	"github.com/icedeck/icedeck/tui/source"
)

// pane is which part of the screen has the keyboard.
type pane int

const (
	paneMounts pane = iota
	paneDetail
	paneLog
)

// tab is the detail tab shown for the selected mount.
type tab int

const (
	tabListeners tab = iota
	tabSource
	tabEvents
	numTabs
)

// Messages.
type (
	snapshotMsg struct {
		snap      engine.Snapshot
		pushes    []engine.PushStatus // read with snap
		aud       AuditionStatus
		recording map[string]bool
		audio     map[string]engine.AudioStats // nil without an Analyzer
	}
	tickMsg   struct{}
	eventsMsg []engine.Event
	// resultMsg reports the end of an engine or player action.
	resultMsg struct {
		text string
		err  error
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
// until enter submits it or esc cancels.
type textPrompt struct {
	label  string
	text   string
	submit func(text string) tea.Cmd
}

// picker chooses the destination mount for a move.
type picker struct {
	from    string
	ids     []uint64 // nil = all
	count   int
	options []string
	cursor  int
}

// Model is the root of the interface. Use NewModel; it is a tea.Model.
type Model struct {
	opts   Options
	eng    Engine
	cfg    engine.Config
	styles *themes.Styles // shared with every pane; replaced in place on theme change
	theme  string
	keys   *keys.KeyMap
	help   help.Model

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

	focus pane
	tab   tab
	log   bool // server-wide event log shown instead of the detail tabs

	mounts    *mounts.Model
	listeners *listeners.Model
	source    *source.Model
	mountEvs  *events.Model
	logView   *events.Model
	store     *events.Store

	evCh     <-chan engine.Event
	evCancel func()

	confirm  *confirmation
	picker   *picker
	input    *textPrompt
	reveal   bool
	flash    string
	flashErr bool
	flashAge int // ticks since the flash was set

	// relayDraft is what was typed at the last relay prompt that added no
	// relay: a offers it again rather than make the operator retype a URL.
	relayDraft string

	helpKey  helpKey
	helpText string
}

// flashTicks is how many ticks a status message stays.
const flashTicks = 25

// NewModel builds the model: loads the theme, reads a first snapshot and
// the recent events, and subscribes to new ones (Close ends that).
func NewModel(opts Options) (*Model, error) {
	if opts.Engine == nil {
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
	km := keys.New(opts.ReadOnly)
	km.Analysed = opts.Analyzer != nil
	m := &Model{
		opts:   opts,
		eng:    opts.Engine,
		cfg:    opts.Engine.Config(),
		styles: &st,
		theme:  th.Name,
		keys:   &km,
		help:   help.New(),
		store:  events.NewStore(2000),
		width:  80,
		height: 24,
	}
	m.applyHelpStyles()
	m.mounts = mounts.New(m.styles, m.keys)
	m.listeners = listeners.New(m.styles, m.keys)
	m.source = source.New(m.styles, m.keys)
	m.mountEvs = events.New(m.styles, m.keys, m.store, "")
	m.logView = events.New(m.styles, m.keys, m.store, "")
	m.store.Add(m.eng.Events(500)...)
	m.evCh, m.evCancel = m.eng.Subscribe(256)
	first := snapshotMsg{snap: m.eng.Snapshot(), pushes: m.eng.Pushes(), aud: m.pollAudition(), recording: m.pollRecording(nil)}
	pollAudio(opts.Analyzer, &first)
	m.applySnapshot(first)
	m.setFocus(paneMounts)
	return m, nil
}

// Close ends the event subscription.
func (m *Model) Close() {
	if m.evCancel != nil {
		m.evCancel()
		m.evCancel = nil
	}
}

func (m *Model) applyHelpStyles() {
	s := m.styles
	m.help.Styles = help.Styles{
		Ellipsis: s.HelpSep, ShortKey: s.HelpKey, ShortDesc: s.HelpDesc, ShortSeparator: s.HelpSep,
		FullKey: s.HelpKey, FullDesc: s.HelpDesc, FullSeparator: s.HelpSep,
	}
}

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(m.tick(), waitEvents(m.evCh), tea.RequestWindowSize)
}

func (m *Model) tick() tea.Cmd {
	return tea.Tick(m.opts.Tick, func(time.Time) tea.Msg { return tickMsg{} })
}

// poll reads the engine and the optional player off the UI goroutine.
func (m *Model) poll() tea.Cmd {
	eng, aud, rec, ana := m.eng, m.opts.Auditioner, m.opts.Recorder, m.opts.Analyzer
	return func() tea.Msg {
		snap := eng.Snapshot()
		msg := snapshotMsg{snap: snap, pushes: eng.Pushes()}
		pollAudio(ana, &msg)
		if aud != nil {
			msg.aud = aud.AuditionStatus()
		}
		if rec != nil {
			msg.recording = map[string]bool{}
			for _, ms := range snap.Mounts {
				if rec.Recording(ms.Name) {
					msg.recording[ms.Name] = true
				}
			}
		}
		return msg
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

func (m *Model) pollAudition() AuditionStatus {
	if m.opts.Auditioner == nil {
		return AuditionStatus{}
	}
	return m.opts.Auditioner.AuditionStatus()
}

func (m *Model) pollRecording(names []string) map[string]bool {
	if m.opts.Recorder == nil {
		return nil
	}
	out := map[string]bool{}
	for _, n := range names {
		if m.opts.Recorder.Recording(n) {
			out[n] = true
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
	if dt := snap.Time.Sub(m.prev.Time).Seconds(); !m.prev.Time.IsZero() && dt > 0 && snap.BytesIn >= m.prev.BytesIn && snap.BytesOut >= m.prev.BytesOut {
		// Smoothed over about two seconds: sources deliver in bursts (an Ogg
		// muxer sends a page a second), so one tick's rate jumps about.
		k := 1 - math.Exp(-dt/2)
		m.inRate += (float64(snap.BytesIn-m.prev.BytesIn)*8/dt - m.inRate) * k
		m.outRate += (float64(snap.BytesOut-m.prev.BytesOut)*8/dt - m.outRate) * k
	} else if m.prev.Time.IsZero() {
		// First look: estimate from the measured source bitrates.
		m.inRate, m.outRate = 0, 0
		for _, ms := range snap.Mounts {
			if ms.Source != nil {
				m.inRate += float64(ms.Source.Bitrate1s)
				m.outRate += float64(ms.Source.Bitrate1s) * float64(ms.ListenerCount)
			}
		}
	}
	m.aud = msg.aud
	m.recording = msg.recording
	m.pushes = msg.pushes
	m.mounts.SetMarks(m.aud.Mount, m.aud.Silent(), m.recording)
	m.mounts.SetPushed(pushedMounts(m.pushes))
	m.mounts.SetAudio(msg.audio, m.opts.Analyzer != nil)
	m.mounts.SetSnapshot(snap.Mounts, snap.Time)
	m.audio = msg.audio
	m.syncSelection()
}

// syncSelection hands the selected mount's data to the detail panes.
func (m *Model) syncSelection() {
	ms, ok := m.mounts.Selected()
	m.listeners.SetData(ms.Name, ms.Listeners, m.snap.Time)
	m.source.SetData(ms, ok, m.snap.Time)
	m.source.SetPushes(pushesOf(m.pushes, ms.Name))
	if a := m.opts.Analyzer; a != nil {
		// The history is read here, when the selection changes too: a
		// copy of 300 numbers, never a wait.
		st, has := m.audio[ms.Name]
		m.source.SetAudio(st, has, a.History(ms.Name))
	}
	m.mountEvs.SetMount(ms.Name)
	if !ok {
		m.mountEvs.SetMount("\x00none")
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

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layout()
		return m, nil
	case tickMsg:
		if m.flash != "" {
			m.flashAge++
			if m.flashAge > flashTicks {
				m.flash = ""
			}
		}
		return m, m.poll()
	case snapshotMsg:
		// A poll begun before a relay was added may arrive after the
		// fresher snapshot that came with it; the older one is dropped.
		if !msg.snap.Time.Before(m.snap.Time) {
			m.applySnapshot(msg)
			m.layout()
		}
		return m, m.tick()
	case eventsMsg:
		m.store.Add(msg...)
		for _, e := range msg {
			if e.Type == engine.EventReload { // SIGHUP or the API: say what came of it
				m.setFlash(e.Message, e.Level >= slog.LevelWarn)
			}
		}
		return m, waitEvents(m.evCh)
	case resultMsg:
		if msg.err != nil {
			m.setFlash(msg.err.Error(), true)
		} else if msg.text != "" {
			m.setFlash(msg.text, false)
		}
		return m, nil
	case relayAddedMsg:
		m.relayDraft = ""
		m.applySnapshot(msg.snap)
		if m.mounts.Select(msg.mount) {
			m.syncSelection()
		}
		m.layout()
		m.setFlash(msg.text, false)
		return m, nil
	case tea.PasteMsg:
		if m.input != nil {
			// A pasted URL often ends in a newline; it is not an enter.
			m.input.text += strings.Join(strings.Fields(msg.Content), " ")
		}
		return m, nil
	case common.KickListenersRequest:
		return m, m.requestKickListeners(msg)
	case common.KickSourceRequest:
		return m, m.requestKickSource(msg)
	case common.ResetLoudnessRequest:
		if a := m.opts.Analyzer; a != nil && a.Reset(msg.Mount) {
			m.setFlash("loudness and peaks of "+msg.Mount+" measured afresh from now", false)
		}
		return m, nil
	case common.MoveListenersRequest:
		return m, m.requestMove(msg)
	case tea.KeyPressMsg:
		return m, m.handleKey(msg)
	case tea.MouseClickMsg:
		return m, m.handleClick(msg.Mouse())
	case tea.MouseWheelMsg:
		m.handleWheel(msg.Mouse())
		return m, nil
	}
	return m, nil
}

func (m *Model) setFlash(text string, isErr bool) {
	m.flash, m.flashErr, m.flashAge = text, isErr, 0
}

// handleKey routes a key: prompts first, then the filter being typed, then
// global keys, then the focused pane.
func (m *Model) handleKey(k tea.KeyPressMsg) tea.Cmd {
	km := m.keys
	if key.Matches(k, km.ForceQuit) {
		return tea.Quit
	}
	if m.confirm != nil {
		switch {
		case key.Matches(k, km.Yes):
			c := m.confirm
			m.confirm = nil
			return c.action
		case key.Matches(k, km.No):
			m.confirm = nil
			m.setFlash("cancelled", false)
		}
		return nil // every other key is ignored while asking
	}
	if m.picker != nil {
		return m.handlePicker(k)
	}
	if m.input != nil {
		return m.typeInput(k)
	}
	if m.mounts.Filtering() {
		// While typing, keys are text: no global key works.
		cmd := m.mounts.Update(k)
		m.syncSelection()
		m.layout()
		return cmd
	}
	if m.help.ShowAll && !key.Matches(k, km.Help, km.Quit) {
		m.help.ShowAll = false
		return nil
	}
	switch {
	case key.Matches(k, km.Quit):
		if m.snap.Sources > 0 {
			m.confirm = &confirmation{
				prompt: plural(m.snap.Sources, "source is", "sources are") + " connected. Quit icedeck and stop the server?",
				action: tea.Quit,
			}
			return nil
		}
		return tea.Quit
	case key.Matches(k, km.Help):
		m.help.ShowAll = !m.help.ShowAll
		m.layout()
		return nil
	case key.Matches(k, km.NextPane):
		m.cycleFocus(1)
		return nil
	case key.Matches(k, km.PrevPane):
		m.cycleFocus(-1)
		return nil
	case key.Matches(k, km.Log):
		m.log = !m.log
		switch {
		case m.log:
			m.setFocus(paneLog)
		case m.focus == paneLog:
			m.setFocus(paneMounts)
		}
		m.layout()
		return nil
	case key.Matches(k, km.Theme):
		m.nextTheme()
		return nil
	case key.Matches(k, km.Reveal):
		m.reveal = !m.reveal
		return nil
	case key.Matches(k, km.Audition) && (m.focus == paneMounts || k.String() == "p"):
		return m.toggleAudition()
	case key.Matches(k, km.VolUp):
		return m.volume(0.1)
	case key.Matches(k, km.VolDown):
		return m.volume(-0.1)
	case key.Matches(k, km.Mute):
		return m.toggleMute()
	case key.Matches(k, km.Record):
		return m.toggleRecord()
	case key.Matches(k, km.AddRelay):
		m.promptRelay()
		return nil
	case key.Matches(k, km.RemoveRelay):
		m.requestRemoveRelay()
		return nil
	case m.opts.ReadOnly && key.Matches(k, km.Destructive()...):
		m.refuseReadOnly(clientsOff)
		return nil
	}
	if m.focus == paneDetail && !m.log {
		switch {
		case key.Matches(k, km.NextTab):
			m.tab = (m.tab + 1) % numTabs
			m.layout()
			return nil
		case key.Matches(k, km.PrevTab):
			m.tab = (m.tab + numTabs - 1) % numTabs
			m.layout()
			return nil
		}
	}
	// Destructive keys act on the selected mount from the mounts pane too.
	if m.focus == paneMounts {
		switch {
		case key.Matches(k, km.Kick, km.Move):
			return m.listeners.Update(k)
		case key.Matches(k, km.KickSource):
			return m.source.Update(k)
		}
	}
	cmd := m.focused().Update(k)
	if m.focus == paneMounts {
		m.syncSelection()
		m.layout()
	}
	return cmd
}

func (m *Model) focused() common.Component {
	switch m.focus {
	case paneDetail:
		return m.focusedDetail()
	case paneLog:
		return m.logView
	}
	return m.mounts
}

func (m *Model) setFocus(p pane) {
	m.focus = p
	m.mounts.SetFocused(p == paneMounts)
	m.listeners.SetFocused(p == paneDetail && m.tab == tabListeners)
	m.source.SetFocused(p == paneDetail && m.tab == tabSource)
	m.mountEvs.SetFocused(p == paneDetail && m.tab == tabEvents)
	m.logView.SetFocused(p == paneLog)
}

func (m *Model) cycleFocus(d int) {
	order := []pane{paneMounts, paneDetail}
	if m.log {
		order = []pane{paneMounts, paneLog}
	}
	i := slices.Index(order, m.focus)
	m.setFocus(order[(i+d+len(order))%len(order)])
}

func (m *Model) nextTheme() {
	names, err := themes.AllNames(m.opts.ThemeDir)
	if err != nil {
		m.setFlash(err.Error(), true)
	}
	i := slices.Index(names, m.theme)
	for n := 1; n <= len(names); n++ {
		name := names[(i+n)%len(names)]
		th, err := themes.Load(name, m.opts.ThemeDir)
		if err != nil {
			m.setFlash(err.Error(), true)
			continue
		}
		*m.styles = themes.NewStyles(th, m.opts.NoColor)
		m.theme = th.Name
		m.applyHelpStyles()
		m.setFlash("theme "+th.Name, false)
		return
	}
}

func (m *Model) selectedMount() (engine.MountSnapshot, bool) { return m.mounts.Selected() }

func (m *Model) toggleAudition() tea.Cmd {
	a := m.opts.Auditioner
	if a == nil {
		m.setFlash("audition not available (no audio output configured)", true)
		return nil
	}
	ms, ok := m.selectedMount()
	if !ok {
		m.setFlash("no mount selected", true)
		return nil
	}
	if m.aud.Active() && m.aud.Mount == ms.Name {
		return func() tea.Msg { a.StopAudition(); return resultMsg{text: "audition stopped"} }
	}
	name := ms.Name
	m.setFlash("opening audio output for "+name+"…", false)
	return func() tea.Msg {
		if err := a.Audition(name); err != nil {
			return resultMsg{err: fmt.Errorf("audition %s: %w", name, err)}
		}
		return resultMsg{text: "auditioning " + name}
	}
}

func (m *Model) volume(d float64) tea.Cmd {
	a := m.opts.Auditioner
	if a == nil || !m.aud.Active() {
		return nil
	}
	v := common.Clamp(int((m.aud.Volume+d)*100+0.5), 0, 100)
	m.aud.Volume = float64(v) / 100
	return func() tea.Msg { a.SetVolume(float64(v) / 100); return nil }
}

func (m *Model) toggleMute() tea.Cmd {
	a := m.opts.Auditioner
	if a == nil || !m.aud.Active() {
		return nil
	}
	m.aud.Muted = !m.aud.Muted
	muted := m.aud.Muted
	return func() tea.Msg { a.SetMuted(muted); return nil }
}

func (m *Model) toggleRecord() tea.Cmd {
	r := m.opts.Recorder
	if r == nil {
		m.setFlash("recording not available", true)
		return nil
	}
	ms, ok := m.selectedMount()
	if !ok {
		m.setFlash("no mount selected", true)
		return nil
	}
	name := ms.Name
	if m.recording[name] {
		return func() tea.Msg {
			if err := r.StopRecording(name); err != nil {
				return resultMsg{err: fmt.Errorf("stop recording %s: %w", name, err)}
			}
			return resultMsg{text: "recording of " + name + " stopped"}
		}
	}
	return func() tea.Msg {
		path, err := r.StartRecording(name)
		if err != nil {
			return resultMsg{err: fmt.Errorf("record %s: %w", name, err)}
		}
		return resultMsg{text: "recording " + name + " to " + path}
	}
}

// What read-only mode turns off, for the refusal.
const (
	clientsOff = "disconnecting and moving clients"
	relaysOff  = "adding and removing relays"
)

func (m *Model) refuseReadOnly(what string) bool {
	if m.opts.ReadOnly {
		m.setFlash("read-only mode: "+what+" is disabled", true)
	}
	return m.opts.ReadOnly
}

func (m *Model) requestKickListeners(r common.KickListenersRequest) tea.Cmd {
	if m.refuseReadOnly(clientsOff) || len(r.IDs) == 0 {
		return nil
	}
	eng := m.eng
	m.confirm = &confirmation{
		prompt: "Disconnect " + r.Label + " from " + r.Mount + "?",
		action: func() tea.Msg {
			var errs []error
			n := 0
			for _, id := range r.IDs {
				if err := eng.KickListener(r.Mount, id); err != nil {
					errs = append(errs, err)
				} else {
					n++
				}
			}
			return resultMsg{text: "disconnected " + plural(n, "listener", "listeners") + " from " + r.Mount,
				err: errors.Join(errs...)}
		},
	}
	if len(r.IDs) > 1 {
		m.listeners.ClearMarks()
	}
	return nil
}

func (m *Model) requestKickSource(r common.KickSourceRequest) tea.Cmd {
	if m.refuseReadOnly(clientsOff) {
		return nil
	}
	eng := m.eng
	m.confirm = &confirmation{
		prompt: "Disconnect the source of " + r.Mount + " (" + r.Addr + ")?",
		action: func() tea.Msg {
			if err := eng.KickSource(r.Mount); err != nil {
				return resultMsg{err: fmt.Errorf("kick source of %s: %w", r.Mount, err)}
			}
			return resultMsg{text: "disconnected the source of " + r.Mount}
		},
	}
	return nil
}

func (m *Model) requestMove(r common.MoveListenersRequest) tea.Cmd {
	if m.refuseReadOnly(clientsOff) {
		return nil
	}
	var opts []string
	for _, n := range m.mounts.Names() {
		if n != r.Mount {
			opts = append(opts, n)
		}
	}
	if len(opts) == 0 {
		m.setFlash("no other mount to move listeners to", true)
		return nil
	}
	count := len(r.IDs)
	if r.IDs == nil {
		ms, _ := m.selectedMount()
		count = ms.ListenerCount
	}
	m.picker = &picker{from: r.Mount, ids: r.IDs, count: count, options: opts}
	m.layout()
	return nil
}

func (m *Model) handlePicker(k tea.KeyPressMsg) tea.Cmd {
	p, km := m.picker, m.keys
	switch {
	case key.Matches(k, km.Up):
		p.cursor = common.Clamp(p.cursor-1, 0, len(p.options)-1)
	case key.Matches(k, km.Down):
		p.cursor = common.Clamp(p.cursor+1, 0, len(p.options)-1)
	case key.Matches(k, km.No):
		m.picker = nil
		m.setFlash("move cancelled", false)
	case key.Matches(k, km.Accept):
		m.picker = nil
		to, eng := p.options[p.cursor], m.eng
		what := plural(p.count, "listener", "listeners")
		if p.ids == nil {
			what = "all " + what
		}
		m.confirm = &confirmation{
			prompt: "Move " + what + " from " + p.from + " to " + to + "?",
			action: func() tea.Msg {
				n, err := eng.MoveListeners(p.from, to, p.ids)
				if err != nil {
					return resultMsg{err: fmt.Errorf("move %s → %s: %w", p.from, to, err)}
				}
				return resultMsg{text: "moved " + plural(n, "listener", "listeners") + " from " + p.from + " to " + to}
			},
		}
		if p.ids != nil {
			m.listeners.ClearMarks()
		}
	}
	m.layout()
	return nil
}

// typeInput edits the prompt line as the filter is edited: printable text
// appends, backspace deletes, ctrl+u/ctrl+w clear, enter submits, esc
// cancels.
func (m *Model) typeInput(k tea.KeyPressMsg) tea.Cmd {
	in := m.input
	switch k.String() {
	case "esc":
		m.input = nil
		m.setFlash("cancelled", false)
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
		if k.Text != "" && k.Mod&^tea.ModShift == 0 {
			in.text += k.Text
		}
	}
	return nil
}

// promptRelay opens the relay prompt, with the text of the last attempt
// that failed.
func (m *Model) promptRelay() {
	if m.refuseReadOnly(relaysOff) {
		return
	}
	m.input = &textPrompt{label: "Relay from URL: ", text: m.relayDraft, submit: m.addRelay}
	m.relayDraft = ""
}

// addRelay adds the relay typed at the prompt.
func (m *Model) addRelay(text string) tea.Cmd {
	m.relayDraft = text // until it works
	rc, err := parseRelay(text)
	if err != nil {
		m.setFlash(err.Error(), true)
		return nil
	}
	eng, poll, from := m.eng, m.poll(), common.Redact(rc.Upstreams[0])
	m.setFlash("adding the relay of "+rc.Mount+" from "+from+"…", false)
	return func() tea.Msg {
		if err := eng.AddRelay(rc); err != nil {
			return resultMsg{err: fmt.Errorf("could not add the relay: %w", err)}
		}
		snap, _ := poll().(snapshotMsg)
		return relayAddedMsg{mount: rc.Mount, text: "relaying " + rc.Mount + " from " + from, snap: snap}
	}
}

// parseRelay reads the relay prompt: "URL", whose path is the local mount,
// or "URL as /mount". A URL without a scheme is taken as http://, the only
// one the engine pulls.
func parseRelay(text string) (engine.RelayConfig, error) {
	const how = `type http://host:port/mount, or "URL as /mount" for another local mount`
	f := strings.Fields(text)
	var u, mount string
	switch {
	case len(f) == 0:
		return engine.RelayConfig{}, errors.New("no relay added: " + how)
	case len(f) == 1:
		u = f[0]
	case len(f) == 3 && strings.EqualFold(f[1], "as"):
		u, mount = f[0], f[2]
		if !strings.HasPrefix(mount, "/") {
			mount = "/" + mount
		}
	default:
		return engine.RelayConfig{}, errors.New("no relay added: " + how)
	}
	if !strings.Contains(u, "://") {
		u = "http://" + u
	}
	pu, err := url.Parse(u)
	if err != nil {
		return engine.RelayConfig{}, fmt.Errorf("no relay added: that is not a URL (%v)", err)
	}
	if mount == "" {
		mount = pu.Path
		if mount == "" || mount == "/" {
			return engine.RelayConfig{}, errors.New("no relay added: " + pu.Redacted() + " names no mount; " + how)
		}
	}
	return engine.RelayConfig{Mount: mount, Upstreams: []string{u}, ICYMetadata: true}, nil
}

func (m *Model) requestRemoveRelay() {
	if m.refuseReadOnly(relaysOff) {
		return
	}
	ms, ok := m.selectedMount()
	switch {
	case !ok:
		m.setFlash("no mount selected", true)
		return
	case ms.Relay == nil:
		m.setFlash(ms.Name+" is not relayed: R removes a pull relay (a adds one)", true)
		return
	}
	eng, name := m.eng, ms.Name
	prompt := "Remove the relay of " + name + " (from " + common.Redact(ms.Relay.Upstream) + ")?"
	if ms.Relay.FromMaster {
		prompt += " The master's next update brings it back."
	}
	m.confirm = &confirmation{
		prompt: prompt,
		action: func() tea.Msg {
			if err := eng.RemoveRelay(name); err != nil {
				return resultMsg{err: fmt.Errorf("could not remove the relay of %s: %w", name, err)}
			}
			return resultMsg{text: "relay of " + name + " removed"}
		},
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// ffmpegCommand is a ready command line to feed this server.
func (m *Model) ffmpegCommand() string {
	user := m.cfg.SourceUser
	if user == "" {
		user = "source"
	}
	pw := "••••"
	switch {
	case m.cfg.SourcePassword == "":
		pw = "PASSWORD"
	case m.reveal:
		pw = m.cfg.SourcePassword
	}
	return "ffmpeg -re -i input.mp3 -c:a libmp3lame -b:a 128k -f mp3 icecast://" + user + ":" + pw + "@" + m.hostPort() + "/live.mp3"
}

// hostPort is where a local source client should connect.
func (m *Model) hostPort() string {
	addrs := m.snap.Addrs
	if len(addrs) == 0 {
		addrs = m.cfg.Listen
	}
	if len(addrs) == 0 {
		return "localhost:8000"
	}
	host, port, err := net.SplitHostPort(addrs[0])
	if err != nil {
		return addrs[0]
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func (m *Model) addrs() string {
	if len(m.snap.Addrs) > 0 {
		return strings.Join(m.snap.Addrs, " ")
	}
	return strings.Join(m.cfg.Listen, " ")
}

// view names for the help line.
func (m *Model) keyContext() keys.Context {
	switch {
	case m.confirm != nil:
		return keys.Confirm
	case m.picker != nil:
		return keys.Picker
	case m.input != nil:
		return keys.Prompt
	case m.mounts.Filtering():
		return keys.Filter
	case m.focus == paneLog:
		return keys.Log
	case m.focus == paneDetail:
		switch m.tab {
		case tabSource:
			return keys.Source
		case tabEvents:
			return keys.Events
		}
		return keys.Listeners
	}
	return keys.Mounts
}

var _ tea.Model = (*Model)(nil)
