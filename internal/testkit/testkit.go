// Package testkit is what the tests of every package share: external tools,
// the test media, a logger into the test log, polling, a server on a
// loopback port, a real terminal (tmux), and a hand-written Icecast source
// and listener client.
//
// Only tests import it. It imports nothing of ours, so that the engine's
// own (in-package) tests can use it without an import cycle.
package testkit

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// NeedTool returns the path of the external program name, after checking
// that the others are installed too. A missing one skips the test, except
// under CI=true: there the environment is meant to have every tool
// (.ci/run installs them), so a missing one fails the test instead of
// hiding it.
func NeedTool(t testing.TB, name string, more ...string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	var missing []string
	if err != nil {
		missing = append(missing, name)
	}
	for _, n := range more {
		if _, err := exec.LookPath(n); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		which := strings.Join(missing, ", ")
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s required under CI=true but not installed (.ci/run installs it)", which)
		}
		t.Skipf("%s not installed: skipping this test (under CI=true it fails)", which)
	}
	return path
}

// Logger returns a logger that writes every record, debug included, to the
// test log, so a failure shows the events that led to it.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testLog struct{ t testing.TB }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Eventually polls cond every 10 ms until it holds, and fails the test
// when timeout passes first. The timeout is a limit for a busy machine,
// not a timing assertion.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for: %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Server is what Serve runs: *engine.Server, or anything else that serves
// the connections of a listener until it is shut down.
type Server interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
}

// Serve runs srv on a loopback port and returns its address. When the test
// ends it shuts srv down, failing the test if that does not go cleanly
// within 5 s, and waits for Serve to return.
func Serve(t testing.TB, srv Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-done
	})
	return ln.Addr().String()
}

// Buffer is a bytes.Buffer that a server or a child process may write
// while the test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
