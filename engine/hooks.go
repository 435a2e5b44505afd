package engine

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Icecast's hooks: URL authentication (<authentication type="url">), which
// asks a web service before admitting a listener and tells it when
// listeners and sources come and go, and the programs run when a source
// connects and leaves (<on-connect>, <on-disconnect>).

// EventHook reports the hooks themselves: a URL hook unavailable and back,
// notifications dropped, a program's exit.
const EventHook EventType = "hook"

const (
	defaultHookTimeout     = 5 * time.Second
	defaultAuthHeader      = "icecast-auth-user: 1"
	defaultTimelimitHeader = "icecast-auth-timelimit"
	defaultHeaderPrefix    = "ClientHeader."
	authMessageHeader      = "icecast-auth-message"

	// hookQueueMax bounds the notifications (listener_remove, mount_add,
	// mount_remove) waiting for a hook that is slow or down; more are
	// dropped and counted rather than piling up goroutines or memory.
	hookQueueMax = 256
	// hookDrain is how long Shutdown gives the queued notifications.
	hookDrain = 2 * time.Second
	// maxHookMessage bounds the icecast-auth-message text we pass on.
	maxHookMessage = 200
	// hookConns bounds the connections to one hook: a crowd arriving at
	// once waits for one (within its timeout) rather than opening hundreds.
	hookConns = 32

	// execTimeout bounds an on-connect or on-disconnect program; maxExecs
	// the ones running at once (a source reconnecting in a loop must not
	// fork without end).
	execTimeout = 30 * time.Second
	maxExecs    = 8
)

// hooks is the server's state for both kinds. The zero value is ready;
// Shutdown calls shutdown, then wait.
type hooks struct {
	once   sync.Once
	client *http.Client
	// addCtx ends listener_add calls when shutdown begins (their listeners
	// would be refused anyway); sendCtx ends notifications and programs
	// hookDrain after it.
	addCtx, sendCtx   context.Context
	stopAdd, stopSend context.CancelFunc

	mu      sync.Mutex
	queue   []hookNote
	working bool // a goroutine is sending the queue
	closed  bool
	dropped int                // notifications dropped since the queue last emptied
	outages map[string]*outage // by hook URL
	execs   int
	wg      sync.WaitGroup // the sender and the programs
}

// outage is a hook URL failing: reported when it starts and when it ends,
// not once per listener.
type outage struct {
	since   time.Time
	refused int // listeners refused meanwhile
	failed  int // notifications not delivered meanwhile
}

// hookNote is one notification waiting to be sent.
type hookNote struct {
	auth       *URLAuth
	url        string
	form       form
	user, pass string // the listener's, for basic auth when the hook sets none
}

