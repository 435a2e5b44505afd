package engine

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// A mount's life: sources attach and leave, listeners are held in grace,
// fall back to other mounts and come home.

// attachSource puts src on mount name, creating the mount or resuming one
// held in grace. It returns why it cannot.
func (s *Server) attachSource(src *source, name string) (*mount, Reason, string) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil, ReasonShuttingDown, ""
	}
	if s.sources >= s.cfg().MaxSources {
		s.mu.Unlock()
		return nil, ReasonTooManySources, fmt.Sprintf("limit %d", s.cfg().MaxSources)
	}
	var ended *mount
	resumed := false
	m := s.mounts[name]
	if m != nil {
		m.mu.Lock()
		switch {
		case m.source != nil:
			m.mu.Unlock()
			s.mu.Unlock()
			return nil, ReasonMountBusy, "a source is already connected"
		case m.contentType != src.contentType:
			// Held listeners cannot follow a change of format.
			m.graceTimer.Stop()
			m.mu.Unlock()
			delete(s.mounts, name)
			ended, m = m, nil
		default:
			m.graceTimer.Stop()
			m.graceUntil = time.Time{}
			m.source = src
			m.setHeads(s, src)
			m.mu.Unlock()
			resumed = true
		}
	}
	if m == nil {
		m = newMount(s, name)
		m.start()
		m.source = src
		m.contentType = src.contentType
		m.setHeads(s, src)
		s.mounts[name] = m
		s.callHome(m)
	}
	src.mount = m
	s.sources++
	s.mu.Unlock()
	s.totals.sources.Add(1)
	if src.method == "RELAY" {
		s.totals.relays.Add(1)
	}

	if ended != nil {
		ended.finish()
	}
	if !resumed && m.cfg.DumpFile != "" {
		_, _ = s.record(m, true) // a failure is reported as an event
	}
	if t := src.headers["Ice-Title"]; t != "" {
		s.setTitle(m, t, "", "source headers")
	}
	msg := fmt.Sprintf("source %d connected to %s from %s (%s %s, %q)", src.id, name, src.addr, src.method, src.contentType, src.ua)
	s.Emit(Event{Type: EventSourceConnected, Level: slog.LevelInfo, Mount: name, ID: src.id, Addr: src.addr, Message: msg})
	s.sourceHooks(m, true)
	if resumed {
		s.Emit(Event{Type: EventMountResumed, Level: slog.LevelInfo, Mount: name, ID: src.id, Addr: src.addr,
			Message: fmt.Sprintf("%s resumed: held listeners continue", name)})
	}
	return m, ReasonNone, ""
}

// detachSource takes a finished source off its mount: the listeners are
// held for the mount's grace period, or drain what is buffered and go.
func (s *Server) detachSource(src *source, reason Reason) {
	// Closed once the mount is free: a client that sees the close and
	// connects again (a resuming one) must not find its mount busy.
	defer src.conn.Close()
	m := src.mount
	s.mu.Lock()
	s.sources--
	closing := s.closing
	s.mu.Unlock()
	now := time.Now()
	ss := src.snapshot(now)
	ss.Ice = s.mountIce(m.name, ss.Ice)
	m.recordDisconnect(Disconnect{Time: now, ID: src.id, Addr: src.addr, Source: true, Reason: reason, Duration: now.Sub(src.connected), Bytes: ss.BytesIn})
	s.recordSession(m, ss, now, reason)
	level := slog.LevelInfo
	if reason != ReasonClientClosed && reason != ReasonShutdown {
		level = slog.LevelWarn
	}
	s.note(ending{kind: KindSource, reason: reason, level: level, event: EventSourceLeft, mount: m.name, id: src.id, addr: src.addr,
		message: fmt.Sprintf("source %d left %s: %s after %s; %d bytes, %d frames, %d sync losses, sha256 %s",
			src.id, m.name, reason, now.Sub(src.connected).Round(time.Millisecond), ss.BytesIn, ss.Frames.Frames, ss.Frames.SyncLosses, ss.SHA256),
		request: src.request, user: s.cfg().SourceUser, ua: src.ua, status: http.StatusOK, bytes: ss.BytesIn, dur: now.Sub(src.connected)})
	s.sourceHooks(m, false)

	m.mu.Lock()
	m.source = nil
	grace := m.cfg.Grace
	if reason != ReasonKicked && reason != ReasonIdle {
		grace = max(grace, src.hold)
	}
	if grace > 0 && !closing && reason != ReasonIdle {
		m.graceUntil = now.Add(grace)
		m.graceTimer = time.AfterFunc(grace, func() { s.expireGrace(m) })
		n := len(m.listeners)
		m.mu.Unlock()
		m.wake()
		s.Emit(Event{Type: EventMountGrace, Level: slog.LevelWarn, Mount: m.name,
			Message: fmt.Sprintf("%s has no source: holding %d listeners for %s", m.name, n, grace)})
		return
	}
	m.mu.Unlock()
	s.removeMount(m)
}

