// Package engine is icedeck's Icecast-compatible relay: sources push with
// SOURCE or PUT, listeners pull with GET, and everything that arrives is
// measured on the way through.
package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// bodyTimeout bounds reading a control-plane request body after its head.
const bodyTimeout = 30 * time.Second

// Server is the relay. Create it with New.
type Server struct {
	conf       atomic.Pointer[Config] // swapped whole by Reconfigure; read with cfg()
	log        *slog.Logger
	events     *eventBus
	started    time.Time
	shardCount int

	mu        sync.Mutex
	mounts    map[string]*mount
	sources   int
	lns       []net.Listener
	heads     map[net.Conn]struct{} // connections still sending a request head
	closing   bool
	handoff   *connQueue
	httpSrv   *http.Server
	serveOnce sync.Once

	sourceLogins *LoginLimiter
	relays       map[string]*relay // guarded by mu
	stopMaster   chan struct{}     // the mirror of Config.Master; guarded by mu
	stopRedirect chan struct{}     // the edge poller of Config.Redirect; guarded by mu
	pushes       []*push           // guarded by mu
	redirect     redirector
	control      atomic.Pointer[http.Handler] // serves what is not a stream

	cert       atomic.Pointer[tls.Certificate] // what ServeTLS presents (tls.go)
	tlsServing atomic.Bool                     // a TLS listener has accepted: a certificate must stay

	hooks    hooks // URL authentication and on-connect programs
	sessions sessionLog
	access   accessLog

	dropIn dropIn // listener policy, intros and file fallbacks (policy.go)

	clients   atomic.Int64 // open connections: see clientConn
	totals    struct{ conns, requests, listeners, sources, relays, sourceRejects atomic.Uint64 }
	ended     [kindCount][reasonCount]atomic.Uint64
	later     *laterQueue
	fullNoted atomic.Int64 // unix second of the last "server full" event
	taps      atomic.Int64
	nextID    atomic.Uint64
	bytesIn   atomic.Uint64
	bytesOut  atomic.Uint64
	wg        sync.WaitGroup
}

// New checks cfg, fills in defaults and returns a server that is not yet
// listening. A source password is required.
func New(cfg Config) (*Server, error) {
	if err := fillDefaults(&cfg); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if n, ok := openFileLimit(); ok && uint64(cfg.MaxClients) > n {
		log.Warn("the open-file limit is below max_clients: connections beyond it are refused by the system, not with a 503",
			"max_clients", cfg.MaxClients, "open_file_limit", n, "fix", "raise it (ulimit -n, LimitNOFILE=) or lower max_clients")
	}
	s := &Server{
		log:        log,
		events:     newEventBus(log),
		started:    time.Now(),
		shardCount: max(1, runtime.GOMAXPROCS(0)),
		mounts:     map[string]*mount{},
		heads:      map[net.Conn]struct{}{},
		handoff:    newConnQueue(),
		later:      newLaterQueue(),
		// As the admin interface: 10 wrong passwords a minute block an
		// address for a minute; other addresses are not affected.
		sourceLogins: NewLoginLimiter(10, time.Minute),
	}
	s.conf.Store(&cfg)
	s.access.s = s
	s.checkIntros()
	if err := s.reloadCertificate(&cfg); err != nil {
		return nil, err
	}
	s.httpSrv = &http.Server{
		Handler:           withTLSState(http.HandlerFunc(s.serveHTTP)),
		ConnContext:       connContext,
		ReadHeaderTimeout: cfg.HeaderTimeout,
		// A kept-alive connection waiting for its next request is a head
		// not yet complete; a request body gets a bounded time more.
		IdleTimeout:    cfg.HeaderTimeout,
		ReadTimeout:    cfg.HeaderTimeout + bodyTimeout,
		MaxHeaderBytes: cfg.MaxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// fillDefaults gives every unset setting its default; New and
// Reconfigure share it.
func fillDefaults(cfg *Config) error {
	def := Defaults()
	if len(cfg.Listen) == 0 {
		cfg.Listen = def.Listen
	}
	setDefault(&cfg.SourceUser, def.SourceUser)
	setDefault(&cfg.ServerID, def.ServerID)
	setDefault(&cfg.MaxClients, def.MaxClients)
	setDefault(&cfg.MaxSources, def.MaxSources)
	setDefault(&cfg.BurstSize, def.BurstSize)
	setDefault(&cfg.QueueSize, def.QueueSize)
	setDefault(&cfg.MetaInt, def.MetaInt)
	setDefault(&cfg.SourceTimeout, def.SourceTimeout)
	setDefault(&cfg.HeaderTimeout, def.HeaderTimeout)
	setDefault(&cfg.WriteTimeout, def.WriteTimeout)
	setDefault(&cfg.MaxHeaderBytes, def.MaxHeaderBytes)
	setDefault(&cfg.Latency, def.Latency)
	if cfg.Headers == nil {
		cfg.Headers = def.Headers
	}
	if cfg.SourcePassword == "" {
		return errors.New("engine: a source password is required")
	}
	return nil
}

// checkFallbacks refuses fallback chains that loop or name bad paths.
func checkFallbacks(mounts map[string]MountConfig) error {
	for name := range mounts {
		seen := map[string]bool{name: true}
		chain := []string{name}
		for cur := mounts[name].Fallback; cur != ""; cur = mounts[cur].Fallback {
			if err := CheckMountName(cur); err != nil {
				return fmt.Errorf("engine: mount %q: fallback %q: %v", name, cur, err)
			}
			chain = append(chain, cur)
			if seen[cur] {
				return fmt.Errorf("engine: fallback loop: %s", strings.Join(chain, " → "))
			}
			seen[cur] = true
		}
	}
	return nil
}

func setDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

// Handle sets the handler of every request that is not a stream: the
// admin API, status pages, metrics. Until it is set they get 404.
func (s *Server) Handle(h http.Handler) { s.control.Store(&h) }

// Config returns the configuration in force, defaults filled in.
func (s *Server) Config() Config { return *s.cfg() }

// cfg is the configuration in force; a reload replaces it whole, so a
// caller reading several settings should keep the pointer it got.
func (s *Server) cfg() *Config { return s.conf.Load() }

// ListenAndServe listens on every configured address and serves until ctx
// is done, then shuts down, giving connections five seconds to finish.
func (s *Server) ListenAndServe(ctx context.Context) error {
	var lns []net.Listener
	for _, a := range s.cfg().Listen {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return ListenError(a, err)
		}
		lns = append(lns, ln)
	}
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { errc <- s.Serve(ln) }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if serr := s.Shutdown(sctx); err == nil {
		err = serr
	}
	return err
}

// ListenError explains a failure to listen on addr, saying what to do
// about the commonest one: a port in use.
func ListenError(addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("listen on %s: %w (another icedeck or Icecast is running? choose another address with --listen)", addr, err)
	}
	return fmt.Errorf("listen on %s: %w", addr, err)
}

