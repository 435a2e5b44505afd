package engine

import (
	"sync/atomic"
	"time"
)

// chunk is one piece of a mount's stream as the source delivered it. It is
// never modified after publication, so any number of readers share it.
type chunk struct {
	seq  uint64
	pos  uint64 // stream offset of data[0]
	data []byte
	sync int32  // offset of the first frame a decoder can start at, or -1
	gen  uint64 // Ogg header generation in force for this chunk
	// first marks the first chunk a source sent, so a listener whose burst
	// reaches back that far gets the stream from its very first byte.
	first bool
	at    int64 // when it was published (monoAt); shards time their sweeps by it
}

// epoch is where monoAt counts from: a monotonic clock in one int64.
var epoch = time.Now()

func monoAt(t time.Time) int64 { return int64(t.Sub(epoch)) }

// ring holds a mount's recent chunks. One goroutine publishes; any number
// read without locks: a reader loads a slot and checks its seq, so a slot
// reused under it reads as gone.
type ring struct {
	slots []atomic.Pointer[chunk]
	mask  uint64
	head  atomic.Uint64 // seq of the next chunk to publish
	tail  atomic.Uint64 // oldest seq still readable
	end   atomic.Uint64 // stream offset after the newest chunk

	limit int // bytes kept (queue size)
	bytes int // bytes between tail and head; publisher only
}

// ringSlots is the least number of slots. Sources publish chunks of at
// least minPublish bytes or at most one per maxHold, so a ring of
// limit/256 slots (rounded up to a power of two) is not full before its
// byte limit is reached at any bitrate above about 200 kb/s, nor within
// 40 s at any bitrate.
const ringSlots = 4096

func newRing(limit int) *ring {
	n := ringSlots
	for n < limit/256 {
		n *= 2
	}
	return &ring{slots: make([]atomic.Pointer[chunk], n), mask: uint64(n - 1), limit: limit}
}

func (r *ring) get(seq uint64) *chunk {
	c := r.slots[seq&r.mask].Load()
	if c == nil || c.seq != seq {
		return nil
	}
	return c
}

// publish appends c and trims the oldest chunks beyond the byte limit,
// keeping at least the newest one whatever its size.
func (r *ring) publish(c *chunk) {
	seq := r.head.Load()
	c.seq = seq
	c.pos = r.end.Load()
	c.at = monoAt(time.Now())
	// Trim the slot we are about to reuse before overwriting it.
	if seq-r.tail.Load() >= uint64(len(r.slots)) {
		r.drop()
	}
	r.slots[seq&r.mask].Store(c)
	r.bytes += len(c.data)
	r.end.Add(uint64(len(c.data)))
	r.head.Store(seq + 1)
	for r.bytes > r.limit && r.tail.Load() < seq {
		r.drop()
	}
}

// drop lets go of the oldest chunk. The slot is cleared, not left for
// the next lap to overwrite: a kept pointer holds the chunk's whole slab,
// and with 4,096 slots that held hundreds of megabytes per fast source.
func (r *ring) drop() {
	t := r.tail.Load()
	if c := r.get(t); c != nil {
		r.bytes -= len(c.data)
	}
	r.tail.Store(t + 1)
	r.slots[t&r.mask].Store(nil)
}

// syncPoint finds where a reader should start to get about want bytes
// before live: the first decodable frame at or after that point, in a chunk
// of Ogg header generation gen. ok is false when no such frame is buffered.
// fromStart says the point is a source's first byte, so the stream carries
// its own codec headers.
func (r *ring) syncPoint(want int, gen uint64) (seq uint64, off int, ok, fromStart bool) {
	head, tail := r.head.Load(), r.tail.Load()
	if head == tail {
		return head, 0, false, false
	}
	// Walk back over whole chunks while they fit in want; a chunk bigger
	// than want on its own is still taken, rather than waiting.
	start, total := head, 0
	for start > tail {
		c := r.get(start - 1)
		if c == nil || (total > 0 && total+len(c.data) > want) {
			break
		}
		total += len(c.data)
		start--
		if c.first {
			// A source's first byte is the best start of all: the whole stream.
			return start, 0, true, true
		}
	}
	if c, off := r.nextSync(start, head, gen); c != nil {
		return c.seq, off, true, c.first
	}
	return head, 0, false, false
}

// nextSync finds the first chunk in [from, head) a decoder can start in: a
// source's first chunk (at its first byte), or one with a frame boundary
// of Ogg header generation gen. It returns nil when there is none yet.
func (r *ring) nextSync(from, head, gen uint64) (*chunk, int) {
	for s := max(from, r.tail.Load()); s < head; s++ {
		c := r.get(s)
		switch {
		case c == nil:
		case c.first:
			return c, 0
		case c.sync >= 0 && c.gen == gen:
			return c, int(c.sync)
		}
	}
	return nil, 0
}