func (h *hooks) init() {
	h.once.Do(func() {
		h.client = &http.Client{
			Transport: &http.Transport{
				Proxy:                  http.ProxyFromEnvironment, // as curl, which Icecast uses
				DialContext:            (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext,
				MaxConnsPerHost:        hookConns,
				MaxIdleConnsPerHost:    hookConns,
				IdleConnTimeout:        90 * time.Second,
				MaxResponseHeaderBytes: 64 << 10,
			},
			// Icecast's curl does not follow redirects; a POST turned
			// into a GET would not be the same question.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		h.addCtx, h.stopAdd = context.WithCancel(context.Background())
		h.sendCtx, h.stopSend = context.WithCancel(context.Background())
	})
}

// shutdown ends the listener_add calls in progress.
func (h *hooks) shutdown() {
	h.init()
	h.stopAdd()
}

// wait lets the queued notifications and running programs finish, for
// hookDrain at most, then ends them.
func (h *hooks) wait() {
	h.init()
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	t := time.AfterFunc(hookDrain, h.stopSend)
	h.wg.Wait()
	t.Stop()
	h.stopSend()
	h.client.CloseIdleConnections()
}

// form is name, value pairs kept in order: Icecast sends its fields in a
// fixed order, and some hooks were written against that.
type form []string

func (f form) encode() string {
	var b strings.Builder
	for i := 0; i+1 < len(f); i += 2 {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(f[i]) + "=" + url.QueryEscape(f[i+1]))
	}
	return b.String()
}

func (a *URLAuth) timeout() time.Duration { return cmp.Or(a.Timeout, defaultHookTimeout) }

// admits reports whether listener_add's answer lets the listener in: the
// auth header (its name in any case; its value, when given, compared
// without regard to case), or with Accept2xx any 2xx.
func (a *URLAuth) admits(status int, h http.Header) bool {
	if a.Accept2xx && status >= 200 && status < 300 {
		return true
	}
	name, want, _ := strings.Cut(cmp.Or(a.AuthHeader, defaultAuthHeader), ":")
	name, want = strings.TrimSpace(name), strings.TrimSpace(want)
	for _, v := range h.Values(name) {
		if want == "" || strings.EqualFold(strings.TrimSpace(v), want) {
			return true
		}
	}
	return false
}

// timelimit is how long the answer lets the listener stay; 0 for no limit.
// Icecast reads the leading digits of the value; 0 is taken as no limit,
// not as "leave at once".
func (a *URLAuth) timelimit(h http.Header) time.Duration {
	name := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(cmp.Or(a.TimelimitHeader, defaultTimelimitHeader)), ":"))
	v := strings.TrimSpace(h.Get(name))
	end := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' })
	if end >= 0 {
		v = v[:end]
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return 0
	}
	return time.Duration(n) * time.Second
}

// checkAuth checks a mount's URL authentication settings.
func checkAuth(a *URLAuth) error {
	if a == nil {
		return nil
	}
	var errs []error
	for _, u := range [][2]string{
		{"listener_add", a.ListenerAdd}, {"listener_remove", a.ListenerRemove},
		{"mount_add", a.MountAdd}, {"mount_remove", a.MountRemove},
	} {
		if u[1] == "" {
			continue
		}
		p, err := url.Parse(u[1])
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			errs = append(errs, fmt.Errorf("%s must be an http:// or https:// URL, got %q", u[0], redactURL(u[1])))
		}
	}
	if a.Timeout < 0 || a.Timeout > maxWait {
		errs = append(errs, fmt.Errorf("timeout must not be negative and at most %s, got %s", maxWait, a.Timeout))
	}
	return errors.Join(errs...)
}

// redactURL hides a password in a hook URL before it is shown.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "(unparsable URL)"
}

// post sends one hook request and returns the answer's status and header;
// the body is read a little, for the connection's reuse, and dropped.
func (h *hooks) post(ctx context.Context, a *URLAuth, u string, f form, user, pass string, serverID string) (int, http.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(f.encode()))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", serverID)
	// As Icecast: the credentials in the URL, else the configured ones,
	// else the listener's own.
	switch {
	case req.URL.User != nil:
	case a.Username != "" || a.Password != "":
		req.SetBasicAuth(a.Username, a.Password)
	case user != "" || pass != "":
		req.SetBasicAuth(user, pass)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, resp.Header, nil
}

// failed notes a failure of the hook at u. It reports whether an outage
// starts with it: only then is it worth an event.
func (h *hooks) failed(u string, listener bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.outages == nil {
		h.outages = map[string]*outage{}
	}
	o := h.outages[u]
	first := o == nil
	if first {
		o = &outage{since: time.Now()}
		h.outages[u] = o
	}
	if listener {
		o.refused++
	} else {
		o.failed++
	}
	return first
}

// answered notes that the hook at u answered, ending its outage if it had
// one, which is then reported.
func (s *Server) hookAnswered(u string) {
	h := &s.hooks
	h.mu.Lock()
	o := h.outages[u]
	delete(h.outages, u)
	h.mu.Unlock()
	if o != nil {
		s.Emit(Event{Type: EventHook, Level: slog.LevelInfo, Detail: redactURL(u),
			Message: fmt.Sprintf("hook %s answers again after %s; meanwhile %d listeners were refused and %d notifications lost",
				redactURL(u), time.Since(o.since).Round(time.Second), o.refused, o.failed)})
	}
}

