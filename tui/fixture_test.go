package tui

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/engine/frame"
)

// t0 is the fixed clock of every fixture: screens depend on it only.
var t0 = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

// fixture is a deterministic snapshot: three mounts (live MP3 with n
// listeners, stalled AAC, Ogg held in grace).
func fixture(n int) engine.Snapshot {
	uas := []string{"VLC/3.0.20 LibVLC/3.0.20", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", "curl/8.5.0", "mpv 0.37.0"}
	ls := make([]engine.ListenerSnapshot, n)
	for i := range ls {
		ls[i] = engine.ListenerSnapshot{
			ID:        uint64(100 + i),
			Addr:      fmt.Sprintf("192.0.2.%d:%d", 10+i%200, 40000+i),
			UserAgent: uas[i%len(uas)],
			Connected: t0.Add(-time.Duration(7*(i+1)) * time.Second),
			BytesSent: uint64(16000 * 7 * (i + 1)),
			Lag:       int64(i % 5 * 4096),
			ICY:       i%2 == 0,
		}
	}
	live := engine.MountSnapshot{
		Name: "/live.mp3", State: engine.StateLive, ContentType: "audio/mpeg", Title: "Nina Simone - Sinnerman",
		Listeners: ls, ListenerCount: n, ListenerPeak: n + 3, BytesOut: 123456789,
		Source: &engine.SourceSnapshot{
			ID: 1, Addr: "203.0.113.5:50312", UserAgent: "Lavf/60.16.100", Method: "PUT",
			Connected: t0.Add(-(1*time.Hour + 2*time.Minute + 3*time.Second)), ContentType: "audio/mpeg", Known: true,
			Headers: map[string]string{"Ice-Name": "Live Radio", "Ice-Genre": "Jazz", "Ice-Public": "0", "User-Agent": "Lavf/60.16.100"},
			Ice:     engine.IceInfo{Name: "Live Radio", Genre: "Jazz", Bitrate: 128000},
			BytesIn: 59548160, SHA256: strings.Repeat("3a4f", 16), LastData: t0.Add(-40 * time.Millisecond),
			Stalls: 1, LongestGap: 620 * time.Millisecond, Bitrate1s: 127600, Bitrate10s: 128000,
			History:  []int{128000, 127000, 129000, 64000, 128000, 130000, 128000, 127500},
			Realtime: 1.0,
			Frames: frame.Stats{Container: "mpeg", Codec: "MP3", Version: "1", SampleRate: 44100, Channels: 2,
				Bitrate: 128000, MinBitrate: 128000, MaxBitrate: 128000, Frames: 142437, Duration: time.Hour + 2*time.Minute,
				Streams: 1, Bytes: 59548160},
		},
	}
	jazz := engine.MountSnapshot{
		Name: "/jazz.aac", State: engine.StateStalled, ContentType: "audio/aac",
		ListenerCount: 2, ListenerPeak: 5,
		Listeners: []engine.ListenerSnapshot{
			{ID: 7, Addr: "198.51.100.7:51000", UserAgent: "foobar2000/2.1", Connected: t0.Add(-5 * time.Minute), BytesSent: 3600000, ICY: true},
			{ID: 8, Addr: "198.51.100.8:51001", UserAgent: "VLC/3.0.20", Connected: t0.Add(-90 * time.Second), BytesSent: 1080000},
		},
		Source: &engine.SourceSnapshot{
			ID: 2, Addr: "203.0.113.9:40001", UserAgent: "butt/0.1.40", Method: "SOURCE",
			Connected: t0.Add(-25 * time.Minute), ContentType: "audio/aac", Known: true,
			Ice: engine.IceInfo{Bitrate: 96000}, Bitrate1s: 0, Bitrate10s: 88000, Stalls: 4, Realtime: 0.91,
			Frames: frame.Stats{Container: "adts", Codec: "AAC-LC", SampleRate: 48000, Channels: 2, Frames: 70312},
		},
	}
	talk := engine.MountSnapshot{
		Name: "/talk.ogg", State: engine.StateGrace, ContentType: "application/ogg", Title: "Morning talk",
		GraceUntil: t0.Add(12 * time.Second), ListenerCount: 1, ListenerPeak: 1,
		Listeners: []engine.ListenerSnapshot{{ID: 9, Addr: "[2001:db8::9]:52000", UserAgent: "Lavf/60.16.100", Connected: t0.Add(-3 * time.Minute)}},
	}
	return engine.Snapshot{
		Time: t0, Started: t0.Add(-(3*time.Hour + 4*time.Minute)), Addrs: []string{"[::]:8000"}, ServerID: "icedeck",
		Sources: 2, Listeners: n + 3, BytesIn: 80 << 20, BytesOut: 1 << 30,
		Mounts: []engine.MountSnapshot{jazz, live, talk},
	}
}

func fixtureEvents() []engine.Event {
	return []engine.Event{
		{Seq: 1, Time: t0.Add(-25 * time.Minute), Type: engine.EventSourceConnected, Level: slog.LevelInfo, Mount: "/jazz.aac", ID: 2, Addr: "203.0.113.9:40001", Message: "source connected (butt/0.1.40)"},
		{Seq: 2, Time: t0.Add(-2 * time.Minute), Type: engine.EventSourceRejected, Level: slog.LevelWarn, Mount: "/live.mp3", Addr: "198.51.100.66:1234", Reason: engine.ReasonWrongCredentials, Message: "source refused"},
		{Seq: 3, Time: t0.Add(-30 * time.Second), Type: engine.EventMountGrace, Level: slog.LevelWarn, Mount: "/talk.ogg", Reason: engine.ReasonSourceEnded, Message: "listeners held for 30s"},
		{Seq: 4, Time: t0.Add(-10 * time.Second), Type: engine.EventListenerLeft, Level: slog.LevelInfo, Mount: "/live.mp3", ID: 42, Addr: "192.0.2.99:40999", Reason: engine.ReasonTooSlow, Message: "listener dropped"},
		{Seq: 5, Time: t0.Add(-1 * time.Second), Type: engine.EventWarning, Level: slog.LevelError, Mount: "/jazz.aac", Message: "source stalled for 4 s"},
	}
}

// testEngine implements Engine over a fixed snapshot (e.snap, which tests
// change under e.mu) and records the commands it receives. It stands in for *engine.Server where the screen
// must be deterministic; the commands are checked as data.
type testEngine struct {
	mu      sync.Mutex
	snap    engine.Snapshot
	pushes  []engine.PushStatus
	polls   int // Pushes calls
	cfg     engine.Config
	evs     []engine.Event
	ch      chan engine.Event
	calls   []string
	failAll bool

	summaries       int
	mountReads      []string // Mount calls, by name
	listenersCopied int
}

func newTestEngine(n int) *testEngine {
	cfg := engine.Defaults()
	cfg.SourcePassword = "hackme"
	return &testEngine{snap: fixture(n), cfg: cfg, evs: fixtureEvents(), ch: make(chan engine.Event, 16)}
}

// Snapshot is the whole fixture, listeners included (for tests; the
// interface reads Summary and Mount).
func (e *testEngine) Snapshot() engine.Snapshot { e.mu.Lock(); defer e.mu.Unlock(); return e.snap }

// Summary copies the mounts without their listeners, as
// *engine.Server.Summary does; it counts its calls.
func (e *testEngine) Summary() engine.Snapshot {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.summaries++
	s := e.snap
	s.Mounts = slices.Clone(s.Mounts)
	for i := range s.Mounts {
		s.Mounts[i].Listeners = nil
	}
	return s
}

// Mount copies one mount with its listeners, and counts the listeners
// copied: the cost the interface must keep to the tab on screen.
func (e *testEngine) Mount(name string) (engine.MountSnapshot, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ms := range e.snap.Mounts {
		if ms.Name == name {
			ms.Listeners = slices.Clone(ms.Listeners)
			e.mountReads = append(e.mountReads, name)
			e.listenersCopied += len(ms.Listeners)
			return ms, true
		}
	}
	return engine.MountSnapshot{}, false
}

// SetTitle sets the title in the snapshot, as the engine would.
func (e *testEngine) SetTitle(mount, title, url string) error {
	if err := e.record(fmt.Sprintf("title %s %q", mount, title)); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range e.snap.Mounts {
		if e.snap.Mounts[i].Name == mount {
			e.snap.Mounts[i].Title = engine.CleanText(title)
			return nil
		}
	}
	return engine.ErrNoMount
}

func (e *testEngine) Config() engine.Config { return e.cfg }
func (e *testEngine) Pushes() []engine.PushStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.polls++
	return slices.Clone(e.pushes)
}
func (e *testEngine) Events(n int) []engine.Event {
	if n < len(e.evs) {
		return e.evs[len(e.evs)-n:]
	}
	return e.evs
}
func (e *testEngine) Subscribe(int) (<-chan engine.Event, func()) { return e.ch, func() {} }
func (e *testEngine) record(s string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, s)
	if e.failAll {
		return errors.New("no such client")
	}
	return nil
}
func (e *testEngine) KickListener(mount string, id uint64) error {
	return e.record(fmt.Sprintf("kick %s %d", mount, id))
}
func (e *testEngine) KickSource(mount string) error { return e.record("kick-source " + mount) }
func (e *testEngine) MoveListeners(from, to string, ids []uint64) (int, error) {
	n := len(ids)
	if ids == nil {
		n = -1
	}
	return max(n, 0), e.record(fmt.Sprintf("move %s %s %v n=%d", from, to, ids, n))
}

