package control

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/icedeck/icedeck/engine"
)

// icestatsJSON is Icecast 2.4.4's status-json.xsl document. Source is
// absent with no sources, one object with one, an array with several:
// consumers parse exactly that.
type icestatsJSON struct {
	Admin              string `json:"admin"`
	Host               string `json:"host"`
	Location           string `json:"location"`
	ServerID           string `json:"server_id"`
	ServerStart        string `json:"server_start"`
	ServerStartISO8601 string `json:"server_start_iso8601"`
	Source             any    `json:"source,omitempty"`
}

// sourceJSON keeps Icecast's key order; fields Icecast leaves out when
// unknown are omitted the same way; "dummy":null ends each source as the
// stock XSL writes it.
type sourceJSON struct {
	AudioInfo          string    `json:"audio_info,omitempty"`
	Bitrate            int       `json:"bitrate,omitempty"`
	Channels           int       `json:"channels,omitempty"`
	Genre              string    `json:"genre"`
	ListenerPeak       int       `json:"listener_peak"`
	Listeners          int       `json:"listeners"`
	ListenURL          string    `json:"listenurl"`
	SampleRate         int       `json:"samplerate,omitempty"`
	ServerDescription  string    `json:"server_description"`
	ServerName         string    `json:"server_name"`
	ServerType         string    `json:"server_type"`
	ServerURL          string    `json:"server_url,omitempty"`
	StreamStart        string    `json:"stream_start"`
	StreamStartISO8601 string    `json:"stream_start_iso8601"`
	Title              string    `json:"title,omitempty"`
	Dummy              *struct{} `json:"dummy"`
}