// hostPort splits a listening address for the server and port fields.
func hostPort(a net.Addr) (string, string) {
	if a == nil {
		return "", "0"
	}
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String(), "0"
	}
	return host, port
}

// clientOf finds the counted connection under the engine's wrappers.
func clientOf(c net.Conn) *clientConn {
	for {
		switch v := c.(type) {
		case *clientConn:
			return v
		case *replayConn:
			c = v.Conn
		default:
			return nil
		}
	}
}

// authorize asks the mount's listener_add hook, if it has one, whether l
// may listen. It runs on the listener's own goroutine before the listener
// joins the fan-out, holding no lock, so a slow hook delays nobody else;
// the connection counts against the client limit meanwhile. Refused, the
// listener is answered 401 and authorize reports false. Admitted, the
// hook's time limit, if it gives one, is set and the listener's leaving,
// whenever its connection closes, will be told to listener_remove.
func (s *Server) authorize(c net.Conn, req *http.Request, l *listener) bool {
	m := l.mount
	// The hook of the mount asked for, as Icecast: a listener served
	// another (a file fallback) must pass it; else the serving mount's,
	// so that asking for a mount that falls back to it does not pass by.
	a := s.cfg().Mounts[s.aliased(req.URL.Path)].Auth
	if a == nil {
		a = m.settings().Auth
	}
	if a == nil || a.ListenerAdd == "" {
		return true
	}
	if l.id == 0 {
		l.id = s.nextID.Add(1) // the hook's client id is the listener's id
	}
	user, pass, _ := req.BasicAuth()
	host, port := hostPort(c.LocalAddr())
	ip := l.addr
	if ap := addrOf(l.addr); ap.IsValid() {
		ip = ap.String()
	}
	agent := req.UserAgent()
	if len(req.Header.Values("User-Agent")) == 0 {
		agent = "-" // as Icecast
	}
	mount := cmp.Or(req.RequestURI, req.URL.RequestURI()) // with its query: hooks read tokens there
	who := form{"server", host, "port", port, "client", strconv.FormatUint(l.id, 10), "mount", mount, "user", user, "pass", pass}
	add := append(form{"action", "listener_add"}, who...)
	add = append(add, "ip", ip, "agent", agent)
	prefix := cmp.Or(a.HeaderPrefix, defaultHeaderPrefix)
	for _, name := range a.Headers {
		if v := req.Header.Values(name); len(v) > 0 {
			add = append(add, prefix+name, v[0])
		}
	}

	h := &s.hooks
	h.init()
	status, hdr, err := h.post(h.addCtx, a, a.ListenerAdd, add, user, pass, s.cfg().ServerID)
	refuse := func(why Reason, detail, body string) bool {
		e := ending{kind: KindListener, reason: why, detail: detail, level: slog.LevelInfo, event: EventListenerRefused, mount: m.name,
			id: l.id, addr: l.addr, message: fmt.Sprintf("listener %s refused on %s (401): %s", l.addr, m.name, cmp.Or(detail, why.String())),
			request: l.request, referer: l.referer, ua: l.ua, user: user, status: http.StatusUnauthorized, answer: true, body: body + "\n",
			header: []string{"WWW-Authenticate", `Basic realm="icedeck"`}}
		if why == ReasonAuthUnavailable {
			e.level = slog.LevelWarn
			if !h.failed(a.ListenerAdd, true) {
				e.event = "" // one event an outage, not one a listener: the count goes on
			} else {
				s.Emit(Event{Type: EventHook, Level: slog.LevelError, Mount: m.name, Reason: ReasonAuthUnavailable, Detail: detail,
					Message: fmt.Sprintf("listener_add hook %s unavailable (%s): listeners of %s are refused until it answers",
						redactURL(a.ListenerAdd), detail, m.name)})
			}
		}
		s.finish(c, e)
		return false
	}
	switch {
	case err != nil:
		return refuse(ReasonAuthUnavailable, CleanText(err.Error()), "Authentication unavailable, try again later")
	case !a.admits(status, hdr) && status >= 500:
		return refuse(ReasonAuthUnavailable, "answered "+strconv.Itoa(status), "Authentication unavailable, try again later")
	}
	s.hookAnswered(a.ListenerAdd)
	if !a.admits(status, hdr) {
		msg := cutUTF8(CleanText(hdr.Get(authMessageHeader)), maxHookMessage)
		return refuse(ReasonAuthRefused, msg, cmp.Or(msg, "Authentication required"))
	}

	if limit := a.timelimit(hdr); limit > 0 {
		// The shard's sweeps end it; the sooner of this and any other limit.
		if until := time.Now().Add(limit).UnixNano(); l.until == 0 || until < l.until {
			l.until = until
		}
	}
	if cc := clientOf(c); cc != nil && a.ListenerRemove != "" {
		connected := l.connectedAt()
		leave := func() {
			dur := strconv.FormatInt(int64(time.Since(connected)/time.Second), 10)
			f := append(form{"action", "listener_remove"}, who...)
			f = append(f, "duration", dur, "ip", ip, "agent", agent)
			s.notify(hookNote{auth: a, url: a.ListenerRemove, form: f, user: user, pass: pass})
		}
		cc.onClose.Store(&leave)
	}
	return true
}

