package control

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/engine/apidoc"
)

// icestatsJSON is Icecast 2.4.4's status-json.xsl document. Source is
// absent with no sources (the stock XSL then ends icestats with
// "dummy":null), one object with one, an array with several: consumers
// parse exactly that.
type icestatsJSON struct {
	Admin              string          `json:"admin"`
	Host               string          `json:"host"`
	Location           string          `json:"location"`
	ServerID           string          `json:"server_id"`
	ServerStart        string          `json:"server_start"`
	ServerStartISO8601 string          `json:"server_start_iso8601"`
	Source             any             `json:"source,omitempty"`
	Dummy              json.RawMessage `json:"dummy,omitempty"`
}

// jsonHidden reports whether the stock status-json.xsl leaves a source's
// statistic out (it filters these from the full set /admin/stats shows).
func jsonHidden(name string) bool {
	switch name {
	case "max_listeners", "public", "source_ip", "slow_listeners", "user_agent":
		return true
	}
	return strings.Contains(name, "total_bytes") || strings.Contains(name, "connections")
}

func (h *Handler) statusJSON(w http.ResponseWriter, r *http.Request, s Engine) {
	o := h.o()
	snap := s.Summary()
	cfg := s.Config()
	doc := icestatsJSON{
		Admin: o.Admin, Host: hostOnly(h.host(r)), Location: o.Location, ServerID: snap.ServerID,
		ServerStart: snap.Started.Format(icecastTime), ServerStartISO8601: snap.Started.Format(icecastISO),
	}
	var srcs []stats
	for i := range snap.Mounts {
		m := &snap.Mounts[i]
		if m.Hidden || m.Source == nil {
			continue
		}
		var st stats
		for _, n := range h.icecastStats(r, cfg, m) {
			if !jsonHidden(n.name) {
				st = append(st, n)
			}
		}
		srcs = append(srcs, append(st, stat{"dummy", nil}))
	}
	switch len(srcs) {
	case 0:
		doc.Dummy = json.RawMessage("null")
	case 1:
		doc.Source = srcs[0]
	default:
		doc.Source = srcs
	}
	for k, v := range cfg.Headers {
		w.Header().Set(k, v) // CORS for browser dashboards, as Icecast's stock config
	}
	writeJSON(w, http.StatusOK, map[string]any{"icestats": doc})
}

// stat is one of Icecast's statistics: an element of /admin/stats, a key
// of status-json.xsl. A nil value is an empty element, JSON null.
type stat struct {
	name  string
	value any
}

// stats are statistics in the order given; they encode as one JSON object
// (see MarshalJSON) or as sibling XML elements (see statsSource).
type stats []stat

func (st stats) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, n := range st {
		if i > 0 {
			b = append(b, ',')
		}
		v, err := json.Marshal(n.value)
		if err != nil {
			return nil, err
		}
		// Names are Icecast's or audio info keys checked against
		// audioInfoKey: nothing in them needs escaping.
		b = append(append(append(append(b, '"'), n.name...), `":`...), v...)
	}
	return append(b, '}'), nil
}

// encode writes each statistic as an element inside the current one.
func (st stats) encode(e *xml.Encoder) error {
	for _, n := range st {
		el := xml.StartElement{Name: xml.Name{Local: n.name}}
		if n.value == nil {
			if err := e.EncodeToken(el); err != nil {
				return err
			}
			if err := e.EncodeToken(el.End()); err != nil {
				return err
			}
			continue
		}
		if err := e.EncodeElement(n.value, el); err != nil {
			return err
		}
	}
	return nil
}

// xslText is a value Icecast keeps as text and its status-json.xsl types
// by the look of it: a number stays a number, true and false are
// booleans, an empty one is null, the rest are strings. Values icedeck
// knows to be text (names, titles, URLs) are plain strings instead, so a
// title such as "1999" is still a string. In XML it is the text as is.
type xslText string

var xslNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?$`)

func (v xslText) MarshalJSON() ([]byte, error) {
	s := string(v)
	switch {
	case s == "":
		return []byte("null"), nil
	case strings.EqualFold(s, "true"), strings.EqualFold(s, "false"):
		return []byte(strings.ToLower(s)), nil
	// The XSL keeps "0.5" and "007" strings: it takes no number that
	// starts with a 0 but 0 itself.
	case xslNumber.MatchString(s) && (s == "0" || s[0] != '0'):
		return []byte(s), nil
	}
	return json.Marshal(s)
}

// audioInfoKey is what an ice-audio-info key must look like to become an
// element: Icecast takes any (and writes broken XML for "bad key").
var audioInfoKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,98}$`)

// sometimes are the statistics icecastStats gives only when it knows
// them: an audio info pair never stands in for one.
var sometimes = map[string]bool{"artist": true, "title": true, "subtype": true, "server_url": true, "user_agent": true,
	"audio_bitrate": true, "audio_channels": true, "audio_samplerate": true}

