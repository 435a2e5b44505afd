package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/engine/control"
	"github.com/icedeck/icedeck/remote"
	"github.com/icedeck/icedeck/tui/common"
)

// localName is the in-process engine's name in the servers pane.
const localName = control.LocalName

// fleet is the Engine the interface reads when it shows remote servers:
// the in-process engine (none under icedeck watch) and every remote
// client, their mounts in one list. A remote mount is named
// "SERVER/path" (common.SplitMount), so every part of the interface that
// keys by mount name (health, graphs, events, the listeners tab) tells
// /live on two servers apart, and each action goes to its mount's server.
// Local mounts keep their names.
type fleet struct {
	local   Engine // nil: no engine in this process
	remotes []*remote.Client
	byName  map[string]*remote.Client

	mu    sync.Mutex
	scope string // "" every server; else the one whose mounts are shown
}

func newFleet(local Engine, remotes []*remote.Client) (*fleet, error) {
	f := &fleet{local: local, remotes: remotes, byName: map[string]*remote.Client{}}
	for _, c := range remotes {
		name := c.Name()
		if err := control.CheckRemoteName(name); err != nil {
			return nil, fmt.Errorf("tui: %w", err)
		}
		if f.byName[name] != nil {
			return nil, fmt.Errorf("tui: two remote servers are called %q", name)
		}
		f.byName[name] = c
	}
	return f, nil
}

// Scope is the server whose mounts are shown ("" for all).
func (f *fleet) Scope() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.scope
}

// SetScope shows one server's mounts, or every server's with "".
func (f *fleet) SetScope(name string) {
	f.mu.Lock()
	f.scope = name
	f.mu.Unlock()
}

func (f *fleet) shows(server, scope string) bool { return scope == "" || scope == server }

// errNoLocal answers actions on local mounts under icedeck watch.
var errNoLocal = errors.New("no engine runs in this process")

// route finds a mount's server: the local engine (c nil) or a remote
// client, and the mount's name there.
func (f *fleet) route(name string) (eng Engine, c *remote.Client, mount string, err error) {
	server, mount := common.SplitMount(name)
	if server == "" {
		if f.local == nil {
			return nil, nil, "", errNoLocal
		}
		return f.local, nil, mount, nil
	}
	c = f.byName[server]
	if c == nil {
		return nil, nil, "", fmt.Errorf("no server called %q", server)
	}
	return c, c, mount, nil
}

// qualify names a remote server's mount as the interface keys it.
func qualify(server, mount string) string {
	if server == "" || mount == "" {
		return mount
	}
	return server + mount
}

// Summary adds up the servers in scope; the mounts of remote ones are
// renamed.
func (f *fleet) Summary() engine.Snapshot {
	_, snap, _ := f.read()
	return snap
}

// read reads every server once: the summary of those in scope (scope, as
// it was read) and every server's line for the servers pane.
func (f *fleet) read() (scope string, out engine.Snapshot, lines []serverState) {
	scope = f.Scope()
	out.Time = time.Now()
	if f.local != nil {
		s := f.local.Summary()
		lines = append(lines, newServerState(remote.Status{Name: localName, Kind: remote.KindIcedeck, Version: s.ServerID,
			State: remote.StateUp, LastOK: s.Time}, true, s))
		if f.shows(localName, scope) {
			out = s
		}
	}
	for _, c := range f.remotes {
		s := c.Summary()
		lines = append(lines, newServerState(c.Status(), false, s))
		if !f.shows(c.Name(), scope) {
			continue
		}
		out.Sources += s.Sources
		out.Listeners += s.Listeners
		out.Taps += s.Taps
		out.BytesIn += s.BytesIn
		out.BytesOut += s.BytesOut
		out.Clients += s.Clients
		out.Unknown |= s.Unknown
		if f.local == nil || !f.shows(localName, scope) {
			for _, a := range s.Addrs {
				if !slices.Contains(out.Addrs, a) {
					out.Addrs = append(out.Addrs, a)
				}
			}
			if !s.Started.IsZero() && (out.Started.IsZero() || s.Started.Before(out.Started)) {
				out.Started = s.Started
			}
		}
		for _, ms := range s.Mounts {
			ms.Name = qualify(c.Name(), ms.Name)
			out.Mounts = append(out.Mounts, ms)
		}
	}
	return scope, out, lines
}

// Mount reads one mount with its listeners from its server.
func (f *fleet) Mount(name string) (engine.MountSnapshot, bool) {
	eng, c, mount, err := f.route(name)
	if err != nil {
		return engine.MountSnapshot{}, false
	}
	ms, ok := eng.Mount(mount)
	if c != nil {
		ms.Name = qualify(c.Name(), ms.Name)
	}
	return ms, ok
}

