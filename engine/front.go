package engine

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/icedeck/icedeck/engine/frame"
)

// listenerSendBuffer is SO_SNDBUF for listeners (Linux doubles it): about
// eight seconds of 128 kb/s, room for the burst on connect.
const listenerSendBuffer = 64 << 10

// headReader limits and records what is read while a request head is
// parsed: past the limit it reports EOF, and the record lets a plain HTTP
// request be replayed to net/http.
type headReader struct {
	r      io.Reader
	left   int
	record []byte
	done   bool // head parsed: no limit, no record
}

func (h *headReader) Read(p []byte) (int, error) {
	if h.done {
		return h.r.Read(p)
	}
	if h.left <= 0 {
		return 0, io.EOF
	}
	if len(p) > h.left {
		p = p[:h.left]
	}
	n, err := h.r.Read(p)
	h.left -= n
	h.record = append(h.record, p[:n]...)
	return n, err
}

// headBuf is the reader of one request head.
type headBuf struct {
	hr headReader
	br *bufio.Reader
}

// heads lends headBufs to handleConn. A reader of its own for each
// connection was most of the garbage of admitting a listener, and while
// thousands join, that garbage sets how far the heap grows and so the
// memory kept once they have joined. The pool keeps as many as were
// reading at once (hundreds while a busy server admits 1,000 a second),
// hence a small buffer: a player's request head is a few hundred bytes,
// and a longer one takes more reads, not a bigger buffer.
var heads = sync.Pool{New: func() any {
	h := &headBuf{}
	h.br = bufio.NewReaderSize(&h.hr, 1<<10)
	return h
}}

// handleConn reads one request head and routes it: sources and listeners
// are served here on raw connections; anything else goes to net/http.
func (s *Server) handleConn(c net.Conn) {
	addr := c.RemoteAddr().String()
	hb := heads.Get().(*headBuf)
	hb.hr = headReader{r: c, left: s.cfg().MaxHeaderBytes}
	hr, br := &hb.hr, hb.br
	br.Reset(hr)
	defer func() {
		if hb != nil {
			hb.hr = headReader{} // the connection and the record are not the pool's
			br.Reset(hr)
			heads.Put(hb)
		}
	}()
	_ = c.SetReadDeadline(time.Now().Add(s.cfg().HeaderTimeout))
	req, err := http.ReadRequest(br)
	s.untrack(c)
	if err != nil {
		if s.isClosing() {
			c.Close()
			return
		}
		s.badHead(c, addr, hr, err)
		return
	}
	hr.done = true
	_ = c.SetReadDeadline(time.Time{})
	addr = s.clientAddr(addr, req.Header)
	if s.denied(c, req, addr) {
		return
	}
	switch req.Method {
	case "SOURCE", "PUT":
		s.totals.requests.Add(1)
		hb = nil // the source's stream is read through it, by a goroutine that may outlive this call
		s.handleSource(c, br, req, addr)
		return
	case http.MethodGet, http.MethodHead:
		if m := s.listenable(s.aliased(req.URL.Path)); m != nil {
			s.totals.requests.Add(1)
			s.handleListener(c, req, m, addr)
			return
		}
	}
	if s.control.Load() == nil {
		s.totals.requests.Add(1)
		s.notFound(c, req, addr)
		return
	}
	// serveHTTP counts the request.
	rc := &replayConn{Conn: c, r: io.MultiReader(bytes.NewReader(hr.record), c), writeTimeout: s.cfg().WriteTimeout}
	if !s.handoff.push(rc) {
		c.Close()
	}
}

