package engine

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// TLS as Icecast's <listen-socket><ssl>1</ssl>: a listening socket that
// speaks only TLS (1.2 or later), for listeners, sources and the control
// plane alike. The certificate is read by New and by a reload; handshakes
// take whichever is in force when they start.

// ServeTLS is Serve for a socket that speaks TLS, with the certificate of
// Config.TLSCert and TLSKey. Connections count against the client limit
// from accept, like any, and the handshake must be done within the header
// timeout, as part of the request head.
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.cert.Load() == nil {
		ln.Close()
		return errors.New("engine: ServeTLS needs a certificate (Config.TLSCert)")
	}
	conf := &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"}, // streams and the control plane are HTTP/1
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			if c := s.cert.Load(); c != nil {
				return c, nil
			}
			return nil, errors.New("no TLS certificate configured")
		},
	}
	return s.Serve(&tlsListener{Listener: ln, conf: conf, s: s})
}

// reloadCertificate reads cfg's certificate and key and makes them the
// ones new handshakes present; connections already open keep theirs. On
// an error nothing changes.
func (s *Server) reloadCertificate(cfg *Config) error {
	if cfg.TLSCert == "" {
		if s.tlsServing.Load() {
			return errors.New("engine: TLS listeners are open: a certificate is required (TLSCert)")
		}
		s.cert.Store(nil)
		return nil
	}
	cert, err := loadCertificate(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return err
	}
	if now := time.Now(); cert.Leaf != nil && (now.After(cert.Leaf.NotAfter) || now.Before(cert.Leaf.NotBefore)) {
		s.log.Warn("the TLS certificate is not valid now: clients will refuse it", "file", cfg.TLSCert,
			"not_before", cert.Leaf.NotBefore, "not_after", cert.Leaf.NotAfter)
	}
	s.cert.Store(&cert)
	return nil
}

// loadCertificate reads PEM files; keyFile "" means the key is in
// certFile, as with Icecast's <ssl-certificate>. Errors name the files,
// and the setting, so that a configuration file can say at which line.
func loadCertificate(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, &SettingError{Key: "tls.cert", Msg: "cannot be read: " + err.Error()}
	}
	keyPEM, with := certPEM, ""
	if keyFile != "" {
		if keyPEM, err = os.ReadFile(keyFile); err != nil {
			return tls.Certificate{}, &SettingError{Key: "tls.key", Msg: "cannot be read: " + err.Error()}
		}
		with = " with the key in " + keyFile
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, &SettingError{Key: "tls.cert", Msg: fmt.Sprintf("%s%s is not a usable certificate and key: %v", certFile, with, err)}
	}
	return cert, nil
}

// tlsListener makes every accepted connection a TLS server connection.
// The handshake happens on the first read, in the connection's own
// goroutine, never in the accept loop.
type tlsListener struct {
	net.Listener
	conf *tls.Config
	s    *Server
}

func (l *tlsListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.s.tlsServing.Store(true)
	// The handshake writes too: bounded like the head it is part of; the
	// first record read lifts it.
	_ = nc.SetWriteDeadline(time.Now().Add(l.s.cfg().HeaderTimeout))
	return &tlsConn{Conn: tls.Server(nc, l.conf)}, nil
}

// tlsConn is a server-side TLS connection that is written to only after
// its handshake: a write before any request was read is the answer to a
// client over the limit, which must cost nothing (a handshake would wait
// on the client, in the accept loop).
type tlsConn struct {
	*tls.Conn
	ready atomic.Bool // a record was read: the handshake is done
}

// errNoHandshake refuses a write before the handshake.
var errNoHandshake = errors.New("tls: no answer before the handshake")

func (c *tlsConn) Write(p []byte) (int, error) {
	if !c.ready.Load() {
		return 0, errNoHandshake
	}
	return c.Conn.Write(p)
}

func (c *tlsConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.ready.Load() {
		c.ready.Store(true)
		_ = c.Conn.SetWriteDeadline(time.Time{})
	}
	if err != nil && !c.ready.Load() {
		err = handshakeError(err)
	}
	return n, err
}

// errPlainHTTP is a client that spoke plain HTTP to the TLS port.
var errPlainHTTP = errors.New("plain HTTP on a TLS port (the client should use https://)")

// handshakeError says why a handshake failed. A client speaking plain
// HTTP is answered in plain HTTP, as net/http does, so that it sees why
// instead of a closed connection.
func handshakeError(err error) error {
	var re tls.RecordHeaderError
	if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader[:]) {
		_ = re.Conn.SetWriteDeadline(time.Now().Add(time.Second))
		body := "This port speaks TLS: use https://\n"
		fmt.Fprintf(re.Conn, "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
		return errPlainHTTP
	}
	// Wrapped, so that a timeout or an early close is still told apart.
	return fmt.Errorf("TLS handshake failed: %w", err)
}

// looksLikeHTTP says whether the first bytes of a connection start an
// HTTP (or Icecast SOURCE) request.
func looksLikeHTTP(b []byte) bool {
	for _, m := range []string{"GET ", "HEAD", "POST", "PUT ", "OPTI", "SOUR", "DELE", "PATC", "STAT"} {
		if bytes.HasPrefix(b, []byte(m)) {
			return true
		}
	}
	return false
}

