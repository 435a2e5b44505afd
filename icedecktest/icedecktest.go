// Package icedecktest runs an icedeck relay inside a Go test, in the
// spirit of net/http/httptest, for the authors of source clients: point
// the client at SourceURL, let it stream, then Judge what arrived with the
// same expectations `icedeck test` has (package bench).
//
//	srv := icedecktest.NewServer(t, icedecktest.Options{Faults: []string{"close-after=10000"}})
//	err := myclient.Stream(srv.SourceURL(), "testdata/tone.mp3")
//	srv.Judge(bench.ExpectFile("testdata/tone.mp3", bench.CompareOptions{}), bench.ExpectSessions(bench.Exactly(2)))
package icedecktest

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/bench"
	"github.com/icedeck/icedeck/engine"
)

// Options set up a Server; zero fields take bench's defaults.
type Options struct {
	Mount    string // default /test.mp3
	Password string // default a fresh random one
	// Faults are --fault values ("refuse=503:1", "stall=8000:2s"), for
	// the source attempts in order.
	Faults []string
	// Logger receives the relay's log; default none.
	Logger *slog.Logger
	// SettleTimeout bounds Judge's wait for the client's connections to
	// end; default 10 s.
	SettleTimeout time.Duration
}

// Server is a relay on a loopback port that records and judges what
// source clients send it.
type Server struct {
	t      testing.TB
	b      *bench.Bench
	settle time.Duration
}

// NewServer starts a Server, closed when the test ends. A bad option
// fails the test.
func NewServer(t testing.TB, o Options) *Server {
	t.Helper()
	bo := bench.Options{Mount: o.Mount, Password: o.Password, Logger: o.Logger}
	for _, spec := range o.Faults {
		f, err := bench.ParseFault(spec)
		if err != nil {
			t.Fatalf("icedecktest: %v", err)
		}
		bo.Faults = append(bo.Faults, f)
	}
	b, err := bench.Start(bo)
	if err != nil {
		t.Fatalf("icedecktest: %v", err)
	}
	s := &Server{t: t, b: b, settle: o.SettleTimeout}
	if s.settle <= 0 {
		s.settle = 10 * time.Second
	}
	t.Cleanup(s.Close)
	return s
}

// URL is the relay's base URL, http://127.0.0.1:PORT.
func (s *Server) URL() string { return s.b.Base() }

// SourceURL is what a source client is given, credentials included:
// icecast://source:PASSWORD@127.0.0.1:PORT/test.mp3.
func (s *Server) SourceURL() string { return s.b.SourceURL() }

// Addr is host:port; Mount, User and Password are the rest a client needs.
func (s *Server) Addr() string     { return s.b.Addr() }
func (s *Server) Mount() string    { return s.b.Mount() }
func (s *Server) User() string     { return s.b.User() }
func (s *Server) Password() string { return s.b.Password() }

// Sessions are the source sessions seen so far.
func (s *Server) Sessions() []engine.Session { return s.b.Sessions() }

// Bench is the bench under the server, for what this package does not
// wrap.
func (s *Server) Bench() *bench.Bench { return s.b }

// WaitSessions waits until n source sessions have ended, failing the test
// after timeout.
func (s *Server) WaitSessions(n int, timeout time.Duration) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := s.b.WaitSessions(ctx, n); err != nil {
		s.t.Fatalf("icedecktest: %d source sessions had not ended after %s (%d seen)", n, timeout, len(s.b.Sessions()))
	}
}

// Judge waits for the client's connections to end, then judges the
// expectations as icedeck test does: each failure is a test error giving
// what was measured and why. The verdicts are returned all the same.
func (s *Server) Judge(exps ...bench.Expectation) []bench.Verdict {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), s.settle)
	defer cancel()
	if err := s.b.Settle(ctx); err != nil {
		s.t.Errorf("icedecktest: a source was still connected after %s; judging what arrived", s.settle)
	}
	vs := bench.Judge(s.b.Result(), exps)
	for _, v := range vs {
		if !v.Pass {
			msg := ""
			if v.Message != "" {
				msg = "\n\t" + strings.ReplaceAll(v.Message, "\n", "\n\t")
			}
			s.t.Errorf("%s: want %s, got %s%s", v.Name, v.Want, v.Got, msg)
		}
	}
	return vs
}

// Close shuts the relay down and removes its recordings.
func (s *Server) Close() {
	if err := s.b.Close(); err != nil {
		s.t.Errorf("icedecktest: %v", err)
	}
}
