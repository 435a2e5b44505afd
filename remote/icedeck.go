package remote

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/engine/apidoc"
)

// icedeckBackend reads another icedeck through its JSON API and follows
// its event feed; its actions go through the Icecast admin commands it
// answers and its relay and recording endpoints.
type icedeckBackend struct {
	adminActions
	follow sync.Once // the event feed starts after the first good poll

	mu      sync.Mutex
	started time.Time          // the server's start, from the last poll: tells a restart
	stop    context.CancelFunc // ends the feed's connection (it reconnects)
	// The feed's position: the last event received and the start of the
	// server it came from. A server started since numbers afresh.
	lastSeq  uint64
	seqStart time.Time
}

// statusQuery asks for the counts without the listener lists (an older
// icedeck ignores it and sends them).
var statusQuery = url.Values{"listeners": {"false"}}

// readStatus decodes /api/v1/status; it must look like icedeck's.
func readStatus(b []byte) (*apidoc.Status, error) {
	var doc apidoc.Status
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, badf("/api/v1/status: not an icedeck status document: %v", err)
	}
	if doc.Started.IsZero() || doc.Mounts == nil {
		return nil, badf("/api/v1/status: not an icedeck status document (no started, no mounts)")
	}
	return &doc, nil
}

func (b *icedeckBackend) kind() Kind { return KindIcedeck }

func (b *icedeckBackend) poll(ctx context.Context) error {
	c := b.c
	_, body, err := c.get(ctx, "/api/v1/status", statusQuery)
	if err != nil {
		return err
	}
	doc, err := readStatus(body)
	if err != nil {
		return err
	}
	snap := doc.Snapshot()
	for i := range snap.Mounts {
		snap.Mounts[i].Listeners = nil // a summary has no lists, whatever the server sent
	}
	audio := map[string]engine.AudioStats{}
	for i := range doc.Mounts {
		if a := doc.Mounts[i].Audio; a != nil {
			audio[doc.Mounts[i].Name] = a.AudioStats()
		}
	}
	_, body, err = c.get(ctx, "/api/v1/pushes", nil)
	if err != nil {
		return err
	}
	var pd struct{ Pushes []apidoc.Push }
	if err := json.Unmarshal(body, &pd); err != nil {
		return badf("/api/v1/pushes: %v", err)
	}
	pushes := make([]engine.PushStatus, 0, len(pd.Pushes))
	for i := range pd.Pushes {
		pushes = append(pushes, pd.Pushes[i].PushStatus())
	}
	detail := map[string]engine.MountSnapshot{}
	for _, name := range c.watchedMounts() {
		m, err := b.mount(ctx, name)
		if errors.Is(err, engine.ErrNoMount) {
			continue // gone since the status
		}
		if err != nil {
			return err
		}
		detail[name] = m
	}
	c.update(func() {
		c.snap, c.audio, c.pushes = snap, audio, pushes
		for name := range c.watched {
			if d, ok := detail[name]; ok {
				c.detail[name] = d
			} else {
				delete(c.detail, name)
			}
		}
		c.status.Kind, c.status.Version = KindIcedeck, doc.ServerID
	})
	b.mu.Lock()
	restarted := !b.started.IsZero() && !b.started.Equal(doc.Started)
	b.started = doc.Started
	stop := b.stop
	b.mu.Unlock()
	if restarted && stop != nil {
		stop() // the feed's position is the old server's: start it afresh
	}
	b.follow.Do(func() {
		c.wg.Add(1)
		go b.followEvents()
	})
	return nil
}

