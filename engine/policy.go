package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode"
)

// Icecast's listener policy: <deny-ip>, <allow-ip> and <deny-agents>, and
// its <alias> paths. The addresses are checked for every request once its
// head is read (the client's address may come from X-Forwarded-For, which
// needs the head), the user agents for every GET and HEAD: what players,
// and the bots the lists are kept against, send.

// dropIn is the Server's state for the Icecast drop-in features: the
// compiled listener policy, the cache of intro and fallback files, and
// the file fallbacks being played.
type dropIn struct {
	policy atomic.Pointer[policy]
	media  mediaCache
	files  fileFeeds
}

// policy is Config's listener policy compiled for lookups. It belongs to
// the *Config it was made from: a reload swaps the configuration whole,
// and the next request compiles the new one's (listenerPolicy).
type policy struct {
	cfg *Config

	denyAddrs, allowAddrs map[netip.Addr]bool // single addresses: one lookup however long the list
	denyNets, allowNets   []netip.Prefix
	allowAny              bool // AllowIPs is empty

	agents    map[string]bool // lower-case agents matched whole
	agentGlob [][]string      // lower-case patterns with *, split at the stars
	globText  []string        // the patterns as configured, for the refusal's detail
}

// compilePolicy checks and compiles cfg's listener policy. Validate calls
// it, so a configuration with a bad pattern is refused whole, at load as
// at reload.
func compilePolicy(cfg *Config) (*policy, error) {
	p := &policy{cfg: cfg, denyAddrs: map[netip.Addr]bool{}, allowAddrs: map[netip.Addr]bool{}, agents: map[string]bool{},
		allowAny: len(cfg.AllowIPs) == 0}
	split := func(list []netip.Prefix, addrs map[netip.Addr]bool, nets *[]netip.Prefix) {
		for _, pf := range list {
			if pf.Addr().Is4In6() && pf.Bits() >= 96 { // ::ffff:a.b.c.d/n: clients are compared unmapped
				pf = netip.PrefixFrom(pf.Addr().Unmap(), pf.Bits()-96)
			}
			pf = pf.Masked()
			if pf.IsSingleIP() {
				addrs[pf.Addr()] = true
			} else {
				*nets = append(*nets, pf)
			}
		}
	}
	split(cfg.DenyIPs, p.denyAddrs, &p.denyNets)
	split(cfg.AllowIPs, p.allowAddrs, &p.allowNets)
	var errs []error
	for i, a := range cfg.DenyAgents {
		switch {
		case strings.TrimSpace(a) == "":
			errs = append(errs, fmt.Errorf("deny-agents entry %d is empty", i+1))
			continue
		case strings.ContainsFunc(a, unicode.IsControl):
			errs = append(errs, fmt.Errorf("deny-agents entry %d (%q) has a control character", i+1, a))
			continue
		}
		lower := strings.ToLower(a)
		if !strings.Contains(lower, "*") {
			p.agents[lower] = true
			continue
		}
		p.agentGlob = append(p.agentGlob, strings.Split(lower, "*"))
		p.globText = append(p.globText, a)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// listenerPolicy is the policy of the configuration in force, compiled
// at its first use (Validate has checked it compiles).
func (s *Server) listenerPolicy() *policy {
	c := s.cfg()
	if p := s.dropIn.policy.Load(); p != nil && p.cfg == c {
		return p
	}
	p, err := compilePolicy(c)
	if err != nil { // only a Config that skipped Validate: refuse nobody on its account
		p = &policy{cfg: c, allowAny: true}
	}
	s.dropIn.policy.Store(p)
	return p
}

// addrRefused says why a is refused ("" when it is not).
func (p *policy) addrRefused(a netip.Addr) string {
	a = a.Unmap()
	if p.denyAddrs[a] {
		return "deny-ip " + a.String()
	}
	for _, pf := range p.denyNets {
		if pf.Contains(a) {
			return "deny-ip " + pf.String()
		}
	}
	if p.allowAny || p.allowAddrs[a] {
		return ""
	}
	for _, pf := range p.allowNets {
		if pf.Contains(a) {
			return ""
		}
	}
	return "not in allow-ip"
}

// agentRefused says which deny-agents entry ua matches ("" for none).
func (p *policy) agentRefused(ua string) string {
	if len(p.agents) == 0 && len(p.agentGlob) == 0 {
		return ""
	}
	lower := strings.ToLower(ua)
	if p.agents[lower] {
		return "deny-agents " + strconv.Quote(lower)
	}
	for i, parts := range p.agentGlob {
		if globMatch(parts, lower) {
			return "deny-agents " + strconv.Quote(p.globText[i])
		}
	}
	return ""
}

// globMatch matches s against a pattern split at its stars, each star
// standing for any run of characters.
func globMatch(parts []string, s string) bool {
	if len(parts) == 1 {
		return s == parts[0]
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := len(parts) - 1
	for _, part := range parts[1:last] {
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s = s[i+len(part):]
	}
	return strings.HasSuffix(s, parts[last])
}

// refusal says why the policy refuses a request from addr ("" when it
// does not).
func (s *Server) refusal(addr string, req *http.Request) string {
	p := s.listenerPolicy()
	if a := addrOf(addr); a.IsValid() {
		if why := p.addrRefused(a); why != "" {
			return why
		}
	}
	if req.Method == http.MethodGet || req.Method == http.MethodHead {
		return p.agentRefused(req.UserAgent())
	}
	return ""
}

// denied answers 403 to a request the listener policy refuses, through
// the one ending path, and reports whether it did. addr is the client's
// address (after X-Forwarded-For).
func (s *Server) denied(c net.Conn, req *http.Request, addr string) bool {
	why := s.refusal(addr, req)
	if why == "" {
		return false
	}
	s.totals.requests.Add(1)
	s.finish(c, s.denial(req, addr, why))
	return true
}

// deniedHTTP is denied for a request net/http read on a kept-alive
// connection.
func (s *Server) deniedHTTP(w http.ResponseWriter, r *http.Request) bool {
	addr := s.clientAddr(r.RemoteAddr, r.Header)
	why := s.refusal(addr, r)
	if why == "" {
		return false
	}
	e := s.denial(r, addr, why)
	s.note(e)
	w.Header().Set("Connection", "close")
	http.Error(w, strings.TrimSuffix(e.body, "\n"), e.status)
	return true
}

func (s *Server) denial(req *http.Request, addr, why string) ending {
	return ending{kind: KindRequest, reason: ReasonDenied, detail: why, level: slog.LevelInfo, event: EventRequestRejected, addr: addr,
		message: fmt.Sprintf("%s %s from %s (user agent %q) refused (403): %s", req.Method, strconv.Quote(req.URL.Path), addr, req.UserAgent(), why),
		request: requestLine(req), referer: req.Referer(), ua: req.UserAgent(), status: http.StatusForbidden, answer: true, body: "Forbidden\n"}
}

// aliased is the path a GET or HEAD for path is served as: Icecast's
// <alias source="/" destination="/status.xsl"/>, applied once, before
// the mount lookup.
func (s *Server) aliased(path string) string {
	if to, ok := s.cfg().Aliases[path]; ok && to != "" {
		return to
	}
	return path
}
