package engine

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// metaBlock is one ICY metadata block, shared by every listener of a mount.
type metaBlock struct {
	gen   uint64
	title string
	bytes []byte // length byte + padded text
}

type headerSet struct {
	gen   uint64
	pages []byte
}

// mount is a stream: a ring of chunks fed by at most one source and read
// by listener shards and taps. It outlives its source while listeners are
// held in grace or still draining the tail.
type mount struct {
	name string
	srv  *Server
	cfg  MountConfig
	ring *ring

	burst    atomic.Int64 // bytes a new reader starts back from live; a reload changes it
	latency  atomic.Int64 // ns a byte may wait before big shards send it (shard.wait); a reload changes it
	skipSlow atomic.Bool  // slow listeners jump to live instead of being dropped
	metaInt  int          // fixed for the mount's life: listeners were told it

	meta atomic.Pointer[metaBlock]
	hdrs atomic.Pointer[headerSet] // Ogg codec headers, replayed to each new reader

	ended atomic.Bool // no source will feed it again; listeners drain and go

	mu          sync.Mutex
	source      *source // nil in grace
	contentType string
	headPlain   []byte // response head for listeners, shared
	headICY     []byte // the same with icy-metaint; nil where ICY does not apply
	graceUntil  time.Time
	graceTimer  *time.Timer
	listeners   []*listener // ordered by id, so snapshots need no sort
	peak        int
	served      int // listeners ever accepted
	taps        map[*Tap]struct{}
	rec         *recording
	disconnects []Disconnect
	silence     silence // the audio analysis hears silence (silence.go)
	bytesOut    atomic.Uint64
	slowDrops   atomic.Uint64

	shards []*shard
}

const recentDisconnects = 50

func newMount(s *Server, name string) *mount {
	c := s.cfg()
	m := &mount{
		name:    name,
		srv:     s,
		ring:    newRing(c.QueueSize),
		metaInt: c.MetaInt,
		taps:    map[*Tap]struct{}{},
	}
	m.configure(c)
	m.meta.Store(&metaBlock{bytes: []byte{0}})
	m.shards = make([]*shard, s.shardCount)
	for i := range m.shards {
		m.shards[i] = newShard(m)
	}
	return m
}

// configure takes the mount's settings from c, at creation and on every
// reload. The queue and the ICY interval stay as the mount began: its
// ring is allocated and its listeners were told the interval.
func (m *mount) configure(c *Config) {
	mc := c.Mounts[m.name]
	if mc.Grace == 0 {
		mc.Grace = c.Grace
	}
	burst := cmp.Or(mc.BurstSize, c.BurstSize)
	m.burst.Store(int64(min(burst, m.ring.limit)))
	m.skipSlow.Store(cmp.Or(mc.SlowListener, c.SlowListener) == SlowSkip)
	lat := int64(cmp.Or(mc.Latency, c.Latency))
	old := m.latency.Swap(lat)
	m.mu.Lock()
	m.cfg = mc
	m.mu.Unlock()
	if old != 0 && old != lat {
		// Shards waiting for the old due time take the new one.
		for _, sh := range m.shards {
			sh.poke()
		}
	}
}

// settings are the mount's own settings in force (m.cfg, which a reload
// replaces under m.mu); callers holding m.mu read m.cfg directly.
func (m *mount) settings() MountConfig {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfg
}

func (m *mount) start() {
	for _, sh := range m.shards {
		m.srv.wg.Add(1)
		go sh.run()
	}
}

func (m *mount) headerGen() uint64 {
	if h := m.hdrs.Load(); h != nil {
		return h.gen
	}
	return 0
}

// readerStart is where a new reader of the mount begins.
type readerStart struct {
	seq     uint64
	off     int
	wait    bool   // no frame boundary buffered yet: take the next one from seq
	pos     uint64 // stream offset of the start
	headers []byte // Ogg header pages to send first; nil when the start carries its own
}

// startFor places a reader about want bytes before live, on a frame
// boundary.
func (m *mount) startFor(want int) readerStart {
	r := m.ring
	seq, off, ok, fromStart := r.syncPoint(want, m.headerGen())
	st := readerStart{seq: seq, off: off}
	if !fromStart {
		if h := m.hdrs.Load(); h != nil {
			st.headers = h.pages
		}
	}
	if c := r.get(seq); ok && c != nil {
		st.pos = c.pos + uint64(off)
	} else {
		st.seq, st.off, st.wait, st.pos = r.head.Load(), 0, true, r.end.Load()
	}
	return st
}

func (m *mount) maxListeners() int {
	if m.cfg.MaxListeners > 0 {
		return m.cfg.MaxListeners
	}
	return m.srv.cfg().MaxListeners
}

// publish hands a chunk to every reader. Called only by the source
// goroutine. Shards send it when it is due; taps read it at once.
func (m *mount) publish(c *chunk) {
	m.ring.publish(c)
	m.notify(false)
}

// wake makes every reader look at the mount now.
func (m *mount) wake() { m.notify(true) }

