package engine

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// listener is one network client of a mount. It holds a cursor into the
// mount's ring, never a copy of the audio. Fields below "shard-owned" are
// touched only by the shard goroutine once the listener is handed over.
type listener struct {
	id        uint64
	conn      net.Conn
	raw       syscall.RawConn
	addr, ua  string
	connected int64 // unix ns (connectedAt): 16 bytes less than a time.Time
	mount     *mount
	home      string // mount it fell back from, to return to; guarded by the mount's mu
	request   string // request line and referer, for the access log
	referer   string
	// until ends the listener with ReasonTimeLimit at this time (unix
	// ns; 0: never): the mount's max-listener-duration, or a URL auth
	// hook's time limit; set before it joins its shard, checked by the
	// shard's sweeps, so no timer each.
	until int64

	// shard-owned
	seq      uint64
	off      int
	metaLeft int // audio bytes before the next ICY block
	metaGen  uint64
	pending  [2][]byte // response head, Ogg headers, or the rest of a metadata block
	fd       int32     // the socket, once a batch (batch_linux.go) has asked for it
	hasFD    bool
	waitSync bool // start (or restart) at the next frame boundary
	icy      bool // fixed when it joins; with the flags, where it packs
	// monoAt stamps, not time.Time: 16 bytes less each. With connected in
	// unix ns and the flags together the struct is 280 bytes, a 288-byte
	// allocation where it took 352: the largest object of a listener.
	lastProgress int64 // last write, or last sweep that had nothing to write
	lastWrite    int64 // last write, or last check that the client is still there

	bytesSent atomic.Uint64
	pos       atomic.Uint64          // stream offset of the cursor
	kicked    atomic.Pointer[Reason] // requested from outside
	moveTo    atomic.Pointer[mount]  // MoveListeners' destination
}

// placeAt moves the cursor to st; shard-owned.
func (l *listener) placeAt(st readerStart) {
	l.seq, l.off, l.waitSync = st.seq, st.off, st.wait
	l.pos.Store(st.pos)
}

// connectedAt is when the listener connected.
func (l *listener) connectedAt() time.Time { return time.Unix(0, l.connected) }

func (l *listener) kick(r Reason) { l.kicked.CompareAndSwap(nil, &r) }

func (l *listener) kickReason() Reason {
	if r := l.kicked.Load(); r != nil {
		return *r
	}
	return ReasonNone
}

func (l *listener) snapshot(end uint64) ListenerSnapshot {
	lag := int64(end) - int64(l.pos.Load())
	if lag < 0 {
		lag = 0
	}
	return ListenerSnapshot{
		ID: l.id, Addr: l.addr, UserAgent: l.ua, Connected: l.connectedAt(),
		BytesSent: l.bytesSent.Load(), Lag: lag, ICY: l.icy, Home: l.home,
	}
}

const (
	// maxVecs bounds one vectored write. A source's chunks come at most
	// about 100 a second (source.go), so a listener written once per
	// maxLatency still takes a whole second of them, ICY blocks
	// between, in one write.
	maxVecs      = 256
	maxPassBytes = 256 << 10
	// A shard of gapFrom listeners or more writes each of them at most
	// once per the mount's latency (see shard.wait): the write syscall is
	// nearly all of the fan-out's CPU (88% in a profile at 10,000
	// listeners), so fewer, larger writes are what makes a listener
	// cheap. Small shards write every chunk at once: their writes are
	// few, and a source far faster than real time (a file pushed as fast
	// as it goes) must not outrun them.
	gapFrom   = 64
	idleSweep = 250 * time.Millisecond
	idleProbe = 2 * time.Second // how often a listener with nothing to receive is checked
)

type segKind uint8

const (
	segPending segKind = iota
	segAudio
	segMeta
)

// seg describes one entry of a vectored write, so that a partial write
// can be applied to the listener's cursor afterwards.
type seg struct {
	kind segKind
	idx  uint8 // pending index
	n    int
	seq  uint64
	pos  uint64 // stream offset of the chunk
	clen int    // chunk length
	meta *metaBlock
}

// shard serves a share of a mount's listeners from one goroutine, with
// non-blocking vectored writes: a listener that cannot take more now is
// retried on the next sweep, and never holds up the others.
type shard struct {
	writer // scratch of the shard goroutine
	wakeCh chan struct{}
	force  atomic.Bool // sweep at the next wake, whether data is due or not

	mu       sync.Mutex
	incoming []*listener
	count    atomic.Int32

	list  []*listener
	swept uint64 // ring head when the last sweep began: what is older went out

	batch      *batch // where the shard's writes go to the kernel in batches
	batchTried bool
	batched    atomic.Uint64 // writes sent in batches, for the tests
}

