package engine

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// accessLog writes the combined log format, with the duration in seconds
// appended as Icecast does: host - user [time] "request" status bytes
// "referer" "user-agent" seconds.
type accessLog struct {
	mu sync.Mutex
	s  *Server
}

func (a *accessLog) write(host, user, request string, status int, bytes uint64, referer, ua string, dur time.Duration) {
	w := a.s.cfg().AccessLog
	if w == nil {
		return
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	line := fmt.Sprintf("%s - %s [%s] \"%s\" %d %d \"%s\" \"%s\" %d\n", logField(host, false), logField(user, false), time.Now().Format("02/Jan/2006:15:04:05 -0700"),
		logField(request, true), status, bytes, logField(referer, true), logField(ua, true), int(dur.Seconds()))
	a.mu.Lock()
	_, _ = w.Write([]byte(line))
	a.mu.Unlock()
}

// logField escapes a client-supplied value so that it stays one field of
// one line, as Apache does: bytes outside printable ASCII, " and \ are
// escaped (\xHH, \n, \t, \" and \\), and so is a space outside quotes;
// empty is "-".
func logField(s string, quoted bool) string {
	if s == "" {
		return "-"
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < ' ' || c >= 0x7f || c == ' ' && !quoted:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func requestLine(r *http.Request) string {
	return r.Method + " " + r.URL.RequestURI() + " " + r.Proto
}

// clientAddr is the peer's address, or, when the peer is a trusted proxy,
// the last address in X-Forwarded-For that is not one.
func (s *Server) clientAddr(peer string, h http.Header) string {
	if len(s.cfg().TrustedProxies) == 0 {
		return peer
	}
	ap, err := netip.ParseAddrPort(peer)
	if err != nil || !s.trusted(ap.Addr()) {
		return peer
	}
	hops := strings.Split(strings.Join(h.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a malformed hop: trust nothing before it
		}
		if !s.trusted(a.Unmap()) {
			return a.Unmap().String()
		}
	}
	return peer
}

func (s *Server) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.cfg().TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// statusWriter remembers what a handler answered, for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  uint64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += uint64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and Hijack (SSE needs them).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// addrOf is the IP address of a host:port or bare address, unmapped; the
// zero Addr when it is neither.
func addrOf(addr string) netip.Addr {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap.Addr().Unmap()
	}
	a, _ := netip.ParseAddr(addr)
	return a.Unmap()
}
