// Package remote gives a server on the network the shape the interface
// reads the in-process engine through (Summary, Mount, Events, kicks,
// moves, titles …): another icedeck, through its JSON API and live event
// feed, or an Icecast 2.4 / 2.5 / icecast-kh, through its admin API (or,
// with no admin credentials, its status-json.xsl alone, read-only).
//
// Nothing a reader calls waits on the network: one goroutine per server
// polls it (and, for an icedeck, follows its event feed) and keeps the
// last state it got, which Summary and Mount return at once; Status says
// how fresh that is and why it is not. A server that does not answer, is
// slow or refuses the credentials is retried with a growing pause, on
// its own, without holding up anything else. Only the actions (kicks,
// moves, titles, relays) wait for the server's answer, up to
// Options.Timeout.
//
// What a server cannot tell (Icecast has no frame analysis) is zero and
// flagged in the snapshots' Unknown field, so it is not taken for zero.
package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/icedeck/icedeck/engine"
)

// Kind is what kind of server a remote is.
type Kind string

const (
	KindAuto    Kind = "auto" // find out: /api/v1/status answering means icedeck, else Icecast
	KindIcedeck Kind = "icedeck"
	KindIcecast Kind = "icecast" // Icecast 2.4, 2.5 or icecast-kh
)

// ParseKind reads "auto" (or ""), "icedeck" or "icecast".
func ParseKind(s string) (Kind, error) {
	switch k := Kind(strings.ToLower(s)); k {
	case "", KindAuto:
		return KindAuto, nil
	case KindIcedeck, KindIcecast:
		return k, nil
	}
	return "", fmt.Errorf("kind %q: auto, icedeck or icecast", s)
}

// State is how a remote server answered its last poll.
type State string

const (
	StateConnecting   State = "connecting"   // not answered yet
	StateUp           State = "up"           // answered in time
	StateSlow         State = "slow"         // answered, later than Options.Slow
	StateUnreachable  State = "unreachable"  // no answer: refused, unknown host, timed out
	StateUnauthorized State = "unauthorized" // 401 or 403: the credentials are refused (or blocked)
	StateError        State = "error"        // answered, but not with what an icedeck or Icecast says
)

// Status is how a remote server is doing, as of the last poll.
type Status struct {
	Name     string
	URL      string // without the password
	Kind     Kind   // KindAuto until the server has said what it is
	Version  string // what it calls itself: "icedeck", "Icecast 2.4.4", "Icecast 2.4.0-kh22"
	State    State
	Since    time.Time     // when State began: "unreachable since …"
	LastOK   time.Time     // the last poll answered (zero: none yet); the snapshots are that old
	Err      string        // why the last poll failed, for people; "" when it did not
	Latency  time.Duration // the last poll's round trip
	ReadOnly bool          // no admin credentials: the state is read, no action is possible
	// Events is true while an icedeck's live event feed is connected.
	Events bool
}

// Options configure a Client. Zero values take the defaults noted.
type Options struct {
	Kind Kind // KindAuto when empty
	// User and Password are the admin credentials; they replace those in
	// the URL. A password without a user is the user "admin"'s. With
	// none, an Icecast is read through /status-json.xsl, read-only.
	User, Password string
	Interval       time.Duration // between polls; 2 s
	Timeout        time.Duration // for one request; 5 s
	Slow           time.Duration // a poll taking longer is "slow", and backed off; 1 s
	MaxBackoff     time.Duration // the longest pause between polls of a failing or slow server; 30 s
	Logger         *slog.Logger  // the client's own messages and the server's events (nil: none)
	// Transport carries the requests (nil: a new http.Transport); its TLS
	// settings reach https:// servers.
	Transport http.RoundTripper
}

// ErrReadOnly is returned for actions on a server read without admin
// credentials.
var ErrReadOnly = errors.New("read-only: no admin credentials were given for this server")

// ErrUnsupported is returned for actions the server's kind does not have.
var ErrUnsupported = errors.New("not possible on this kind of server")

// Client is one remote server. Its methods are safe for concurrent use.
type Client struct {
	name     string
	base     *url.URL // scheme://host[:port], no credentials
	user     string
	password string
	opts     Options
	log      *slog.Logger
	hc       *http.Client // requests bounded by Options.Timeout
	stream   *http.Client // the event feed: no overall limit
	events   *engine.EventBus

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   chan struct{} // a poll is wanted now (a mount asked for, an action done)

	mu      sync.Mutex
	status  Status
	snap    engine.Snapshot
	detail  map[string]engine.MountSnapshot // mounts with their listeners, for those watched
	watched map[string]time.Time            // mounts Mount was asked for, and when
	audio   map[string]engine.AudioStats
	pushes  []engine.PushStatus
	backend backend // nil until the kind is known
}

