package control

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/icedeck/icedeck/engine"
)

// iceResponse is Icecast's answer to an admin command.
type iceResponse struct {
	XMLName xml.Name `xml:"iceresponse" json:"-"`
	Message string   `xml:"message" json:"message"`
	Return  int      `xml:"return" json:"return"`
}

// reply writes v as Icecast's XML, or as JSON under the same root name
// ({"iceresponse":{…}}) when asJSON.
func reply(w http.ResponseWriter, status int, asJSON bool, root string, v any) {
	w.Header().Set("Cache-Control", "no-cache")
	if asJSON {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{root: v})
		return
	}
	b, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte("<?xml version=\"1.0\"?>\n"))
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}

func respond(w http.ResponseWriter, status int, asJSON bool, ret int, msg string) {
	reply(w, status, asJSON, "iceresponse", iceResponse{Message: msg, Return: ret})
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// admin serves /admin/<command>[.json].
func (h *Handler) admin(w http.ResponseWriter, r *http.Request, s Engine) {
	cmd := strings.TrimPrefix(r.URL.Path, "/admin/")
	asJSON := wantsJSON(r)
	// The suffix picks the format over the Accept header: .json, or .xml
	// as Icecast's own /admin/stats.xml.
	if c, ok := strings.CutSuffix(cmd, ".json"); ok {
		cmd, asJSON = c, true
	} else if c, ok := strings.CutSuffix(cmd, ".xml"); ok {
		cmd, asJSON = c, false
	}
	q := r.URL.Query()
	mount := q.Get("mount")
	// Commands on one mount also take that mount's source credentials, as
	// ezstream and butt use them for title updates. moveclients touches a
	// second mount, so it needs the admin.
	credMount := ""
	switch cmd {
	case "metadata", "listclients", "killclient", "killsource":
		credMount = mount
	}
	if !h.authorize(w, r, s, credMount) {
		return
	}
	switch cmd {
	case "listmounts":
		h.listMounts(w, asJSON, s)
		return
	case "stats":
		reply(w, http.StatusOK, asJSON, "icestats", h.stats(r, s))
		return
	case "metadata", "listclients", "killclient", "killsource", "moveclients":
	default:
		respond(w, http.StatusBadRequest, asJSON, 0, "unknown admin command")
		return
	}
	if mount == "" {
		respond(w, http.StatusBadRequest, asJSON, 0, "Missing parameter: mount")
		return
	}
	msv, ok := s.Mount(mount)
	ms := &msv
	if !ok {
		respond(w, http.StatusBadRequest, asJSON, 0, "Source does not exist")
		return
	}
	switch cmd {
	case "metadata":
		h.metadata(w, r, asJSON, s, mount)
	case "listclients":
		listClients(w, asJSON, ms)
	case "killclient":
		id, err := strconv.ParseUint(q.Get("id"), 10, 64)
		if err != nil {
			respond(w, http.StatusBadRequest, asJSON, 0, "Missing or bad parameter: id")
			return
		}
		if err := s.KickListener(mount, id); err != nil {
			respond(w, http.StatusOK, asJSON, 0, fmt.Sprintf("Client %d not found", id))
			return
		}
		h.log.Info("control: listener kicked", "mount", mount, "id", id, "by", r.RemoteAddr)
		respond(w, http.StatusOK, asJSON, 1, fmt.Sprintf("Client %d removed", id))
	case "killsource":
		if err := s.KickSource(mount); err != nil {
			respond(w, http.StatusOK, asJSON, 0, "Source not connected")
			return
		}
		h.log.Info("control: source kicked", "mount", mount, "by", r.RemoteAddr)
		respond(w, http.StatusOK, asJSON, 1, "Source Removed")
	case "moveclients":
		dest := q.Get("destination")
		if dest == "" {
			respond(w, http.StatusBadRequest, asJSON, 0, "Missing parameter: destination")
			return
		}
		var ids []uint64
		if v := q.Get("id"); v != "" {
			id, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				respond(w, http.StatusBadRequest, asJSON, 0, "Bad parameter: id")
				return
			}
			ids = []uint64{id}
		}
		n, err := s.MoveListeners(mount, dest, ids)
		switch {
		case errors.Is(err, engine.ErrNoMount):
			respond(w, http.StatusBadRequest, asJSON, 0, "No such destination")
		case errors.Is(err, engine.ErrNoClient):
			respond(w, http.StatusOK, asJSON, 0, "No such client")
		case err != nil:
			respond(w, http.StatusBadRequest, asJSON, 0, err.Error())
		default:
			h.log.Info("control: listeners moved", "from", mount, "to", dest, "count", n, "by", r.RemoteAddr)
			respond(w, http.StatusOK, asJSON, 1, fmt.Sprintf("Clients moved from %s to %s", mount, dest))
		}
	}
}