// AddRelay lists the relay's mount as the engine does before the relay
// connects: a row in state relay, connecting.
func (e *testEngine) AddRelay(rc engine.RelayConfig) error {
	e.mu.Lock()
	for _, ms := range e.snap.Mounts {
		if ms.Name == rc.Mount && ms.Relay != nil {
			e.mu.Unlock()
			return fmt.Errorf("%s is relayed already", rc.Mount)
		}
	}
	e.mu.Unlock()
	if err := e.record(fmt.Sprintf("add-relay %s %v icy=%v on-demand=%v", rc.Mount, rc.Upstreams, rc.ICYMetadata, rc.OnDemand)); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	rs := engine.RelayStatus{Mount: rc.Mount, Upstreams: rc.Upstreams, Upstream: rc.Upstreams[0], State: engine.RelayConnecting, Since: t0}
	e.snap.Mounts = append(e.snap.Mounts, engine.MountSnapshot{Name: rc.Mount, State: engine.StateRelay, Relay: &rs})
	slices.SortFunc(e.snap.Mounts, func(a, b engine.MountSnapshot) int { return strings.Compare(a.Name, b.Name) })
	return nil
}

// RemoveRelay drops the relay's mount from the snapshot.
func (e *testEngine) RemoveRelay(mount string) error {
	if err := e.record("remove-relay " + mount); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	i := slices.IndexFunc(e.snap.Mounts, func(ms engine.MountSnapshot) bool { return ms.Name == mount && ms.Relay != nil })
	if i < 0 {
		return engine.ErrNoMount
	}
	e.snap.Mounts = slices.Delete(e.snap.Mounts, i, i+1)
	return nil
}

