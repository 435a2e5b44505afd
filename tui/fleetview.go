package tui

import (
	"math"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/remote"
	"github.com/icedeck/icedeck/tui/common"
	"github.com/icedeck/icedeck/tui/servers"
)

// applyServers turns a poll's servers into the pane's lines, follows each
// one's bandwidth, and tells the mounts table which servers' figures are
// old and whether it needs its server column.
func (m *Model) applyServers(ss []serverState) {
	rows := make([]servers.Row, 0, len(ss))
	stale := map[string]bool{}
	m.down = 0
	for _, s := range ss {
		st := s.status
		row := servers.Row{Name: st.Name, Kind: string(st.Kind), Version: st.Version}
		if s.local {
			row.Kind = "local"
		}
		if st.Kind == remote.KindAuto {
			row.Kind = "?"
		}
		row.State, row.Level = serverStateWord(st)
		if row.Level == servers.Bad {
			m.down++
		}
		known := !st.LastOK.IsZero()
		row.Stale = known && st.State != remote.StateUp && st.State != remote.StateSlow
		if row.Stale {
			stale[st.Name] = true
		}
		row.Sources, row.Listeners, row.Out = "–", "–", "–"
		if known {
			row.Sources, row.Listeners = common.Count(s.sources), common.Count(s.listeners)
			if r := m.serverRate(st.Name, s); r >= 0 {
				row.Out = common.Rate(r) + "b/s"
			}
		}
		switch {
		case st.Err != "" && st.State != remote.StateUp:
			row.Note = st.Err
		case st.ReadOnly:
			row.Note = "read-only: no admin credentials"
		case st.Kind == remote.KindIcedeck && !s.local && !st.Events:
			row.Note = "event feed reconnecting"
		}
		rows = append(rows, row)
	}
	scope := m.fleet.Scope()
	m.servers.SetRows(rows, scope)
	m.mounts.SetServers(scope == "" && len(rows) > 1, stale)
}

// serverStateWord is the STATE cell: how the server answers, and for one
// that does not, since when.
func serverStateWord(st remote.Status) (string, servers.Level) {
	age := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return " " + common.Duration(time.Since(t).Truncate(time.Second))
	}
	switch st.State {
	case remote.StateUp:
		return "up", servers.OK
	case remote.StateSlow:
		return "slow " + st.Latency.Round(100*time.Millisecond).String(), servers.Waiting
	case remote.StateConnecting:
		return "connecting", servers.Waiting
	case remote.StateUnauthorized:
		code := "401"
		if !strings.Contains(st.Err, "401") && strings.Contains(st.Err, "403") {
			code = "403"
		}
		return code + " refused", servers.Bad
	case remote.StateUnreachable:
		return "unreachable" + age(st.Since), servers.Bad
	}
	return string(st.State) + age(st.Since), servers.Bad
}

// serverRate is a server's outgoing bits/s, smoothed over about two
// seconds from the bytes it counts, or estimated from its sources'
// bitrates when it does not count them (-1 when neither is told).
func (m *Model) serverRate(name string, s serverState) float64 {
	r := m.serverOut[name]
	switch {
	case s.unknown.Has(engine.UnknownBytes):
		if r == nil {
			r = &outRate{}
			m.serverOut[name] = r
		}
		r.bps = -1
		if s.estimate > 0 || !s.unknown.Has(engine.UnknownListeners) {
			r.bps = s.estimate
		}
		return r.bps
	case r == nil:
		m.serverOut[name] = &outRate{bytes: s.bytesOut, at: s.time, bps: s.estimate}
		return s.estimate
	}
	dt := s.time.Sub(r.at).Seconds()
	if dt <= 0 || s.bytesOut == r.bytes && dt < 10 {
		// Icecast adds up the bytes sent every few seconds, not at every
		// write: the rate is taken from one change to the next.
		return r.bps
	}
	if s.bytesOut < r.bytes { // restarted
		r.bytes, r.at, r.bps = s.bytesOut, s.time, s.estimate
		return r.bps
	}
	k := 1 - math.Exp(-dt/2)
	r.bps += (float64(s.bytesOut-r.bytes)*8/dt - r.bps) * k
	r.bytes, r.at = s.bytesOut, s.time
	return r.bps
}

// scopeTo shows only the named server's mounts (enter on the servers
// pane); "" shows every server's (0).
func (m *Model) scopeTo(name string) tea.Cmd {
	if m.fleet == nil {
		return nil
	}
	m.fleet.SetScope(name)
	m.inRate, m.outRate = -1, -1 // the header's sums change meaning
	m.prev, m.snap.Time = engine.Snapshot{}, time.Time{}
	if name == "" {
		m.setFlash("the mounts of all "+strconv.Itoa(m.servers.Len())+" servers", false)
	} else {
		m.setFlash("only "+name+"'s mounts (0 shows all servers)", false)
	}
	poll := m.poll()
	return func() tea.Msg {
		snap, _ := poll().(snapshotMsg)
		return resultMsg{snap: &snap}
	}
}

// fleetWord is the header's word on the fleet: how many servers and how
// many of them do not answer, or the one whose mounts are shown.
func (m *Model) fleetWord() string {
	if scope := m.fleet.Scope(); scope != "" {
		return "server " + scope + " (0: all)"
	}
	w := plural(m.servers.Len(), "server", "servers")
	if n := m.down; n > 0 {
		w += ", " + strconv.Itoa(n) + " down"
	}
	return w
}

// remoteScope is the remote server shown alone ("" for the local engine
// or all servers): the header's address and command are then its own.
func (m *Model) remoteScope() string {
	if m.fleet == nil {
		return ""
	}
	if scope := m.fleet.Scope(); scope != localName {
		return scope
	}
	return ""
}

// fleetRates are the header's in and out bits/s for the servers shown:
// out is what their lines say, in their sources' bitrates, measured or
// stated (-1 when none tells).
func (m *Model) fleetRates(snap engine.Snapshot) (in, out float64) {
	in, out = -1, -1
	scope := m.fleet.Scope()
	for name, r := range m.serverOut {
		if r.bps >= 0 && (scope == "" || scope == name) {
			out = max(out, 0) + r.bps
		}
	}
	for _, ms := range snap.Mounts {
		if ms.Source == nil {
			continue
		}
		if rate := sourceRate(ms.Source); rate > 0 {
			in = max(in, 0) + float64(rate)
		}
	}
	return in, out
}
