package engine

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

const eventHistory = 2048

// eventBus keeps recent events and hands new ones to subscribers without
// ever blocking the connection that caused them.
type eventBus struct {
	mu      sync.Mutex
	seq     uint64
	recent  []Event // ring, eventHistory long
	subs    map[chan Event]struct{}
	dropped uint64
	log     *slog.Logger
}

func newEventBus(log *slog.Logger) *eventBus {
	return &eventBus{recent: make([]Event, 0, eventHistory), subs: map[chan Event]struct{}{}, log: log}
}

func (b *eventBus) emit(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	b.mu.Lock()
	b.seq++
	e.Seq = b.seq
	if len(b.recent) < eventHistory {
		b.recent = append(b.recent, e)
	} else {
		b.recent[(e.Seq-1)%eventHistory] = e
	}
	for ch := range b.subs {
		select {
		case ch <- e:
		default:
			b.dropped++ // the subscriber sees the gap in Seq
		}
	}
	b.mu.Unlock()
	b.logEvent(e)
}

func (b *eventBus) logEvent(e Event) {
	if !b.log.Enabled(context.Background(), e.Level) {
		return
	}
	attrs := make([]slog.Attr, 0, 6)
	attrs = append(attrs, slog.String("event", string(e.Type)))
	if e.Mount != "" {
		attrs = append(attrs, slog.String("mount", e.Mount))
	}
	if e.ID != 0 {
		attrs = append(attrs, slog.Uint64("id", e.ID))
	}
	if e.Addr != "" {
		attrs = append(attrs, slog.String("addr", e.Addr))
	}
	if e.Reason != ReasonNone {
		attrs = append(attrs, slog.String("reason", e.Reason.String()))
	}
	if e.Detail != "" {
		attrs = append(attrs, slog.String("detail", e.Detail))
	}
	b.log.LogAttrs(context.Background(), e.Level, e.Message, attrs...)
}

// since returns the kept events after seq, oldest first, at most n (n <= 0: all).
func (b *eventBus) since(seq uint64, n int) []Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Event
	first := uint64(1)
	if b.seq > uint64(len(b.recent)) {
		first = b.seq - uint64(len(b.recent)) + 1
	}
	if seq+1 > first {
		first = seq + 1
	}
	if n > 0 && b.seq >= first && b.seq-first+1 > uint64(n) {
		first = b.seq - uint64(n) + 1
	}
	for s := first; s <= b.seq; s++ {
		out = append(out, b.recent[(s-1)%eventHistory])
	}
	return out
}

func (b *eventBus) subscribe(buffer int) (<-chan Event, func()) {
	if buffer < 1 {
		buffer = 256
	}
	ch := make(chan Event, buffer)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, ch)
			b.mu.Unlock()
			close(ch)
		})
	}
}
