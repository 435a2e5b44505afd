package engine

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testPassword = "hackme"

// needTool returns the path of an external program, skipping the test
// when it is missing — except under CI=true, where it must be there.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI=true but is not installed (.ci/run installs it)", name)
		}
		t.Skipf("%s is not installed: skipping this end-to-end test", name)
	}
	return p
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// testLogger sends the engine's log to the test log, so a failure shows
// every event that led to it.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startServer runs an engine on a loopback port for the test.
func startServer(t testing.TB, mod func(*Config)) (*Server, string) {
	t.Helper()
	cfg := Defaults()
	cfg.SourcePassword = testPassword
	cfg.Logger = testLogger(t)
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-done
	})
	return s, ln.Addr().String()
}

type response struct {
	code int
	head string
	body string
}

// rawRequest sends head as is and reads the whole answer.
func rawRequest(t testing.TB, addr, head string) response {
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
	return parseResponse(t, string(b))
}

func parseResponse(t testing.TB, s string) response {
	t.Helper()
	head, body, _ := strings.Cut(s, "\r\n\r\n")
	var r response
	r.head, r.body = head, body
	if _, err := fmt.Sscanf(head, "HTTP/1.%d %d", new(int), &r.code); err != nil {
		t.Fatalf("not an HTTP response: %q", s)
	}
	return r
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// source is a hand-written source client: it sends a request head and
// then whatever the test wants, at the pace the test wants.
type testSource struct {
	t    testing.TB
	conn net.Conn
	head string // the server's answer
}

func connectSource(t testing.TB, addr, method, mount, contentType string, extra ...string) (*testSource, response) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: icedeck-test\r\nAuthorization: %s\r\n", method, mount, addr, basic("source", testPassword))
	if contentType != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", contentType)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", extra[i], extra[i+1])
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	var head strings.Builder
	var r response
	for {
		line, err := br.ReadString('\n')
		head.WriteString(line)
		if err != nil {
			break
		}
		if line == "\r\n" {
			// A 100 Continue comes first; the real answer follows it.
			if r = parseResponse(t, head.String()); r.code != 100 || strings.Count(head.String(), "\r\n\r\n") > 1 {
				break
			}
		}
	}
	_ = c.SetReadDeadline(time.Time{})
	r = parseResponse(t, head.String())
	if last := strings.LastIndex(strings.TrimSuffix(head.String(), "\r\n\r\n"), "\r\n\r\n"); last >= 0 {
		final := parseResponse(t, head.String()[last+4:])
		r.code = final.code
	}
	if r.code != 200 {
		rest, _ := io.ReadAll(br)
		r.body = string(rest)
		c.Close()
		return nil, r
	}
	t.Cleanup(func() { c.Close() })
	return &testSource{t: t, conn: c, head: r.head}, r
}

// send writes data in pieces of size n, pausing between them.
func (s *testSource) send(data []byte, n int, pause time.Duration) {
	s.t.Helper()
	for len(data) > 0 {
		k := min(n, len(data))
		if _, err := s.conn.Write(data[:k]); err != nil {
			s.t.Fatalf("source write: %v", err)
		}
		data = data[k:]
		if pause > 0 {
			time.Sleep(pause)
		}
	}
}

func (s *testSource) close() { s.conn.Close() }

// testListener is a GET client that keeps every byte of the body.
type testListener struct {
	conn net.Conn
	head string
	body chan []byte // the whole body, once the server closes
}

func listen(t testing.TB, addr, mount string, extra ...string) *testListener {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: test-listener\r\n", mount, addr)
	for i := 0; i+1 < len(extra); i += 2 {
		req += extra[i] + ": " + extra[i+1] + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading listener head: %v (got %q)", err, head.String())
		}
		head.WriteString(line)
		if line == "\r\n" {
			break
		}
	}
	_ = c.SetReadDeadline(time.Time{})
	l := &testListener{conn: c, head: head.String(), body: make(chan []byte, 1)}
	go func() {
		b, _ := io.ReadAll(br)
		l.body <- b
	}()
	return l
}

// wait returns the body once the server has closed the connection.
func (l *testListener) wait(t testing.TB, timeout time.Duration) []byte {
	t.Helper()
	select {
	case b := <-l.body:
		return b
	case <-time.After(timeout):
		t.Fatalf("listener still open after %s", timeout)
		return nil
	}
}

// eventually polls cond until it holds or the time is up.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for: %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mountSnap(s *Server, name string) *MountSnapshot {
	for _, m := range s.Snapshot().Mounts {
		if m.Name == name {
			return &m
		}
	}
	return nil
}

// findEvent reports the first kept event matching typ and mount.
func findEvent(s *Server, typ EventType, mount string) *Event {
	for _, e := range s.Events(0) {
		if e.Type == typ && (mount == "" || e.Mount == mount) {
			return &e
		}
	}
	return nil
}

// stripICY splits an ICY body into audio and the metadata texts seen.
func stripICY(t testing.TB, body []byte, metaint int) ([]byte, []string) {
	t.Helper()
	var audio bytes.Buffer
	var metas []string
	for len(body) > 0 {
		n := min(metaint, len(body))
		audio.Write(body[:n])
		body = body[n:]
		if len(body) == 0 {
			break
		}
		l := int(body[0]) * 16
		if 1+l > len(body) {
			t.Fatalf("truncated ICY block: length %d, %d bytes left", l, len(body)-1)
		}
		if l > 0 {
			metas = append(metas, strings.TrimRight(string(body[1:1+l]), "\x00"))
		}
		body = body[1+l:]
	}
	return audio.Bytes(), metas
}