// writer is the scratch of one vectored write: a shard's, or one lent
// to the goroutine that admits a listener (first).
type writer struct {
	m    *mount
	bufs [][]byte
	segs []seg
	w    vecWriter
}

func newWriter(m *mount) writer {
	return writer{m: m, bufs: make([][]byte, 0, maxVecs), segs: make([]seg, 0, maxVecs)}
}

func newShard(m *mount) *shard {
	return &shard{writer: newWriter(m), wakeCh: make(chan struct{}, 1)}
}

// signal tells the shard that data arrived: it sweeps when the data is due.
func (sh *shard) signal() {
	select {
	case sh.wakeCh <- struct{}{}:
	default:
	}
}

// poke makes the shard sweep now: a listener was kicked or is to move,
// the source left, the settings changed.
func (sh *shard) poke() {
	sh.force.Store(true)
	sh.signal()
}

// add hands a listener, already counted, to the shard. Its first bytes
// are out (mount.first), so the shard takes it at its next sweep; one
// that is to go already, or on a mount that ended, is seen to at once.
func (sh *shard) add(l *listener) {
	sh.mu.Lock()
	sh.incoming = append(sh.incoming, l)
	sh.mu.Unlock()
	if l.kicked.Load() != nil || sh.m.ended.Load() {
		sh.poke()
	} else {
		sh.signal()
	}
}

func (sh *shard) run() {
	defer sh.m.srv.wg.Done()
	defer func() { sh.batch.release() }()
	timer := time.NewTimer(idleSweep)
	defer timer.Stop()
	for {
		select {
		case <-sh.wakeCh:
		case <-timer.C:
			sh.force.Store(true)
		}
		sh.mu.Lock()
		sh.list = append(sh.list, sh.incoming...)
		clear(sh.incoming)
		sh.incoming = sh.incoming[:0]
		sh.mu.Unlock()

		start := time.Now()
		if d := sh.wait(start); d > 0 {
			timer.Reset(d)
			continue
		}
		head := sh.m.ring.head.Load()
		sh.sweep(start)
		sh.swept = head
		if sh.m.ended.Load() && sh.count.Load() == 0 {
			return
		}
		// Data that came during the sweep left a signal behind, which
		// sets the next due time.
		timer.Reset(idleSweep)
	}
}

// wait says how long the shard may wait before it sweeps; 0: sweep now.
// A big shard sweeps when the oldest byte it has not yet offered has
// waited the mount's latency, and earlier, on the arrival of data, when
// waiting for the next arrival would make that byte late. A listener is
// served at about the same point of every sweep, and takes all that came
// before its turn, so the sweeps' spacing is how long its bytes wait,
// whatever a sweep takes. Sweeping on arrivals writes less often than a
// clock of the same latency, for the same wait: chunks 24 ms apart with
// 50 ms latency go out three at a time as the third arrives, the oldest
// having waited 48 ms, 14 writes a second where a 50 ms clock makes 20.
func (sh *shard) wait(now time.Time) time.Duration {
	if sh.force.Swap(false) || len(sh.list) < gapFrom {
		return 0
	}
	r := sh.m.ring
	head := r.head.Load()
	if head == sh.swept {
		return idleSweep // nothing new
	}
	oldest := r.get(sh.swept)
	if oldest == nil {
		return 0 // gone from the ring already: long due
	}
	var gap int64 // time to the next arrival, guessed from the last two
	if c, p := r.get(head-1), r.get(head-2); c != nil && p != nil {
		gap = c.at - p.at
	}
	due := oldest.at + sh.m.latency.Load()
	t := monoAt(now)
	if t+gap >= due {
		return 0
	}
	return time.Duration(due - t)
}

func (sh *shard) sweep(now time.Time) {
	b := sh.batcher()
	// Compacted in place, in order: a listener keeps its place in the
	// sweep, and one kept is never written over one not yet seen.
	keep := sh.list[:0]
	for _, l := range sh.list {
		if b != nil && l.raw != nil {
			keep = sh.queue(b, l, keep, now)
			continue
		}
		if reason, done := sh.service(l, now); done {
			sh.drop(l, reason)
			continue
		}
		keep = append(keep, l)
	}
	if b != nil {
		keep = sh.flush(b, keep, now)
	}
	clear(sh.list[len(keep):])
	sh.list = keep
	// The last listener's vectors would pin their chunks' slabs until the
	// next sweep, after the ring let them go.
	clear(sh.bufs[:cap(sh.bufs)])
}

