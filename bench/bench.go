// Package bench is the test bench for source clients: an icedeck relay on
// a loopback port that records what a client sends, can misbehave on
// purpose (faults), and judges expectations about the sessions it saw.
// The command `icedeck test` and package icedecktest are both built on it,
// so a client is judged the same way from a shell, a CI job or a Go test.
package bench

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/engine/control"
)

// Options set up a bench. Zero fields take the defaults given.
type Options struct {
	Listen   string // address to listen on; default 127.0.0.1:0 (a free port)
	Mount    string // the mount clients are told to use and whose sessions are recorded; default /test.mp3
	User     string // source user; default "source"
	Password string // source password; default a fresh random one
	// Faults apply to the source attempts in order (see ParseFault).
	Faults []Fault
	// Dir is where the sessions on Mount are recorded, byte for byte, to
	// be compared with a file; default a temporary directory that Close
	// removes.
	Dir    string
	Logger *slog.Logger // the relay's log; default none
}

// DefaultMount is the mount a bench tells clients to use.
const DefaultMount = "/test.mp3"

// Bench is a running test bench.
type Bench struct {
	o      Options
	srv    *engine.Server
	ctl    *control.Handler
	addr   string // host:port clients connect to
	dir    string
	ownDir bool
	served chan error

	stopEvents func()
	eventsDone chan struct{}
	stopOnce   sync.Once

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced on every change below
	attempts   []Attempt
	faultsLeft []Fault // one entry per attempt still to be faulted
	titles     []Title
	live       map[uint64]bool // sources connected and not yet gone
	ended      int             // sessions ended
	recordings []recording     // of Mount, in order
	seen       uint64          // the last event taken
}

// Attempt is one authenticated source request, accepted or not.
type Attempt struct {
	N     int       `json:"n"`
	Time  time.Time `json:"time"`
	Mount string    `json:"mount"`
	Fault string    `json:"fault,omitempty"` // the fault put on, as given
}

// Title is a title update the relay took: from /admin/metadata, the
// source's headers, or in-band (Ogg and FLAC comments).
type Title struct {
	Time  time.Time `json:"time"`
	Mount string    `json:"mount"`
	Title string    `json:"title"`
	Via   string    `json:"via"`
}

type recording struct {
	path string
	open bool
	lost string // why it is not the whole session, "" when it is
}

// Start opens the bench's socket and serves.
func Start(o Options) (*Bench, error) {
	o.Listen = cmp.Or(o.Listen, "127.0.0.1:0")
	o.Mount = cmp.Or(o.Mount, DefaultMount)
	o.User = cmp.Or(o.User, "source")
	if err := engine.CheckMountName(o.Mount); err != nil {
		return nil, fmt.Errorf("mount %q: %w", o.Mount, err)
	}
	if o.Password == "" {
		o.Password = rand.Text()[:16]
	}
	b := &Bench{o: o, dir: o.Dir, served: make(chan error, 1), changed: make(chan struct{}), live: map[uint64]bool{}, eventsDone: make(chan struct{})}
	for _, f := range o.Faults {
		for range max(f.Count, 1) {
			b.faultsLeft = append(b.faultsLeft, f)
		}
	}
	if b.dir == "" {
		d, err := os.MkdirTemp("", "icedeck-test-")
		if err != nil {
			return nil, err
		}
		b.dir, b.ownDir = d, true
	}
	cfg := engine.Defaults()
	cfg.Listen = []string{o.Listen}
	cfg.SourceUser, cfg.SourcePassword = o.User, o.Password
	// Room for a recording to fall behind a client sending as fast as it
	// can without losing a byte.
	cfg.QueueSize = 16 << 20
	// Every session on the mount is recorded from its first byte, each to
	// a file of its own (createUnique numbers them).
	dump := filepath.Join(b.dir, "session"+filepath.Ext(o.Mount))
	cfg.Mounts = map[string]engine.MountConfig{o.Mount: {DumpFile: strings.ReplaceAll(dump, "%", "%%")}}
	cfg.SourceFaults = b.fault
	cfg.Logger = o.Logger
	srv, err := engine.New(cfg)
	if err != nil {
		b.removeDir()
		return nil, err
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		b.removeDir()
		return nil, engine.ListenError(o.Listen, err)
	}
	b.srv, b.addr = srv, clientAddr(ln.Addr())
	// No admin password: a mount's source credentials open its admin
	// commands (/admin/metadata), as Icecast's do.
	b.ctl = control.New(srv, control.Options{Logger: o.Logger, AdminUser: "admin"})
	srv.Handle(b.ctl)
	events, stop := srv.Subscribe(4096)
	b.stopEvents = stop
	go b.watch(events)
	go func() { b.served <- srv.Serve(ln) }()
	return b, nil
}

// clientAddr is the address a client on this machine dials: an
// unspecified host becomes 127.0.0.1.
func clientAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// fault is the engine's SourceFaults: each authenticated attempt takes
// the next fault of the list, then they run clean.
func (b *Bench) fault(mount string) engine.SourceFault {
	b.mu.Lock()
	defer b.mu.Unlock()
	a := Attempt{N: len(b.attempts) + 1, Time: time.Now(), Mount: mount}
	var f engine.SourceFault
	if len(b.faultsLeft) > 0 {
		a.Fault, f = b.faultsLeft[0].Spec, b.faultsLeft[0].SourceFault
		b.faultsLeft = b.faultsLeft[1:]
	}
	b.attempts = append(b.attempts, a)
	b.notify()
	return f
}

