// Package control is icedeck's control plane over HTTP: Icecast's admin
// API and status-json.xsl, icedeck's own JSON API and live event feed, and
// Prometheus metrics. It serves the engine's non-stream requests
// (engine.Server.Handle) through the narrow Engine interface.
package control

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options configure a Handler. Zero values take the defaults noted.
type Options struct {
	Logger *slog.Logger
	// AdminAllow, when not empty, limits /admin/* and /api/v1/* to client
	// addresses inside one of these ranges; others get 403.
	// /status-json.xsl, /metrics, /health and the stream list edges read
	// (/admin/streamlist.txt, /admin/streams) stay open.
	AdminAllow []netip.Prefix

	// Shown in status documents as Icecast does ("admin", "host",
	// "location"). Host also builds listen URLs; "" uses the request's Host.
	Admin    string
	Host     string
	Location string

	// AdminUser and AdminPassword open every admin command; with no
	// password, only a mount's source credentials open that mount's.
	AdminUser, AdminPassword string

	// RelayUser and RelayPassword let edge servers read the stream list
	// (/admin/streamlist.txt, /admin/streams), as Icecast's
	// <relay-user>/<relay-password>. RelayUser defaults to "relay"; with
	// no password only the admin credentials open the list.
	RelayUser, RelayPassword string

	// MaxAuthFailures wrong logins from one address within AuthWindow
	// block it (429) for AuthWindow. Defaults: 10 and one minute.
	MaxAuthFailures int
	AuthWindow      time.Duration

	// APICORS are the origins a browser may call /api/v1 from (Icecast
	// platforms' panels); none by default.
	APICORS []string

	// Reload rereads the configuration for POST /api/v1/reload (nil: the
	// endpoint answers 501). Its error is reported as it is.
	Reload func() error

	// Audio is what the audio analysis measured on a mount, for the
	// "audio" object of /api/v1 mounts and the audio metrics (nil, or
	// false for a mount: none). The command wires it to the analysis,
	// which the control plane does not import.
	Audio func(mount string) (engine.AudioStats, bool)

	// Heartbeat is the interval of SSE comments that keep idle proxies
	// from closing /api/v1/events. Default 15 s.
	Heartbeat time.Duration
}

// Engine is what the control plane needs of a relay. *engine.Server is
// one; the control plane never reaches further into it.
type Engine interface {
	Config() engine.Config
	Summary() engine.Snapshot  // counts, without listener lists
	Snapshot() engine.Snapshot // with every listener
	Mount(name string) (engine.MountSnapshot, bool)
	SetTitle(mount, title, url string) error
	KickListener(mount string, id uint64) error
	KickSource(mount string) error
	MoveListeners(from, to string, ids []uint64) (int, error)
	StartRecording(mount string) (string, error)
	StopRecording(mount string) error
	Recording(mount string) bool
	Subscribe(buffer int) (<-chan engine.Event, func())
	EventsSince(seq uint64) []engine.Event
	Emit(engine.Event)
	AddRelay(engine.RelayConfig) error
	RemoveRelay(mount string) error
	Relays() []engine.RelayStatus
	Pushes() []engine.PushStatus
	ShuttingDown() bool
}

// Handler serves the control plane of one engine: give it to the
// engine's Handle.
type Handler struct {
	// opts are the options New was given, defaults filled in. Of them
	// only Logger, MaxAuthFailures, AuthWindow and Heartbeat are read
	// from here (Reconfigure keeps those); every other setting is read
	// through o(), which Reconfigure replaces.
	opts    Options
	live    atomic.Pointer[Options]
	log     *slog.Logger
	eng     Engine
	limiter *engine.LoginLimiter
	metrics http.Handler

	reloading sync.Mutex    // one Options.Reload at a time
	done      chan struct{} // closed by Close: ends event streams
	closeOnce sync.Once

	streams       atomic.Int64  // event streams open now (Icecast's "stats")
	streamsOpened atomic.Uint64 // event streams ever opened ("stats_connections")
}

// New returns the control plane of eng.
func New(eng Engine, opts Options) *Handler {
	opts = withDefaults(opts)
	h := &Handler{
		opts:    opts,
		log:     opts.Logger,
		eng:     eng,
		limiter: engine.NewLoginLimiter(opts.MaxAuthFailures, opts.AuthWindow),
		done:    make(chan struct{}),
	}
	h.live.Store(&opts)
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&collector{h: h},
	)
	h.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
		// A metric that cannot be gathered is logged and left out; the
		// scrape goes on, so one bad value never costs all the others.
		ErrorHandling: promhttp.ContinueOnError,
	})
	return h
}

func withDefaults(opts Options) Options {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxAuthFailures <= 0 {
		opts.MaxAuthFailures = 10
	}
	if opts.AuthWindow <= 0 {
		opts.AuthWindow = time.Minute
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 15 * time.Second
	}
	if opts.Location == "" {
		opts.Location = "Earth"
	}
	if opts.AdminUser == "" {
		opts.AdminUser = "admin"
	}
	if opts.RelayUser == "" {
		opts.RelayUser = "relay"
	}
	return opts
}

// o returns the options in force. A request reads them once, so it sees
// one whole set even when Reconfigure replaces them meanwhile.
func (h *Handler) o() *Options { return h.live.Load() }

// Reconfigure puts o in force for the requests that come after it, as a
// reload of the configuration does: credentials, AdminAllow, the host,
// location and admin shown, APICORS and Reload. Requests under way, and
// event streams already open, go on as they are. The logger, the login
// limiter (with the addresses it has blocked) and the heartbeat stay
// those New was given.
func (h *Handler) Reconfigure(o Options) {
	o.Logger, o.MaxAuthFailures, o.AuthWindow, o.Heartbeat = h.opts.Logger, h.opts.MaxAuthFailures, h.opts.AuthWindow, h.opts.Heartbeat
	o = withDefaults(o)
	h.live.Store(&o)
	h.log.Debug("control: settings replaced")
}

