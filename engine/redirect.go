package engine

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Spreading listeners over edges: a listener's GET on the origin is
// answered 302 to the edge carrying that mount with the fewest listeners,
// as read from each edge's /status-json.xsl; the origin serves it itself
// when no edge can.

// RedirectConfig names the edges listeners are sent to.
type RedirectConfig struct {
	Edges   []string      // http://host:port of each edge
	Refresh time.Duration // how often the edges' listener counts are read (default 5 s)
}

const defaultRefresh = 5 * time.Second

func checkRedirect(rc *RedirectConfig) error {
	for _, e := range rc.Edges {
		u, err := url.Parse(e)
		if err != nil || u.Scheme != "http" || u.Host == "" {
			return fmt.Errorf("redirect: edge %q is not an http:// URL", e)
		}
	}
	if rc.Refresh < 0 {
		return fmt.Errorf("redirect: refresh %s is negative", rc.Refresh)
	}
	return nil
}

// edgeLoad is what an edge said last: its listeners per mount.
type edgeLoad struct {
	base   string
	alive  bool
	mounts map[string]int
}

type redirector struct {
	mu    sync.Mutex
	edges []edgeLoad
}

// pick returns the edge URL for a listener of mount, or "" to serve it here.
func (r *redirector) pick(mount string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	best, bestN := "", 0
	for _, e := range r.edges {
		n, ok := e.mounts[mount]
		if !e.alive || !ok {
			continue
		}
		if best == "" || n < bestN {
			best, bestN = e.base, n
		}
	}
	return best
}

// count adds a listener sent to an edge, until the next refresh reads it.
func (r *redirector) count(base, mount string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.edges {
		if r.edges[i].base == base {
			r.edges[i].mounts[mount]++
		}
	}
}

// pollEdges reads every edge's load until stop is closed.
func (s *Server) pollEdges(rc RedirectConfig, stop <-chan struct{}) {
	defer s.wg.Done()
	every := rc.Refresh
	if every == 0 {
		every = defaultRefresh
	}
	client := &http.Client{Timeout: min(every, dialTimeout)}
	for {
		loads := make([]edgeLoad, len(rc.Edges))
		var wg sync.WaitGroup
		for i, e := range rc.Edges {
			wg.Add(1)
			go func() {
				defer wg.Done()
				loads[i] = readEdge(client, strings.TrimRight(e, "/"))
			}()
		}
		wg.Wait()
		s.redirect.mu.Lock()
		select {
		case <-stop: // replaced or shut down while reading: what it read is stale
			s.redirect.mu.Unlock()
			return
		default:
		}
		for i, l := range loads {
			if i < len(s.redirect.edges) && s.redirect.edges[i].alive != l.alive {
				level, state := slog.LevelInfo, "up"
				if !l.alive {
					level, state = slog.LevelWarn, "unreachable: its listeners are served here"
				}
				s.Emit(Event{Type: EventRelay, Level: level, Detail: l.base, Message: fmt.Sprintf("edge %s %s", l.base, state)})
			}
		}
		s.redirect.edges = loads
		s.redirect.mu.Unlock()
		select {
		case <-stop:
			return
		case <-time.After(every):
		}
	}
}

// readEdge reads an Icecast-compatible server's /status-json.xsl. Its
// "source" is absent, one object, or an array of them (Icecast's quirk).
func readEdge(client *http.Client, base string) edgeLoad {
	l := edgeLoad{base: base, mounts: map[string]int{}}
	resp, err := client.Get(base + "/status-json.xsl")
	if err != nil {
		return l
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return l
	}
	var doc struct {
		Icestats struct {
			Source json.RawMessage `json:"source"`
		} `json:"icestats"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&doc); err != nil {
		return l
	}
	type src struct {
		ListenURL string `json:"listenurl"`
		Listeners int    `json:"listeners"`
	}
	var list []src
	if raw := doc.Icestats.Source; len(raw) > 0 {
		if raw[0] == '[' {
			_ = json.Unmarshal(raw, &list)
		} else {
			var one src
			if json.Unmarshal(raw, &one) == nil {
				list = append(list, one)
			}
		}
	}
	for _, s := range list {
		if u, err := url.Parse(s.ListenURL); err == nil && u.Path != "" {
			l.mounts[u.Path] = s.Listeners
		}
	}
	l.alive = true
	return l
}

// redirectTarget is where a listener's request should go instead, or "".
// A request with credentials (an edge or a relay pulling) or from a relay
// is always served here: an edge must never be sent to itself.
func (s *Server) redirectTarget(r *http.Request) string {
	if s.cfg().Redirect == nil || r.Header.Get("Authorization") != "" {
		return ""
	}
	ua := r.UserAgent()
	if strings.HasPrefix(ua, "Icecast") || strings.Contains(ua, " relay") {
		return ""
	}
	base := s.redirect.pick(r.URL.Path)
	if base == "" {
		return ""
	}
	s.redirect.count(base, r.URL.Path)
	target := base + r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	return target
}