// metadata handles mode=updinfo: song, or artist and title, in charset
// (else the mount's configured charset, else UTF-8), and url.
func (h *Handler) metadata(w http.ResponseWriter, r *http.Request, asJSON bool, s Engine, mount string) {
	q := r.URL.Query()
	if q.Get("mode") != "updinfo" {
		respond(w, http.StatusBadRequest, asJSON, 0, "Missing or unknown parameter: mode (only updinfo)")
		return
	}
	song := q.Get("song")
	if song == "" {
		artist, title := q.Get("artist"), q.Get("title")
		switch {
		case artist != "" && title != "":
			song = artist + " - " + title
		case title != "":
			song = title
		default:
			song = artist
		}
	}
	cs := q.Get("charset")
	if cs == "" {
		cs = s.Config().Mounts[mount].Charset // the mount's configured default
	}
	song, err := toUTF8(song, cs)
	if err != nil {
		respond(w, http.StatusBadRequest, asJSON, 0, err.Error())
		return
	}
	url, err := toUTF8(q.Get("url"), cs)
	if err != nil {
		respond(w, http.StatusBadRequest, asJSON, 0, err.Error())
		return
	}
	if err := s.SetTitle(mount, song, url); err != nil {
		respond(w, http.StatusBadRequest, asJSON, 0, "Source does not exist")
		return
	}
	respond(w, http.StatusOK, asJSON, 1, "Metadata update successful")
}

type clientsDoc struct {
	XMLName xml.Name      `xml:"icestats" json:"-"`
	Source  clientsSource `xml:"source" json:"source"`
}

type clientsSource struct {
	Mount     string       `xml:"mount,attr" json:"mount"`
	Listeners int          `xml:"Listeners" json:"Listeners"`
	Listener  []clientInfo `xml:"listener" json:"listener"`
}

// clientInfo is Icecast 2.4's listener element; BytesSent and ICY are
// icedeck's.
type clientInfo struct {
	IP        string `xml:"IP" json:"IP"`
	UserAgent string `xml:"UserAgent" json:"UserAgent"`
	Lag       int64  `xml:"lag" json:"lag"`
	Connected int64  `xml:"Connected" json:"Connected"`
	ID        uint64 `xml:"ID" json:"ID"`
	BytesSent uint64 `xml:"BytesSent" json:"BytesSent"`
	ICY       bool   `xml:"ICY" json:"ICY"`
}