// backend is what differs between the kinds of server.
type backend interface {
	kind() Kind
	// poll reads the server's state into c (through c.update).
	poll(ctx context.Context) error
	kickListener(ctx context.Context, mount string, id uint64) error
	kickSource(ctx context.Context, mount string) error
	moveListeners(ctx context.Context, from, to string, ids []uint64) (int, error)
	setTitle(ctx context.Context, mount, title, url string) error
	addRelay(ctx context.Context, rc engine.RelayConfig) error
	removeRelay(ctx context.Context, mount string) error
	startRecording(ctx context.Context, mount string) (string, error)
	stopRecording(ctx context.Context, mount string) error
}

// Dial returns a client of the server at rawURL (http:// or https://,
// credentials in it or in opts) and starts polling it. It does not wait
// for the server: one that is down is shown unreachable and retried.
// name is what the server is called on screen; "" is its host:port.
func Dial(name, rawURL string, opts Options) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("remote %s: %w", name, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("remote %s: %s: the URL must be http:// or https://", name, u.Redacted())
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("remote %s: %s: no host", name, u.Redacted())
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("remote %s: %s: give the server's address alone (no path)", name, u.Redacted())
	}
	kind, err := ParseKind(string(opts.Kind))
	if err != nil {
		return nil, fmt.Errorf("remote %s: %w", name, err)
	}
	opts.Kind = kind
	user, password := opts.User, opts.Password
	if u.User != nil && user == "" && password == "" {
		user = u.User.Username()
		password, _ = u.User.Password()
	}
	if password != "" && user == "" {
		user = "admin"
	}
	base := &url.URL{Scheme: u.Scheme, Host: u.Host}
	if name == "" {
		name = u.Host
	}
	if opts.Interval <= 0 {
		opts.Interval = 2 * time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Slow <= 0 {
		opts.Slow = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	opts.MaxBackoff = max(opts.MaxBackoff, opts.Interval)
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("remote", name)
	tr := opts.Transport
	if tr == nil {
		tr = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: opts.Timeout, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   opts.Timeout,
			ResponseHeaderTimeout: opts.Timeout,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		name: name, base: base, user: user, password: password, opts: opts, log: log,
		hc:     &http.Client{Transport: tr, Timeout: opts.Timeout, CheckRedirect: noRedirect},
		stream: &http.Client{Transport: tr, CheckRedirect: noRedirect},
		events: engine.NewEventBus(log),
		ctx:    ctx, cancel: cancel,
		wake:    make(chan struct{}, 1),
		detail:  map[string]engine.MountSnapshot{},
		watched: map[string]time.Time{},
		status: Status{Name: name, URL: base.String(), Kind: kind, State: StateConnecting, Since: time.Now(),
			ReadOnly: password == ""},
	}
	c.snap = engine.Snapshot{Addrs: []string{u.Host}}
	c.wg.Add(1)
	go c.run()
	return c, nil
}

// noRedirect keeps credentials from following a redirect to another host:
// a server that redirects its API is answered as it is.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Close stops polling and following the server; calls after it return
// the last state. It waits for the goroutines to end.
func (c *Client) Close() error {
	c.cancel()
	c.wg.Wait()
	return nil
}

// Name is the server's name on screen.
func (c *Client) Name() string { return c.name }

// Status is how the server is doing; it never waits on the network.
func (c *Client) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// Summary is the server's state at the last poll: counts and mounts,
// without listener lists. Status().LastOK says how old it is.
func (c *Client) Summary() engine.Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snap
}

// watchFor is how long a mount asked for through Mount keeps having its
// listeners fetched after the last time it was asked for.
const watchPolls = 3

// Mount is one mount with its listeners, as last fetched. The first call
// for a mount returns it without listeners (as Summary has it) and has
// them fetched at once; they are fetched at every poll while Mount keeps
// being asked for.
func (c *Client) Mount(name string) (engine.MountSnapshot, bool) {
	c.mu.Lock()
	_, was := c.watched[name]
	c.watched[name] = time.Now()
	d, ok := c.detail[name]
	var found bool
	if !ok {
		for _, m := range c.snap.Mounts {
			if m.Name == name {
				d, found = m, true
				break
			}
		}
	}
	up := c.status.State == StateUp || c.status.State == StateSlow
	c.mu.Unlock()
	if !was && up {
		c.poke()
	}
	return d, ok || found
}

