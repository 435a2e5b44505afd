package testkit

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// The User-Agent a source and a listener send unless the test gives its
// own; tests that check what a server logs or reports compare with these.
const (
	SourceAgent   = "icedeck-test"
	ListenerAgent = "test-listener"
)

// headTimeout bounds the wait for an answer's head: a server that never
// answers fails the test instead of hanging it.
const headTimeout = 5 * time.Second

// Response is an HTTP answer read off a raw connection.
type Response struct {
	Code int
	Head string // status line and header lines, without the blank line; after a 100 Continue, both heads
	Body string
}

// Basic is the Authorization header value for HTTP Basic credentials.
func Basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// RawRequest sends head exactly as given and reads the whole answer, until
// the server closes the connection.
func RawRequest(t testing.TB, addr, head string) Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	return ParseResponse(t, string(b))
}

// ParseResponse splits a raw answer at its first blank line.
func ParseResponse(t testing.TB, s string) Response {
	t.Helper()
	r, err := parseResponse(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func parseResponse(s string) (Response, error) {
	head, body, _ := strings.Cut(s, "\r\n\r\n")
	r := Response{Head: head, Body: body}
	if _, err := fmt.Sscanf(head, "HTTP/1.%d %d", new(int), &r.Code); err != nil {
		return r, fmt.Errorf("not an HTTP response: %q", s)
	}
	return r, nil
}

// SourceRequest is the head a source client sends.
type SourceRequest struct {
	Method         string // PUT when empty; SOURCE is the legacy one
	Mount          string
	User, Password string // no Authorization header when both are empty
	ContentType    string // no Content-Type header when empty
	// Header holds further name, value pairs, sent last; a User-Agent
	// among them replaces SourceAgent.
	Header []string
	// Dial opens the connection (nil: plain TCP); a test gives its own to
	// connect over TLS.
	Dial func(addr string) (net.Conn, error)
}

func (req SourceRequest) head(host string) (string, error) {
	if len(req.Header)%2 != 0 {
		return "", fmt.Errorf("source header %q: not name, value pairs", req.Header)
	}
	method := req.Method
	if method == "" {
		method = "PUT"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, req.Mount, host)
	if !hasHeader(req.Header, "User-Agent") {
		fmt.Fprintf(&b, "User-Agent: %s\r\n", SourceAgent)
	}
	if req.User != "" || req.Password != "" {
		fmt.Fprintf(&b, "Authorization: %s\r\n", Basic(req.User, req.Password))
	}
	if req.ContentType != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", req.ContentType)
	}
	writeHeader(&b, req.Header)
	b.WriteString("\r\n")
	return b.String(), nil
}

// Source is a hand-written source client: after its request it sends
// whatever the test wants, at the pace the test wants.
type Source struct {
	Conn net.Conn
	Head string // the server's answer, as in Response

	t  testing.TB
	mu sync.Mutex // one write at a time: Feed writes from its own goroutine
}

// ConnectSource sends req and reads the server's answer, past a 100
// Continue. Accepted (200), it returns the source, which is closed when
// the test ends; refused, nil and the answer, with the body the server
// sent before closing. A network error fails the test.
func ConnectSource(t testing.TB, addr string, req SourceRequest) (*Source, Response) {
	t.Helper()
	c, r, err := dialSource(addr, req)
	if err != nil {
		t.Fatal(err)
	}
	if c == nil {
		return nil, r
	}
	t.Cleanup(func() { c.Close() })
	return &Source{Conn: c, Head: r.Head, t: t}, r
}

// DialSource is ConnectSource for a caller that owns the connection (it
// may outlive the test) or that expects a refusal: the connection once
// accepted, else an error that gives the server's answer.
func DialSource(addr string, req SourceRequest) (net.Conn, error) {
	c, r, err := dialSource(addr, req)
	if err == nil && c == nil {
		err = fmt.Errorf("source %s not accepted: %d %q %q", req.Mount, r.Code, r.Head, r.Body)
	}
	return c, err
}

// dialSource returns the open connection only when the source is accepted.
func dialSource(addr string, req SourceRequest) (net.Conn, Response, error) {
	head, err := req.head(addr)
	if err != nil {
		return nil, Response{}, err
	}
	dial := req.Dial
	if dial == nil {
		dial = func(addr string) (net.Conn, error) { return net.Dial("tcp", addr) }
	}
	c, err := dial(addr)
	if err != nil {
		return nil, Response{}, err
	}
	if _, err := io.WriteString(c, head); err != nil {
		c.Close()
		return nil, Response{}, fmt.Errorf("source %s: sending the request: %w", req.Mount, err)
	}
	_ = c.SetReadDeadline(time.Now().Add(headTimeout))
	br := bufio.NewReader(c)
	raw, code, err := readHead(br)
	if err != nil {
		c.Close()
		return nil, Response{}, fmt.Errorf("source %s: %w", req.Mount, err)
	}
	r := Response{Code: code, Head: strings.TrimSuffix(raw, "\r\n\r\n")}
	if code != 200 {
		rest, _ := io.ReadAll(br)
		r.Body = string(rest)
		c.Close()
		return nil, r, nil
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, r, nil
}

// Send writes data in pieces of n bytes (all at once when n <= 0), pausing
// between them.
func (s *Source) Send(data []byte, n int, pause time.Duration) {
	s.t.Helper()
	if n <= 0 {
		n = len(data)
	}
	for len(data) > 0 {
		k := min(n, len(data))
		s.mu.Lock()
		_, err := s.Conn.Write(data[:k])
		s.mu.Unlock()
		if err != nil {
			s.t.Fatalf("source write: %v", err)
		}
		data = data[k:]
		if pause > 0 {
			time.Sleep(pause)
		}
	}
}

// Feed sends data over and over from a goroutine, a piece of n bytes (all
// of it when n <= 0) after each pause, until the test ends or a write
// fails (the server may end the source: that is the test's to check).
func (s *Source) Feed(data []byte, n int, pause time.Duration) {
	if len(data) == 0 {
		return
	}
	if n <= 0 {
		n = len(data)
	}
	stop := make(chan struct{})
	s.t.Cleanup(func() { close(stop) })
	go func() {
		for {
			for off := 0; off < len(data); off += n {
				select {
				case <-stop:
					return
				case <-time.After(pause):
				}
				s.mu.Lock()
				_, err := s.Conn.Write(data[off:min(off+n, len(data))])
				s.mu.Unlock()
				if err != nil {
					return
				}
			}
		}
	}()
}

// Close ends the source's connection.
func (s *Source) Close() error { return s.Conn.Close() }

// Listener is a GET client that keeps every byte of the body.
type Listener struct {
	Conn net.Conn
	Head string // the answer's head as received, blank line included

	mu   sync.Mutex
	body []byte
	done chan struct{} // closed when the server has closed the connection
}

// Listen sends GET mount with the given header (name, value pairs, such
// as "Icy-MetaData", "1"; a User-Agent among them replaces ListenerAgent),
// reads the answer's head, and keeps reading the body in the background.
// The connection is closed when the test ends.
func Listen(t testing.TB, addr, mount string, header ...string) *Listener {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return ListenOn(t, c, addr, mount, header...)
}

// ListenOn is Listen on a connection the test opened (over TLS, say); addr
// is what the Host header says.
func ListenOn(t testing.TB, c net.Conn, addr, mount string, header ...string) *Listener {
	t.Helper()
	t.Cleanup(func() { c.Close() })
	if len(header)%2 != 0 {
		t.Fatalf("listener header %q: not name, value pairs", header)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", mount, addr)
	if !hasHeader(header, "User-Agent") {
		fmt.Fprintf(&b, "User-Agent: %s\r\n", ListenerAgent)
	}
	writeHeader(&b, header)
	b.WriteString("\r\n")
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(headTimeout))
	head, err := readBlock(br)
	if err != nil {
		t.Fatalf("listener on %s: %v", mount, err)
	}
	_ = c.SetReadDeadline(time.Time{})
	l := &Listener{Conn: c, Head: head, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		buf := make([]byte, 32<<10)
		for {
			n, err := br.Read(buf)
			l.mu.Lock()
			l.body = append(l.body, buf[:n]...)
			l.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return l
}

// Bytes returns the body received so far.
func (l *Listener) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.body...)
}

// Closed reports whether the server has closed the connection.
func (l *Listener) Closed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// Done is closed when the server has closed the connection.
func (l *Listener) Done() <-chan struct{} { return l.done }

// Wait returns the whole body once the server has closed the connection,
// and fails the test if it is still open after timeout.
func (l *Listener) Wait(t testing.TB, timeout time.Duration) []byte {
	t.Helper()
	select {
	case <-l.done:
		return l.Bytes()
	case <-time.After(timeout):
		t.Fatalf("listener still open after %s", timeout)
		return nil
	}
}

// readHead reads a source's answer head and returns it as received, with
// the final status code: a 100 Continue is kept in the text, and the head
// that follows it read too.
func readHead(br *bufio.Reader) (string, int, error) {
	var all strings.Builder
	for {
		block, err := readBlock(br)
		all.WriteString(block)
		if err != nil {
			return all.String(), 0, err
		}
		var code int
		if _, err := fmt.Sscanf(block, "HTTP/1.%d %d", new(int), &code); err != nil {
			return all.String(), 0, fmt.Errorf("not an HTTP response: %q", all.String())
		}
		if code != 100 {
			return all.String(), code, nil
		}
	}
}

// readBlock reads header lines up to and including the blank line.
func readBlock(br *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			return b.String(), fmt.Errorf("reading the answer's head: %w (got %q)", err, b.String())
		}
		if line == "\r\n" {
			return b.String(), nil
		}
	}
}