func hostOnly(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

func listClients(w http.ResponseWriter, asJSON bool, ms *engine.MountSnapshot) {
	now := time.Now()
	doc := clientsDoc{Source: clientsSource{Mount: ms.Name, Listeners: ms.ListenerCount, Listener: []clientInfo{}}}
	for _, l := range ms.Listeners {
		doc.Source.Listener = append(doc.Source.Listener, clientInfo{
			IP: hostOnly(l.Addr), UserAgent: l.UserAgent, Lag: l.Lag, Connected: int64(now.Sub(l.Connected).Seconds()),
			ID: l.ID, BytesSent: l.BytesSent, ICY: l.ICY,
		})
	}
	reply(w, http.StatusOK, asJSON, "icestats", doc)
}

type mountsDoc struct {
	XMLName xml.Name    `xml:"icestats" json:"-"`
	Source  []mountInfo `xml:"source" json:"source"`
}

// mountInfo is Icecast 2.4.4's listmounts element (fallback, listeners,
// Connected, content-type, in its order), then icedeck's state.
type mountInfo struct {
	Mount       string `xml:"mount,attr" json:"mount"`
	Fallback    string `xml:"fallback" json:"fallback"` // empty without one, as Icecast
	Listeners   int    `xml:"listeners" json:"listeners"`
	Connected   int64  `xml:"Connected" json:"Connected"`
	ContentType string `xml:"content-type" json:"content-type"`
	State       string `xml:"state" json:"state"`
}

func (h *Handler) listMounts(w http.ResponseWriter, asJSON bool, s Engine) {
	snap := s.Summary()
	cfg := s.Config()
	doc := mountsDoc{Source: []mountInfo{}}
	for _, m := range snap.Mounts {
		mi := mountInfo{Mount: m.Name, Fallback: cfg.Mounts[m.Name].Fallback, Listeners: m.ListenerCount,
			ContentType: m.ContentType, State: string(m.State)}
		if m.Source != nil {
			mi.Connected = int64(snap.Time.Sub(m.Source.Connected).Seconds())
		}
		doc.Source = append(doc.Source, mi)
	}
	reply(w, http.StatusOK, asJSON, "icestats", doc)
}

// statsDoc is /admin/stats: Icecast 2.4.4's global elements in its order
// (as a real 2.4.4 answers), then icedeck's.
type statsDoc struct {
	XMLName                 xml.Name `xml:"icestats" json:"-"`
	Admin                   string   `xml:"admin" json:"admin"`
	ClientConnections       uint64   `xml:"client_connections" json:"client_connections"`
	Clients                 int      `xml:"clients" json:"clients"`
	Connections             uint64   `xml:"connections" json:"connections"`
	FileConnections         uint64   `xml:"file_connections" json:"file_connections"` // icedeck serves no files
	Host                    string   `xml:"host" json:"host"`
	ListenerConnections     uint64   `xml:"listener_connections" json:"listener_connections"`
	ListenerCount           int      `xml:"listeners" json:"listeners"`
	Location                string   `xml:"location" json:"location"`
	ServerID                string   `xml:"server_id" json:"server_id"`
	ServerStart             string   `xml:"server_start" json:"server_start"`
	ServerStartISO8601      string   `xml:"server_start_iso8601" json:"server_start_iso8601"`
	SourceClientConnections uint64   `xml:"source_client_connections" json:"source_client_connections"`
	SourceRelayConnections  uint64   `xml:"source_relay_connections" json:"source_relay_connections"` // relay sessions that went live
	SourceTotalConnections  uint64   `xml:"source_total_connections" json:"source_total_connections"`
	Sources                 int      `xml:"sources" json:"sources"`
	Stats                   int64    `xml:"stats" json:"stats"`                         // event streams open
	StatsConnections        uint64   `xml:"stats_connections" json:"stats_connections"` // event streams ever opened

	BytesIn  uint64        `xml:"total_bytes_read" json:"total_bytes_read"`
	BytesOut uint64        `xml:"total_bytes_sent" json:"total_bytes_sent"`
	Taps     int           `xml:"taps" json:"taps"`
	Source   []statsSource `xml:"source" json:"source"`
}

// statsSource is one mount of /admin/stats: Icecast's statistics for it
// (icecastStats, when it has a source), then icedeck's own.
type statsSource struct {
	mount string
	stats stats
}

func (ss statsSource) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	start.Attr = []xml.Attr{{Name: xml.Name{Local: "mount"}, Value: ss.mount}}
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	if err := ss.stats.encode(e); err != nil {
		return err
	}
	return e.EncodeToken(start.End())
}

func (ss statsSource) MarshalJSON() ([]byte, error) {
	return append(stats{{"mount", ss.mount}}, ss.stats...).MarshalJSON()
}

// disconnects is a mount's recent endings: <disconnects><disconnect>….
type disconnects struct {
	List []disconnectInfo `xml:"disconnect"`
}

func (d disconnects) MarshalJSON() ([]byte, error) { return json.Marshal(d.List) }

type disconnectInfo struct {
	Time     string  `xml:"time" json:"time"`
	ID       uint64  `xml:"id" json:"id"`
	IP       string  `xml:"ip" json:"ip"`
	Source   bool    `xml:"source" json:"source"`
	Reason   string  `xml:"reason" json:"reason"`
	Duration float64 `xml:"duration" json:"duration"`
	Bytes    uint64  `xml:"bytes" json:"bytes"`
}