// addRelays puts three relayed mounts into the snapshot: one live, one
// idle on demand, one whose upstream fails.
func (e *testEngine) addRelays() {
	e.mu.Lock()
	defer e.mu.Unlock()
	live := engine.RelayStatus{Mount: "/relay.mp3", Upstreams: []string{"http://origin.example:8000/live.mp3", "http://relay:s3cret@backup.example:8000/live.mp3"},
		Upstream: "http://origin.example:8000/live.mp3", State: engine.RelayLive, LastError: "source ended", Since: t0.Add(-4 * time.Minute)}
	idle := engine.RelayStatus{Mount: "/night.mp3", Upstreams: []string{"http://relay:s3cret@master.example:8000/night.mp3"},
		Upstream: "http://relay:s3cret@master.example:8000/night.mp3", State: engine.RelayIdle, OnDemand: true, FromMaster: true, Since: t0.Add(-time.Hour)}
	failing := engine.RelayStatus{Mount: "/edge.ogg", Upstreams: []string{"http://192.0.2.81:8000/edge.ogg"}, Upstream: "http://192.0.2.81:8000/edge.ogg",
		State: engine.RelayRetrying, Attempts: 3, LastError: "dial tcp 192.0.2.81:8000: connect: connection refused", Since: t0.Add(-time.Minute)}
	e.snap.Mounts = append(e.snap.Mounts,
		engine.MountSnapshot{
			Name: "/relay.mp3", State: engine.StateLive, ContentType: "audio/mpeg", ListenerCount: 1, ListenerPeak: 2, Relay: &live,
			Listeners: []engine.ListenerSnapshot{{ID: 31, Addr: "192.0.2.31:41000", UserAgent: "mpv 0.37.0", Connected: t0.Add(-2 * time.Minute)}},
			Source: &engine.SourceSnapshot{
				ID: 3, Addr: "198.51.100.20:8000", UserAgent: "Icecast 2.4.4", Method: "RELAY",
				Connected: t0.Add(-4 * time.Minute), ContentType: "audio/mpeg", Known: true,
				Ice: engine.IceInfo{Bitrate: 128000}, BytesIn: 3840000, SHA256: strings.Repeat("5e", 32),
				LastData: t0.Add(-20 * time.Millisecond), Bitrate1s: 128000, Bitrate10s: 128000, Realtime: 1.0,
				Frames: frame.Stats{Container: "mpeg", Codec: "MP3", Version: "1", SampleRate: 44100, Channels: 2,
					Bitrate: 128000, Frames: 9188, Duration: 4 * time.Minute, Streams: 1, Bytes: 3840000},
			},
		},
		engine.MountSnapshot{Name: "/night.mp3", State: engine.StateRelay, Relay: &idle},
		engine.MountSnapshot{Name: "/edge.ogg", State: engine.StateRelay, Relay: &failing},
	)
	e.snap.Sources++
	e.snap.Listeners++
	slices.SortFunc(e.snap.Mounts, func(a, b engine.MountSnapshot) int { return strings.Compare(a.Name, b.Name) })
}

