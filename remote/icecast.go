package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/icedeck/icedeck/engine"
)

// icecastBackend reads an Icecast through /admin/stats and
// /admin/listclients, or /status-json.xsl alone without admin
// credentials. Icecast has no event feed: events are told apart by
// comparing one poll with the one before.
type icecastBackend struct {
	adminActions

	mu      sync.Mutex
	version string
	prev    map[string]engine.MountSnapshot // the last poll's mounts
	lists   map[string]map[uint64]engine.ListenerSnapshot
	polled  bool
	samples map[string]byteSamples // total_bytes_read over time, per mount
}

// byteSamples are a source's byte counts at the polls.
type byteSamples struct {
	connected time.Time // the source's start: another source starts afresh
	at        []time.Time
	bytes     []uint64
}

// icecastUnknown is what Icecast's admin statistics do not tell.
const icecastUnknown = engine.UnknownFrames | engine.UnknownSource | engine.UnknownBitrate |
	engine.UnknownListenerDetail | engine.UnknownHistory

// jsonUnknown is what its status-json.xsl does not tell besides: the
// stock stylesheet leaves out the byte counts, the source's address and
// agent, and no listener is listed.
const jsonUnknown = icecastUnknown | engine.UnknownBytes | engine.UnknownSourceClient | engine.UnknownListeners

// fields are one level of Icecast's statistics: name → text, made safe
// to show (engine.CleanText): it is what its sources and listeners sent.
type fields map[string]string

// xmlStat is one statistic of /admin/stats, whatever its name; xmlSource
// one <source mount="…"> with its statistics.
type xmlStat struct {
	XMLName xml.Name
	Value   string `xml:",chardata"`
}

type xmlSource struct {
	Mount string    `xml:"mount,attr"`
	Stats []xmlStat `xml:",any"`
}

type xmlStats struct {
	XMLName xml.Name    `xml:"icestats"`
	Sources []xmlSource `xml:"source"`
	Stats   []xmlStat   `xml:",any"`
}

func toFields(st []xmlStat) fields {
	f := make(fields, len(st))
	for _, s := range st {
		f[strings.ToLower(s.XMLName.Local)] = engine.CleanText(s.Value)
	}
	return f
}

// readAdminStats reads /admin/stats: the server's statistics and each
// source's.
func readAdminStats(b []byte) (fields, []fields, error) {
	var doc xmlStats
	if err := xml.Unmarshal(b, &doc); err != nil {
		return nil, nil, badf("/admin/stats: not Icecast's statistics: %v", err)
	}
	var srcs []fields
	for _, s := range doc.Sources {
		f := toFields(s.Stats)
		f["mount"] = s.Mount
		srcs = append(srcs, f)
	}
	return toFields(doc.Stats), srcs, nil
}

// readStatusJSON reads /status-json.xsl, whose "source" is absent, one
// object or an array, and whose values are strings, numbers or null.
func readStatusJSON(b []byte) (fields, []fields, error) {
	var doc struct {
		Icestats map[string]json.RawMessage `json:"icestats"`
	}
	if err := json.Unmarshal(escapeControls(b), &doc); err != nil || doc.Icestats == nil {
		return nil, nil, badf("/status-json.xsl: not Icecast's status (%v)", err)
	}
	var raw []map[string]json.RawMessage
	if s := bytes.TrimSpace(doc.Icestats["source"]); len(s) > 0 && s[0] == '[' {
		if err := json.Unmarshal(s, &raw); err != nil {
			return nil, nil, badf("/status-json.xsl: source: %v", err)
		}
	} else if len(s) > 0 && s[0] == '{' {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(s, &one); err != nil {
			return nil, nil, badf("/status-json.xsl: source: %v", err)
		}
		raw = append(raw, one)
	}
	delete(doc.Icestats, "source")
	var srcs []fields
	for _, r := range raw {
		f := jsonFields(r)
		// The stock stylesheet gives no mount: its listen URL ends with it.
		if f["mount"] == "" {
			if u, err := url.Parse(f["listenurl"]); err == nil {
				f["mount"] = u.Path
			}
		}
		srcs = append(srcs, f)
	}
	return jsonFields(doc.Icestats), srcs, nil
}

