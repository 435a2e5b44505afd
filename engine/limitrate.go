package engine

import (
	"fmt"
	"log/slog"
	"time"
)

// Icecast's <limit-rate>: a source sending faster than its mount's limit
// is read no faster. A token bucket of a second's worth lets a source
// that fell behind catch up a little, never more; reads are cut to a
// tenth of a second's worth, so each wait is short and a kicked or
// shut-down source is noticed at once.

// sourceLimit paces one source's reads; nil when its mount sets no limit.
type sourceLimit struct {
	s       *Server
	src     *source
	rate    int       // bits a second; re-read from the mount's settings each second
	checked time.Time // when rate was read
	tokens  float64   // bytes that may be read now; negative: owed
	last    time.Time
	noted   bool // the event saying the source is held back was emitted
}

// newSourceLimit returns the pacing of src's reads.
func (s *Server) newSourceLimit(src *source) *sourceLimit {
	now := time.Now()
	sl := &sourceLimit{s: s, src: src, checked: now, last: now}
	sl.rate = src.limitRate()
	sl.tokens = float64(sl.rate / 8)
	return sl
}

// window cuts a read buffer to what the limit lets through at once.
func (sl *sourceLimit) window(b []byte) []byte {
	if sl.rate <= 0 {
		return b
	}
	return b[:min(len(b), max(sl.rate/80, 512))]
}

// took accounts n bytes read, then waits until the rate allows the next
// read.
func (sl *sourceLimit) took(n int) {
	now := time.Now()
	if now.Sub(sl.checked) >= time.Second { // a reload may have changed it
		sl.checked = now
		sl.rate = sl.src.limitRate()
	}
	if sl.rate <= 0 {
		return
	}
	perSec := float64(sl.rate) / 8
	sl.tokens = min(sl.tokens+now.Sub(sl.last).Seconds()*perSec, perSec) - float64(n)
	sl.last = now
	if sl.tokens >= 0 {
		return
	}
	if !sl.noted {
		sl.noted = true
		m := sl.src.mount
		sl.s.Emit(Event{Type: EventWarning, Level: slog.LevelInfo, Mount: m.name, ID: sl.src.id, Addr: sl.src.addr, Detail: "limit-rate",
			Message: fmt.Sprintf("source %d on %s sends faster than its limit of %d bit/s: it is read no faster", sl.src.id, m.name, sl.rate)})
	}
	time.Sleep(time.Duration(-sl.tokens / perSec * float64(time.Second)))
}
