package engine

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/icedeck/icedeck/engine/frame"
)

// A pull relay is a source that dials out: it GETs a mount from another
// Icecast-compatible server and feeds the stream through the same path a
// source's takes (analysis, burst, fallback, recording, reports).

// RelayConfig pulls one mount from upstream servers.
type RelayConfig struct {
	Mount       string        // the local mount
	Upstreams   []string      // http:// URLs of the upstream mount, tried in order; user:password@ for Basic auth
	OnDemand    bool          // connect only while the mount has listeners
	ICYMetadata bool          // ask for ICY blocks: their titles become the mount's, and they are cut out of the audio
	Retry       time.Duration // first retry after every upstream failed; doubles up to maxRetry (default 2 s)
}

// RelayState is what a relay is doing.
type RelayState string

const (
	RelayIdle       RelayState = "idle" // on demand, and nobody listens
	RelayConnecting RelayState = "connecting"
	RelayLive       RelayState = "live"
	RelayRetrying   RelayState = "retrying" // every upstream failed; waiting to try again
)

// RelayStatus is a relay as the API and the interface show it.
type RelayStatus struct {
	Mount      string
	Upstreams  []string
	Upstream   string // the one in use, or last tried
	State      RelayState
	Attempts   int    // failed connection attempts since the last success
	LastError  string // why the last attempt or session ended
	OnDemand   bool
	FromMaster bool // created by mirroring a master's stream list
	Since      time.Time
}

const (
	defaultRetry = 2 * time.Second
	maxRetry     = time.Minute
	// relayHold keeps a relayed mount's listeners connected while the relay
	// reconnects or fails over, when the mount's own grace is shorter.
	relayHold = 10 * time.Second
	// idleClose is how long an on-demand relay stays connected with nobody
	// listening; checked every second, so it closes within 10 s.
	idleClose = 9 * time.Second
	// demandWait is how long a listener that woke an on-demand relay waits
	// for the upstream to answer.
	demandWait  = 3 * time.Second
	dialTimeout = 5 * time.Second
)

type relay struct {
	s      *Server
	cfg    RelayConfig
	master bool
	stop   chan struct{}
	want   chan struct{} // a listener asks for an on-demand relay
	done   chan struct{}

	mu  sync.Mutex
	st  RelayStatus
	src *source // the live session, to end it
}

// checkRelay says what is wrong with rc, or nil.
func checkRelay(rc RelayConfig) error {
	if err := CheckMountName(rc.Mount); err != nil {
		return fmt.Errorf("relay %q: %v", rc.Mount, err)
	}
	if len(rc.Upstreams) == 0 {
		return fmt.Errorf("relay %s: no upstream", rc.Mount)
	}
	for _, u := range rc.Upstreams {
		pu, err := url.Parse(u)
		if err != nil || pu.Scheme != "http" || pu.Host == "" {
			return fmt.Errorf("relay %s: upstream %q is not an http:// URL", rc.Mount, u)
		}
	}
	if rc.Retry < 0 || rc.Retry > maxRetry {
		return fmt.Errorf("relay %s: retry must be between 0 and %s, got %s", rc.Mount, maxRetry, rc.Retry)
	}
	return nil
}

// AddRelay starts pulling a mount. It fails when the mount is relayed
// already or the configuration is wrong.
func (s *Server) AddRelay(rc RelayConfig) error { return s.addRelay(rc, false) }

func (s *Server) addRelay(rc RelayConfig, master bool) error {
	if err := checkRelay(rc); err != nil {
		return err
	}
	if rc.Retry == 0 {
		rc.Retry = defaultRetry
	}
	r := &relay{s: s, cfg: rc, master: master, stop: make(chan struct{}), want: make(chan struct{}, 1), done: make(chan struct{})}
	r.st = RelayStatus{Mount: rc.Mount, Upstreams: rc.Upstreams, Upstream: rc.Upstreams[0], State: RelayConnecting,
		OnDemand: rc.OnDemand, FromMaster: master, Since: time.Now()}
	if rc.OnDemand {
		r.st.State = RelayIdle
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return errors.New("server shutting down")
	}
	if s.relays == nil {
		s.relays = map[string]*relay{}
	}
	if s.relays[rc.Mount] != nil {
		s.mu.Unlock()
		return fmt.Errorf("%s is relayed already", rc.Mount)
	}
	s.relays[rc.Mount] = r
	s.wg.Add(1)
	s.mu.Unlock()
	go r.run()
	s.Emit(Event{Type: EventRelay, Level: slog.LevelInfo, Mount: rc.Mount, Reason: ReasonStarted, Detail: strings.Join(redactAll(rc.Upstreams), " "),
		Message: fmt.Sprintf("relay of %s from %s added", rc.Mount, strings.Join(redactAll(rc.Upstreams), ", "))})
	return nil
}