// escapeControls escapes the control characters in b's strings: the stock
// status-json.xsl writes a title's as they are, which JSON does not allow.
func escapeControls(b []byte) []byte {
	var out []byte
	in, esc := false, false
	for i, c := range b {
		switch {
		case esc:
			esc = false
		case in && c == '\\':
			esc = true
		case c == '"':
			in = !in
		case in && c < 0x20:
			if out == nil {
				out = append(make([]byte, 0, len(b)+16), b[:i]...)
			}
			out = fmt.Appendf(out, `\u%04x`, c)
			continue
		}
		if out != nil {
			out = append(out, c)
		}
	}
	if out == nil {
		return b
	}
	return out
}

func jsonFields(m map[string]json.RawMessage) fields {
	f := make(fields, len(m))
	for k, v := range m {
		var s string
		if json.Unmarshal(v, &s) != nil {
			s = string(bytes.TrimSpace(v)) // a number, true or false
			if s == "null" {
				s = ""
			}
		}
		f[strings.ToLower(k)] = engine.CleanText(s)
	}
	return f
}

func (f fields) num(name string) uint64 {
	n, _ := strconv.ParseUint(f[name], 10, 64)
	return n
}

func (f fields) int(name string) int { return int(min(f.num(name), 1<<31-1)) }

// time reads Icecast's ISO 8601 ("2026-11-30T09:06:52+0000") or its
// RFC 822 time.
func (f fields) time(name string) time.Time {
	if t, err := time.Parse("2006-01-02T15:04:05-0700", f[name+"_iso8601"]); err == nil {
		return t
	}
	t, _ := time.Parse(time.RFC1123Z, f[name])
	return t
}

func (b *icecastBackend) kind() Kind { return KindIcecast }

func (b *icecastBackend) poll(ctx context.Context) error {
	c := b.c
	var globals fields
	var srcs []fields
	unknown := icecastUnknown
	var h http.Header
	var body []byte
	var err error
	if c.password == "" {
		unknown = jsonUnknown
		if h, body, err = c.get(ctx, "/status-json.xsl", nil); err != nil {
			return err
		}
		globals, srcs, err = readStatusJSON(body)
	} else {
		if h, body, err = c.get(ctx, "/admin/stats", nil); err != nil {
			return err
		}
		globals, srcs, err = readAdminStats(body)
	}
	if err != nil {
		return err
	}
	now := time.Now()
	version := globals["server_id"]
	if version == "" {
		version = h.Get("Server")
	}
	snap := engine.Snapshot{Time: now, Started: globals.time("server_start"), Addrs: []string{c.base.Host},
		ServerID: version, Clients: globals.int("clients"), Unknown: unknown}
	for _, f := range srcs {
		// A mount without a stream start has statistics but no source
		// (a relay not connected, a mount Icecast keeps settings for).
		if f["mount"] == "" || f.time("stream_start").IsZero() {
			continue
		}
		m := b.mount(f, now, unknown)
		snap.Mounts = append(snap.Mounts, m)
		snap.Sources++
		snap.Listeners += m.ListenerCount
		snap.BytesIn += m.Source.BytesIn
		snap.BytesOut += m.BytesOut
	}
	slices.SortFunc(snap.Mounts, func(a, b engine.MountSnapshot) int { return strings.Compare(a.Name, b.Name) })
	b.mu.Lock()
	for name := range b.samples {
		if !slices.ContainsFunc(snap.Mounts, func(m engine.MountSnapshot) bool { return m.Name == name }) {
			delete(b.samples, name)
		}
	}
	b.mu.Unlock()

	detail := map[string]engine.MountSnapshot{}
	if unknown&engine.UnknownListeners == 0 {
		for _, name := range c.watchedMounts() {
			i := slices.IndexFunc(snap.Mounts, func(m engine.MountSnapshot) bool { return m.Name == name })
			if i < 0 {
				continue
			}
			m := snap.Mounts[i]
			if m.Listeners, err = b.listClients(ctx, name, now); err != nil {
				return err
			}
			detail[name] = m
		}
	}
	b.tell(snap.Mounts, detail)
	c.update(func() {
		c.snap = snap
		for name := range c.watched {
			if d, ok := detail[name]; ok {
				c.detail[name] = d
			} else {
				delete(c.detail, name)
			}
		}
		c.status.Kind, c.status.Version = KindIcecast, version
	})
	b.mu.Lock()
	b.version = version
	b.mu.Unlock()
	return nil
}