// tlsOf finds the TLS connection under the engine's wrappers, or nil.
func tlsOf(c net.Conn) *tlsConn {
	tc, _ := under[*tlsConn](c)
	return tc
}

// tlsStateKey carries a request's TLS state from its connection to its
// handler (net/http sets Request.TLS only for a *tls.Conn it handshook
// itself; the engine hands it connections already read from).
type tlsStateKey struct{}

// connContext is the engine's http.Server ConnContext: it notes the TLS
// state of the connection for the requests read from it.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if tc := tlsOf(c); tc != nil {
		st := tc.ConnectionState()
		return context.WithValue(ctx, tlsStateKey{}, &st)
	}
	return ctx
}

// withTLSState sets Request.TLS for requests that came over TLS, so that
// handlers can tell (status documents give https:// listen URLs then).
func withTLSState(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st, ok := r.Context().Value(tlsStateKey{}).(*tls.ConnectionState); ok && r.TLS == nil {
			r.TLS = st
		}
		h.ServeHTTP(w, r)
	})
}

// tlsQueue is how much a TLS listener's queue holds: as much as a TCP
// listener's send buffer (listenerSendBuffer).
const tlsQueue = listenerSendBuffer

// tlsKeep is the largest buffer a TLS listener's writer keeps for reuse
// between writes: the queue is full only on a burst or a stall, and a
// listener keeping two of its size would cost 128 KiB.
const tlsKeep = 8 << 10

// tlsWritePiece is the most written to a TLS connection under one
// deadline: a listener taking no byte for WriteTimeout is gone, one
// taking a little at a time is not.
const tlsWritePiece = 16 << 10

// errQueueFull is a TLS listener's queue being full: for the shard, a
// socket that takes no more now (writeSlow treats it as a deadline).
var errQueueFull = fmt.Errorf("tls: send queue full: %w", os.ErrDeadlineExceeded)

// queueTLS gives a listener on a TLS connection a queue and a writer of
// its own, and returns c unchanged otherwise. A shard must never block
// on one listener, and a TLS write cannot be tried without blocking: a
// write cut short by a deadline leaves the TLS stream broken for good.
// So the shard's writes go to the queue, which takes what fits at once,
// and the writer goroutine sends it with deadlines.
func (s *Server) queueTLS(c net.Conn) net.Conn {
	tc := tlsOf(c)
	if tc == nil {
		return c
	}
	if raw, ok := tc.NetConn().(*net.TCPConn); ok {
		_ = raw.SetWriteBuffer(listenerSendBuffer) // as a TCP listener's, for the same reasons
	}
	return &queuedConn{Conn: c, s: s, wake: make(chan struct{}, 1)}
}

// queuedConn is a TLS listener's connection as the shard sees it.
type queuedConn struct {
	net.Conn
	s    *Server
	wake chan struct{}

	mu      sync.Mutex
	buf     []byte
	err     error // the writer's failure, given to the next Write
	started bool  // the writer runs: from the first write, so a listener refused before it costs none
	closing bool
}

func (q *queuedConn) Write(p []byte) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.err != nil:
		return 0, q.err
	case q.closing:
		return 0, net.ErrClosed
	}
	if !q.started {
		q.started = true
		go q.run()
	}
	n := min(len(p), tlsQueue-len(q.buf))
	q.buf = append(q.buf, p[:n]...)
	if n > 0 {
		q.poke()
	}
	if n < len(p) {
		return n, errQueueFull
	}
	return n, nil
}

// SetWriteDeadline does nothing: writes to the queue never wait, and the
// writer sets its own deadlines.
func (q *queuedConn) SetWriteDeadline(time.Time) error { return nil }

// Close sends what is queued, then closes, without waiting for either:
// as CloseWrite and Close do for a TCP listener.
func (q *queuedConn) Close() error {
	q.mu.Lock()
	q.closing = true
	started := q.started
	q.mu.Unlock()
	if !started {
		return q.Conn.Close()
	}
	q.poke()
	return nil
}

func (q *queuedConn) poke() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run writes what is queued until the connection is closed or fails.
func (q *queuedConn) run() {
	defer q.Conn.Close()
	var out []byte
	for range q.wake {
		for {
			q.mu.Lock()
			out, q.buf = q.buf, out[:0]
			closing := q.closing
			q.mu.Unlock()
			if len(out) == 0 {
				if closing {
					return
				}
				break
			}
			if err := q.send(out); err != nil {
				q.mu.Lock()
				q.err = err
				q.mu.Unlock()
				return
			}
			if cap(out) > tlsKeep {
				out = nil // a burst's buffer: a live stream's writes are small
			}
		}
	}
}

func (q *queuedConn) send(b []byte) error {
	for len(b) > 0 {
		n := min(len(b), tlsWritePiece)
		_ = q.Conn.SetWriteDeadline(time.Now().Add(q.s.cfg().WriteTimeout))
		if _, err := q.Conn.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