// RemoveRelay stops pulling mount; its listeners then go as they would
// when a source leaves.
func (s *Server) RemoveRelay(mount string) error {
	s.mu.Lock()
	r := s.relays[mount]
	delete(s.relays, mount)
	s.mu.Unlock()
	if r == nil {
		return ErrNoMount
	}
	r.close()
	<-r.done
	s.Emit(Event{Type: EventRelay, Level: slog.LevelInfo, Mount: mount, Reason: ReasonStopped, Message: fmt.Sprintf("relay of %s removed", mount)})
	return nil
}

// Relays lists the relays, by mount.
func (s *Server) Relays() []RelayStatus {
	s.mu.Lock()
	rs := make([]*relay, 0, len(s.relays))
	for _, r := range s.relays {
		rs = append(rs, r)
	}
	s.mu.Unlock()
	out := make([]RelayStatus, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.status())
	}
	slices.SortFunc(out, func(a, b RelayStatus) int { return strings.Compare(a.Mount, b.Mount) })
	return out
}

func (s *Server) relayFor(mount string) *relay {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.relays[mount]
}

func (r *relay) status() RelayStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st
}

func (r *relay) set(f func(*RelayStatus)) {
	r.mu.Lock()
	f(&r.st)
	r.mu.Unlock()
}

func (r *relay) close() {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	r.mu.Lock()
	src := r.src
	r.mu.Unlock()
	if src != nil {
		why := ReasonKicked // removed: listeners go now, not after a hold
		if r.s.isClosing() {
			why = ReasonShutdown
		}
		src.kick(why)
	}
}