// mount is one source's statistics as the engine's mount.
func (b *icecastBackend) mount(f fields, now time.Time, unknown engine.Unknown) engine.MountSnapshot {
	title := f["title"]
	if a := f["artist"]; a != "" && title != "" {
		title = a + " - " + title // an Ogg stream's comments, as icedeck shows them
	} else if a != "" {
		title = a
	}
	ice := engine.IceInfo{Name: f["server_name"], Description: f["server_description"], URL: f["server_url"],
		Genre: f["genre"], Public: f["public"], AudioInfo: f["audio_info"]}
	if br := f["bitrate"]; br != "" {
		ice.Bitrate, ice.BitrateStated = f.int("bitrate")*1000, true
	} else if br := f.int("ice-bitrate"); br > 0 {
		ice.Bitrate = br * 1000
	}
	ice.SampleRate, ice.Channels = f.int("audio_samplerate"), f.int("audio_channels")
	for _, kv := range strings.Split(ice.AudioInfo, ";") {
		k, v, _ := strings.Cut(kv, "=")
		n, _ := strconv.Atoi(v)
		switch k {
		case "samplerate", "ice-samplerate":
			ice.SampleRate = cmp(ice.SampleRate, n)
		case "channels", "ice-channels":
			ice.Channels = cmp(ice.Channels, n)
		}
	}
	name := f["mount"]
	src := &engine.SourceSnapshot{Addr: f["source_ip"], UserAgent: f["user_agent"], Connected: f.time("stream_start"),
		ContentType: f["server_type"], BytesIn: f.num("total_bytes_read"), Ice: ice}
	src.Bitrate10s = b.rate(name, src.Connected, src.BytesIn, now)
	return engine.MountSnapshot{
		Name: name, State: engine.StateLive, ContentType: f["server_type"], Title: title,
		Source: src, ListenerCount: f.int("listeners"), ListenerPeak: f.int("listener_peak"),
		BytesOut: f.num("total_bytes_sent"), SlowDrops: f.num("slow_listeners"), Unknown: unknown,
	}
}

// cmp keeps a known value over one read from the audio info.
func cmp(known, n int) int {
	if known > 0 {
		return known
	}
	return n
}

// rateWindow is the span a source's bitrate is measured over: Icecast
// counts a source's bytes every few seconds.
const rateWindow = 10 * time.Second

// rate is the source's bits/s over the last rateWindow or more of its
// byte counts (0 until there is that much).
func (b *icecastBackend) rate(mount string, connected time.Time, total uint64, now time.Time) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.samples == nil {
		b.samples = map[string]byteSamples{}
	}
	s := b.samples[mount]
	if !s.connected.Equal(connected) || (len(s.bytes) > 0 && total < s.bytes[len(s.bytes)-1]) {
		s = byteSamples{connected: connected}
	}
	s.at, s.bytes = append(s.at, now), append(s.bytes, total)
	// Keep the newest sample at least rateWindow old and those after it.
	for len(s.at) > 2 && now.Sub(s.at[1]) >= rateWindow {
		s.at, s.bytes = s.at[1:], s.bytes[1:]
	}
	b.samples[mount] = s
	if d := now.Sub(s.at[0]); d >= rateWindow && total > s.bytes[0] {
		return int(float64(total-s.bytes[0]) * 8 / d.Seconds())
	}
	return 0
}