// followEvents keeps the event feed connected until Close, resuming it
// after each break with Last-Event-ID so that no event is lost or given
// twice.
func (b *icedeckBackend) followEvents() {
	c := b.c
	defer c.wg.Done()
	wait := c.opts.Interval
	for c.ctx.Err() == nil {
		got, err := b.stream()
		c.update(func() { c.status.Events = false })
		if c.ctx.Err() != nil {
			return
		}
		if got {
			wait = c.opts.Interval
		} else {
			wait = min(2*wait, c.opts.MaxBackoff)
		}
		c.log.Debug("event feed ended; reconnecting", "err", err, "in", wait)
		select {
		case <-c.ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// stream reads the feed once, from connecting to its end; got says it
// connected.
func (b *icedeckBackend) stream() (got bool, err error) {
	c := b.c
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	// Where the server stands now: if it started afresh since the last
	// event, its numbering did too, and everything it has is new.
	sctx, scancel := context.WithTimeout(ctx, c.opts.Timeout)
	_, body, err := c.get(sctx, "/api/v1/status", statusQuery)
	scancel()
	if err != nil {
		return false, err
	}
	doc, err := readStatus(body)
	if err != nil {
		return false, err
	}
	b.mu.Lock()
	if !b.seqStart.Equal(doc.Started) {
		b.lastSeq, b.seqStart = 0, doc.Started
	}
	from := b.lastSeq
	b.stop = cancel
	b.mu.Unlock()

	u := *c.base
	u.Path = "/api/v1/events"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return false, err
	}
	// Always resume: from 0, the first time, it gives the events the
	// server kept, so the log has the server's recent past.
	req.Header.Set("Last-Event-ID", strconv.FormatUint(from, 10))
	req.Header.Set("Accept", "text/event-stream")
	if c.password != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.stream.Do(req)
	if err != nil {
		return false, cleanErr(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return false, &httpError{resp.StatusCode, bodyText(msg)}
	}
	c.update(func() { c.status.Events = true })
	// The server sends a comment every 15 s (by default) when idle: a feed
	// silent for much longer is dead though its connection is not closed.
	idle := time.AfterFunc(feedIdle, cancel)
	defer idle.Stop()
	err = readSSE(resp.Body, func(id string, data []byte) {
		idle.Reset(feedIdle)
		if data != nil {
			b.deliver(id, data)
		}
	})
	return true, err
}

// feedIdle is how long the event feed may stay silent, heartbeats
// included, before it is taken for dead and reconnected.
const feedIdle = 60 * time.Second

// deliver hands one event of the feed on, once.
func (b *icedeckBackend) deliver(id string, data []byte) {
	c := b.c
	var d apidoc.Event
	if err := json.Unmarshal(data, &d); err != nil {
		c.log.Warn("event feed: an event that cannot be read", "id", id, "err", err)
		return
	}
	seq, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		seq = d.Seq
	}
	b.mu.Lock()
	last := b.lastSeq
	if seq <= last {
		b.mu.Unlock()
		return // had already
	}
	b.lastSeq = seq
	b.mu.Unlock()
	if last > 0 && seq > last+1 {
		// The server no longer kept them when the feed resumed.
		c.events.Emit(engine.Event{Type: engine.EventWarning, Level: slog.LevelWarn,
			Message: fmt.Sprintf("%s: %d events were missed while its feed was down", c.name, seq-last-1)})
	}
	e := d.Event()
	e.Seq = 0 // numbered by this client's feed
	// Logged here and shown: made safe whatever the server sent.
	e.Message, e.Detail, e.Subject = engine.CleanText(e.Message), engine.CleanText(e.Detail), engine.CleanText(e.Subject)
	c.events.Emit(e)
}

// readSSE reads Server-Sent Events until the body ends, calling f with
// each event's id and data, and with nil data for every other line (a
// comment, a retry) so that the caller sees the feed is alive.
func readSSE(r io.Reader, f func(id string, data []byte)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var id string
	var data []byte
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// An event larger than the buffer: none of icedeck's is.
			return badf("event feed: a line longer than %d bytes", br.Size())
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return io.ErrUnexpectedEOF // the feed never ends on its own
			}
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if data != nil {
				f(id, data)
			}
			data = nil
			continue
		}
		field, value, _ := strings.Cut(string(line), ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			id = value
		case "data":
			if data != nil {
				data = append(data, '\n')
			}
			data = append(data, value...)
			if data == nil {
				data = []byte{}
			}
		default:
			f("", nil) // a comment (heartbeat), event or retry
		}
	}
}

