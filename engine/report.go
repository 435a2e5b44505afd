package engine

import (
	"sync"
	"time"

	"github.com/icedeck/icedeck/engine/frame"
)

// Session is one source connection from start to end: what it sent and
// what the relay made of it.
type Session struct {
	Mount             string            `json:"mount"`
	SourceID          uint64            `json:"source_id"`
	Addr              string            `json:"addr"`
	UserAgent         string            `json:"user_agent"`
	Method            string            `json:"method"`
	Headers           map[string]string `json:"headers,omitempty"` // the request's, Authorization aside
	ContentType       string            `json:"content_type"`
	Started           time.Time         `json:"started"`
	Ended             time.Time         `json:"ended,omitzero"`
	Reason            Reason            `json:"end_reason,omitempty"`
	Bytes             uint64            `json:"bytes"`
	SHA256            string            `json:"sha256"`
	Wall              time.Duration     `json:"-"`
	WallSeconds       float64           `json:"wall_seconds"`
	AudioSeconds      float64           `json:"audio_seconds"`
	Realtime          float64           `json:"realtime_ratio"`
	Stalls            int               `json:"stalls"`
	LongestGap        time.Duration     `json:"-"`
	LongestGapSeconds float64           `json:"longest_gap_seconds"` // the longest wait between two reads of the source
	Frames            frame.Stats       `json:"frames"`
	ListenersServed   int               `json:"listeners_served"`
	ListenerPeak      int               `json:"listener_peak"`
}

type sessionLog struct {
	mu   sync.Mutex
	list []Session
}

const maxSessions = 10000

func (s *Server) recordSession(m *mount, ss *SourceSnapshot, now time.Time, reason Reason) {
	m.mu.Lock()
	served, peak := m.served, m.peak
	m.mu.Unlock()
	se := sessionFrom(m.name, ss, now, served, peak)
	se.Ended, se.Reason = now, reason
	s.sessions.mu.Lock()
	if len(s.sessions.list) >= maxSessions {
		s.sessions.list = s.sessions.list[1:]
	}
	s.sessions.list = append(s.sessions.list, se)
	s.sessions.mu.Unlock()
}

func sessionFrom(mount string, ss *SourceSnapshot, now time.Time, served, peak int) Session {
	wall := now.Sub(ss.Connected)
	return Session{
		Mount: mount, SourceID: ss.ID, Addr: ss.Addr, UserAgent: ss.UserAgent, Method: ss.Method,
		ContentType: ss.ContentType, Started: ss.Connected, Bytes: ss.BytesIn, SHA256: ss.SHA256,
		Wall: wall, WallSeconds: wall.Seconds(), AudioSeconds: ss.Frames.Duration.Seconds(), Realtime: ss.Realtime,
		Stalls: ss.Stalls, LongestGap: ss.LongestGap, LongestGapSeconds: ss.LongestGap.Seconds(), Headers: ss.Headers,
		Frames: ss.Frames, ListenersServed: served, ListenerPeak: peak,
	}
}

// Sessions returns every source session seen, ended ones first in order
// of ending, then those still connected.
func (s *Server) Sessions() []Session {
	s.sessions.mu.Lock()
	out := append([]Session(nil), s.sessions.list...)
	s.sessions.mu.Unlock()
	now := time.Now()
	for _, ms := range s.Snapshot().Mounts {
		if ms.Source != nil {
			out = append(out, sessionFrom(ms.Name, ms.Source, now, 0, ms.ListenerPeak))
		}
	}
	return out
}
