package engine

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// MasterConfig mirrors every mount of another server, as an Icecast edge
// does with <master-server>: its stream list is read every UpdateInterval
// and each listed mount is relayed under the same name.
type MasterConfig struct {
	URL            string // http://host:port of the master
	User, Password string // its relay credentials (Icecast's default user is "relay")
	UpdateInterval time.Duration
	OnDemand       bool // relay a mount only while it has listeners
	ICYMetadata    bool
}

const defaultMasterInterval = 30 * time.Second

func checkMaster(mc *MasterConfig) error {
	pu, err := url.Parse(mc.URL)
	if err != nil || pu.Scheme != "http" || pu.Host == "" {
		return fmt.Errorf("master: %q is not an http:// URL", mc.URL)
	}
	if mc.UpdateInterval < 0 {
		return fmt.Errorf("master: update interval %s is negative", mc.UpdateInterval)
	}
	return nil
}

// mirror polls the master until the server shuts down.
func (s *Server) mirror(mc MasterConfig, stop <-chan struct{}) {
	defer s.wg.Done()
	every := mc.UpdateInterval
	if every == 0 {
		every = defaultMasterInterval
	}
	base := strings.TrimRight(mc.URL, "/")
	client := &http.Client{Timeout: dialTimeout * 2}
	failing := false
	for {
		mounts, err := streamList(client, base, mc.User, mc.Password)
		if err != nil {
			if !failing { // one event per outage, not one per poll
				s.Emit(Event{Type: EventRelay, Level: slog.LevelWarn, Reason: ReasonReadError, Detail: err.Error(),
					Message: fmt.Sprintf("master %s: stream list unavailable: %v", redact(base), err)})
			}
			failing = true
		} else {
			failing = false
			s.syncMirror(base, mc, mounts)
		}
		select {
		case <-stop:
			return
		case <-time.After(every):
		}
	}
}

// streamList reads a master's /admin/streamlist.txt: one mount a line.
func streamList(client *http.Client, base, user, pass string) ([]string, error) {
	req, err := http.NewRequest(http.MethodGet, base+"/admin/streamlist.txt", nil)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(user, pass)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("master answered %s", resp.Status)
	}
	var mounts []string
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 1<<20))
	for sc.Scan() {
		if m := strings.TrimSpace(sc.Text()); CheckMountName(m) == nil {
			mounts = append(mounts, m)
		}
	}
	return mounts, sc.Err()
}

// syncMirror relays every listed mount and stops relaying those gone from
// the list. Mounts with a local source or a relay of their own are left.
func (s *Server) syncMirror(base string, mc MasterConfig, mounts []string) {
	listed := map[string]bool{}
	for _, m := range mounts {
		listed[m] = true
		if s.relayFor(m) != nil || s.lookup(m) != nil {
			continue // relayed already, or fed by a source of our own
		}
		u, _ := url.Parse(base + m)
		if mc.User != "" || mc.Password != "" {
			u.User = url.UserPassword(mc.User, mc.Password)
		}
		if err := s.addRelay(RelayConfig{Mount: m, Upstreams: []string{u.String()}, OnDemand: mc.OnDemand, ICYMetadata: mc.ICYMetadata}, true); err != nil {
			s.log.Warn("master: mount not mirrored", "mount", m, "err", err)
		}
	}
	for _, rs := range s.Relays() {
		if rs.FromMaster && !listed[rs.Mount] {
			_ = s.RemoveRelay(rs.Mount)
		}
	}
}
