package control

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/engine/apidoc"
)

// events streams the engine's events as Server-Sent Events. A client that
// reconnects with Last-Event-ID (or ?last_event_id=) first gets the kept
// events it missed.
func (h *Handler) events(w http.ResponseWriter, r *http.Request, s Engine) {
	rc := http.NewResponseController(w)
	// The engine's server bounds every request with a read deadline; this
	// stream is meant to last, and a read error would cancel its context.
	// (Go 1.26's net/http clears the deadline itself when it starts its
	// background read; this does not rely on that.) The engine's
	// connection sets a deadline on every write, so a client that stops
	// reading is still dropped.
	_ = rc.SetReadDeadline(time.Time{})
	h.streams.Add(1)
	h.streamsOpened.Add(1)
	defer h.streams.Add(-1)
	// Subscribe before replaying, so nothing falls between the two.
	ch, cancel := s.Subscribe(512)
	defer cancel()

	var last uint64
	resume := false
	idStr := r.Header.Get("Last-Event-ID")
	if idStr == "" {
		idStr = r.URL.Query().Get("last_event_id")
	}
	if idStr != "" {
		if v, err := strconv.ParseUint(idStr, 10, 64); err == nil {
			last, resume = v, true
		}
	}

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no") // nginx: do not buffer the feed
	w.WriteHeader(http.StatusOK)

	write := func(e engine.Event) bool {
		b, _ := json.Marshal(apidoc.NewEvent(e))
		if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Type, b); err != nil {
			return false
		}
		last = e.Seq
		return true
	}
	// retry: tells EventSource how soon to reconnect.
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil {
		return
	}
	if resume {
		for _, e := range s.EventsSince(last) {
			if !write(e) {
				return
			}
		}
	}
	if rc.Flush() != nil {
		return
	}
	tick := time.NewTicker(h.opts.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-h.done:
			return
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case e, ok := <-ch:
			if !ok {
				return
			}
			if e.Seq <= last {
				continue // already replayed
			}
			if last != 0 && e.Seq > last+1 {
				// This subscriber fell behind and missed some: fill the
				// gap from the kept history.
				for _, m := range s.EventsSince(last) {
					if m.Seq >= e.Seq {
						break
					}
					if !write(m) {
						return
					}
				}
			}
			if !write(e) || rc.Flush() != nil {
				return
			}
		}
	}
}