// hasHeader reports whether name is among the name, value pairs in kv.
func hasHeader(kv []string, name string) bool {
	for i := 0; i < len(kv); i += 2 {
		if strings.EqualFold(kv[i], name) {
			return true
		}
	}
	return false
}

func writeHeader(b *strings.Builder, kv []string) {
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(b, "%s: %s\r\n", kv[i], kv[i+1])
	}
}

// SplitICY splits the whole body of an ICY listener (Icy-MetaData: 1),
// with a metadata block after every metaint bytes of audio, into the audio
// and the metadata texts (without their NUL padding). A body that ends
// inside a block fails the test.
func SplitICY(t testing.TB, body []byte, metaint int) ([]byte, []string) {
	t.Helper()
	audio, metas, cut := splitICY(body, metaint)
	if cut != nil {
		t.Fatal(cut)
	}
	return audio, metas
}

// ICYTitles returns the metadata texts in the body of an ICY listener that
// is still arriving: a block cut off at the end is left for later.
func ICYTitles(body []byte, metaint int) []string {
	_, metas, _ := splitICY(body, metaint)
	return metas
}

func splitICY(body []byte, metaint int) (audio []byte, metas []string, cut error) {
	for len(body) > 0 {
		n := min(metaint, len(body))
		audio = append(audio, body[:n]...)
		body = body[n:]
		if len(body) == 0 {
			break
		}
		l := int(body[0]) * 16
		if 1+l > len(body) {
			return audio, metas, fmt.Errorf("truncated ICY block: length %d, %d bytes left", l, len(body)-1)
		}
		if l > 0 {
			metas = append(metas, strings.TrimRight(string(body[1:1+l]), "\x00"))
		}
		body = body[1+l:]
	}
	return audio, metas, nil
}
