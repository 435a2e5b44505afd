package control

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine"
)

const (
	srcPass   = "hackme"
	adminPass = "adm1n"
)

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type env struct {
	t    testing.TB
	srv  *engine.Server
	h    *Handler
	addr string
	base string
}

// start runs an engine with the control plane on a loopback port.
func start(t testing.TB, opts Options, mod func(*engine.Config)) *env {
	t.Helper()
	cfg := engine.Defaults()
	cfg.SourcePassword = srcPass
	opts.AdminPassword = adminPass
	cfg.Logger = testLogger(t)
	if opts.Logger == nil {
		opts.Logger = cfg.Logger
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := New(s, opts)
	s.Handle(h)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		h.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-done
	})
	a := ln.Addr().String()
	return &env{t: t, srv: s, h: h, addr: a, base: "http://" + a}
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// get makes a request with optional Basic credentials (user "" = none)
// and returns the status, headers and body.
func (e *env) get(path, user, pass string, hdr ...string) (int, http.Header, string) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.base+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func (e *env) admin(path string) (int, string) {
	e.t.Helper()
	code, _, body := e.get(path, "admin", adminPass)
	return code, body
}

// source is a raw PUT source client.
type source struct {
	t    testing.TB
	conn net.Conn
	mu   sync.Mutex
}

func (e *env) connectSource(mount, user, pass string, extra ...string) *source {
	e.t.Helper()
	c, err := e.dialSource(mount, user, pass, extra...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	s := &source{t: e.t, conn: c}
	e.eventually(5*time.Second, "source on "+mount, func() bool {
		m := findMount(e.srv.Snapshot(), mount)
		return m != nil && m.Source != nil
	})
	return s
}

// dialSource connects a PUT source and returns its connection once the
// answer is 200; closing it is the caller's business.
func (e *env) dialSource(mount, user, pass string, extra ...string) (net.Conn, error) {
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Type: audio/mpeg\r\n", mount, e.addr)
	if !hasHeader(extra, "User-Agent") {
		b.WriteString("User-Agent: control-test\r\n")
	}
	fmt.Fprintf(&b, "Authorization: Basic %s\r\n", base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	for i := 0; i+1 < len(extra); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", extra[i], extra[i+1])
	}
	b.WriteString("\r\n")
	fail := func(err error) (net.Conn, error) {
		c.Close()
		return nil, err
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		return fail(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || !strings.Contains(line, " 200 ") {
		return fail(fmt.Errorf("source %s not accepted: %q %v", mount, line, err))
	}
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return fail(err)
		}
		if l == "\r\n" {
			break
		}
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, nil
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

func (s *source) send(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.conn.Write(b); err != nil {
		s.t.Errorf("source write: %v", err)
	}
}

// feed sends data in a loop until stop is closed, paced near real time
// for 128 kb/s so listeners keep getting bytes.
func (s *source) feed(data []byte, stop <-chan struct{}) {
	go func() {
		for {
			for off := 0; off < len(data); off += 4096 {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				s.mu.Lock()
				_, err := s.conn.Write(data[off:min(off+4096, len(data))])
				s.mu.Unlock()
				if err != nil {
					return
				}
			}
		}
	}()
}

// listener is a raw GET client that keeps the bytes it reads.
type listener struct {
	conn net.Conn
	head string
	mu   sync.Mutex
	body []byte
	done chan struct{}
}

func (e *env) listen(mount string, extra ...string) *listener {
	e.t.Helper()
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\n", mount, e.addr)
	if !hasHeader(extra, "User-Agent") {
		req += "User-Agent: control-listener\r\n"
	}
	for i := 0; i+1 < len(extra); i += 2 {
		req += extra[i] + ": " + extra[i+1] + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		e.t.Fatal(err)
	}
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			e.t.Fatalf("listener head: %v (%q)", err, head.String())
		}
		head.WriteString(line)
		if line == "\r\n" {
			break
		}
	}
	_ = c.SetReadDeadline(time.Time{})
	l := &listener{conn: c, head: head.String(), done: make(chan struct{})}
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

func (l *listener) bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.body...)
}

func (l *listener) closed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

func (e *env) eventually(timeout time.Duration, what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %s waiting for: %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) listenerIDs(mount string) []uint64 {
	m := findMount(e.srv.Snapshot(), mount)
	if m == nil {
		return nil
	}
	var ids []uint64
	for _, l := range m.Listeners {
		ids = append(ids, l.ID)
	}
	return ids
}

// icyTitles splits an ICY body into the metadata texts it carries.
func icyTitles(t testing.TB, body []byte, metaint int) []string {
	t.Helper()
	var metas []string
	for len(body) > metaint {
		body = body[metaint:]
		l := int(body[0]) * 16
		if 1+l > len(body) {
			break // block still arriving
		}
		if l > 0 {
			metas = append(metas, strings.TrimRight(string(body[1:1+l]), "\x00"))
		}
		body = body[1+l:]
	}
	return metas
}

func findMount(snap engine.Snapshot, name string) *engine.MountSnapshot {
	for i := range snap.Mounts {
		if snap.Mounts[i].Name == name {
			return &snap.Mounts[i]
		}
	}
	return nil
}