func (s *Server) badHead(c net.Conn, addr string, hr *headReader, err error) {
	e := ending{kind: KindRequest, event: EventRequestRejected, level: slog.LevelWarn, addr: addr}
	switch {
	case hr.left <= 0:
		e.reason, e.status, e.answer = ReasonHeadTooLarge, http.StatusRequestHeaderFieldsTooLarge, true
		e.body = "Request head larger than " + strconv.Itoa(s.cfg().MaxHeaderBytes) + " bytes\n"
		e.detail = "larger than " + strconv.Itoa(s.cfg().MaxHeaderBytes) + " bytes"
	case errors.Is(err, os.ErrDeadlineExceeded):
		e.reason, e.detail = ReasonHeadTimeout, "not complete within "+s.cfg().HeaderTimeout.String()
	case len(hr.record) == 0 && (errors.Is(err, io.EOF) || isClosedErr(err)):
		// Connected and left without a word: a port probe or health check.
		e.reason, e.level, e.detail = ReasonClientClosed, slog.LevelDebug, "closed before sending a request"
	default:
		e.reason, e.status, e.answer, e.body = ReasonBadRequest, http.StatusBadRequest, true, "Malformed request\n"
		e.detail = "malformed request: " + err.Error()
	}
	e.message = fmt.Sprintf("request from %s rejected: %s (%s)", addr, e.reason, e.detail)
	s.finish(c, e)
}

func (s *Server) notFound(c net.Conn, req *http.Request, addr string) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		s.finish(c, ending{kind: KindRequest, reason: ReasonBadRequest, detail: "method " + req.Method, status: http.StatusMethodNotAllowed,
			answer: true, body: "Method not allowed\n"})
		return
	}
	s.finish(c, ending{kind: KindRequest, reason: ReasonNoMount, level: slog.LevelInfo, event: EventListenerRefused, addr: addr,
		message: fmt.Sprintf("%s asked for %q: no such mount (404)", addr, req.URL.Path),
		request: requestLine(req), referer: req.Referer(), ua: req.UserAgent(), status: http.StatusNotFound, answer: true, body: "Mount not found\n"})
}

// listenable is the live mount at path, waking an on-demand relay of it
// and waiting for its upstream when needed.
func (s *Server) listenable(path string) *mount {
	if m := s.lookup(path); m != nil {
		return m
	}
	if r := s.relayFor(path); r != nil && r.cfg.OnDemand {
		return r.demand()
	}
	return s.fallbackListen(path)
}

// serveHTTP is net/http's handler: mounts reached over a kept-alive
// connection are still served as streams; the rest goes to the handler
// set with Handle.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.totals.requests.Add(1)
	if s.deniedHTTP(w, r) {
		return
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		path := s.aliased(r.URL.Path)
		if m := s.listenable(path); m != nil {
			if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
				s.handleListener(c, r, m, r.RemoteAddr)
				return
			}
		}
		if path != r.URL.Path { // an alias to a page of the control plane
			r.URL.Path, r.URL.RawPath = path, ""
		}
	}
	// Behind a trusted proxy, the handler sees the client, not the proxy
	// (the control plane's allow-list and login limiter depend on it).
	if a := s.clientAddr(r.RemoteAddr, r.Header); a != r.RemoteAddr {
		r.RemoteAddr = net.JoinHostPort(a, "0")
	}
	if s.cfg().AccessLog != nil {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			user, _, _ := r.BasicAuth()
			s.access.write(r.RemoteAddr, user, requestLine(r), sw.status, sw.bytes, r.Referer(), r.UserAgent(), time.Since(start))
		}()
		w = sw
	}
	if h := s.control.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	http.NotFound(w, r)
}

// writeStatus writes a short text response. Answers go out in HTTP/1.0
// like Icecast's, so every source client parses them.
func writeStatus(c net.Conn, code int, body string, extra ...string) {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.0 %d %s\r\n", code, http.StatusText(code))
	for i := 0; i+1 < len(extra); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", extra[i], extra[i+1])
	}
	fmt.Fprintf(&b, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, b.String())
}