// listClients reads one mount's listeners. Icecast 2.4 writes
// <ID> <IP> <UserAgent> <Connected>, 2.5 the same in lower case.
func (b *icecastBackend) listClients(ctx context.Context, mount string, now time.Time) ([]engine.ListenerSnapshot, error) {
	_, body, err := b.c.get(ctx, "/admin/listclients", url.Values{"mount": {mount}})
	var he *httpError
	if errors.As(err, &he) && he.code == http.StatusBadRequest {
		return nil, nil // the source left since the statistics
	}
	if err != nil {
		return nil, err
	}
	var doc struct {
		Source struct {
			Listeners []struct {
				Stats []xmlStat `xml:",any"`
			} `xml:"listener"`
		} `xml:"source"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		return nil, badf("/admin/listclients: %v", err)
	}
	out := make([]engine.ListenerSnapshot, 0, len(doc.Source.Listeners))
	for _, l := range doc.Source.Listeners {
		f := toFields(l.Stats)
		out = append(out, engine.ListenerSnapshot{ID: f.num("id"), Addr: f["ip"], UserAgent: f["useragent"],
			Connected: now.Add(-time.Duration(f.num("connected")) * time.Second)})
	}
	return out, nil
}

// tell gives as events what changed since the last poll: sources come
// and gone, titles, and the listeners of the mounts whose lists were
// read both times. The first poll tells nothing: it is where things
// stand.
func (b *icecastBackend) tell(mounts []engine.MountSnapshot, detail map[string]engine.MountSnapshot) {
	c := b.c
	b.mu.Lock()
	prev, lists, first := b.prev, b.lists, !b.polled
	b.prev, b.polled = map[string]engine.MountSnapshot{}, true
	b.lists = map[string]map[uint64]engine.ListenerSnapshot{}
	for _, m := range mounts {
		b.prev[m.Name] = m
	}
	for name, d := range detail {
		l := map[uint64]engine.ListenerSnapshot{}
		for _, x := range d.Listeners {
			l[x.ID] = x
		}
		b.lists[name] = l
	}
	now := b.lists
	b.mu.Unlock()
	if first {
		return
	}
	emit := func(e engine.Event) {
		if e.Level == 0 {
			e.Level = slog.LevelInfo
		}
		c.events.Emit(e)
	}
	for _, m := range mounts {
		p, was := prev[m.Name]
		switch {
		case !was || !p.Source.Connected.Equal(m.Source.Connected):
			emit(engine.Event{Type: engine.EventSourceConnected, Mount: m.Name, Addr: m.Source.Addr,
				Message: fmt.Sprintf("source connected to %s on %s (%s)", m.Name, c.name, m.ContentType)})
		case p.Title != m.Title:
			emit(engine.Event{Type: engine.EventMetadata, Mount: m.Name, Subject: m.Title,
				Message: fmt.Sprintf("%s on %s: %q", m.Name, c.name, m.Title)})
		}
	}
	for name, p := range prev {
		if !slices.ContainsFunc(mounts, func(m engine.MountSnapshot) bool { return m.Name == name }) {
			emit(engine.Event{Type: engine.EventSourceLeft, Mount: name, Addr: p.Source.Addr,
				Message: fmt.Sprintf("source left %s on %s", name, c.name)})
		}
	}
	for name, l := range now {
		old, ok := lists[name]
		if !ok {
			continue
		}
		for id, x := range l {
			if _, was := old[id]; !was {
				emit(engine.Event{Type: engine.EventListenerJoined, Mount: name, ID: id, Addr: x.Addr,
					Message: fmt.Sprintf("listener %d joined %s on %s", id, name, c.name)})
			}
		}
		for id, x := range old {
			if _, is := l[id]; !is {
				emit(engine.Event{Type: engine.EventListenerLeft, Mount: name, ID: id, Addr: x.Addr,
					Message: fmt.Sprintf("listener %d left %s on %s", id, name, c.name)})
			}
		}
	}
}

// moveOne reports whether the server moves one listener at a time:
// Icecast 2.5 takes moveclients' id; 2.4 and icecast-kh ignore it and
// move them all.
func (b *icecastBackend) moveOne() bool {
	b.mu.Lock()
	v := b.version
	b.mu.Unlock()
	rest, ok := strings.CutPrefix(v, "Icecast 2.")
	if !ok || strings.Contains(v, "-kh") {
		return false
	}
	minor, _ := strconv.Atoi(strings.SplitN(rest, ".", 2)[0])
	return minor >= 5
}

func (b *icecastBackend) moveListeners(ctx context.Context, from, to string, ids []uint64) (int, error) {
	c := b.c
	if len(ids) > 0 && b.moveOne() {
		return moveEach(ctx, c, from, to, ids)
	}
	// Only all can move: the mount's listeners are read afresh, to say
	// how many, and to refuse a move of some unless they are all.
	now, err := b.listClients(ctx, from, time.Now())
	if err != nil {
		return 0, err
	}
	if len(ids) > 0 {
		all := len(now) == len(ids)
		for _, l := range now {
			all = all && slices.Contains(ids, l.ID)
		}
		if !all {
			b.mu.Lock()
			v := b.version
			b.mu.Unlock()
			return 0, fmt.Errorf("%s moves all of a mount's listeners or none, and %d of its %d are asked for: %w", v, len(ids), len(now), ErrUnsupported)
		}
	}
	if _, err := c.admin(ctx, "moveclients", url.Values{"mount": {from}, "destination": {to}}); err != nil {
		return 0, err
	}
	return len(now), nil
}

func (b *icecastBackend) addRelay(context.Context, engine.RelayConfig) error {
	return fmt.Errorf("relays: Icecast's are set in its icecast.xml: %w", ErrUnsupported)
}

func (b *icecastBackend) removeRelay(context.Context, string) error {
	return fmt.Errorf("relays: Icecast's are set in its icecast.xml: %w", ErrUnsupported)
}

func (b *icecastBackend) startRecording(context.Context, string) (string, error) {
	return "", fmt.Errorf("recording: Icecast records with a mount's <dump-file>: %w", ErrUnsupported)
}

func (b *icecastBackend) stopRecording(context.Context, string) error {
	return fmt.Errorf("recording: Icecast records with a mount's <dump-file>: %w", ErrUnsupported)
}

// detect finds out what kind of server the client's is. An icedeck
// answers /api/v1/status (or refuses the credentials for it, where an
// Icecast has no such page); an Icecast's /status-json.xsl names it.
func (c *Client) detect(ctx context.Context) (backend, error) {
	switch c.opts.Kind {
	case KindIcedeck:
		return &icedeckBackend{adminActions: adminActions{c}}, nil
	case KindIcecast:
		return &icecastBackend{adminActions: adminActions{c}}, nil
	}
	code, _, body, err := c.request(ctx, http.MethodGet, "/api/v1/status", statusQuery, nil, nil)
	if err != nil {
		return nil, err
	}
	switch code {
	case http.StatusOK:
		if _, err := readStatus(body); err == nil {
			return &icedeckBackend{adminActions: adminActions{c}}, nil
		}
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests:
		return &icedeckBackend{adminActions: adminActions{c}}, nil
	}
	apiCode := code
	code, h, body, err := c.request(ctx, http.MethodGet, "/status-json.xsl", nil, nil, nil)
	if err != nil {
		return nil, err
	}
	if code == http.StatusOK {
		if g, _, err := readStatusJSON(body); err == nil && g["server_id"] != "" {
			return &icecastBackend{adminActions: adminActions{c}}, nil
		}
	}
	return nil, badf("neither an icedeck (/api/v1/status: %d) nor an Icecast (/status-json.xsl: %d, Server: %q)",
		apiCode, code, engine.CleanText(h.Get("Server")))
}