// watchedMounts lists the mounts asked for recently, forgetting the rest
// and their listeners.
func (c *Client) watchedMounts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for name, at := range c.watched {
		if time.Since(at) > watchPolls*c.opts.Interval+c.opts.Timeout {
			delete(c.watched, name)
			delete(c.detail, name)
			continue
		}
		out = append(out, name)
	}
	return out
}

// Pushes are an icedeck's pushes to other servers (none for Icecast).
func (c *Client) Pushes() []engine.PushStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pushes
}

// Audio is what an icedeck's audio analysis measured on a mount at the
// last poll (false for an Icecast, or a mount not measured).
func (c *Client) Audio(mount string) (engine.AudioStats, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.audio[mount]
	return st, ok
}

// Recording reports whether an icedeck records the mount, as of the last
// poll.
func (c *Client) Recording(mount string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.snap.Mounts {
		if m.Name == mount {
			return m.Recording != ""
		}
	}
	return false
}

// Subscribe returns the server's events from now on: an icedeck's own,
// those told apart by comparing an Icecast's polls (sources coming and
// going, titles, the listeners of watched mounts), and this client's
// (the server unreachable, back). Seq is this client's numbering: it
// goes on across the server's restarts.
func (c *Client) Subscribe(buffer int) (<-chan engine.Event, func()) {
	return c.events.Subscribe(buffer)
}

// Events returns up to n of the latest events, oldest first.
func (c *Client) Events(n int) []engine.Event { return c.events.Events(n) }

// Config is what is known of the server's configuration: its address and
// name. Its passwords and limits are not read.
func (c *Client) Config() engine.Config {
	st := c.Status()
	return engine.Config{Listen: []string{c.base.Host}, ServerID: st.Version}
}

// action runs one action on the server's backend, once its kind is known,
// and has the state read again after it.
func (c *Client) action(what string, f func(ctx context.Context, b backend) error) error {
	c.mu.Lock()
	b, ro := c.backend, c.status.ReadOnly
	c.mu.Unlock()
	if b == nil {
		return fmt.Errorf("%s on %s: the server has not answered yet", what, c.name)
	}
	if ro {
		return fmt.Errorf("%s on %s: %w", what, c.name, ErrReadOnly)
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.Timeout)
	defer cancel()
	if err := f(ctx, b); err != nil {
		return fmt.Errorf("%s on %s: %w", what, c.name, err)
	}
	c.poke()
	return nil
}

// KickListener disconnects one listener.
func (c *Client) KickListener(mount string, id uint64) error {
	return c.action("kick", func(ctx context.Context, b backend) error { return b.kickListener(ctx, mount, id) })
}

// KickSource disconnects the mount's source.
func (c *Client) KickSource(mount string) error {
	return c.action("kick source", func(ctx context.Context, b backend) error { return b.kickSource(ctx, mount) })
}

// MoveListeners moves the listeners ids (none: all) from one mount to
// another and returns how many were asked to move.
func (c *Client) MoveListeners(from, to string, ids []uint64) (int, error) {
	var n int
	err := c.action("move", func(ctx context.Context, b backend) (err error) {
		n, err = b.moveListeners(ctx, from, to, ids)
		return err
	})
	return n, err
}

// SetTitle sets the mount's title (and URL, when not empty).
func (c *Client) SetTitle(mount, title, url string) error {
	return c.action("title", func(ctx context.Context, b backend) error { return b.setTitle(ctx, mount, title, url) })
}

// AddRelay adds a pull relay on an icedeck.
func (c *Client) AddRelay(rc engine.RelayConfig) error {
	return c.action("add relay", func(ctx context.Context, b backend) error { return b.addRelay(ctx, rc) })
}

// RemoveRelay removes an icedeck's relay.
func (c *Client) RemoveRelay(mount string) error {
	return c.action("remove relay", func(ctx context.Context, b backend) error { return b.removeRelay(ctx, mount) })
}

// StartRecording has an icedeck record the mount and returns the file.
func (c *Client) StartRecording(mount string) (string, error) {
	var path string
	err := c.action("record", func(ctx context.Context, b backend) (err error) {
		path, err = b.startRecording(ctx, mount)
		return err
	})
	return path, err
}

// StopRecording stops an icedeck's recording of the mount.
func (c *Client) StopRecording(mount string) error {
	return c.action("stop recording", func(ctx context.Context, b backend) error { return b.stopRecording(ctx, mount) })
}