// Close ends every open /api/v1/events stream. Call it before the
// server's Shutdown, which otherwise waits for those streams to end.
func (h *Handler) Close() { h.closeOnce.Do(func() { close(h.done) }) }

// ServeHTTP routes a request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := h.eng
	p := r.URL.Path
	switch {
	case p == "/status-json.xsl":
		h.statusJSON(w, r, s)
		return
	case p == "/status.xsl":
		h.statusHTML(w, r, s)
		return
	case strings.HasSuffix(p, ".m3u") && h.playlist(w, r, s):
		return
	case p == "/metrics":
		h.metrics.ServeHTTP(w, r)
		return
	case p == "/health":
		h.health(w, r, s)
		return
	// The stream list is for edges, which are elsewhere: it takes the
	// relay credentials and is not limited to admin_allow.
	case p == "/admin/streamlist.txt", p == "/admin/streams":
		h.streamList(w, r, s, p == "/admin/streams")
		return
	case strings.HasPrefix(p, "/admin/"), strings.HasPrefix(p, "/api/v1/"):
	default:
		http.NotFound(w, r)
		return
	}
	o := h.o()
	api := strings.HasPrefix(p, "/api/v1/")
	// CORS headers go on every answer to a listed origin, refusals
	// included, so the panel can read why; a preflight needs no
	// credentials, as browsers send none with it.
	if api && h.cors(w, r, o) && r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		w.Header().Set("Access-Control-Allow-Methods", "GET, HEAD, POST, DELETE")
		w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID")
		w.Header().Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if !h.allowed(r) {
		http.Error(w, "Forbidden", http.StatusForbidden)
		return
	}
	if api {
		if !h.authorize(w, r, s, "") {
			return
		}
		h.api(w, r, s)
		return
	}
	h.admin(w, r, s)
}

// cors answers an /api/v1 request from a browser page whose origin is in
// APICORS with the headers that let the page read the answer, and
// reports whether it did. Other origins get none: their pages cannot read
// the API. Credentials are not allowed (no cookies or cached logins): the
// panel sends its Authorization header itself.
func (h *Handler) cors(w http.ResponseWriter, r *http.Request, o *Options) bool {
	if len(o.APICORS) == 0 {
		return false
	}
	// The answer depends on the Origin whenever CORS is on: caches must
	// keep one per origin.
	w.Header().Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	for _, a := range o.APICORS {
		// An origin is scheme://host[:port]; its scheme and host are
		// case-insensitive, and a configured one may end with a slash.
		if strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			return true
		}
	}
	return false
}

// clientAddr is the request's peer address, unmapped.
func clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func (h *Handler) allowed(r *http.Request) bool {
	allow := h.o().AdminAllow
	if len(allow) == 0 {
		return true
	}
	a := clientAddr(r)
	for _, p := range allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

const realm = `Basic realm="Icecast2 Server"`

// authorize checks HTTP Basic credentials: the admin's, or when mount is
// not "" that mount's source credentials. It answers 401 or 429 itself
// and reports whether the request may go on.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request, s Engine, mount string) bool {
	return h.check(w, r, s, mount, false)
}

// authorizeRelay is authorize for the stream list: the relay credentials
// open it too.
func (h *Handler) authorizeRelay(w http.ResponseWriter, r *http.Request, s Engine) bool {
	return h.check(w, r, s, "", true)
}

func (h *Handler) check(w http.ResponseWriter, r *http.Request, s Engine, mount string, relay bool) bool {
	addr := clientAddr(r)
	now := time.Now()
	if until, blocked := h.limiter.Blocked(addr, now); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(until.Sub(now).Seconds())+1))
		http.Error(w, "Too many failed logins", http.StatusTooManyRequests)
		return false
	}
	user, pass, ok := r.BasicAuth()
	if ok {
		o := h.o()
		if o.AdminPassword != "" && credsEqual(user, pass, o.AdminUser, o.AdminPassword) {
			return true
		}
		if relay && o.RelayPassword != "" && credsEqual(user, pass, o.RelayUser, o.RelayPassword) {
			return true
		}
		cfg := s.Config()
		if mount != "" {
			su, sp := cfg.SourceCredentials(mount)
			if sp != "" && credsEqual(user, pass, su, sp) {
				return true
			}
		}
		// The engine's feed logs it and shows it in the interface's event log.
		s.Emit(engine.Event{Type: engine.EventAdminRejected, Level: slog.LevelWarn, Addr: addr.String(), Reason: engine.ReasonWrongCredentials, Detail: "user " + strconv.Quote(user),
			Message: fmt.Sprintf("admin login refused for %s from %s (%s)", strconv.Quote(user), addr, r.URL.Path)})
		if h.limiter.Fail(addr, now) {
			s.Emit(engine.Event{Type: engine.EventAdminRejected, Level: slog.LevelWarn, Addr: addr.String(), Reason: engine.ReasonLoginsBlocked,
				Message: fmt.Sprintf("%s blocked for %s after repeated failed admin logins", addr, h.limiter.Window())})
		}
	}
	// A request without credentials is a probe (libshout asks first
	// without), not a failure.
	w.Header().Set("WWW-Authenticate", realm)
	http.Error(w, "Authentication Required", http.StatusUnauthorized)
	return false
}

// credsEqual compares in constant time over hashes, so neither length nor
// content leaks through timing.
func credsEqual(u, p, wantU, wantP string) bool {
	a := sha256.Sum256([]byte(u + "\x00" + p))
	b := sha256.Sum256([]byte(wantU + "\x00" + wantP))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