func equalSecret(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// handleSource authenticates a source and relays its stream until it ends.
func (s *Server) handleSource(c net.Conn, br *bufio.Reader, req *http.Request, addr string) {
	name := req.URL.Path
	label := name // the mount as events show it: only a valid name
	user, pass, hasAuth := req.BasicAuth()
	reject := func(code int, body string, reason Reason, detail string, level slog.Level, extra ...string) {
		s.totals.sourceRejects.Add(1)
		s.finish(c, ending{kind: KindSource, reason: reason, detail: detail, level: level, event: EventSourceRejected, mount: label, addr: addr,
			message: fmt.Sprintf("source %s on %q refused (%d): %s", addr, name, code, cmp.Or(detail, reason.String())),
			request: requestLine(req), user: user, ua: req.UserAgent(), status: code, answer: true, body: body + "\n", header: extra})
	}
	if err := CheckMountName(name); err != nil {
		label = ""
		reject(http.StatusBadRequest, "Bad mount path", ReasonBadRequest, "bad mount path: "+err.Error(), slog.LevelWarn)
		return
	}
	ip := addrOf(addr)
	if until, blocked := s.sourceLogins.Blocked(ip, time.Now()); blocked {
		reject(http.StatusTooManyRequests, "Too many failed logins", ReasonLoginsBlocked, "", slog.LevelWarn,
			"Retry-After", strconv.Itoa(int(time.Until(until).Seconds())+1))
		return
	}
	if !hasAuth {
		// libshout asks without credentials first and expects this challenge.
		reject(http.StatusUnauthorized, "Authentication required", ReasonNoCredentials, "", slog.LevelInfo,
			"WWW-Authenticate", `Basic realm="icedeck"`)
		return
	}
	wantUser, wantPass := s.cfg().SourceCredentials(name)
	if !equalSecret(user, wantUser) || !equalSecret(pass, wantPass) {
		if s.sourceLogins.Fail(ip, time.Now()) {
			s.Emit(Event{Type: EventSourceRejected, Level: slog.LevelWarn, Mount: label, Addr: addr, Reason: ReasonLoginsBlocked,
				Message: fmt.Sprintf("%s blocked for %s after repeated failed source logins", addr, s.sourceLogins.Window())})
		}
		reject(http.StatusUnauthorized, "Authentication failed", ReasonWrongCredentials, "user "+strconv.Quote(user), slog.LevelWarn,
			"WWW-Authenticate", `Basic realm="icedeck"`)
		return
	}
	fault := s.sourceFault(name) // the test bench's misbehaviour, if any (fault.go)
	if code := fault.Refuse; code != 0 {
		reject(code, http.StatusText(code), ReasonFault, "refused by a fault", slog.LevelInfo, fault.refusalHeader()...)
		return
	}
	ct := req.Header.Get("Content-Type")
	if ct == "" {
		if req.Method == "PUT" {
			reject(http.StatusBadRequest, "No Content-Type given", ReasonBadRequest, "PUT without Content-Type", slog.LevelWarn)
			return
		}
		ct = "audio/mpeg" // Icecast assumes MP3 for a bare SOURCE
	}
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		ct = mt
	}
	src := &source{
		id: s.nextID.Add(1), conn: c, body: br, method: req.Method, request: requestLine(req), addr: addr,
		ua: req.UserAgent(), contentType: ct, known: frame.Known(ct),
		headers: flatHeaders(req.Header), ice: parseIce(req.Header.Get),
		connected: time.Now(), an: frame.NewAnalyzer(ct), hash: sha256.New(), fault: fault,
	}
	if slices.Contains(req.TransferEncoding, "chunked") {
		// curl -T - streams this way; the chunk framing is not audio.
		src.body = httputil.NewChunkedReader(br)
	}
	m, why, detail := s.attachSource(src, name)
	if m == nil {
		code, body := http.StatusServiceUnavailable, "Too many sources connected"
		switch why {
		case ReasonMountBusy:
			code, body = http.StatusForbidden, "Mountpoint in use"
		case ReasonShuttingDown:
			body = "Server shutting down"
		}
		reject(code, body, why, detail, slog.LevelWarn)
		return
	}
	// An answer the client never reads is harmful: closing a socket with
	// unread data sends RST, and a reset makes our kernel drop the end of
	// the stream we had not read yet (ffmpeg lost its last 15 KB in 11 of
	// 20 sessions that way). So the 200 goes with the 100 in one write, to
	// be read with it; and a client that streams without waiting for an
	// answer (ffmpeg's legacy SOURCE) gets none.
	answer := "HTTP/1.0 200 OK\r\nServer: " + s.cfg().ServerID + "\r\n\r\n"
	switch {
	case strings.EqualFold(req.Header.Get("Expect"), "100-continue"):
		_, _ = io.WriteString(c, fault.continueAnswer(answer))
	case !streamsUnasked(c, br):
		_, _ = io.WriteString(c, answer)
	}
	if !src.known {
		s.Emit(Event{Type: EventWarning, Level: slog.LevelWarn, Mount: name, ID: src.id, Addr: addr, Detail: "unknown content type",
			Message: fmt.Sprintf("%s: content type %q is not analysed; relayed as opaque bytes", name, ct)})
	}

	reason := s.ingest(src)
	s.detachSource(src, reason)
}