func (h *Handler) statusJSON(w http.ResponseWriter, r *http.Request, s Engine) {
	snap := s.Summary()
	doc := icestatsJSON{
		Admin: h.opts.Admin, Host: hostOnly(h.host(r)), Location: h.opts.Location, ServerID: snap.ServerID,
		ServerStart: snap.Started.Format(icecastTime), ServerStartISO8601: snap.Started.Format(icecastISO),
	}
	var srcs []sourceJSON
	for _, m := range snap.Mounts {
		if m.Hidden || m.Source == nil {
			continue
		}
		ice := m.Source.Ice
		srcs = append(srcs, sourceJSON{
			AudioInfo: ice.AudioInfo, Bitrate: ice.Bitrate / 1000, Channels: ice.Channels,
			Genre: orDefault(ice.Genre, "various"), ListenerPeak: m.ListenerPeak, Listeners: m.ListenerCount,
			ListenURL: h.listenURL(r, m.Name), SampleRate: ice.SampleRate,
			ServerDescription: orDefault(ice.Description, "Unspecified description"),
			ServerName:        orDefault(ice.Name, "Unspecified name"), ServerType: m.ContentType, ServerURL: ice.URL,
			StreamStart: m.Source.Connected.Format(icecastTime), StreamStartISO8601: m.Source.Connected.Format(icecastISO),
			Title: m.Title,
		})
	}
	switch len(srcs) {
	case 0:
	case 1:
		doc.Source = srcs[0]
	default:
		doc.Source = srcs
	}
	for k, v := range s.Config().Headers {
		w.Header().Set(k, v) // CORS for browser dashboards, as Icecast's stock config
	}
	writeJSON(w, http.StatusOK, map[string]any{"icestats": doc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// The stable API's documents. Times are RFC 3339 (ISO 8601) in UTC,
// durations are seconds as numbers, sizes are bytes.

// StatusDoc is /api/v1/status.
type StatusDoc struct {
	ServerID      string     `json:"server_id"`
	Time          time.Time  `json:"time"`
	Started       time.Time  `json:"started"`
	UptimeSeconds float64    `json:"uptime_seconds"`
	Addrs         []string   `json:"addrs"`
	Sources       int        `json:"sources"`
	Listeners     int        `json:"listeners"`
	Taps          int        `json:"taps"`
	BytesIn       uint64     `json:"bytes_in"`
	BytesOut      uint64     `json:"bytes_out"`
	Mounts        []MountDoc `json:"mounts"`
}

// MountDoc is one mount in the API.
type MountDoc struct {
	Name          string          `json:"name"`
	State         string          `json:"state"`
	ContentType   string          `json:"content_type"`
	Title         string          `json:"title"`
	Hidden        bool            `json:"hidden"`
	GraceUntil    *time.Time      `json:"grace_until"`
	ListenerCount int             `json:"listener_count"`
	ListenerPeak  int             `json:"listener_peak"`
	Taps          int             `json:"taps"`
	BytesOut      uint64          `json:"bytes_out"`
	SlowDrops     uint64          `json:"slow_drops"`
	Recording     string          `json:"recording"` // file being written, "" when not recording
	RecordedBytes uint64          `json:"recorded_bytes"`
	Source        *SourceDoc      `json:"source"`
	Relay         *RelayDoc       `json:"relay"` // null unless the mount is pulled from another server
	Listeners     []ListenerDoc   `json:"listeners"`
	Disconnects   []DisconnectDoc `json:"disconnects"`
}

// SourceDoc is a mount's source.
type SourceDoc struct {
	ID                uint64    `json:"id"`
	Addr              string    `json:"addr"`
	UserAgent         string    `json:"user_agent"`
	Method            string    `json:"method"`
	Connected         time.Time `json:"connected"`
	ContentType       string    `json:"content_type"`
	BytesIn           uint64    `json:"bytes_in"`
	SHA256            string    `json:"sha256"`
	LastData          time.Time `json:"last_data"`
	Stalls            int       `json:"stalls"`
	LongestGapSeconds float64   `json:"longest_gap_seconds"`
	Bitrate1s         int       `json:"bitrate_1s"`
	Bitrate10s        int       `json:"bitrate_10s"`
	RealtimeRatio     float64   `json:"realtime_ratio"`
	Ice               IceDoc    `json:"ice"`
	Frames            FramesDoc `json:"frames"`
}

// IceDoc is what the source declared.
type IceDoc struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	URL         string `json:"url"`
	Genre       string `json:"genre"`
	Public      string `json:"public"`
	Bitrate     int    `json:"bitrate"`
	AudioInfo   string `json:"audio_info"`
	SampleRate  int    `json:"sample_rate"`
	Channels    int    `json:"channels"`
}

// FramesDoc is the frame analysis of what the source sent.
type FramesDoc struct {
	Container       string  `json:"container"`
	Codec           string  `json:"codec"`
	Version         string  `json:"version"`
	SampleRate      int     `json:"sample_rate"`
	Channels        int     `json:"channels"`
	Bitrate         int     `json:"bitrate"`
	MinBitrate      int     `json:"min_bitrate"`
	MaxBitrate      int     `json:"max_bitrate"`
	Frames          uint64  `json:"frames"`
	SyncLosses      uint64  `json:"sync_losses"`
	SkippedBytes    uint64  `json:"skipped_bytes"`
	TagBytes        uint64  `json:"tag_bytes"`
	CRCErrors       uint64  `json:"crc_errors"`
	DurationSeconds float64 `json:"duration_seconds"`
	Bytes           uint64  `json:"bytes"`
}

// ListenerDoc is one listener.
type ListenerDoc struct {
	ID               uint64    `json:"id"`
	Addr             string    `json:"addr"`
	UserAgent        string    `json:"user_agent"`
	Connected        time.Time `json:"connected"`
	ConnectedSeconds float64   `json:"connected_seconds"`
	BytesSent        uint64    `json:"bytes_sent"`
	LagBytes         int64     `json:"lag_bytes"`
	ICY              bool      `json:"icy"`
}

// DisconnectDoc is how a listener or source ended.
type DisconnectDoc struct {
	Time            time.Time `json:"time"`
	ID              uint64    `json:"id"`
	Addr            string    `json:"addr"`
	Source          bool      `json:"source"`
	Reason          string    `json:"reason"`
	DurationSeconds float64   `json:"duration_seconds"`
	Bytes           uint64    `json:"bytes"`
}

func statusDoc(snap engine.Snapshot) StatusDoc {
	d := StatusDoc{
		ServerID: snap.ServerID, Time: snap.Time.UTC(), Started: snap.Started.UTC(),
		UptimeSeconds: snap.Time.Sub(snap.Started).Seconds(), Addrs: append([]string{}, snap.Addrs...),
		Sources: snap.Sources, Listeners: snap.Listeners, Taps: snap.Taps, BytesIn: snap.BytesIn, BytesOut: snap.BytesOut,
		Mounts: make([]MountDoc, 0, len(snap.Mounts)),
	}
	for i := range snap.Mounts {
		d.Mounts = append(d.Mounts, mountDoc(&snap.Mounts[i], snap.Time))
	}
	return d
}

func mountDoc(m *engine.MountSnapshot, now time.Time) MountDoc {
	d := MountDoc{
		Name: m.Name, State: string(m.State), ContentType: m.ContentType, Title: m.Title, Hidden: m.Hidden,
		ListenerCount: m.ListenerCount, ListenerPeak: m.ListenerPeak, Taps: m.Taps, BytesOut: m.BytesOut,
		SlowDrops: m.SlowDrops, Recording: m.Recording, RecordedBytes: m.RecordedBytes, Relay: relayDoc(m.Relay),
		Listeners:   make([]ListenerDoc, 0, len(m.Listeners)),
		Disconnects: make([]DisconnectDoc, 0, len(m.Disconnects)),
	}
	if !m.GraceUntil.IsZero() && m.State == engine.StateGrace {
		t := m.GraceUntil.UTC()
		d.GraceUntil = &t
	}
	if s := m.Source; s != nil {
		f := s.Frames
		d.Source = &SourceDoc{
			ID: s.ID, Addr: s.Addr, UserAgent: s.UserAgent, Method: s.Method, Connected: s.Connected.UTC(),
			ContentType: s.ContentType, BytesIn: s.BytesIn, SHA256: s.SHA256, LastData: s.LastData.UTC(),
			Stalls: s.Stalls, LongestGapSeconds: s.LongestGap.Seconds(), Bitrate1s: s.Bitrate1s, Bitrate10s: s.Bitrate10s,
			RealtimeRatio: s.Realtime,
			Ice: IceDoc{Name: s.Ice.Name, Description: s.Ice.Description, URL: s.Ice.URL, Genre: s.Ice.Genre,
				Public: s.Ice.Public, Bitrate: s.Ice.Bitrate, AudioInfo: s.Ice.AudioInfo, SampleRate: s.Ice.SampleRate, Channels: s.Ice.Channels},
			Frames: FramesDoc{Container: f.Container, Codec: f.Codec, Version: f.Version, SampleRate: f.SampleRate,
				Channels: f.Channels, Bitrate: f.Bitrate, MinBitrate: f.MinBitrate, MaxBitrate: f.MaxBitrate,
				Frames: f.Frames, SyncLosses: f.SyncLosses, SkippedBytes: f.SkippedBytes, TagBytes: f.TagBytes,
				CRCErrors: f.CRCErrors, DurationSeconds: f.Duration.Seconds(), Bytes: f.Bytes},
		}
	}
	for _, l := range m.Listeners {
		d.Listeners = append(d.Listeners, ListenerDoc{ID: l.ID, Addr: l.Addr, UserAgent: l.UserAgent,
			Connected: l.Connected.UTC(), ConnectedSeconds: now.Sub(l.Connected).Seconds(),
			BytesSent: l.BytesSent, LagBytes: l.Lag, ICY: l.ICY})
	}
	for _, x := range m.Disconnects {
		d.Disconnects = append(d.Disconnects, DisconnectDoc{Time: x.Time.UTC(), ID: x.ID, Addr: x.Addr, Source: x.Source,
			Reason: x.Reason.String(), DurationSeconds: x.Duration.Seconds(), Bytes: x.Bytes})
	}
	return d
}

// api serves /api/v1/*; credentials are already checked.
func (h *Handler) api(w http.ResponseWriter, r *http.Request, s Engine) {
	p := strings.TrimPrefix(r.URL.Path, "/api/v1")
	switch p {
	case "/recording":
		h.recording(w, r, s)
		return
	case "/relays":
		h.relays(w, r, s)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
		return
	}
	switch {
	case p == "/status":
		writeJSON(w, http.StatusOK, statusDoc(s.Snapshot()))
	case p == "/events":
		h.events(w, r, s)
	case p == "/pushes":
		h.pushes(w, s)
	case strings.HasPrefix(p, "/mounts/"):
		name := strings.TrimPrefix(p, "/mounts")
		m, ok := s.Mount(name)
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such mount", "mount": name})
			return
		}
		writeJSON(w, http.StatusOK, mountDoc(&m, time.Now()))
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
	}
}

// recording starts (POST) or stops (DELETE) the recording of ?mount=, and
// GET tells whether it runs.
func (h *Handler) recording(w http.ResponseWriter, r *http.Request, s Engine) {
	mount := r.URL.Query().Get("mount")
	reply := func(code int, file, errText string) {
		doc := map[string]any{"mount": mount, "recording": s.Recording(mount)}
		if file != "" {
			doc["file"] = file
		}
		if errText != "" {
			doc["error"] = errText
		}
		writeJSON(w, code, doc)
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if m, ok := s.Mount(mount); ok {
			reply(http.StatusOK, m.Recording, "")
			return
		}
		reply(http.StatusNotFound, "", "no such mount")
	case http.MethodPost:
		path, err := s.StartRecording(mount)
		switch {
		case errors.Is(err, engine.ErrNoMount):
			reply(http.StatusNotFound, "", err.Error())
		case err != nil:
			reply(http.StatusConflict, path, err.Error())
		default:
			reply(http.StatusCreated, path, "")
		}
	case http.MethodDelete:
		if err := s.StopRecording(mount); err != nil {
			code := http.StatusConflict
			if errors.Is(err, engine.ErrNoMount) {
				code = http.StatusNotFound
			}
			reply(code, "", err.Error())
			return
		}
		reply(http.StatusOK, "", "")
	default:
		w.Header().Set("Allow", "GET, HEAD, POST, DELETE")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
	}
}