func (b *icedeckBackend) moveListeners(ctx context.Context, from, to string, ids []uint64) (int, error) {
	if len(ids) > 0 {
		return moveEach(ctx, b.c, from, to, ids)
	}
	// All of them: how many is read first, the answer does not say.
	m, err := b.mount(ctx, from)
	if err != nil {
		return 0, err
	}
	if _, err := b.c.admin(ctx, "moveclients", url.Values{"mount": {from}, "destination": {to}}); err != nil {
		return 0, err
	}
	return m.ListenerCount, nil
}

// mount reads one mount, with its listeners.
func (b *icedeckBackend) mount(ctx context.Context, name string) (engine.MountSnapshot, error) {
	p := (&url.URL{Path: "/api/v1/mounts" + name}).EscapedPath()
	body, err := b.c.api(ctx, http.MethodGet, p, nil, nil, http.StatusOK)
	if err != nil {
		return engine.MountSnapshot{}, err
	}
	var md apidoc.Mount
	if err := json.Unmarshal(body, &md); err != nil {
		return engine.MountSnapshot{}, badf("%s: %v", p, err)
	}
	return md.MountSnapshot(), nil
}

// moveEach moves listeners one by one (moveclients with id), as icedeck
// and Icecast 2.5 can.
func moveEach(ctx context.Context, c *Client, from, to string, ids []uint64) (int, error) {
	n := 0
	for _, id := range ids {
		q := url.Values{"mount": {from}, "destination": {to}, "id": {strconv.FormatUint(id, 10)}}
		if _, err := c.admin(ctx, "moveclients", q); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// apiError is the error of an API answer: its "error", and the engine's
// error for a 404.
func apiError(code int, body []byte) error {
	msg := bodyText(body)
	if code == http.StatusNotFound {
		return fmt.Errorf("%s: %w", msg, engine.ErrNoMount)
	}
	return &httpError{code, msg}
}

// api sends an API request and returns the answer's body when its status
// is want, else the error it says.
func (c *Client) api(ctx context.Context, method, path string, q url.Values, body []byte, want int) ([]byte, error) {
	var r io.Reader
	var h http.Header
	if body != nil {
		r, h = bytes.NewReader(body), http.Header{"Content-Type": {"application/json"}}
	}
	code, _, answer, err := c.request(ctx, method, path, q, r, h)
	if err != nil {
		return nil, err
	}
	if code != want {
		return nil, apiError(code, answer)
	}
	return answer, nil
}

func (b *icedeckBackend) addRelay(ctx context.Context, rc engine.RelayConfig) error {
	doc := map[string]any{"mount": rc.Mount, "upstreams": rc.Upstreams, "on_demand": rc.OnDemand, "icy_metadata": rc.ICYMetadata}
	if rc.Retry > 0 {
		doc["retry"] = rc.Retry.String()
	}
	body, _ := json.Marshal(doc)
	_, err := b.c.api(ctx, http.MethodPost, "/api/v1/relays", nil, body, http.StatusCreated)
	return err
}

func (b *icedeckBackend) removeRelay(ctx context.Context, mount string) error {
	_, err := b.c.api(ctx, http.MethodDelete, "/api/v1/relays", url.Values{"mount": {mount}}, nil, http.StatusOK)
	return err
}

func (b *icedeckBackend) startRecording(ctx context.Context, mount string) (string, error) {
	answer, err := b.c.api(ctx, http.MethodPost, "/api/v1/recording", url.Values{"mount": {mount}}, nil, http.StatusCreated)
	if err != nil {
		return "", err
	}
	var d struct{ File string }
	if err := json.Unmarshal(answer, &d); err != nil {
		return "", badf("/api/v1/recording: %v", err)
	}
	return d.File, nil
}

func (b *icedeckBackend) stopRecording(ctx context.Context, mount string) error {
	_, err := b.c.api(ctx, http.MethodDelete, "/api/v1/recording", url.Values{"mount": {mount}}, nil, http.StatusOK)
	return err
}