// mountIce applies the mount's configured name, description, public
// flag, genre, URL and bitrate over what the source declared. Every place
// that shows a stream's details (listener heads, snapshots, pushes) calls
// it at that moment, so a reload shows and every kind of source, relays
// included, gets the same.
func (s *Server) mountIce(name string, ice IceInfo) IceInfo {
	mc := s.cfg().Mounts[name]
	ice.Name = cmp.Or(mc.StreamName, ice.Name)
	ice.Description = cmp.Or(mc.StreamDescription, ice.Description)
	ice.Public = cmp.Or(mc.Public, ice.Public)
	ice.Genre = cmp.Or(mc.Genre, ice.Genre)
	ice.URL = cmp.Or(mc.URL, ice.URL)
	if kbps, err := strconv.Atoi(strings.TrimSpace(mc.Bitrate)); err == nil && kbps > 0 {
		ice.Bitrate, ice.BitrateStated = kbps*1000, true // Icecast's <bitrate> is in kbit/s
	}
	return ice
}

// answerWait is how long a source has to start streaming before we take it
// to be waiting for our answer, as libshout does.
const answerWait = 150 * time.Millisecond

// streamsUnasked reports whether the client sent stream data without
// waiting for an answer to its request.
func streamsUnasked(c net.Conn, br *bufio.Reader) bool {
	if br.Buffered() > 0 {
		return true
	}
	_ = c.SetReadDeadline(time.Now().Add(answerWait))
	_, err := br.Peek(1)
	_ = c.SetReadDeadline(time.Time{})
	return !errors.Is(err, os.ErrDeadlineExceeded)
}

func flatHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		if k == "Authorization" {
			continue
		}
		out[k] = strings.Join(v, ", ")
	}
	return out
}