// demand wakes an on-demand relay and waits for its mount to go live.
func (r *relay) demand() *mount {
	select {
	case r.want <- struct{}{}:
	default:
	}
	deadline := time.Now().Add(demandWait)
	for time.Now().Before(deadline) {
		if m := r.s.lookup(r.cfg.Mount); m != nil {
			return m
		}
		select {
		case <-r.stop:
			return nil
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

func (r *relay) sleep(d time.Duration) bool {
	select {
	case <-r.stop:
		return false
	case <-time.After(d):
		return true
	}
}

func (r *relay) run() {
	defer r.s.wg.Done()
	defer close(r.done)
	backoff := r.cfg.Retry
	for {
		if r.cfg.OnDemand {
			r.set(func(st *RelayStatus) { st.State = RelayIdle })
			select {
			case <-r.stop:
				return
			case <-r.want:
			}
		}
		served := false
		for _, u := range r.cfg.Upstreams {
			select {
			case <-r.stop:
				return
			default:
			}
			r.set(func(st *RelayStatus) { st.State, st.Upstream = RelayConnecting, u })
			reason, err := r.session(u)
			if err != nil {
				r.set(func(st *RelayStatus) { st.Attempts++; st.LastError = err.Error() })
				r.s.Emit(Event{Type: EventRelay, Level: slog.LevelWarn, Mount: r.cfg.Mount, Reason: ReasonReadError, Detail: err.Error(),
					Message: fmt.Sprintf("relay of %s: %s: %v", r.cfg.Mount, redact(u), err)})
				continue
			}
			served = true
			backoff = r.cfg.Retry
			r.set(func(st *RelayStatus) { st.LastError = reason.String() })
			break
		}
		select {
		case <-r.stop:
			return
		default:
		}
		if served {
			continue // at once, from the first upstream
		}
		r.set(func(st *RelayStatus) { st.State = RelayRetrying })
		if !r.sleep(backoff) {
			return
		}
		backoff = min(2*backoff, maxRetry)
	}
}

// session pulls from u until the stream ends. It returns an error when no
// stream could be had at all.
func (r *relay) session(u string) (Reason, error) {
	src, err := r.s.dialUpstream(u, r.cfg.ICYMetadata)
	if err != nil {
		return ReasonNone, err
	}
	src.hold = relayHold
	m, why, detail := r.s.attachSource(src, r.cfg.Mount)
	if m == nil {
		src.conn.Close()
		return ReasonNone, fmt.Errorf("cannot feed %s: %s %s", r.cfg.Mount, why, detail)
	}
	r.mu.Lock()
	r.src = src
	r.st.State, r.st.Attempts, r.st.LastError, r.st.Since = RelayLive, 0, "", time.Now()
	r.mu.Unlock()
	select {
	case <-r.stop: // removed while connecting
		src.kick(ReasonKicked)
	default:
	}
	if r.cfg.OnDemand {
		go r.closeWhenIdle(src, m)
	}
	reason := r.s.ingest(src)
	r.s.detachSource(src, reason)
	r.mu.Lock()
	r.src = nil
	r.mu.Unlock()
	return reason, nil
}

// closeWhenIdle ends an on-demand session idleClose after its last
// listener left.
func (r *relay) closeWhenIdle(src *source, m *mount) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var emptySince time.Time
	for range tick.C {
		if src.kicked.Load() != nil || m.ended.Load() {
			return
		}
		m.mu.Lock()
		n := len(m.listeners) + len(m.taps)
		m.mu.Unlock()
		switch {
		case n > 0:
			emptySince = time.Time{}
		case emptySince.IsZero():
			emptySince = time.Now()
		case time.Since(emptySince) >= idleClose:
			src.kick(ReasonIdle)
			return
		}
	}
}

// dialUpstream GETs u and returns a source reading its stream, ICY blocks
// cut out when asked for.
func (s *Server) dialUpstream(u string, icy bool) (*source, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return nil, err
	}
	host := pu.Host
	if pu.Port() == "" {
		host = net.JoinHostPort(pu.Hostname(), "80")
	}
	c, err := net.DialTimeout("tcp", host, dialTimeout)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: %s\r\n", pu.RequestURI(), pu.Host, s.cfg().ServerID+" relay")
	if pu.User != nil {
		pass, _ := pu.User.Password()
		fmt.Fprintf(&b, "Authorization: %s\r\n", basicAuth(pu.User.Username(), pass))
	}
	if icy {
		b.WriteString("Icy-MetaData: 1\r\n")
	}
	b.WriteString("\r\n")
	_ = c.SetDeadline(time.Now().Add(dialTimeout))
	if _, err := io.WriteString(c, b.String()); err != nil {
		c.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(&icyStatus{r: c}, 16<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("no HTTP answer: %v", err)
	}
	_ = c.SetDeadline(time.Time{})
	if resp.StatusCode != http.StatusOK {
		c.Close()
		return nil, fmt.Errorf("upstream answered %s", resp.Status)
	}
	ct := resp.Header.Get("Content-Type")
	if ct == "" {
		ct = "audio/mpeg"
	}
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		ct = mt
	}
	var body io.Reader = br
	src := &source{
		id: s.nextID.Add(1), conn: c, method: "RELAY", request: "GET " + redact(u) + " HTTP/1.0", addr: c.RemoteAddr().String(),
		ua: CleanText(resp.Header.Get("Server")), contentType: ct, known: frame.Known(ct),
		headers: flatHeaders(resp.Header), connected: time.Now(), an: frame.NewAnalyzer(ct), hash: sha256.New(),
	}
	src.ice = parseIce(resp.Header.Get)
	if icy {
		if n, err := strconv.Atoi(resp.Header.Get("Icy-Metaint")); err == nil && n > 0 {
			body = &icyReader{r: br, every: n, left: n, onTitle: func(title, url string) {
				if src.mount != nil {
					s.setTitle(src.mount, title, url, "relay")
				}
			}}
		}
	}
	src.body = body
	return src, nil
}

// icyStatus turns a Shoutcast "ICY 200 OK" status line into HTTP/1.0 for
// the standard parser.
type icyStatus struct {
	r    io.Reader
	seen bool
}

func (i *icyStatus) Read(p []byte) (int, error) {
	n, err := i.r.Read(p)
	if !i.seen && n > 0 {
		i.seen = true
		if n >= 4 && string(p[:4]) == "ICY " {
			// Give "HTTP/1.0 " now and the rest of what was read next.
			rest := append([]byte(nil), p[4:n]...)
			i.r = io.MultiReader(strings.NewReader(string(rest)), i.r)
			return copy(p, "HTTP/1.0 "), nil
		}
	}
	return n, err
}

// icyReader removes ICY metadata blocks from a stream and reports the
// titles in them.
type icyReader struct {
	r       io.Reader
	every   int
	left    int // audio bytes before the next block
	meta    []byte
	onTitle func(title, url string)
}

func (i *icyReader) Read(p []byte) (int, error) {
	for i.left == 0 {
		var l [1]byte
		if _, err := io.ReadFull(i.r, l[:]); err != nil {
			return 0, err
		}
		if n := int(l[0]) * 16; n > 0 {
			if cap(i.meta) < n {
				i.meta = make([]byte, n)
			}
			if _, err := io.ReadFull(i.r, i.meta[:n]); err != nil {
				return 0, err
			}
			if title, url, ok := parseICYBlock(i.meta[:n]); ok {
				i.onTitle(title, url)
			}
		}
		i.left = i.every
	}
	if len(p) > i.left {
		p = p[:i.left]
	}
	n, err := i.r.Read(p)
	i.left -= n
	return n, err
}

// parseICYBlock reads StreamTitle and StreamUrl from a metadata block.
func parseICYBlock(b []byte) (title, url string, ok bool) {
	text := strings.TrimRight(string(b), "\x00")
	for text != "" {
		k, v, found := strings.Cut(text, "='")
		if !found {
			break
		}
		val, rest, _ := strings.Cut(v, "';")
		switch k {
		case "StreamTitle":
			title, ok = val, true
		case "StreamUrl":
			url = val
		}
		text = rest
	}
	return title, url, ok
}

func basicAuth(user, pass string) string {
	r := &http.Request{Header: http.Header{}}
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}

// redact hides the password of a URL for logs and events.
func redact(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return u
	}
	return pu.Redacted()
}

func redactAll(us []string) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = redact(u)
	}
	return out
}