// poke asks for a poll now, unless one is already asked for.
func (c *Client) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// run polls until Close: at Options.Interval while the server answers in
// time, else after a pause that doubles up to Options.MaxBackoff.
func (c *Client) run() {
	defer c.wg.Done()
	wait := c.opts.Interval
	for {
		start := time.Now()
		err := c.pollOnce()
		took := time.Since(start)
		if c.ctx.Err() != nil {
			return
		}
		ok := c.record(err, took)
		switch {
		case ok:
			wait = c.opts.Interval
		case classify(err) == StateUnauthorized:
			// Credentials do not mend themselves, and an icedeck blocks
			// an address after 10 refusals a minute: every other client
			// of it on this machine would be refused too.
			wait = max(c.opts.MaxBackoff, refusedWait)
		default:
			wait = min(max(2*wait, c.opts.Interval), c.opts.MaxBackoff)
		}
		t := time.NewTimer(wait)
		select {
		case <-c.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-c.wake:
			t.Stop()
			if !ok {
				// A failing server keeps its pause: a key pressed does
				// not hammer it.
				select {
				case <-c.ctx.Done():
					return
				case <-time.After(time.Until(start.Add(wait))):
				}
			}
		}
	}
}

// refusedWait is the shortest pause after the credentials were refused.
const refusedWait = 15 * time.Second

// pollOnce finds out the server's kind if it is not known yet, then reads
// its state.
func (c *Client) pollOnce() error {
	ctx, cancel := context.WithTimeout(c.ctx, 2*c.opts.Timeout)
	defer cancel()
	c.mu.Lock()
	b := c.backend
	c.mu.Unlock()
	if b == nil {
		var err error
		if b, err = c.detect(ctx); err != nil {
			return err
		}
		c.mu.Lock()
		c.backend = b
		c.status.Kind = b.kind()
		c.mu.Unlock()
	}
	return b.poll(ctx)
}

// record sets the status after a poll, tells the change as an event, and
// reports whether the poll was good and fast.
func (c *Client) record(err error, took time.Duration) bool {
	now := time.Now()
	state, msg := StateUp, ""
	switch {
	case err != nil:
		state, msg = classify(err), err.Error()
	case took > c.opts.Slow:
		state = StateSlow
	}
	c.mu.Lock()
	prev := c.status.State
	c.status.Latency = took
	c.status.Err = msg
	if err == nil {
		c.status.LastOK = now
	}
	if state != prev {
		c.status.State, c.status.Since = state, now
	}
	c.mu.Unlock()
	if state != prev {
		c.tellState(prev, state, msg, took)
	}
	return state == StateUp
}

// tellState gives a change of state as an event, once per change.
func (c *Client) tellState(prev, state State, msg string, took time.Duration) {
	e := engine.Event{Type: engine.EventWarning, Level: slog.LevelWarn, Detail: msg}
	switch state {
	case StateUp:
		if prev == StateSlow || prev == StateConnecting {
			c.log.Debug("remote up", "took", took)
			return // the normal course: not worth an event
		}
		e.Level, e.Message = slog.LevelInfo, fmt.Sprintf("%s answers again", c.name)
	case StateSlow:
		e.Message = fmt.Sprintf("%s is slow: its state took %s", c.name, took.Round(time.Millisecond))
	case StateUnauthorized:
		e.Reason = engine.ReasonWrongCredentials
		e.Message = fmt.Sprintf("%s refuses the credentials: %s", c.name, msg)
	default:
		e.Message = fmt.Sprintf("%s %s: %s", c.name, state, msg)
	}
	c.events.Emit(e)
}

// update puts a poll's results in place.
func (c *Client) update(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f()
}

// Listen opens mount's stream as a player would (no ICY metadata asked
// for, so the body is audio alone), for audition; it returns the body and
// its Content-Type. The stream has no time limit: closing the body, or
// ending ctx, ends it.
func (c *Client) Listen(ctx context.Context, mount string) (io.ReadCloser, string, error) {
	if !strings.HasPrefix(mount, "/") {
		return nil, "", fmt.Errorf("%s: not a mount", mount)
	}
	u := *c.base
	u.Path = mount
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("User-Agent", "icedeck-audition")
	resp, err := c.stream.Do(req)
	if err != nil {
		return nil, "", cleanErr(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, "", &httpError{resp.StatusCode, bodyText(b)}
	}
	return resp.Body, resp.Header.Get("Content-Type"), nil
}
