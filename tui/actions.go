package tui

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/themes"
	"github.com/icedeck/icedeck/tui/common"
)

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
		m.setFlash("theme "+th.Name, false)
		return
	}
}

// toggleAudition plays the selected mount, or stops it when it plays.
func (m *Model) toggleAudition() tea.Cmd {
	a := m.opts.Auditioner
	ms, _ := m.mounts.Selected()
	if m.aud.Active() && m.aud.Mount == ms.Name {
		return m.stopAudition()
	}
	name, label := ms.Name, common.MountLabel(ms.Name)
	m.setFlash("opening audio output for "+label+"…", false)
	return func() tea.Msg {
		if err := a.Audition(name); err != nil {
			return resultMsg{err: fmt.Errorf("audition %s: %w", label, err)}
		}
		return resultMsg{text: "auditioning " + label}
	}
}

// stopAudition stops what plays, from any pane.
func (m *Model) stopAudition() tea.Cmd {
	a := m.opts.Auditioner
	m.aud.State = "stopped" // the panel goes now, not at the next tick
	return func() tea.Msg { a.StopAudition(); return resultMsg{text: "audition stopped"} }
}

func (m *Model) volume(d float64) tea.Cmd {
	a := m.opts.Auditioner
	v := common.Clamp(int((m.aud.Volume+d)*100+0.5), 0, 100)
	m.aud.Volume = float64(v) / 100
	return func() tea.Msg { a.SetVolume(float64(v) / 100); return nil }
}

func (m *Model) toggleMute() tea.Cmd {
	a := m.opts.Auditioner
	m.aud.Muted = !m.aud.Muted
	muted := m.aud.Muted
	return func() tea.Msg { a.SetMuted(muted); return nil }
}

func (m *Model) toggleRecord() tea.Cmd {
	r := m.opts.Recorder
	ms, _ := m.mounts.Selected()
	name, label := ms.Name, common.MountLabel(ms.Name)
	if m.recording[name] {
		return func() tea.Msg {
			if err := r.StopRecording(name); err != nil {
				return resultMsg{err: fmt.Errorf("stop recording %s: %w", label, err)}
			}
			return resultMsg{text: "recording of " + label + " stopped"}
		}
	}
	return func() tea.Msg {
		path, err := r.StartRecording(name)
		if err != nil {
			return resultMsg{err: fmt.Errorf("record %s: %w", label, err)}
		}
		return resultMsg{text: "recording " + label + " to " + path}
	}
}

// requestKickListeners asks before disconnecting. (Read-only mode is the
// d binding's reason to be off; no request comes without it.)
func (m *Model) requestKickListeners(r common.KickListenersRequest) {
	if len(r.IDs) == 0 {
		return
	}
	eng, label := m.eng, common.MountLabel(r.Mount)
	m.confirm = &confirmation{
		prompt: "Disconnect " + r.Label + " from " + label + "?",
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
			return resultMsg{text: "disconnected " + plural(n, "listener", "listeners") + " from " + label,
				err: errors.Join(errs...)}
		},
	}
	if len(r.IDs) > 1 {
		m.listeners.ClearMarks()
	}
}

// requestKickSourceOf asks to disconnect the selected mount's source.
func (m *Model) requestKickSourceOf() {
	ms, _ := m.mounts.Selected()
	if ms.Source != nil {
		m.requestKickSource(common.KickSourceRequest{Mount: ms.Name, Addr: ms.Source.Addr})
	}
}

func (m *Model) requestKickSource(r common.KickSourceRequest) {
	eng, label := m.eng, common.MountLabel(r.Mount)
	m.confirm = &confirmation{
		prompt: "Disconnect the source of " + label + " (" + r.Addr + ")?",
		action: func() tea.Msg {
			if err := eng.KickSource(r.Mount); err != nil {
				return resultMsg{err: fmt.Errorf("kick source of %s: %w", label, err)}
			}
			return resultMsg{text: "disconnected the source of " + label}
		},
	}
}

// requestMove offers the mounts the listeners can go to: only mounts of
// the same format, as a player cannot switch codecs mid-stream.
func (m *Model) requestMove() {
	ms, _ := m.mounts.Selected()
	from, ids := ms.Name, m.moveIDs()
	opts, format := m.moveTargets(from)
	if len(opts) == 0 {
		m.setFlash("no other "+common.Join(" ", format, "mount")+" to move listeners to: a player cannot switch formats", true)
		return
	}
	count := len(ids)
	what := plural(count, "marked listener", "marked listeners")
	if ids == nil {
		what = "all " + plural(ms.ListenerCount, "listener", "listeners")
	}
	eng, fromLabel := m.eng, common.MountLabel(from)
	m.picker = &picker{
		title:   "Move " + what + " from " + fromLabel + " to (" + common.Join(" ", format, "mounts") + "):",
		options: opts,
		choose: func(i int) tea.Cmd {
			to := opts[i]
			m.confirm = &confirmation{
				prompt: "Move " + what + " from " + fromLabel + " to " + common.MountLabel(to) + "?",
				action: func() tea.Msg {
					n, err := eng.MoveListeners(from, to, ids)
					if err != nil {
						return resultMsg{err: fmt.Errorf("move %s → %s: %w", from, to, err)}
					}
					return resultMsg{text: "moved " + plural(n, "listener", "listeners") + " from " + from + " to " + to}
				},
			}
			if ids != nil {
				m.listeners.ClearMarks()
			}
			return nil
		},
	}
}