// sourceHooks tells the mount's hooks that a source started (or ended):
// mount_add (mount_remove) and the on-connect (on-disconnect) program.
// Neither is waited for.
func (s *Server) sourceHooks(m *mount, started bool) {
	mc := m.settings()
	action, prog, which := "mount_add", mc.OnConnect, "on-connect"
	if !started {
		action, prog, which = "mount_remove", mc.OnDisconnect, "on-disconnect"
	}
	if a := mc.Auth; a != nil {
		u := a.MountAdd
		if !started {
			u = a.MountRemove
		}
		if u != "" {
			host, port := hostPort(s.Addr())
			s.notify(hookNote{auth: a, url: u, form: form{"action", action, "mount", m.name, "server", host, "port", port}})
		}
	}
	if prog != "" {
		s.runHook(which, prog, m.name)
	}
}

// notify queues a notification; a full queue drops it, counted.
func (s *Server) notify(n hookNote) {
	h := &s.hooks
	h.init()
	h.mu.Lock()
	if h.closed { // after Shutdown: nobody is left to send it
		h.mu.Unlock()
		return
	}
	if len(h.queue) >= hookQueueMax {
		h.dropped++
		first := h.dropped == 1
		h.mu.Unlock()
		if first {
			s.Emit(Event{Type: EventHook, Level: slog.LevelWarn, Detail: redactURL(n.url),
				Message: fmt.Sprintf("hook notifications dropped: %d are waiting for slow or unavailable hooks (first dropped: %s to %s)",
					hookQueueMax, n.form[1], redactURL(n.url))})
		}
		return
	}
	h.queue = append(h.queue, n)
	start := !h.working
	if start {
		h.working = true
		h.wg.Add(1)
	}
	h.mu.Unlock()
	if start {
		go s.sendNotes()
	}
}