// Serve accepts connections on ln until Shutdown. It returns nil after a
// clean shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	s.serveOnce.Do(func() {
		go func() { _ = s.httpSrv.Serve(s.handoff) }()
		for _, rc := range s.cfg().Relays {
			if err := s.AddRelay(rc); err != nil {
				s.log.Error("relay not started", "mount", rc.Mount, "err", err)
			}
		}
		for _, pc := range s.cfg().Pushes {
			if err := s.AddPush(pc); err != nil {
				s.log.Error("push not started", "mount", pc.Mount, "err", err)
			}
		}
		s.mu.Lock()
		s.startMaster(s.cfg().Master)
		s.startRedirect(s.cfg().Redirect)
		s.mu.Unlock()
	})
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosing() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of descriptors or buffers, or an aborted handshake:
			// back off and go on, never spin and never stop serving.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed, retrying", "err", err, "delay", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		s.totals.conns.Add(1)
		if n := s.clients.Add(1); n > int64(s.cfg().MaxClients) {
			s.clients.Add(-1)
			s.refuseFull(nc, n-1)
			continue
		}
		c := &clientConn{Conn: nc, s: s}
		if !s.track(c) {
			c.Close()
			if s.isClosing() {
				return nil
			}
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handleConn(c)
		}()
	}
}

// refuseFull answers a connection over the client limit at once, before
// reading its request: the limit protects descriptors and memory, so the
// answer must cost nothing.
func (s *Server) refuseFull(c net.Conn, open int64) {
	_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	e := ending{kind: KindRequest, reason: ReasonServerFull, status: http.StatusServiceUnavailable, answer: true, body: "Server full\n"}
	if now := time.Now().Unix(); s.fullNoted.Swap(now) != now { // one event a second at most
		e.event, e.level, e.addr = EventRequestRejected, slog.LevelWarn, c.RemoteAddr().String()
		e.message = fmt.Sprintf("connection from %s refused: %d connections reach the client limit of %d", e.addr, open, s.cfg().MaxClients)
	}
	s.finish(c, e)
}

// Addrs returns the addresses the server is listening on.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]net.Addr, len(s.lns))
	for i, ln := range s.lns {
		out[i] = ln.Addr()
	}
	return out
}