// handleListener answers a GET or HEAD on a live mount and hands the
// connection to one of the mount's shards.
func (s *Server) handleListener(c net.Conn, req *http.Request, m *mount, addr string) {
	icy := req.Header.Get("Icy-MetaData") == "1"
	m.mu.Lock()
	head := m.headPlain
	if icy && m.headICY != nil {
		head = m.headICY
	} else {
		icy = false
	}
	m.mu.Unlock()
	if target := s.redirectTarget(req); target != "" {
		s.finish(c, ending{kind: KindListener, reason: ReasonRedirected, level: slog.LevelDebug, event: EventListenerRefused, mount: m.name, addr: addr,
			detail: target, message: fmt.Sprintf("listener %s on %s sent to %s", addr, m.name, target),
			request: requestLine(req), referer: req.Referer(), ua: req.UserAgent(), status: http.StatusFound, answer: true,
			body: "Moved to " + target + "\n", header: []string{"Location", target}})
		return
	}
	if req.Method == http.MethodHead {
		_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, _ = c.Write(head)
		c.Close()
		return
	}
	refuse := func(code int, why Reason, detail string) {
		s.finish(c, ending{kind: KindListener, reason: why, detail: detail, level: slog.LevelWarn, event: EventListenerRefused, mount: m.name, addr: addr,
			message: fmt.Sprintf("listener %s refused on %s (%d): %s %s", addr, m.name, code, why, detail),
			request: requestLine(req), referer: req.Referer(), ua: req.UserAgent(), status: code, answer: head != nil, // not after an intro
			body: "Mount full or gone: " + why.String() + "\n"})
	}
	now := time.Now()
	l := &listener{
		conn: s.queueTLS(c), addr: addr, ua: req.UserAgent(), connected: now.UnixNano(), request: requestLine(req), referer: req.Referer(),
		icy: icy, mount: m, metaLeft: m.metaInt, lastProgress: monoAt(now), lastWrite: monoAt(now),
	}
	s.listenerSettings(l, s.aliased(req.URL.Path))
	// Asked before its place in the stream is taken: a slow hook must
	// not start it seconds behind.
	if !s.authorize(c, req, l) {
		return
	}
	if tc := tcpConn(c); tc != nil {
		// A fixed send buffer bounds kernel memory per listener (autotuning
		// allows megabytes each) and lets a stalled client show as slow
		// while the data it misses is still in the mount's queue.
		_ = tc.SetWriteBuffer(listenerSendBuffer)
	}
	if tc := tcpConn(c); tc != nil {
		l.raw, _ = tc.SyscallConn()
	}
	st := m.startFor(int(m.burst.Load()))
	l.pending[0], l.pending[1] = head, st.headers
	l.placeAt(st)
	if !s.sendIntro(l, req, &head) {
		return
	}
	// Counted before it can be seen in a snapshot, so listener_connections
	// never lags the listeners listed; taken back if it is refused.
	s.totals.listeners.Add(1)
	if why, detail := m.addListener(l); why != ReasonNone {
		s.totals.listeners.Add(^uint64(0))
		code := http.StatusServiceUnavailable
		if why == ReasonSourceEnded {
			code = http.StatusNotFound
		}
		refuse(code, why, detail)
		return
	}
	s.Emit(Event{Type: EventListenerJoined, Level: slog.LevelInfo, Mount: m.name, ID: l.id, Addr: addr,
		Message: fmt.Sprintf("listener %d joined %s from %s (%q, icy %v)", l.id, m.name, addr, l.ua, icy)})
}

var noCRLF = strings.NewReplacer("\r", " ", "\n", " ")

// setHeads builds the response heads every listener of the source shares.
func (m *mount) setHeads(s *Server, src *source) {
	var b strings.Builder
	b.WriteString("HTTP/1.0 200 OK\r\nServer: " + s.cfg().ServerID + "\r\nContent-Type: " + noCRLF.Replace(src.contentType) +
		"\r\nCache-Control: no-cache, no-store\r\nPragma: no-cache\r\nExpires: Mon, 26 Jul 1997 05:00:00 GMT\r\nConnection: close\r\n")
	keys := make([]string, 0, len(s.cfg().Headers))
	for k := range s.cfg().Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString(k + ": " + noCRLF.Replace(s.cfg().Headers[k]) + "\r\n")
	}
	ice := s.mountIce(m.name, src.ice)
	for _, h := range [][2]string{
		{"icy-name", ice.Name}, {"icy-description", ice.Description}, {"icy-url", ice.URL},
		{"icy-genre", ice.Genre}, {"icy-pub", ice.Public}, {"ice-audio-info", ice.AudioInfo},
	} {
		if h[1] != "" {
			b.WriteString(h[0] + ": " + noCRLF.Replace(h[1]) + "\r\n")
		}
	}
	if ice.Bitrate > 0 {
		b.WriteString("icy-br: " + strconv.Itoa(ice.Bitrate/1000) + "\r\n")
	}
	plain := b.String()
	m.headPlain = []byte(plain + "\r\n")
	m.headICY = nil
	if frame.FormatOf(src.contentType).ICY {
		m.headICY = []byte(plain + "icy-metaint: " + strconv.Itoa(m.metaInt) + "\r\n\r\n")
	}
}