// sendNotes sends the queued notifications one at a time, in order, as
// Icecast's auth thread does: a hook never sees a listener_remove before
// its listener_add's mount_add, and a hook that is down costs one
// request at a time, not a goroutine per notification.
func (s *Server) sendNotes() {
	h := &s.hooks
	defer h.wg.Done()
	for {
		h.mu.Lock()
		if len(h.queue) == 0 {
			h.working = false
			dropped := h.dropped
			h.dropped = 0
			h.mu.Unlock()
			if dropped > 0 {
				s.Emit(Event{Type: EventHook, Level: slog.LevelWarn,
					Message: fmt.Sprintf("%d hook notifications were dropped while the queue was full", dropped)})
			}
			return
		}
		n := h.queue[0]
		h.queue[0] = hookNote{}
		h.queue = h.queue[1:]
		h.mu.Unlock()

		status, _, err := h.post(h.sendCtx, n.auth, n.url, n.form, n.user, n.pass, s.cfg().ServerID)
		detail := ""
		switch {
		case err != nil:
			detail = CleanText(err.Error())
		case status >= 500:
			detail = "answered " + strconv.Itoa(status)
		}
		if detail == "" {
			s.hookAnswered(n.url)
			continue
		}
		if h.failed(n.url, false) {
			s.Emit(Event{Type: EventHook, Level: slog.LevelError, Detail: detail,
				Message: fmt.Sprintf("%s hook %s unavailable (%s); notifications to it are lost until it answers",
					n.form[1], redactURL(n.url), detail)})
		}
	}
}

// runHook runs an on-connect or on-disconnect program with the mount as
// its one argument, as Icecast does: directly, not through a shell, with
// a time limit. Its exit status and the first line of its error output
// are logged.
func (s *Server) runHook(which, prog, mount string) {
	h := &s.hooks
	h.init()
	h.mu.Lock()
	if h.closed || h.execs >= maxExecs {
		h.mu.Unlock()
		s.Emit(Event{Type: EventHook, Level: slog.LevelWarn, Mount: mount, Detail: prog,
			Message: fmt.Sprintf("%s program %s for %s not run: %d are still running", which, prog, mount, maxExecs)})
		return
	}
	h.execs++
	h.wg.Add(1)
	h.mu.Unlock()
	go func() {
		defer func() {
			h.mu.Lock()
			h.execs--
			h.mu.Unlock()
			h.wg.Done()
		}()
		ctx, cancel := context.WithTimeout(h.sendCtx, execTimeout)
		defer cancel()
		var stderr firstLine
		cmd := exec.CommandContext(ctx, prog, mount)
		cmd.Stderr = &stderr
		cmd.WaitDelay = time.Second // a child left holding its stderr must not keep us
		start := time.Now()
		err := cmd.Run()
		took := time.Since(start).Round(time.Millisecond)
		e := Event{Type: EventHook, Level: slog.LevelInfo, Mount: mount, Detail: CleanText(string(stderr.b))}
		var exit *exec.ExitError
		switch {
		case err == nil:
			e.Message = fmt.Sprintf("%s program %s %s exited 0 after %s", which, prog, mount, took)
		case errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist):
			e.Level, e.Detail = slog.LevelError, CleanText(err.Error())
			e.Message = fmt.Sprintf("%s program %s not found: check the mount's %s setting", which, prog, which)
		case ctx.Err() != nil:
			e.Level = slog.LevelWarn
			e.Message = fmt.Sprintf("%s program %s %s killed after %s", which, prog, mount, took)
		case errors.As(err, &exit):
			e.Level = slog.LevelWarn
			e.Message = fmt.Sprintf("%s program %s %s exited %d after %s", which, prog, mount, exit.ExitCode(), took)
		default:
			e.Level, e.Detail = slog.LevelError, CleanText(err.Error())
			e.Message = fmt.Sprintf("%s program %s could not run: %s", which, prog, e.Detail)
		}
		if e.Detail != "" && e.Level != slog.LevelError {
			e.Message += ": " + e.Detail
		}
		s.Emit(e)
	}()
}

// firstLine keeps the first line of what a program writes, up to 512
// bytes, and swallows the rest.
type firstLine struct {
	b    []byte
	done bool
}

func (w *firstLine) Write(p []byte) (int, error) {
	if !w.done {
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line, w.done = p[:i], true
		}
		line = line[:min(len(line), 512-len(w.b))]
		w.b = append(w.b, line...)
		w.done = w.done || len(w.b) >= 512
	}
	return len(p), nil
}
