package remote

import (
	"context"
	"net"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/engine/control"
	"github.com/icedeck/icedeck/internal/testkit"
)

// The icedeck's credentials in every test.
const (
	deckSource = "deck-source-pw"
	deckAdmin  = "deck-admin-pw"
)

// fast are the options of every client under test: polls and retries a
// few times a second, so a server coming back is seen at once.
func fast(o Options) Options {
	o.Interval, o.MaxBackoff = 200*time.Millisecond, 500*time.Millisecond
	return o
}

// dial is Dial that fails the test on an error and closes the client when
// the test ends.
func dial(t *testing.T, rawURL string, o Options) *Client {
	t.Helper()
	o = fast(o)
	if o.Logger == nil {
		o.Logger = testkit.Logger(t)
	}
	c, err := Dial("", rawURL, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// waitState waits for the client's state and returns its status.
func waitState(t *testing.T, c *Client, want State) Status {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, c.Name()+" "+string(want), func() bool { return c.Status().State == want })
	return c.Status()
}

// deck is an in-process icedeck (engine and control plane) on a loopback
// port.
type deck struct {
	srv  *engine.Server
	h    *control.Handler
	addr string
	done chan error
	once sync.Once
}

// startDeck runs an icedeck on addr ("" for a free port) until stop or
// the end of the test.
func startDeck(t *testing.T, addr string, mod func(*engine.Config)) *deck {
	t.Helper()
	cfg := engine.Defaults()
	cfg.SourcePassword = deckSource
	cfg.Logger = testkit.Logger(t)
	cfg.RecordDir = t.TempDir()
	if mod != nil {
		mod(&cfg)
	}
	srv, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := control.New(srv, control.Options{AdminPassword: deckAdmin, Logger: cfg.Logger})
	srv.Handle(h)
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	d := &deck{srv: srv, h: h, addr: ln.Addr().String(), done: make(chan error, 1)}
	go func() { d.done <- srv.Serve(ln) }()
	t.Cleanup(func() { d.stop(t) })
	return d
}

// stop shuts the icedeck down: its event streams first, then the rest.
func (d *deck) stop(t *testing.T) {
	d.once.Do(func() {
		d.h.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := d.srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-d.done
	})
}

// feed connects a source sending the MP3 fixture near real time until the
// test ends, and waits until the server has it.
func feed(t *testing.T, addr, password, mount string, header ...string) *testkit.Source {
	t.Helper()
	src, r := testkit.ConnectSource(t, addr, testkit.SourceRequest{Mount: mount, User: "source", Password: password,
		ContentType: "audio/mpeg", Header: header})
	if src == nil {
		t.Fatalf("source on %s refused: %d %s", mount, r.Code, r.Body)
	}
	src.Feed(testkit.Media(t, "tone.mp3"), 4096, 200*time.Millisecond)
	return src
}

var metaintRE = regexp.MustCompile(`(?i)icy-metaint: ?(\d+)`)

// titles are the ICY titles an ICY listener has received so far.
func titles(t *testing.T, l *testkit.Listener) []string {
	t.Helper()
	m := metaintRE.FindStringSubmatch(l.Head)
	if m == nil {
		t.Fatalf("not an ICY listener: %q", l.Head)
	}
	n, _ := strconv.Atoi(m[1])
	return testkit.ICYTitles(l.Bytes(), n)
}

// mountOf finds a mount in a snapshot.
func mountOf(snap engine.Snapshot, name string) (engine.MountSnapshot, bool) {
	i := slices.IndexFunc(snap.Mounts, func(m engine.MountSnapshot) bool { return m.Name == name })
	if i < 0 {
		return engine.MountSnapshot{}, false
	}
	return snap.Mounts[i], true
}

// events collects what a subscription gives, for the test to look through.
type events struct {
	mu  sync.Mutex
	all []engine.Event
}

func subscribe(t *testing.T, c *Client) *events {
	ch, cancel := c.Subscribe(4096)
	t.Cleanup(cancel)
	ev := &events{}
	go func() {
		for e := range ch {
			ev.mu.Lock()
			ev.all = append(ev.all, e)
			ev.mu.Unlock()
		}
	}()
	return ev
}

func (ev *events) list() []engine.Event {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return slices.Clone(ev.all)
}

// wait waits for an event that match accepts and returns it.
func (ev *events) wait(t *testing.T, what string, match func(engine.Event) bool) engine.Event {
	t.Helper()
	var found engine.Event
	testkit.Eventually(t, 20*time.Second, "event: "+what, func() bool {
		for _, e := range ev.list() {
			if match(e) {
				found = e
				return true
			}
		}
		return false
	})
	return found
}