func (s *Server) expireGrace(m *mount) {
	s.mu.Lock()
	m.mu.Lock()
	// Shutdown ends held mounts itself; a timer firing during it must not
	// work on after Shutdown has returned, so it counts in the wait group,
	// joined while shutdown has not begun.
	if m.source != nil || s.mounts[m.name] != m || s.closing {
		m.mu.Unlock()
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	m.mu.Unlock()
	s.mu.Unlock()
	defer s.wg.Done()
	s.removeMount(m)
}

func (s *Server) removeMount(m *mount) {
	s.startFileFallback(m)
	s.mu.Lock()
	if s.mounts[m.name] == m {
		delete(s.mounts, m.name)
	}
	fb := s.fallbackFor(m)
	s.mu.Unlock()
	if fb != nil {
		n := m.sendListeners(fb, !m.settings().FallbackStay)
		s.Emit(Event{Type: EventMountFallback, Level: slog.LevelWarn, Mount: m.name,
			Message: fmt.Sprintf("%s has no source: %d listeners move to %s", m.name, n, fb.name)})
	}
	m.finish()
	s.Emit(Event{Type: EventMountRemoved, Level: slog.LevelInfo, Mount: m.name,
		Message: fmt.Sprintf("%s removed; its listeners get what is buffered, then close", m.name)})
}

// fallbackFor returns the first live mount on m's fallback chain that
// carries the same content type, or nil. s.mu must be held.
func (s *Server) fallbackFor(m *mount) *mount {
	name := m.cfg.Fallback
	for depth := 0; name != "" && depth < 16; depth++ {
		if fb := s.mounts[name]; fb != nil && fb != m && !fb.ended.Load() {
			fb.mu.Lock()
			ok := fb.contentType == m.contentType
			fb.mu.Unlock()
			if ok {
				return fb
			}
		}
		name = s.cfg().Mounts[name].Fallback
	}
	return nil
}

// callHome sends listeners that fell back from m's name back to m, now that
// a source feeds it again. s.mu must be held.
func (s *Server) callHome(m *mount) {
	for _, x := range s.mounts {
		if x == m {
			continue
		}
		x.mu.Lock()
		for _, l := range x.listeners {
			if l.home == m.name && x.contentType == m.contentType {
				l.moveTo.CompareAndSwap(nil, m)
			}
		}
		x.mu.Unlock()
		for _, sh := range x.shards {
			sh.poke()
		}
	}
}

// adopt re-homes a listener that left its shard to move to another mount.
func (s *Server) adopt(l *listener) {
	from, to := l.mount, l.moveTo.Load()
	from.removeListener(l)
	from.recordDisconnect(Disconnect{Time: time.Now(), ID: l.id, Addr: l.addr, Reason: ReasonMoved, Duration: time.Since(l.connectedAt()), Bytes: l.bytesSent.Load()})
	l.mount = to
	l.moveTo.Store(nil)
	if l.home == to.name {
		l.home = ""
	}
	l.metaGen = 0 // send the new mount's title at the next block
	st := to.startFor(1)
	l.pending[1] = st.headers
	l.placeAt(st)
	l.lastProgress = monoAt(time.Now())
	if why, _ := to.addListener(l); why != ReasonNone {
		s.closeListener(l, ReasonSourceEnded)
		return
	}
	s.Emit(Event{Type: EventListenerMoved, Level: slog.LevelInfo, Mount: to.name, ID: l.id, Addr: l.addr, Reason: ReasonMoved,
		Message: fmt.Sprintf("listener %d moved from %s to %s", l.id, from.name, to.name)})
}