// promptTitle asks for the selected mount's title, the one it has
// offered to edit.
func (m *Model) promptTitle() {
	ms, _ := m.mounts.Selected()
	name, eng, poll := ms.Name, m.eng, m.poll()
	label := common.MountLabel(name)
	m.input = &textPrompt{label: "Title of " + label + ": ", done: "set title", text: ms.Title, submit: func(text string) tea.Cmd {
		return func() tea.Msg {
			if err := eng.SetTitle(name, text, ""); err != nil {
				return resultMsg{err: fmt.Errorf("could not set the title of %s: %w", label, err)}
			}
			// The table shows the new title now rather than at the next tick.
			snap, _ := poll().(snapshotMsg)
			return resultMsg{text: "title of " + label + " set: " + strconv.Quote(engine.CleanText(text)), snap: &snap}
		}
	}}
}

// copyURL puts the selected mount's listen URL on the terminal's
// clipboard with OSC 52, which works over SSH (the terminal, not this
// machine, holds the clipboard).
func (m *Model) copyURL() tea.Cmd {
	ms, _ := m.mounts.Selected()
	u := m.listenURL(ms.Name)
	m.setFlash("copied "+u+" to the terminal's clipboard", false)
	return tea.SetClipboard(u)
}

// promptRelay opens the relay prompt, with the text of the last attempt
// that failed.
func (m *Model) promptRelay() {
	m.input = &textPrompt{label: "Relay from URL: ", done: "add relay", text: m.relayDraft, submit: m.addRelay}
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
	if m.fleet != nil {
		// The relay is added on the server shown alone, else on this one.
		switch scope := m.fleet.Scope(); {
		case scope != "" && scope != localName:
			rc.Mount = qualify(scope, rc.Mount)
		case m.fleet.local == nil:
			m.setFlash("no relay added: say which server pulls it (enter on its line in the servers list), then a", true)
			return nil
		}
	}
	eng, poll, from := m.eng, m.poll(), common.Redact(rc.Upstreams[0])
	m.setFlash("adding the relay of "+common.MountLabel(rc.Mount)+" from "+from+"…", false)
	return func() tea.Msg {
		if err := eng.AddRelay(rc); err != nil {
			return resultMsg{err: fmt.Errorf("could not add the relay: %w", err)}
		}
		snap, _ := poll().(snapshotMsg)
		return relayAddedMsg{mount: rc.Mount, text: "relaying " + common.MountLabel(rc.Mount) + " from " + from, snap: snap}
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
	ms, _ := m.mounts.Selected()
	eng, name, label := m.eng, ms.Name, common.MountLabel(ms.Name)
	prompt := "Remove the relay of " + label + " (from " + common.Redact(ms.Relay.Upstream) + ")?"
	if ms.Relay.FromMaster {
		prompt += " The master's next update brings it back."
	}
	m.confirm = &confirmation{
		prompt: prompt,
		action: func() tea.Msg {
			if err := eng.RemoveRelay(name); err != nil {
				return resultMsg{err: fmt.Errorf("could not remove the relay of %s: %w", label, err)}
			}
			return resultMsg{text: "relay of " + label + " removed"}
		},
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return common.Count(n) + " " + many
}

// ffmpegCommand is a ready command line to feed this server, with the
// content type Icecast-compatible servers want from ffmpeg.
func (m *Model) ffmpegCommand() string {
	user, pw := m.cfg.SourceUser, "••••"
	if user == "" {
		user = "source"
	}
	switch {
	case m.remoteScope() != "":
		user, pw = "source", "PASSWORD" // a remote server's, whose password is not known here
	case m.cfg.SourcePassword == "":
		pw = "PASSWORD"
	case m.reveal:
		pw = m.cfg.SourcePassword
	}
	return "ffmpeg -re -i input.mp3 -c:a libmp3lame -b:a 128k -f mp3 -content_type audio/mpeg icecast://" + user + ":" + pw + "@" + m.hostPort() + "/live.mp3"
}

// adminLine shows the admin credentials once v reveals them.
func (m *Model) adminLine() string {
	if !m.reveal || m.admin[1] == "" || m.remoteScope() != "" {
		return ""
	}
	return " admin " + m.admin[0] + " / " + m.admin[1] + "  ·  http://" + m.hostPort() + "/admin/"
}

// hostPort is where a client on this machine connects.
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

// listenURL is where a player listens to mount ("" for none): a remote
// server's mount at that server.
func (m *Model) listenURL(mount string) string {
	if mount == "" {
		return ""
	}
	if server, path := common.SplitMount(mount); server != "" && m.fleet != nil {
		if base := m.fleet.listenBase(server); base != "" {
			return base + path
		}
		return ""
	}
	return "http://" + m.hostPort() + mount
}

func (m *Model) addrs() string {
	if len(m.snap.Addrs) > 0 {
		return strings.Join(m.snap.Addrs, " ")
	}
	return strings.Join(m.cfg.Listen, " ")
}
