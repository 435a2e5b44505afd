package engine

import "log/slog"

// EventBus is the server's event feed on its own, for a program that
// gives events from elsewhere the way the server does (a remote server's
// client): Seq increases by one per event, the latest are kept, and
// subscribers are never waited for.
type EventBus struct{ b *eventBus }

// NewEventBus returns an empty feed that logs each event to log (nil:
// nowhere).
func NewEventBus(log *slog.Logger) *EventBus {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &EventBus{newEventBus(log)}
}

// Emit numbers e (and stamps it, when its Time is zero), keeps it and
// hands it to the subscribers.
func (e *EventBus) Emit(ev Event) { e.b.emit(ev) }

// Subscribe is Server.Subscribe.
func (e *EventBus) Subscribe(buffer int) (<-chan Event, func()) { return e.b.subscribe(buffer) }

// Events is Server.Events.
func (e *EventBus) Events(n int) []Event { return e.b.since(0, n) }

// EventsSince is Server.EventsSince.
func (e *EventBus) EventsSince(seq uint64) []Event { return e.b.since(seq, 0) }