// notify wakes the waiters; mu held.
func (b *Bench) notify() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// watch keeps what the bench learns from the relay's events: sources
// coming and going, recordings, titles.
func (b *Bench) watch(events <-chan engine.Event) {
	defer close(b.eventsDone)
	var last uint64
	for e := range events {
		if e.Seq > last+1 && last > 0 {
			// The bus dropped some for a slow subscriber: take them from
			// its history.
			for _, m := range b.srv.EventsSince(last) {
				if m.Seq < e.Seq {
					b.take(m)
				}
			}
		}
		last = e.Seq
		b.take(e)
		b.mu.Lock()
		b.seen = e.Seq
		b.notify()
		b.mu.Unlock()
	}
}

func (b *Bench) take(e engine.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch e.Type {
	case engine.EventSourceConnected:
		b.live[e.ID] = true
	case engine.EventSourceLeft:
		delete(b.live, e.ID)
		b.ended++
	case engine.EventMetadata:
		b.titles = append(b.titles, Title{Time: e.Time, Mount: e.Mount, Title: e.Subject, Via: e.Detail})
	case engine.EventRecording:
		if e.Mount != b.o.Mount {
			return
		}
		if e.Reason == engine.ReasonStarted {
			b.recordings = append(b.recordings, recording{path: e.Subject, open: true})
			break
		}
		// A session's recording may stop after the next one started.
		for i := range b.recordings {
			if r := &b.recordings[i]; r.open && e.Subject == r.path {
				r.open = false
				if e.Reason != engine.ReasonSourceEnded && e.Reason != engine.ReasonShutdown {
					r.lost = e.Message
				}
				break
			}
		}
	}
}

// Addr is the bench's host:port.
func (b *Bench) Addr() string { return b.addr }

// Host and Port are the parts of Addr.
func (b *Bench) Host() string { h, _, _ := net.SplitHostPort(b.addr); return h }
func (b *Bench) Port() string { _, p, _ := net.SplitHostPort(b.addr); return p }

// User, Password and Mount are what a client is to use.
func (b *Bench) User() string     { return b.o.User }
func (b *Bench) Password() string { return b.o.Password }
func (b *Bench) Mount() string    { return b.o.Mount }

// Base is the relay's URL: http://127.0.0.1:PORT.
func (b *Bench) Base() string { return "http://" + b.addr }

// HTTPURL is the mount's URL without credentials.
func (b *Bench) HTTPURL() string { return b.Base() + b.o.Mount }

// SourceURL is the URL a source client is given, with its credentials:
// icecast://source:PASSWORD@127.0.0.1:PORT/test.mp3.
func (b *Bench) SourceURL() string {
	u := url.URL{Scheme: "icecast", User: url.UserPassword(b.o.User, b.o.Password), Host: b.addr, Path: b.o.Mount}
	return u.String()
}

// Server is the relay under the bench.
func (b *Bench) Server() *engine.Server { return b.srv }

// Sessions are the source sessions seen so far (see engine.Server.Sessions).
func (b *Bench) Sessions() []engine.Session { return b.srv.Sessions() }

// Attempts are the authenticated source requests seen so far.
func (b *Bench) Attempts() []Attempt {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Attempt(nil), b.attempts...)
}

// WaitSessions waits until n source sessions have ended, or ctx is done.
func (b *Bench) WaitSessions(ctx context.Context, n int) error {
	return b.wait(ctx, func() bool { return b.ended >= n })
}

// Settle waits until no source is connected and every recording is
// closed, or ctx is done.
func (b *Bench) Settle(ctx context.Context) error {
	return b.wait(ctx, func() bool { return len(b.live) == 0 && !b.recordingOpen() })
}

func (b *Bench) recordingOpen() bool {
	for _, r := range b.recordings {
		if r.open {
			return true
		}
	}
	return false
}

// wait waits for cond (called with mu held) to hold.
func (b *Bench) wait(ctx context.Context, cond func() bool) error {
	for {
		b.mu.Lock()
		ok, ch := cond(), b.changed
		b.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Stop shuts the relay down (sources still connected end with it) and
// waits for the last events, so that Result is final. The recordings stay
// until Close.
func (b *Bench) Stop() error {
	var err error
	b.stopOnce.Do(func() {
		b.ctl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = b.srv.Shutdown(ctx)
		if serr := <-b.served; serr != nil && !errors.Is(serr, net.ErrClosed) {
			err = cmp.Or(err, serr)
		}
		// Everything is emitted by now: let the watcher drain what it
		// was handed, then stop it.
		b.settleEvents()
		b.stopEvents()
		<-b.eventsDone
	})
	return err
}

// settleEvents waits for the watcher to have taken every event emitted
// so far, so that nothing that happened before Stop is missed.
func (b *Bench) settleEvents() {
	evs := b.srv.EventsSince(0)
	if len(evs) == 0 {
		return
	}
	last := evs[len(evs)-1].Seq
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = b.wait(ctx, func() bool { return b.seen >= last })
}

// Close stops the bench and removes the recordings it made.
func (b *Bench) Close() error {
	err := b.Stop()
	b.removeDir()
	return err
}

func (b *Bench) removeDir() {
	if b.ownDir {
		_ = os.RemoveAll(b.dir)
	}
}