func (m *mount) notify(force bool) {
	for _, sh := range m.shards {
		if force {
			sh.poke()
		} else {
			sh.signal()
		}
	}
	m.mu.Lock()
	for t := range m.taps {
		t.poke()
	}
	m.mu.Unlock()
}

// setTitle makes title the StreamTitle sent in the next metadata block.
func (m *mount) setTitle(title, url string) bool {
	old := m.meta.Load()
	if old.title == title && old.gen != 0 {
		return false
	}
	m.meta.Store(&metaBlock{gen: old.gen + 1, title: title, bytes: icyBlock(title, url)})
	return true
}

// icyBlock frames StreamTitle (and StreamUrl) as one ICY metadata block:
// a length byte L, then L*16 bytes padded with NULs. What does not fit
// in 255*16 bytes is left out whole: the URL first, then the title's end,
// so the block always parses.
func icyBlock(title, url string) []byte {
	const maxText = 255 * 16
	const frame = len("StreamTitle='';")
	title, url = icyValue(title), icyValue(url)
	text := "StreamTitle='" + title + "';"
	if url != "" && len(text)+len("StreamUrl='';")+len(url) <= maxText {
		text += "StreamUrl='" + url + "';"
	}
	if len(text) > maxText {
		text = "StreamTitle='" + icyValue(cutUTF8(title, maxText-frame)) + "';"
	}
	n := (len(text) + 15) / 16
	b := make([]byte, 1+n*16)
	b[0] = byte(n)
	copy(b[1:], text)
	return b
}

// cutUTF8 cuts s to at most n bytes on a character boundary.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// icyValue keeps a value inside its quotes: players end a value at "';",
// so a title holding one could add keys of its own (StreamUrl='…'), and
// one ending in ' would end early. Such an apostrophe becomes a
// typographic one.
func icyValue(v string) string {
	v = strings.ReplaceAll(v, "';", "’;")
	if strings.HasSuffix(v, "'") {
		v = v[:len(v)-1] + "’"
	}
	return v
}

func (m *mount) recordDisconnect(d Disconnect) {
	m.mu.Lock()
	if len(m.disconnects) >= recentDisconnects {
		copy(m.disconnects, m.disconnects[1:])
		m.disconnects = m.disconnects[:len(m.disconnects)-1]
	}
	m.disconnects = append(m.disconnects, d)
	m.mu.Unlock()
}

// addListener registers l, writes its first bytes and gives it to the
// least loaded shard. It returns why it could not.
func (m *mount) addListener(l *listener) (Reason, string) {
	m.mu.Lock()
	if m.ended.Load() {
		m.mu.Unlock()
		return ReasonSourceEnded, ""
	}
	if max := m.maxListeners(); max > 0 && len(m.listeners) >= max {
		m.mu.Unlock()
		return ReasonMountFull, fmt.Sprintf("limit %d", max)
	}
	if l.id == 0 {
		// Taken under the lock, so the slice stays ordered.
		l.id = m.srv.nextID.Add(1)
	}
	m.insertListener(l)
	m.served++
	if len(m.listeners) > m.peak {
		m.peak = len(m.listeners)
	}
	best := m.shards[0]
	for _, sh := range m.shards[1:] {
		if sh.count.Load() < best.count.Load() {
			best = sh
		}
	}
	// Counted under m.mu, where ended was false: a shard that sees the
	// mount end then waits for this listener instead of leaving before
	// it arrives.
	best.count.Add(1)
	m.mu.Unlock()
	m.first(l)
	best.add(l)
	return ReasonNone, ""
}

func (m *mount) insertListener(l *listener) {
	i, _ := slices.BinarySearchFunc(m.listeners, l.id, byID)
	m.listeners = slices.Insert(m.listeners, i, l)
}

func byID(l *listener, id uint64) int { return cmp.Compare(l.id, id) }

// findListener returns the listener with id; m.mu must be held.
func (m *mount) findListener(id uint64) *listener {
	if i, ok := slices.BinarySearchFunc(m.listeners, id, byID); ok {
		return m.listeners[i]
	}
	return nil
}

func (m *mount) removeListener(l *listener) {
	m.mu.Lock()
	if i, ok := slices.BinarySearchFunc(m.listeners, l.id, byID); ok && m.listeners[i] == l {
		m.listeners = slices.Delete(m.listeners, i, i+1)
	}
	m.mu.Unlock()
}

// finish marks the mount as fed by nobody ever again: listeners get what is
// buffered, then close with reason source ended.
func (m *mount) finish() {
	m.mu.Lock()
	was := m.ended.Swap(true)
	m.mu.Unlock()
	if !was {
		m.wake()
	}
}

// stop closes every listener at once with reason (shutdown).
func (m *mount) stop(reason Reason) {
	m.mu.Lock()
	for _, l := range m.listeners {
		l.kick(reason)
	}
	m.mu.Unlock()
	m.finish()
	for _, sh := range m.shards {
		sh.poke()
	}
}