// Addr returns the first listening address, or nil.
func (s *Server) Addr() net.Addr {
	if a := s.Addrs(); len(a) > 0 {
		return a[0]
	}
	return nil
}

// track notes a connection whose request head is being read, so that
// Shutdown can close it. It refuses the connection when shutting down.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.heads[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.heads, c)
	s.mu.Unlock()
}

// ShuttingDown reports whether Shutdown has begun: a load balancer's
// health check should stop sending listeners.
func (s *Server) ShuttingDown() bool { return s.isClosing() }

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// Shutdown stops accepting, ends every source and listener with reason
// shutdown, and waits for them until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil
	}
	s.closing = true
	s.hooks.shutdown()
	for _, ln := range s.lns {
		ln.Close()
	}
	for c := range s.heads {
		c.Close()
	}
	relays := make([]*relay, 0, len(s.relays))
	for _, r := range s.relays {
		relays = append(relays, r)
	}
	mounts := make([]*mount, 0, len(s.mounts))
	for _, m := range s.mounts {
		mounts = append(mounts, m)
	}
	s.startMaster(nil)
	s.startRedirect(nil)
	s.mu.Unlock()
	for _, r := range relays {
		r.close()
	}
	s.mu.Lock()
	pushes := s.pushes
	s.mu.Unlock()
	for _, p := range pushes {
		p.close()
	}
	for _, m := range mounts {
		m.mu.Lock()
		src := m.source
		if m.graceTimer != nil {
			m.graceTimer.Stop()
		}
		m.mu.Unlock()
		// Listeners first: once the source is gone they would drain and
		// leave with "source ended" instead.
		m.stop(ReasonShutdown)
		if src != nil {
			src.kick(ReasonShutdown)
		}
	}
	s.handoff.Close()
	herr := s.httpSrv.Shutdown(ctx)
	done := make(chan struct{})
	go func() { s.wg.Wait(); s.later.close(); s.hooks.wait(); close(done) }()
	select {
	case <-done:
		return herr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Snapshot returns a copy of the server's state, every listener of every
// mount included. It takes no lock that a source or a listener write
// waits on for long.
func (s *Server) Snapshot() Snapshot { return s.snapshot(true) }

// Summary is Snapshot without the listener lists (counts, lags, states and
// source statistics stay): what a view polling several times a second
// needs, at a cost that does not grow with the listeners.
func (s *Server) Summary() Snapshot { return s.snapshot(false) }

// Mount returns one live mount, its listeners included, without copying
// any other.
func (s *Server) Mount(name string) (MountSnapshot, bool) {
	m := s.lookup(name)
	if m == nil {
		// A mount without a source whose listeners wait on its fallback.
		for _, ms := range s.Summary().Mounts {
			if ms.Name == name {
				return ms, true
			}
		}
		return MountSnapshot{}, false
	}
	ms, _ := m.snapshot(time.Now(), true)
	if r := s.relayFor(name); r != nil {
		rs := r.status()
		ms.Relay = &rs
	}
	return ms, true
}

func (s *Server) snapshot(full bool) Snapshot {
	now := time.Now()
	s.mu.Lock()
	mounts := make([]*mount, 0, len(s.mounts))
	for _, m := range s.mounts {
		mounts = append(mounts, m)
	}
	addrs := make([]string, len(s.lns))
	for i, ln := range s.lns {
		addrs[i] = ln.Addr().String()
	}
	s.mu.Unlock()
	sort.Slice(mounts, func(i, j int) bool { return mounts[i].name < mounts[j].name })
	snap := Snapshot{
		Time: now, Started: s.started, Addrs: addrs, ServerID: s.cfg().ServerID,
		BytesIn: s.bytesIn.Load(), BytesOut: s.bytesOut.Load(), Taps: int(s.taps.Load()),
		Clients: int(s.clients.Load()), Endings: s.endings(),
		Totals: Totals{
			Connections: s.totals.conns.Load(), ClientConnections: s.totals.requests.Load(),
			ListenerConnections: s.totals.listeners.Load(), SourceConnections: s.totals.sources.Load(), RelayConnections: s.totals.relays.Load(),
			SourceRejections: s.totals.sourceRejects.Load(),
		},
		Mounts: make([]MountSnapshot, 0, len(mounts)),
	}
	away := map[string]*MountSnapshot{} // mounts whose listeners are on a fallback
	present := map[string]bool{}
	for _, m := range mounts {
		present[m.name] = true
	}
	for _, m := range mounts {
		ms, homes := m.snapshot(now, full)
		if ms.Source != nil {
			snap.Sources++
		}
		snap.Listeners += ms.ListenerCount
		for home, n := range homes {
			if present[home] {
				continue
			}
			if away[home] == nil {
				away[home] = &MountSnapshot{Name: home, State: StateFallback, ContentType: ms.ContentType, FallbackTo: ms.Name}
			}
			away[home].ListenerCount += n
		}
		snap.Mounts = append(snap.Mounts, ms)
	}
	if len(away) > 0 {
		for _, ms := range away {
			snap.Mounts = append(snap.Mounts, *ms)
		}
		sort.Slice(snap.Mounts, func(i, j int) bool { return snap.Mounts[i].Name < snap.Mounts[j].Name })
	}
	// A relay's mount is listed while its relay connects or waits too.
	for _, rs := range s.Relays() {
		i := sort.Search(len(snap.Mounts), func(i int) bool { return snap.Mounts[i].Name >= rs.Mount })
		if i == len(snap.Mounts) || snap.Mounts[i].Name != rs.Mount {
			snap.Mounts = slices.Insert(snap.Mounts, i, MountSnapshot{Name: rs.Mount, State: StateRelay})
		}
		snap.Mounts[i].Relay = &rs
	}
	return snap
}

// snapshot copies the mount; full includes its listeners. homes counts
// the listeners that fell back here, by the mount they came from.
func (m *mount) snapshot(now time.Time, full bool) (MountSnapshot, map[string]int) {
	m.mu.Lock()
	ms := MountSnapshot{
		Name: m.name, State: StateLive, ContentType: m.contentType, Title: m.meta.Load().title,
		GraceUntil: m.graceUntil, ListenerPeak: m.peak,
		BytesOut: m.bytesOut.Load(), SlowDrops: m.slowDrops.Load(), Hidden: m.cfg.Hidden,
		Disconnects: append([]Disconnect(nil), m.disconnects...),
	}
	for t := range m.taps {
		if t.counted {
			ms.Taps++
		}
	}
	if m.rec != nil {
		ms.Recording, ms.RecordedBytes = m.rec.path, m.rec.bytes.Load()
	}
	src := m.source
	ms.Hidden = ms.Hidden || isFileSource(src) // a fallback file plays on a mount of its own
	ms.SilentSince = m.silentSince()
	m.mu.Unlock()
	if src == nil {
		ms.State = StateGrace
	} else {
		ms.Source = src.snapshot(now)
		ms.Source.Ice = m.srv.mountIce(m.name, ms.Source.Ice)
		if ms.Source.Stalled {
			ms.State = StateStalled
		} else if !ms.SilentSince.IsZero() {
			ms.State = StateSilent
		}
	}
	var homes map[string]int
	m.mu.Lock()
	end := m.ring.end.Load()
	if full {
		ms.Listeners = make([]ListenerSnapshot, 0, len(m.listeners))
	}
	for _, l := range m.listeners {
		if full {
			ms.Listeners = append(ms.Listeners, l.snapshot(end))
		}
		ms.MaxLag = max(ms.MaxLag, int64(end)-int64(l.pos.Load()))
		if l.home != "" {
			if homes == nil {
				homes = map[string]int{}
			}
			homes[l.home]++
		}
	}
	ms.ListenerCount = len(m.listeners)
	m.mu.Unlock()
	return ms, homes
}

// Subscribe returns a channel of events from now on and a function that
// ends the subscription. Events are never waited for: a subscriber that
// falls buffer events behind misses some (Seq shows the gap).
func (s *Server) Subscribe(buffer int) (<-chan Event, func()) {
	return s.events.subscribe(buffer)
}

// Events returns up to n of the most recent events, oldest first.
func (s *Server) Events(n int) []Event { return s.events.since(0, n) }

// EventsSince returns the kept events with Seq greater than seq, oldest
// first (for resuming a feed).
func (s *Server) EventsSince(seq uint64) []Event { return s.events.since(seq, 0) }

// Emit records an event in the feed, the log and the history; Seq (and
// Time, when zero) are set here. The engine's own events and other parts'
// (the control plane's refused logins) go the same way.
func (s *Server) Emit(e Event) { s.events.emit(e) }

// ErrNoMount is returned for operations on a mount that does not exist.
var ErrNoMount = errors.New("no such mount")

// ErrNoClient is returned when a listener id is not on the mount.
var ErrNoClient = errors.New("no such listener")

func (s *Server) lookup(name string) *mount {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mounts[name]
}

// KickListener disconnects one listener with reason kicked.
func (s *Server) KickListener(mountName string, id uint64) error {
	m := s.lookup(mountName)
	if m == nil {
		return ErrNoMount
	}
	m.mu.Lock()
	l := m.findListener(id)
	m.mu.Unlock()
	if l == nil {
		return ErrNoClient
	}
	l.kick(ReasonKicked)
	for _, sh := range m.shards {
		sh.poke()
	}
	return nil
}

// KickSource disconnects the mount's source with reason kicked. Its
// listeners then go as they would if the source had left by itself.
func (s *Server) KickSource(mountName string) error {
	m := s.lookup(mountName)
	if m == nil {
		return ErrNoMount
	}
	m.mu.Lock()
	src := m.source
	m.mu.Unlock()
	if src == nil {
		return errors.New("mount has no source")
	}
	src.kick(ReasonKicked)
	return nil
}

// MoveListeners moves listeners of from (all of them when ids is nil) to
// the mount to, without disconnecting them: each leaves at a frame boundary
// and joins to's stream at its newest frame boundary. It returns how many
// were asked to move.
func (s *Server) MoveListeners(from, to string, ids []uint64) (int, error) {
	src, dst := s.lookup(from), s.lookup(to)
	if src == nil || dst == nil {
		return 0, ErrNoMount
	}
	if src == dst {
		return 0, errors.New("source and destination are the same mount")
	}
	dst.mu.Lock()
	dstType := dst.contentType
	dst.mu.Unlock()
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.contentType != dstType {
		return 0, fmt.Errorf("cannot move %s listeners to a %s mount", src.contentType, dstType)
	}
	n := 0
	move := func(l *listener) {
		if l.moveTo.CompareAndSwap(nil, dst) {
			n++
		}
	}
	if ids == nil {
		for _, l := range src.listeners {
			move(l)
		}
	} else {
		for _, id := range ids {
			if l := src.findListener(id); l != nil {
				move(l)
			}
		}
	}
	for _, sh := range src.shards {
		sh.poke()
	}
	if n == 0 && ids != nil {
		return 0, ErrNoClient
	}
	return n, nil
}

// SetTitle sets the mount's StreamTitle (and StreamUrl), sent to ICY
// listeners in their next metadata block.
func (s *Server) SetTitle(mountName, title, url string) error {
	m := s.lookup(mountName)
	if m == nil {
		return ErrNoMount
	}
	s.setTitle(m, title, url, "api")
	return nil
}

// setTitle is the one way a title reaches a mount, from the admin API,
// source headers or in-band comments alike: it is cleaned here.
func (s *Server) setTitle(m *mount, title, url, via string) {
	title, url = CleanText(title), CleanText(url)
	if m.setTitle(title, url) {
		s.Emit(Event{Type: EventMetadata, Level: slog.LevelInfo, Mount: m.name, Detail: via, Subject: title,
			Message: fmt.Sprintf("title on %s: %q", m.name, title)})
	}
}

// closeListener ends a listener's connection; the bookkeeping is done
// off the calling shard.
func (s *Server) closeListener(l *listener, reason Reason) {
	if tc := tcpConn(l.conn); tc != nil {
		_ = tc.CloseWrite() // send what is queued, then FIN
	}
	_ = l.conn.Close()
	m := l.mount
	m.removeListener(l)
	now := time.Now()
	dur, sent := now.Sub(l.connectedAt()), l.bytesSent.Load()
	s.later.push(func() {
		m.recordDisconnect(Disconnect{Time: now, ID: l.id, Addr: l.addr, Reason: reason, Duration: dur, Bytes: sent})
		level := slog.LevelInfo
		if reason == ReasonTooSlow || reason == ReasonWriteError || reason == ReasonTimeout {
			level = slog.LevelWarn
		}
		s.note(ending{kind: KindListener, reason: reason, level: level, event: EventListenerLeft, mount: m.name, id: l.id, addr: l.addr,
			message: fmt.Sprintf("listener %d left %s: %s after %s, %d bytes", l.id, m.name, reason, dur.Round(time.Second), sent),
			request: l.request, referer: l.referer, ua: l.ua, status: http.StatusOK, bytes: sent, dur: dur})
	})
}

// connQueue is a net.Listener fed with connections the front end has
// decided are plain HTTP, for the standard library's server.
type connQueue struct {
	ch     chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func newConnQueue() *connQueue {
	return &connQueue{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (q *connQueue) push(c net.Conn) bool {
	select {
	case q.ch <- c:
		return true
	case <-q.done:
		return false
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.ch:
		return c, nil
	case <-q.done:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.closed.Do(func() { close(q.done) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return &net.TCPAddr{} }
