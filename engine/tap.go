package engine

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
)

// Tap is an in-process listener, for decoding a mount inside icedeck. It
// starts on a frame boundary (Ogg: codec headers first), is counted apart
// from network listeners, and skips to live rather than being dropped when
// its reader falls behind.
type Tap struct {
	m       *mount
	ct      string
	seq     uint64
	off     int
	wait    bool
	pending []byte
	notify  chan struct{}
	done    chan struct{}
	once    sync.Once
	counted bool // shown as a tap (recordings are not)
	strict  bool // falling behind is an error, not a skip to live
}

// errTapBehind is a strict tap's Read error when it fell out of the queue.
var errTapBehind = errors.New("fell behind the stream")

func newTap(m *mount, counted, strict bool) *Tap {
	return &Tap{m: m, notify: make(chan struct{}, 1), done: make(chan struct{}), counted: counted, strict: strict}
}

// ErrTapClosed is returned by Read after Close.
var ErrTapClosed = errors.New("tap closed")

// Tap opens an in-process reader on mount.
func (s *Server) Tap(mountName string) (*Tap, error) { return s.openTap(mountName, true) }

// openTap opens a tap that skips to live; counted ones are shown.
func (s *Server) openTap(mountName string, counted bool) (*Tap, error) {
	m := s.lookup(mountName)
	if m == nil {
		return nil, ErrNoMount
	}
	t := newTap(m, counted, false)
	m.mu.Lock()
	if m.ended.Load() {
		m.mu.Unlock()
		return nil, ErrNoMount
	}
	t.ct = m.contentType
	m.taps[t] = struct{}{}
	m.mu.Unlock()
	t.start(int(m.burst.Load()))
	if counted {
		s.taps.Add(1)
		s.Emit(Event{Type: EventListenerJoined, Level: slog.LevelDebug, Mount: m.name, Message: fmt.Sprintf("tap opened on %s", m.name)})
	}
	return t, nil
}

// start places the cursor like a new listener's: a burst back from live.
func (t *Tap) start(burst int) {
	st := t.m.startFor(burst)
	t.pending, t.seq, t.off, t.wait = st.headers, st.seq, st.off, st.wait
}

// ContentType is the mount's content type when the tap opened.
func (t *Tap) ContentType() string { return t.ct }

func (t *Tap) poke() {
	select {
	case t.notify <- struct{}{}:
	default:
	}
}

// Read blocks until audio is available. It returns io.EOF once the
// mount's source is gone for good and everything buffered was read.
func (t *Tap) Read(p []byte) (int, error) {
	r := t.m.ring
	for {
		select {
		case <-t.done:
			return 0, ErrTapClosed
		default:
		}
		if len(t.pending) > 0 {
			n := copy(p, t.pending)
			t.pending = t.pending[n:]
			return n, nil
		}
		head := r.head.Load()
		if t.seq < r.tail.Load() {
			if t.strict {
				return 0, errTapBehind
			}
			// Fell behind: jump to the newest boundary, headers again.
			t.start(1)
			continue
		}
		if t.wait {
			if c, off := r.nextSync(t.seq, head, t.m.headerGen()); c != nil {
				t.seq, t.off, t.wait = c.seq, off, false
			} else {
				t.seq = head
			}
		}
		if !t.wait && t.seq < head {
			c := r.get(t.seq)
			if c == nil {
				continue
			}
			n := copy(p, c.data[t.off:])
			t.off += n
			if t.off >= len(c.data) {
				t.seq, t.off = t.seq+1, 0
			}
			return n, nil
		}
		if t.m.ended.Load() && t.seq >= r.head.Load() {
			return 0, io.EOF
		}
		select {
		case <-t.notify:
		case <-t.done:
			return 0, ErrTapClosed
		}
	}
}

// Close ends the tap; a blocked Read returns at once.
func (t *Tap) Close() error {
	t.once.Do(func() {
		close(t.done)
		t.m.mu.Lock()
		delete(t.m.taps, t)
		t.m.mu.Unlock()
		if t.counted {
			t.m.srv.taps.Add(-1)
		}
	})
	return nil
}

var _ io.ReadCloser = (*Tap)(nil)