// Icecast's time formats: RFC 1123 with a numeric zone, and ISO 8601
// without the colon in the offset.
const (
	icecastTime = "Mon, 02 Jan 2006 15:04:05 -0700"
	icecastISO  = "2006-01-02T15:04:05-0700"
)

func (h *Handler) host(r *http.Request) string {
	if host := h.o().Host; host != "" {
		return host
	}
	return r.Host
}

func (h *Handler) listenURL(r *http.Request, mount string) string {
	if r.TLS != nil { // asked over TLS: listeners are sent there too
		return "https://" + h.host(r) + mount
	}
	return "http://" + h.host(r) + mount
}

func (h *Handler) stats(r *http.Request, s Engine) statsDoc {
	o := h.o()
	snap := s.Summary()
	cfg := s.Config()
	tot := snap.Totals
	// Icecast counts sources apart from clients, which are its GET
	// requests (listeners, admin); the engine counts every request.
	sourceClients := tot.SourceConnections - tot.RelayConnections // relays dial out: no request of theirs was counted
	clientConns := tot.ClientConnections - min(tot.ClientConnections, sourceClients+tot.SourceRejections)
	doc := statsDoc{
		Admin: o.Admin, ClientConnections: clientConns, Clients: snap.Clients, Connections: tot.Connections,
		Host: hostOnly(h.host(r)), ListenerConnections: tot.ListenerConnections, ListenerCount: snap.Listeners,
		Location: o.Location, ServerID: snap.ServerID,
		ServerStart: snap.Started.Format(icecastTime), ServerStartISO8601: snap.Started.Format(icecastISO),
		SourceClientConnections: sourceClients, SourceRelayConnections: tot.RelayConnections, SourceTotalConnections: tot.SourceConnections,
		Sources: snap.Sources, Stats: h.streams.Load(), StatsConnections: h.streamsOpened.Load(),
		BytesIn: snap.BytesIn, BytesOut: snap.BytesOut, Taps: snap.Taps,
		Source: []statsSource{},
	}
	for i := range snap.Mounts {
		m := &snap.Mounts[i]
		var st stats
		if m.Source != nil {
			st = h.icecastStats(r, cfg, m)
		} else {
			// A mount without a source now (held in grace, waiting on
			// its fallback, a relay not live) is icedeck's: Icecast lists
			// none. Its counts are shown as for one with a source.
			st = stats{{"listener_peak", m.ListenerPeak}, {"listeners", m.ListenerCount},
				{"listenurl", h.listenURL(r, m.Name)}, {"server_type", m.ContentType}, {"slow_listeners", m.SlowDrops}}
			if m.Title != "" {
				st = append(st, stat{"title", m.Title})
			}
			st = append(st, stat{"total_bytes_sent", m.BytesOut})
		}
		// icedeck's own, after Icecast's.
		st = append(st, stat{"state", string(m.State)}, stat{"hidden", m.Hidden})
		var measured int
		if src := m.Source; src != nil {
			f := src.Frames
			if f.Codec != "" {
				st = append(st, stat{"codec", f.Codec})
			}
			st = append(st, stat{"frames", f.Frames}, stat{"sync_losses", f.SyncLosses}, stat{"skipped_bytes", f.SkippedBytes})
			measured = src.Bitrate10s
		} else {
			st = append(st, stat{"frames", 0}, stat{"sync_losses", 0}, stat{"skipped_bytes", 0})
		}
		d := disconnects{List: []disconnectInfo{}}
		for _, x := range m.Disconnects {
			d.List = append(d.List, disconnectInfo{
				Time: x.Time.Format(time.RFC3339), ID: x.ID, IP: hostOnly(x.Addr), Source: x.Source,
				Reason: x.Reason.String(), Duration: x.Duration.Seconds(), Bytes: x.Bytes,
			})
		}
		st = append(st, stat{"measured_bitrate", measured}, stat{"max_lag", m.MaxLag}, stat{"disconnects", d})
		doc.Source = append(doc.Source, statsSource{mount: m.Name, stats: st})
	}
	return doc
}

func maxListeners(cfg engine.Config, mount string) int {
	if mc, ok := cfg.Mounts[mount]; ok && mc.MaxListeners > 0 {
		return mc.MaxListeners
	}
	return cfg.MaxListeners
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