// Pushes are every server's pushes, remote mounts renamed.
func (f *fleet) Pushes() []engine.PushStatus {
	var out []engine.PushStatus
	if f.local != nil {
		out = f.local.Pushes()
	}
	for _, c := range f.remotes {
		for _, p := range c.Pushes() {
			p.Mount = qualify(c.Name(), p.Mount)
			out = append(out, p)
		}
	}
	return out
}

// qualifyEvent renames a remote event's mount; a server's own event
// (unreachable, back) names the server in its message.
func qualifyEvent(server string, e engine.Event) engine.Event {
	if server == "" {
		return e
	}
	if e.Mount != "" {
		e.Mount = qualify(server, e.Mount)
	} else {
		e.Message = server + ": " + e.Message
	}
	return e
}

// Subscribe merges every server's events, whatever the scope. Each
// server's own feed drops for a subscriber that falls behind, so a slow
// reader here holds no server up.
func (f *fleet) Subscribe(buffer int) (<-chan engine.Event, func()) {
	out := make(chan engine.Event, buffer)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	follow := func(server string, src Engine) {
		ch, stop := src.Subscribe(buffer)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer stop()
			for {
				select {
				case e, ok := <-ch:
					if !ok {
						return
					}
					select {
					case out <- qualifyEvent(server, e):
					case <-ctx.Done():
						return
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	if f.local != nil {
		follow("", f.local)
	}
	for _, c := range f.remotes {
		follow(c.Name(), c)
	}
	go func() { wg.Wait(); close(out) }()
	return out, cancel
}

// Events returns the latest n events of all servers, oldest first.
func (f *fleet) Events(n int) []engine.Event {
	var all []engine.Event
	if f.local != nil {
		all = f.local.Events(n)
	}
	for _, c := range f.remotes {
		for _, e := range c.Events(n) {
			all = append(all, qualifyEvent(c.Name(), e))
		}
	}
	slices.SortStableFunc(all, func(a, b engine.Event) int { return a.Time.Compare(b.Time) })
	if len(all) > n {
		all = all[len(all)-n:]
	}
	return all
}

func (f *fleet) KickListener(name string, id uint64) error {
	eng, _, mount, err := f.route(name)
	if err != nil {
		return err
	}
	return eng.KickListener(mount, id)
}

func (f *fleet) KickSource(name string) error {
	eng, _, mount, err := f.route(name)
	if err != nil {
		return err
	}
	return eng.KickSource(mount)
}

// MoveListeners moves listeners between two mounts of one server: a
// listener's connection is to its server.
func (f *fleet) MoveListeners(from, to string, ids []uint64) (int, error) {
	fs, _ := common.SplitMount(from)
	ts, _ := common.SplitMount(to)
	if fs != ts {
		return 0, errors.New("listeners move between mounts of one server only")
	}
	eng, _, fromMount, err := f.route(from)
	if err != nil {
		return 0, err
	}
	_, toMount := common.SplitMount(to)
	return eng.MoveListeners(fromMount, toMount, ids)
}

func (f *fleet) SetTitle(name, title, url string) error {
	eng, _, mount, err := f.route(name)
	if err != nil {
		return err
	}
	return eng.SetTitle(mount, title, url)
}

// AddRelay adds rc on the server its mount names.
func (f *fleet) AddRelay(rc engine.RelayConfig) error {
	eng, _, mount, err := f.route(rc.Mount)
	if err != nil {
		return err
	}
	rc.Mount = mount
	return eng.AddRelay(rc)
}

func (f *fleet) RemoveRelay(name string) error {
	eng, _, mount, err := f.route(name)
	if err != nil {
		return err
	}
	return eng.RemoveRelay(mount)
}

// Config is the local engine's (none under icedeck watch).
func (f *fleet) Config() engine.Config {
	if f.local == nil {
		return engine.Config{}
	}
	return f.local.Config()
}

// localSources counts the sources of this process's engine: the ones
// quitting would cut.
func (f *fleet) localSources() int {
	if f.local == nil {
		return 0
	}
	return f.local.Summary().Sources
}

// serverState is one line of the servers pane, read with a poll.
type serverState struct {
	status    remote.Status // the local engine's is made up: always up
	local     bool
	sources   int
	listeners int
	bytesOut  uint64
	// estimate is the listeners' bits/s from the sources' bitrates, for
	// a server that does not count the bytes it sends.
	estimate float64
	unknown  engine.Unknown
	time     time.Time
}

// newServerState is a server's line from its status and summary.
func newServerState(st remote.Status, local bool, s engine.Snapshot) serverState {
	ss := serverState{status: st, local: local, sources: s.Sources, listeners: s.Listeners,
		bytesOut: s.BytesOut, unknown: s.Unknown, time: s.Time}
	for _, ms := range s.Mounts {
		if ms.Source != nil {
			ss.estimate += float64(sourceRate(ms.Source)) * float64(max(ms.ListenerCount, 0))
		}
	}
	if ss.time.IsZero() {
		ss.time = st.LastOK
	}
	return ss
}

// listenBase is where a remote server's listeners connect
// (scheme://host:port), "" for the local engine or an unknown server.
func (f *fleet) listenBase(server string) string {
	if c := f.byName[server]; c != nil {
		return c.Status().URL
	}
	return ""
}

// readOnly says why actions on a remote server's mounts are refused
// ("" when they are not).
func (f *fleet) readOnly(name string) string {
	server, _ := common.SplitMount(name)
	if c := f.byName[server]; c != nil && c.Status().ReadOnly {
		return "read-only: " + server + " was given no admin credentials"
	}
	return ""
}

// fleetRecorder records local mounts with the local recorder and a
// remote icedeck's through its API.
type fleetRecorder struct {
	f     *fleet
	local Recorder // nil: local mounts are not recorded
}

// of is the recorder of a mount's server, and the mount's name there: a
// remote client records through its server's API.
func (r fleetRecorder) of(name string) (Recorder, string, error) {
	_, c, mount, err := r.f.route(name)
	switch {
	case err != nil:
		return nil, "", err
	case c != nil:
		return c, mount, nil
	case r.local == nil:
		return nil, "", errors.New("recording not available")
	}
	return r.local, mount, nil
}

func (r fleetRecorder) StartRecording(name string) (string, error) {
	rec, mount, err := r.of(name)
	if err != nil {
		return "", err
	}
	return rec.StartRecording(mount)
}

func (r fleetRecorder) StopRecording(name string) error {
	rec, mount, err := r.of(name)
	if err != nil {
		return err
	}
	return rec.StopRecording(mount)
}

func (r fleetRecorder) Recording(name string) bool {
	rec, mount, err := r.of(name)
	return err == nil && rec.Recording(mount)
}

// fleetAnalyzer reads local mounts' analysis from the local analyzer and
// a remote icedeck's from its status; Icecast measures nothing.
type fleetAnalyzer struct {
	f     *fleet
	local Analyzer
}

func (a fleetAnalyzer) Audio(name string) (engine.AudioStats, bool) {
	_, c, mount, err := a.f.route(name)
	switch {
	case err != nil:
		return engine.AudioStats{}, false
	case c != nil:
		return c.Audio(mount)
	case a.local == nil:
		return engine.AudioStats{}, false
	}
	return a.local.Audio(mount)
}

func (a fleetAnalyzer) History(name string) []float64 {
	if _, c, mount, err := a.f.route(name); err == nil && c == nil && a.local != nil {
		return a.local.History(mount)
	}
	return nil
}

func (a fleetAnalyzer) Reset(name string) bool {
	if _, c, mount, err := a.f.route(name); err == nil && c == nil && a.local != nil {
		return a.local.Reset(mount)
	}
	return false
}

// StreamPlayer is an Auditioner that also plays a stream it is handed:
// how the fleet console auditions a remote server's mount, over HTTP.
type StreamPlayer interface {
	PlayStream(body io.ReadCloser, contentType, mount string)
}

// fleetAuditioner plays local mounts through the local Auditioner and
// remote ones from their server, on the same player.
type fleetAuditioner struct {
	Auditioner
	f *fleet
}

func (a fleetAuditioner) Audition(name string) error {
	_, c, mount, err := a.f.route(name)
	if err != nil {
		return err
	}
	if c == nil {
		return a.Auditioner.Audition(mount)
	}
	sp, ok := a.Auditioner.(StreamPlayer)
	if !ok {
		return errors.New("this player cannot play a remote stream")
	}
	body, ct, err := c.Listen(context.Background(), mount)
	if err != nil {
		return err
	}
	sp.PlayStream(body, ct, name)
	return nil
}

// sourceRate is a source's bits/s: measured, else as its headers state
// (0 when neither is known).
func sourceRate(s *engine.SourceSnapshot) int {
	if s.Bitrate1s > 0 {
		return s.Bitrate1s
	}
	return s.Ice.Bitrate
}
