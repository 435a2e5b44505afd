package engine

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// A push is icedeck as a source client of another server: a local mount's
// stream is sent to a hosted Icecast (or any Icecast-compatible server)
// with PUT or SOURCE, titles follow through its /admin/metadata, and a
// lost target is reconnected with a growing wait.

// PushConfig sends one local mount to a target server.
type PushConfig struct {
	Mount  string        // the local mount
	URL    string        // http://user:password@host:port/mount, or icecast:// as ffmpeg writes it
	Method string        // "put" (default) or "source", for servers older than Icecast 2.4
	Retry  time.Duration // first retry; doubles up to a minute (default 2 s)
}

// PushState is what a push is doing.
type PushState string

const (
	PushWaiting    PushState = "waiting" // the local mount has no source
	PushConnecting PushState = "connecting"
	PushLive       PushState = "live"
	PushRetrying   PushState = "retrying"
)

// PushStatus is a push as the API and the interface show it.
type PushStatus struct {
	Mount     string
	Target    string // the URL, password hidden
	State     PushState
	Attempts  int // failed attempts since the last success
	LastError string
	BytesSent uint64 // in the current session
	Since     time.Time
}

type push struct {
	s      *Server
	cfg    PushConfig
	target *url.URL
	stop   chan struct{}

	mu   sync.Mutex
	st   PushStatus
	conn net.Conn
}

func parsePushURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "icecast" {
		u.Scheme = "http"
	}
	if u.Scheme != "http" || u.Host == "" || CheckMountName(u.Path) != nil {
		return nil, fmt.Errorf("%q is not an http:// or icecast:// URL of a mount", redact(raw))
	}
	return u, nil
}

func checkPush(pc PushConfig) error {
	if err := CheckMountName(pc.Mount); err != nil {
		return fmt.Errorf("push %q: %v", pc.Mount, err)
	}
	if _, err := parsePushURL(pc.URL); err != nil {
		return fmt.Errorf("push %s: %v", pc.Mount, err)
	}
	if m := strings.ToLower(pc.Method); m != "" && m != "put" && m != "source" {
		return fmt.Errorf("push %s: method is put or source, not %q", pc.Mount, pc.Method)
	}
	if pc.Retry < 0 || pc.Retry > maxRetry {
		return fmt.Errorf("push %s: retry must be between 0 and %s, got %s", pc.Mount, maxRetry, pc.Retry)
	}
	return nil
}

// AddPush starts sending a local mount to a target server.
func (s *Server) AddPush(pc PushConfig) error {
	if err := checkPush(pc); err != nil {
		return err
	}
	if pc.Retry == 0 {
		pc.Retry = defaultRetry
	}
	target, _ := parsePushURL(pc.URL)
	p := &push{s: s, cfg: pc, target: target, stop: make(chan struct{})}
	p.st = PushStatus{Mount: pc.Mount, Target: target.Redacted(), State: PushWaiting, Since: time.Now()}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return errors.New("server shutting down")
	}
	s.pushes = append(s.pushes, p)
	s.wg.Add(1)
	s.mu.Unlock()
	go p.run()
	return nil
}

// Pushes lists the pushes.
func (s *Server) Pushes() []PushStatus {
	s.mu.Lock()
	ps := slices.Clone(s.pushes)
	s.mu.Unlock()
	out := make([]PushStatus, len(ps))
	for i, p := range ps {
		p.mu.Lock()
		out[i] = p.st
		p.mu.Unlock()
	}
	return out
}

func (p *push) set(f func(*PushStatus)) {
	p.mu.Lock()
	f(&p.st)
	p.mu.Unlock()
}

func (p *push) close() {
	close(p.stop)
	p.mu.Lock()
	if p.conn != nil {
		p.conn.Close()
	}
	p.mu.Unlock()
}

func (p *push) sleep(d time.Duration) bool {
	select {
	case <-p.stop:
		return false
	case <-time.After(d):
		return true
	}
}

func (p *push) run() {
	defer p.s.wg.Done()
	backoff := p.cfg.Retry
	for {
		m := p.s.lookup(p.cfg.Mount)
		if m == nil || m.ended.Load() {
			p.set(func(st *PushStatus) { st.State = PushWaiting })
			if !p.sleep(250 * time.Millisecond) {
				return
			}
			continue
		}
		p.set(func(st *PushStatus) { st.State = PushConnecting })
		reason, err := p.session(m)
		select {
		case <-p.stop:
			return
		default:
		}
		if reason == ReasonSourceEnded {
			backoff = p.cfg.Retry
			continue // the local source left: wait for the next
		}
		p.set(func(st *PushStatus) {
			st.State, st.LastError = PushRetrying, cmpErr(err, reason)
			if err != nil {
				st.Attempts++
			}
		})
		p.s.Emit(Event{Type: EventPush, Level: slog.LevelWarn, Mount: p.cfg.Mount, Reason: reason, Detail: cmpErr(err, reason),
			Message: fmt.Sprintf("push of %s to %s: %s; retrying in %s", p.cfg.Mount, p.target.Redacted(), cmpErr(err, reason), backoff)})
		if !p.sleep(backoff) {
			return
		}
		if err != nil {
			backoff = min(2*backoff, maxRetry)
		} else {
			backoff = p.cfg.Retry
		}
	}
}