// drop takes l out of the shard's count and closes it, or moves it on.
func (sh *shard) drop(l *listener, reason Reason) {
	sh.count.Add(-1)
	if reason == ReasonMoved {
		sh.m.srv.adopt(l)
	} else {
		sh.m.srv.closeListener(l, reason)
	}
}

// turn is what a sweep found for one listener before its write.
type turn struct {
	head          uint64 // the ring's head: l is offered what is older
	moving, ended bool
}

// toFrame says the write stops at the next frame boundary: the listener
// leaves a live mount there.
func (t turn) toFrame() bool { return t.moving && !t.ended }

// service moves one listener forward. It reports done with a reason when
// the listener must go.
func (sh *shard) service(l *listener, now time.Time) (Reason, bool) {
	t, reason, done := sh.ready(l, now)
	if done {
		return reason, true
	}
	wrote, err := sh.send(l, t.head, t.toFrame(), now)
	return sh.settle(l, t, wrote, err, now)
}

// ready is the part of a listener's turn before its write: done with a
// reason when it must go, else how far it is owed.
func (sh *shard) ready(l *listener, now time.Time) (t turn, _ Reason, done bool) {
	if r := l.kickReason(); r != ReasonNone {
		return t, r, true
	}
	if l.until != 0 && now.UnixNano() >= l.until {
		return t, ReasonTimeLimit, true
	}
	m := sh.m
	r := m.ring
	t.head = r.head.Load()
	if l.waitSync {
		sh.findSync(l, t.head)
	} else if l.seq < r.tail.Load() {
		if !m.skipSlow.Load() {
			m.slowDrops.Add(1)
			return t, ReasonTooSlow, true
		}
		// Skip to live: the newest frame boundary buffered. The logical
		// stream goes on, so no header pages are resent.
		l.placeAt(m.startFor(1))
	}

	// A listener moving off a live mount leaves at a frame boundary; off a
	// mount whose source is gone, once it has had every byte.
	t.moving = l.moveTo.Load() != nil
	t.ended = m.ended.Load()
	if t.toFrame() && (l.waitSync || sh.atFrame(l)) {
		return t, ReasonMoved, true
	}
	return t, ReasonNone, false
}

// settle is the part of a listener's turn after its write (wrote is false
// when it was owed nothing): done with a reason when it must go.
func (sh *shard) settle(l *listener, t turn, wrote bool, err error, now time.Time) (Reason, bool) {
	m := sh.m
	at := monoAt(now)
	if !wrote {
		l.lastProgress = at
		if t.ended && t.head == m.ring.head.Load() {
			if t.moving {
				return ReasonMoved, true
			}
			return ReasonSourceEnded, true
		}
		// A listener with nothing to receive (waiting for a frame
		// boundary, or on a silent source) is written to by nobody, so
		// only a look at its socket finds it gone.
		if at-l.lastWrite > int64(idleProbe) {
			l.lastWrite = at
			if peerGone(l) {
				return ReasonClientClosed, true
			}
		}
		return ReasonNone, false
	}
	if err != nil {
		return writeReason(err), true
	}
	if at-l.lastProgress > int64(m.srv.cfg().WriteTimeout) {
		return ReasonTimeout, true
	}
	return ReasonNone, false
}

func writeReason(err error) Reason {
	if isClosedErr(err) {
		return ReasonClientClosed
	}
	return ReasonWriteError
}

// send offers l what it is owed up to head in one vectored write: what is
// pending, then audio with ICY blocks spliced in (to the next frame
// boundary when toFrame). wrote is false when it was owed nothing.
func (w *writer) send(l *listener, head uint64, toFrame bool, now time.Time) (wrote bool, err error) {
	if !w.offer(l, head, toFrame) {
		return false, nil
	}
	n, err := w.w.write(l, w.bufs)
	w.sent(l, w.segs, n, now)
	return true, err
}

// offer gathers into w.bufs and w.segs what l is owed up to head; false
// when it is owed nothing.
func (w *writer) offer(l *listener, head uint64, toFrame bool) bool {
	w.bufs, w.segs = w.bufs[:0], w.segs[:0]
	for i, p := range l.pending {
		if len(p) > 0 {
			w.bufs = append(w.bufs, p)
			w.segs = append(w.segs, seg{kind: segPending, idx: uint8(i), n: len(p)})
		}
	}
	if !l.waitSync {
		w.gather(l, head, toFrame)
	}
	return len(w.bufs) > 0
}

