package engine

import (
	"log/slog"
	"net"
	"sync"
	"time"
)

// ending is how one connection ended or why it was refused.
type ending struct {
	kind    ConnKind
	reason  Reason
	detail  string
	level   slog.Level
	event   EventType // "" for no event
	mount   string
	id      uint64
	addr    string
	message string

	// For the access log; no line without a request.
	request, user, referer, ua string
	status                     int
	bytes                      uint64
	dur                        time.Duration

	// A refusal's answer, written after everything is recorded.
	answer bool
	body   string
	header []string
}

// finish is the one way a connection ends: counted per reason, written to
// the access log and emitted as an event, then answered if it was refused,
// then closed. Recording comes first, so a client that reads the answer
// finds the event already there.
func (s *Server) finish(c net.Conn, e ending) {
	s.note(e)
	if e.answer {
		writeStatus(c, e.status, e.body, e.header...)
	}
	if c != nil {
		c.Close()
	}
}

func (s *Server) note(e ending) {
	s.ended[e.kind][e.reason].Add(1)
	if e.request != "" {
		s.access.write(e.addr, e.user, e.request, e.status, e.bytes, e.referer, e.ua, e.dur)
	}
	if e.event != "" {
		s.Emit(Event{Type: e.event, Level: e.level, Mount: e.mount, ID: e.id, Addr: e.addr, Reason: e.reason, Detail: e.detail, Message: e.message})
	}
}

// endings copies the per-reason counters.
func (s *Server) endings() []Ending {
	var out []Ending
	for k := range kindCount {
		for r := range reasonCount {
			if n := s.ended[k][r].Load(); n > 0 {
				out = append(out, Ending{Kind: k, Reason: r, Count: n})
			}
		}
	}
	return out
}

// laterQueue runs bookkeeping off the fan-out: when a source with 10,000
// listeners ends, its shards close the sockets and go on, and one goroutine
// formats the 10,000 log lines, events and access-log entries.
type laterQueue struct {
	mu    sync.Mutex
	q     []func()
	wake  chan struct{}
	stop  chan struct{}
	done  chan struct{}
	start sync.Once
}

func newLaterQueue() *laterQueue {
	return &laterQueue{wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

func (q *laterQueue) push(f func()) {
	q.start.Do(func() { go q.run() })
	q.mu.Lock()
	q.q = append(q.q, f)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *laterQueue) run() {
	defer close(q.done)
	for {
		select {
		case <-q.wake:
			q.drain()
		case <-q.stop:
			q.drain()
			return
		}
	}
}

func (q *laterQueue) drain() {
	for {
		q.mu.Lock()
		batch := q.q
		q.q = nil
		q.mu.Unlock()
		if len(batch) == 0 {
			return
		}
		for _, f := range batch {
			f()
		}
	}
}

// close runs what is queued and waits for it.
func (q *laterQueue) close() {
	started := true
	q.start.Do(func() { started = false })
	if !started {
		return
	}
	close(q.stop)
	<-q.done
}