// addPushes pushes /live.mp3 to two targets, one live and one refused,
// and /jazz.aac (no title) to a third that is connecting. Targets come
// with the password hidden, as engine.Server.Pushes gives them.
func (e *testEngine) addPushes() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pushes = append(e.pushes,
		engine.PushStatus{Mount: "/live.mp3", Target: "http://source:xxxxx@cdn.example:8000/live.mp3", State: engine.PushLive,
			BytesSent: 1258291, Since: t0.Add(-2 * time.Minute)},
		engine.PushStatus{Mount: "/live.mp3", Target: "http://source:xxxxx@backup.example:8000/live.mp3", State: engine.PushRetrying,
			Attempts: 3, LastError: "target answered 401 Unauthorized", Since: t0.Add(-time.Minute)},
		engine.PushStatus{Mount: "/jazz.aac", Target: "http://source:xxxxx@cdn.example:8000/jazz.aac", State: engine.PushConnecting, Since: t0},
	)
}

func (e *testEngine) Calls() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.calls...)
}

// newTestModel builds a model over a testEngine with n listeners on /live.mp3.
func newTestModel(t testing.TB, n int, mod func(*Options)) (*Model, *testEngine) {
	t.Helper()
	e := newTestEngine(n)
	opts := Options{Engine: e, NoColor: true}
	if mod != nil {
		mod(&opts)
	}
	m, err := NewModel(opts)
	if err != nil {
		t.Fatal(err)
	}
	_, cmd := m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	runOnce(t, m, cmd)
	return m, e
}