// sent advances l by the n bytes the kernel took of what segs describe.
func (w *writer) sent(l *listener, segs []seg, n int, now time.Time) {
	if n <= 0 {
		return
	}
	w.apply(l, segs, n)
	at := monoAt(now)
	l.lastProgress, l.lastWrite = at, at
	l.bytesSent.Add(uint64(n))
	w.m.bytesOut.Add(uint64(n))
	w.m.srv.bytesOut.Add(uint64(n))
}

// writers lends scratch to the goroutines admitting listeners.
var writers = sync.Pool{New: func() any { w := newWriter(nil); return &w }}

// first writes a joining listener's response head and burst at once,
// from the goroutine that admitted it, instead of at its shard's next
// sweep, which may be the mount's latency away. The listener is not yet
// in a shard, so its fields are this goroutine's. A write that fails
// ends it in the shard, with the reason.
func (m *mount) first(l *listener) {
	w := writers.Get().(*writer)
	w.m = m
	head := m.ring.head.Load()
	if l.waitSync {
		w.findSync(l, head)
	}
	_, err := w.send(l, head, false, time.Now())
	clear(w.bufs[:cap(w.bufs)]) // the pool must not pin chunks
	w.m = nil
	writers.Put(w)
	if err != nil {
		l.kick(writeReason(err))
	}
}

// findSync moves a waiting listener to the first frame boundary published
// since it started waiting, if there is one yet.
func (w *writer) findSync(l *listener, head uint64) {
	c, off := w.m.ring.nextSync(l.seq, head, w.m.headerGen())
	if c == nil {
		l.seq = head // scan on from here next time
		return
	}
	l.placeAt(readerStart{seq: c.seq, off: off, pos: c.pos + uint64(off)})
}

// atFrame says the listener has nothing pending and its cursor sits on a
// known frame boundary, where it can leave for another mount.
func (w *writer) atFrame(l *listener) bool {
	if len(l.pending[0]) > 0 || len(l.pending[1]) > 0 {
		return false
	}
	c := w.m.ring.get(l.seq)
	return c != nil && int(c.sync) == l.off
}

// gather appends the audio a listener is owed, with ICY blocks spliced in.
// toFrame stops at the next known frame boundary, for a listener that is
// to move to another mount.
func (w *writer) gather(l *listener, head uint64, toFrame bool) {
	m := w.m
	r := m.ring
	seq, off, metaLeft, metaGen := l.seq, l.off, l.metaLeft, l.metaGen
	total := 0
	for seq < head && len(w.bufs) < maxVecs-2 && total < maxPassBytes {
		c := r.get(seq)
		if c == nil {
			return // overwritten: noticed as too slow next sweep
		}
		data := c.data[off:]
		stop := false
		if toFrame && int(c.sync) > off {
			data, stop = c.data[off:c.sync], true
		}
		for len(data) > 0 {
			n := len(data)
			if l.icy && n > metaLeft {
				n = metaLeft
			}
			w.bufs = append(w.bufs, data[:n])
			w.segs = append(w.segs, seg{kind: segAudio, n: n, seq: seq, pos: c.pos, clen: len(c.data)})
			data = data[n:]
			total += n
			if l.icy {
				metaLeft -= n
				if metaLeft == 0 {
					blk := m.meta.Load()
					b := blk.bytes
					if blk.gen == metaGen {
						b = zeroMeta
					}
					metaGen = blk.gen
					w.bufs = append(w.bufs, b)
					w.segs = append(w.segs, seg{kind: segMeta, n: len(b), meta: blk})
					metaLeft = m.metaInt
				}
			}
			if len(data) > 0 && len(w.bufs) >= maxVecs-2 {
				return
			}
		}
		if stop {
			return
		}
		seq++
		off = 0
	}
}

var zeroMeta = []byte{0}

// apply advances the listener by the n bytes the kernel accepted.
func (w *writer) apply(l *listener, segs []seg, n int) {
	for _, s := range segs {
		k := min(n, s.n)
		switch s.kind {
		case segPending:
			l.pending[s.idx] = l.pending[s.idx][k:]
		case segAudio:
			l.off += k
			if l.icy {
				l.metaLeft -= k
			}
			if l.off >= s.clen {
				l.seq, l.off = s.seq+1, 0
				l.pos.Store(s.pos + uint64(s.clen))
			} else {
				l.pos.Store(s.pos + uint64(l.off))
			}
		case segMeta:
			l.metaLeft = w.m.metaInt
			l.metaGen = s.meta.gen
			if k < s.n {
				// Only a title block can be cut (the empty one is one byte):
				// the rest of it goes out first next time.
				l.pending[0] = s.meta.bytes[k:]
			}
		}
		n -= k
		if n == 0 {
			return
		}
	}
}

func isClosedErr(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
}