// icecastStats are the statistics Icecast 2.4.4 keeps for a mount with a
// source, under its names and in its order (its statistics are a tree
// sorted by name): what source_apply_mount takes from the mount's settings
// (read now, so a reload shows at once) or else the source's headers, the
// pairs of ice-audio-info, what its Ogg codec reader finds (subtype;
// Vorbis's rate, channels, nominal bitrate, ARTIST and TITLE), the counts.
func (h *Handler) icecastStats(r *http.Request, cfg engine.Config, m *engine.MountSnapshot) stats {
	src := m.Source
	ice := src.Ice // the mount's settings over what the source declared, as the engine shows it
	v := map[string]any{
		"genre":                orDefault(ice.Genre, "various"),
		"listener_peak":        m.ListenerPeak,
		"listeners":            m.ListenerCount,
		"listenurl":            h.listenURL(r, m.Name),
		"max_listeners":        "unlimited",
		"server_description":   orDefault(ice.Description, "Unspecified description"),
		"server_name":          orDefault(ice.Name, "Unspecified name"),
		"server_type":          m.ContentType,
		"slow_listeners":       m.SlowDrops,
		"source_ip":            hostOnly(src.Addr),
		"stream_start":         src.Connected.Format(icecastTime),
		"stream_start_iso8601": src.Connected.Format(icecastISO),
		"total_bytes_read":     src.BytesIn,
		"total_bytes_sent":     m.BytesOut,
	}
	if n := maxListeners(cfg, m.Name); n > 0 {
		v["max_listeners"] = n
	}
	pub, _ := strconv.Atoi(ice.Public)
	v["public"] = pub
	if ice.URL != "" {
		v["server_url"] = ice.URL
	}
	if ice.BitrateStated {
		v["bitrate"] = ice.Bitrate / 1000
	}
	if src.UserAgent != "" {
		v["user_agent"] = engine.CleanText(src.UserAgent)
	}
	f := src.Frames
	if f.Container == "ogg" && f.Codec != "" {
		v["subtype"] = f.Codec
	}
	if f.Codec == "Vorbis" {
		v["audio_samplerate"], v["audio_channels"] = f.SampleRate, f.Channels
		v["audio_bitrate"], v["ice-bitrate"] = f.Bitrate, f.Bitrate/1000
	}
	// An in-band title shows as the ARTIST and TITLE it was made of, as
	// Icecast's Vorbis reader gives them; one set by a metadata update is
	// the title alone.
	if f.Title != "" && m.Title == engine.CleanText(f.Title) {
		if a := engine.CleanText(f.Artist); a != "" {
			v["artist"] = a
		}
		if t := engine.CleanText(f.Song); t != "" {
			v["title"] = t
		}
	} else if m.Title != "" {
		v["title"] = m.Title
	}
	// The audio info's pairs are statistics of their own, named as the
	// source names them (libshout: bitrate, samplerate, channels,
	// quality; others: ice-samplerate and the like), values unescaped.
	// None replaces one of the above.
	if ai := ice.AudioInfo; ai != "" {
		v["audio_info"] = ai
		for _, kv := range strings.Split(ai, ";") {
			k, val, ok := strings.Cut(kv, "=")
			if _, taken := v[k]; !ok || taken || sometimes[k] || !audioInfoKey.MatchString(k) {
				continue
			}
			if u, err := url.PathUnescape(val); err == nil {
				val = u
			}
			v[k] = xslText(engine.CleanText(val[:min(len(val), 199)]))
		}
	}
	out := make(stats, 0, len(v))
	for k, x := range v {
		out = append(out, stat{k, x})
	}
	slices.SortFunc(out, func(a, b stat) int { return strings.Compare(a.name, b.name) })
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // a JSON document, never HTML: "<mount>" stays readable
	_ = enc.Encode(v)
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
	case "/reload":
		h.reload(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
		return
	}
	switch {
	case p == "/status":
		snap := s.Snapshot()
		// ?listeners=false leaves the listener lists out: a console
		// polling many servers needs the counts, not every listener.
		if r.URL.Query().Get("listeners") == "false" {
			snap = s.Summary()
		}
		doc := apidoc.NewStatus(snap)
		for i := range doc.Mounts {
			h.addAudio(&doc.Mounts[i])
		}
		writeJSON(w, http.StatusOK, doc)
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
		doc := apidoc.NewMount(&m, time.Now())
		h.addAudio(&doc)
		writeJSON(w, http.StatusOK, doc)
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

// reloadDoc is the answer of POST /api/v1/reload.
type reloadDoc struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// reload rereads the configuration through Options.Reload: 200 when it
// is in force, 422 with the reason when it was refused (the settings in
// force stay), 501 when this server cannot reload. One at a time.
func (h *Handler) reload(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeJSON(w, http.StatusMethodNotAllowed, reloadDoc{Error: "method not allowed"})
		return
	}
	fn := h.o().Reload
	if fn == nil {
		writeJSON(w, http.StatusNotImplemented, reloadDoc{Error: "this server was not started from a configuration file it can reread"})
		return
	}
	h.log.Info("reload asked through the API", "by", r.RemoteAddr) // its outcome is the config.reload event
	h.reloading.Lock()
	err := fn()
	h.reloading.Unlock()
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, reloadDoc{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, reloadDoc{OK: true})
}