// runOnce runs cmd and gives the model what it (or the batch it is)
// returns, without following the commands that gives: a poll's answer
// schedules the next tick, which drain would follow for ever.
func runOnce(t testing.TB, m *Model, cmd tea.Cmd) {
	t.Helper()
	if cmd == nil {
		return
	}
	switch msg := cmd().(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range msg {
			runOnce(t, m, c)
		}
	default:
		m.Update(msg)
	}
}

// keyMsg turns a key name into the message a terminal would produce.
func keyMsg(k string) tea.KeyPressMsg {
	named := map[string]tea.KeyPressMsg{
		"tab":       {Code: tea.KeyTab},
		"shift+tab": {Code: tea.KeyTab, Mod: tea.ModShift},
		"esc":       {Code: tea.KeyEscape},
		"enter":     {Code: tea.KeyEnter},
		"space":     {Code: tea.KeySpace, Text: " "},
		"backspace": {Code: tea.KeyBackspace},
		"down":      {Code: tea.KeyDown},
		"up":        {Code: tea.KeyUp},
		"left":      {Code: tea.KeyLeft},
		"right":     {Code: tea.KeyRight},
		"pgup":      {Code: tea.KeyPgUp},
		"pgdown":    {Code: tea.KeyPgDown},
		"home":      {Code: tea.KeyHome},
		"end":       {Code: tea.KeyEnd},
	}
	if msg, ok := named[k]; ok {
		return msg
	}
	if c, ok := strings.CutPrefix(k, "ctrl+"); ok && len(c) == 1 {
		return tea.KeyPressMsg{Code: rune(c[0]), Mod: tea.ModCtrl}
	}
	r := []rune(k)
	if len(r) != 1 {
		panic("keyMsg: unknown key " + k)
	}
	return tea.KeyPressMsg{Code: r[0], Text: k}
}

// press sends keys one by one and runs the commands they return (requests
// from panes, engine actions), feeding results back. It returns the
// messages that were not for the model (tea.QuitMsg).
func press(t testing.TB, m *Model, ks ...string) []tea.Msg {
	t.Helper()
	var out []tea.Msg
	for _, k := range ks {
		_, cmd := m.Update(keyMsg(k))
		out = append(out, drain(t, m, cmd, 0)...)
	}
	return out
}

func drain(t testing.TB, m *Model, cmd tea.Cmd, depth int) []tea.Msg {
	if cmd == nil {
		return nil
	}
	if depth > 10 {
		t.Fatal("command chain too deep")
	}
	msg := cmd()
	switch msg := msg.(type) {
	case nil:
		return nil
	case tea.QuitMsg:
		return []tea.Msg{msg}
	case tea.BatchMsg:
		var out []tea.Msg
		for _, c := range msg {
			out = append(out, drain(t, m, c, depth+1)...)
		}
		return out
	}
	_, next := m.Update(msg)
	return drain(t, m, next, depth+1)
}

// plain renders the model and strips escape sequences.
func plain(m *Model) string { return ansi.Strip(m.render()) }

func ansiWidth(s string) int { return ansi.StringWidth(s) }

// refresh runs one poll, as a tick would, without scheduling the next tick.
func refresh(m *Model) { m.Update(m.poll()()) }

// untilScreen polls the engine through the model until ok holds, failing
// with the screen after 15 s.
func untilScreen(t *testing.T, m *Model, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s never happened; screen:\n%s", what, plain(m))
		}
		time.Sleep(50 * time.Millisecond)
		refresh(m)
	}
}

// selectMount puts the mounts cursor on name, as clicking its row would.
func selectMount(t testing.TB, m *Model, name string) {
	t.Helper()
	if !m.mounts.Select(name) {
		t.Fatalf("no %s row in %v", name, m.mounts.Order())
	}
	update(t, m, nil)
}

// update gives the model msg and runs the commands it returns once (the
// listeners read for a tab that came into view).
func update(t testing.TB, m *Model, msg tea.Msg) {
	t.Helper()
	_, cmd := m.Update(msg)
	runOnce(t, m, cmd)
}
