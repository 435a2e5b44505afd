package engine

import (
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
)

// EventReload reports a reload of the configuration: applied, or refused
// with the reason (the old settings then stay).
const EventReload EventType = "config.reload"

// Reconfigure replaces the settings in force with cfg, as a reload of the
// configuration file does, without disturbing live sources or listeners:
// passwords, limits, headers, mount settings, listener policy, relays,
// pushes, the master and the redirect take effect at once; a setting
// that cannot change while running (the listen addresses, the head size
// limit, the queue and ICY interval of a mount already live) keeps its
// value, and the event says so. A cfg that does not validate is refused
// whole and nothing changes.
func (s *Server) Reconfigure(cfg Config) error {
	old := s.cfg()
	// What only a restart changes; the queue and ICY interval apply to
	// mounts created from now on.
	var kept []string
	if len(cfg.Listen) > 0 && !slices.Equal(cfg.Listen, old.Listen) {
		kept = append(kept, "listen addresses")
	}
	cfg.Listen, cfg.MaxHeaderBytes = old.Listen, old.MaxHeaderBytes
	if cfg.Logger == nil {
		cfg.Logger = old.Logger
	}
	if err := fillDefaults(&cfg); err != nil {
		s.ReloadRefused(err)
		return err
	}
	if err := cfg.Validate(); err != nil {
		s.ReloadRefused(err)
		return err
	}
	if err := s.prepareReload(&cfg); err != nil {
		s.ReloadRefused(err)
		return err
	}

	s.mu.Lock()
	s.conf.Store(&cfg)
	mounts := make([]*mount, 0, len(s.mounts))
	for _, m := range s.mounts {
		mounts = append(mounts, m)
	}
	if !reflect.DeepEqual(old.Master, cfg.Master) {
		s.startMaster(cfg.Master)
	}
	if !reflect.DeepEqual(old.Redirect, cfg.Redirect) {
		s.startRedirect(cfg.Redirect)
	}
	s.mu.Unlock()
	for _, m := range mounts {
		m.configure(&cfg)
	}
	s.checkIntros() // a missing intro is said at reload, not at the next listener
	changed := s.reloadRelays(old.Relays, cfg.Relays)
	changed += s.reloadPushes(old.Pushes, cfg.Pushes)
	if old.Master != nil && cfg.Master == nil {
		for _, rs := range s.Relays() {
			if rs.FromMaster {
				_ = s.RemoveRelay(rs.Mount)
			}
		}
	}

	msg := "configuration reloaded"
	if changed > 0 {
		msg += fmt.Sprintf(" (%d relays or pushes restarted)", changed)
	}
	if len(kept) > 0 {
		msg += "; unchanged until a restart: " + strings.Join(kept, ", ")
	}
	s.Emit(Event{Type: EventReload, Level: slog.LevelInfo, Reason: ReasonStarted, Message: msg})
	return nil
}

// ReloadRefused reports a reload refused before it reached the engine (a
// file that does not parse) as Reconfigure reports its own refusals.
func (s *Server) ReloadRefused(err error) {
	detail := strings.ReplaceAll(err.Error(), "\n", "; ")
	s.Emit(Event{Type: EventReload, Level: slog.LevelError, Reason: ReasonBadRequest, Detail: detail,
		Message: "configuration not reloaded, the old settings stay: " + detail})
}

// prepareReload does the work a reload can fail at before anything is
// swapped: reading the certificate, which new handshakes then present.
// (Validate has compiled the listener policy.)
func (s *Server) prepareReload(cfg *Config) error {
	return s.reloadCertificate(cfg)
}

// reloadRelays stops the configured relays that went or changed and
// starts the new and changed ones; relays added at run time stay. It
// returns how many were restarted.
func (s *Server) reloadRelays(old, cur []RelayConfig) int {
	before := map[string]RelayConfig{}
	for _, rc := range old {
		before[rc.Mount] = rc
	}
	now := map[string]bool{}
	restarted := 0
	for _, rc := range cur {
		now[rc.Mount] = true
		prev, had := before[rc.Mount]
		if had && reflect.DeepEqual(prev, rc) {
			continue
		}
		if had {
			restarted++
		}
		_ = s.RemoveRelay(rc.Mount) // one added at run time on this mount gives way too
		if err := s.AddRelay(rc); err != nil {
			s.log.Error("relay not started", "mount", rc.Mount, "err", err)
		}
	}
	for _, rc := range old {
		if !now[rc.Mount] {
			_ = s.RemoveRelay(rc.Mount)
		}
	}
	return restarted
}

// reloadPushes does the same for pushes, which are identified by all of
// their settings.
func (s *Server) reloadPushes(old, cur []PushConfig) int {
	restarted := 0
	for _, pc := range old {
		if !slices.Contains(cur, pc) {
			s.removePush(pc)
			restarted++
		}
	}
	for _, pc := range cur {
		if !slices.Contains(old, pc) {
			if err := s.AddPush(pc); err != nil {
				s.log.Error("push not started", "mount", pc.Mount, "err", err)
			}
		}
	}
	return restarted
}

// removePush stops the push started with pc.
func (s *Server) removePush(pc PushConfig) {
	s.mu.Lock()
	var gone *push
	for i, p := range s.pushes {
		c := p.cfg
		c.Retry = pc.Retry // AddPush filled in the default
		if c == pc || p.cfg == pc {
			gone = p
			s.pushes = slices.Delete(s.pushes, i, i+1)
			break
		}
	}
	s.mu.Unlock()
	if gone != nil {
		gone.close()
	}
}

// startMaster replaces the mirror of a master server (mc nil: none).
// Called with s.mu held.
func (s *Server) startMaster(mc *MasterConfig) {
	if s.stopMaster != nil {
		close(s.stopMaster)
		s.stopMaster = nil
	}
	if mc == nil || s.closing {
		return
	}
	s.stopMaster = make(chan struct{})
	s.wg.Add(1)
	go s.mirror(*mc, s.stopMaster)
}

// startRedirect replaces the edge poller (rc nil: none). Called with s.mu
// held.
func (s *Server) startRedirect(rc *RedirectConfig) {
	if s.stopRedirect != nil {
		close(s.stopRedirect)
		s.stopRedirect = nil
	}
	if rc == nil || len(rc.Edges) == 0 || s.closing {
		s.redirect.mu.Lock()
		s.redirect.edges = nil
		s.redirect.mu.Unlock()
		return
	}
	s.stopRedirect = make(chan struct{})
	s.wg.Add(1)
	go s.pollEdges(*rc, s.stopRedirect)
}