func cmpErr(err error, r Reason) string {
	if err != nil {
		return err.Error()
	}
	return r.String()
}

// session sends m to the target until one of them ends. An error means
// the target could not be reached or refused.
func (p *push) session(m *mount) (Reason, error) {
	t := newTap(m, false, true) // strict: a slow target is dropped, never slows the mount
	m.mu.Lock()
	if m.ended.Load() {
		m.mu.Unlock()
		return ReasonSourceEnded, nil
	}
	ct, ice := m.contentType, IceInfo{}
	if m.source != nil {
		ice = p.s.mountIce(m.name, m.source.ice)
	}
	t.ct = ct
	m.taps[t] = struct{}{}
	m.mu.Unlock()
	defer t.Close()
	t.start(int(m.burst.Load()))

	c, err := p.connect(ct, ice)
	if err != nil {
		return ReasonNone, err
	}
	defer c.Close()
	p.mu.Lock()
	p.conn = c
	p.st.State, p.st.Attempts, p.st.BytesSent, p.st.Since = PushLive, 0, 0, time.Now()
	p.mu.Unlock()
	p.s.Emit(Event{Type: EventPush, Level: slog.LevelInfo, Mount: p.cfg.Mount, Reason: ReasonStarted, Detail: p.target.Redacted(),
		Message: fmt.Sprintf("pushing %s to %s", p.cfg.Mount, p.target.Redacted())})
	titles := make(chan struct{}, 1)
	go p.followTitles(m, titles)
	defer close(titles)

	buf := make([]byte, 32<<10)
	for {
		n, err := t.Read(buf)
		if n > 0 {
			_ = c.SetWriteDeadline(time.Now().Add(p.s.cfg().WriteTimeout))
			if _, werr := c.Write(buf[:n]); werr != nil {
				if errors.Is(werr, net.ErrClosed) {
					return ReasonShutdown, nil
				}
				return ReasonWriteError, nil
			}
			p.set(func(st *PushStatus) { st.BytesSent += uint64(n) })
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return ReasonSourceEnded, nil
		case errors.Is(err, errTapBehind):
			return ReasonTooSlow, nil
		default:
			return ReasonShutdown, nil
		}
	}
}

// connect opens the source connection to the target and reads its answer.
func (p *push) connect(ct string, ice IceInfo) (net.Conn, error) {
	u := p.target
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	c, err := net.DialTimeout("tcp", host, dialTimeout)
	if err != nil {
		return nil, err
	}
	method := "PUT"
	if strings.EqualFold(p.cfg.Method, "source") {
		method = "SOURCE"
	}
	user, pass := "source", ""
	if u.User != nil {
		user = cmp.Or(u.User.Username(), "source")
		pass, _ = u.User.Password()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nContent-Type: %s\r\nUser-Agent: %s\r\n",
		method, u.EscapedPath(), u.Host, basicAuth(user, pass), ct, p.s.cfg().ServerID+" push")
	for _, h := range [][2]string{{"Ice-Name", ice.Name}, {"Ice-Description", ice.Description}, {"Ice-Url", ice.URL},
		{"Ice-Genre", ice.Genre}, {"Ice-Public", ice.Public}, {"Ice-Audio-Info", ice.AudioInfo}} {
		if h[1] != "" {
			fmt.Fprintf(&b, "%s: %s\r\n", h[0], noCRLF.Replace(h[1]))
		}
	}
	if ice.Bitrate > 0 {
		fmt.Fprintf(&b, "Ice-Bitrate: %d\r\n", ice.Bitrate/1000)
	}
	b.WriteString("\r\n")
	_ = c.SetDeadline(time.Now().Add(dialTimeout))
	if _, err := io.WriteString(c, b.String()); err != nil {
		c.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("no answer from the target: %v", err)
	}
	_ = c.SetDeadline(time.Time{})
	if resp.StatusCode != http.StatusOK {
		c.Close()
		return nil, fmt.Errorf("target answered %s", resp.Status)
	}
	return c, nil
}

// followTitles sends the mount's title to the target's /admin/metadata
// whenever it changes, until done is closed.
func (p *push) followTitles(m *mount, done <-chan struct{}) {
	var sent uint64
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	client := &http.Client{Timeout: dialTimeout}
	for {
		if blk := m.meta.Load(); blk.gen != sent && blk.gen != 0 {
			sent = blk.gen
			q := url.Values{"mode": {"updinfo"}, "mount": {p.target.Path}, "song": {blk.title}, "charset": {"UTF-8"}}
			u := *p.target
			u.Path, u.RawQuery, u.User = "/admin/metadata", q.Encode(), nil
			req, err := http.NewRequest(http.MethodGet, u.String(), nil)
			if err == nil {
				pass, _ := p.target.User.Password()
				req.SetBasicAuth(cmp.Or(p.target.User.Username(), "source"), pass)
				req.Header.Set("User-Agent", p.s.cfg().ServerID+" push")
				if resp, err := client.Do(req); err == nil {
					resp.Body.Close()
				}
			}
		}
		select {
		case <-done:
			return
		case <-tick.C:
		}
	}
}
