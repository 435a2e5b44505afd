package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/engine/apidoc"
)

// Relay trees: what an origin answers its edges (the stream list, in
// Icecast's and icecast-kh's forms), what a load balancer asks (/health),
// and the API over the engine's pull relays.

// streamList serves /admin/streamlist.txt (Icecast) and /admin/streams
// (icecast-kh): one line per non-hidden live mount, each ending in "\n".
// Icecast 2.4 edges read the list with sock_read_line, which drops a last
// line without its newline, and accept only an "HTTP/1.0 200" status
// line: net/http answers an HTTP/1.0 request in HTTP/1.0.
//
// icecast-kh edges list "/admin/streams?mount=/m" lines: the part after
// "mount=" becomes the edge's local mount, and the edge then GETs that
// same path to pull the stream (see streamRedirect).
func (h *Handler) streamList(w http.ResponseWriter, r *http.Request, s Engine, kh bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "Method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if kh {
		if mount, ok := streamsMount(r.URL); ok {
			h.streamRedirect(w, r, mount)
			return
		}
	}
	if !h.authorizeRelay(w, r, s) {
		return
	}
	prefix := ""
	if kh {
		prefix = "/admin/streams?mount="
	}
	var b strings.Builder
	for _, m := range s.Summary().Mounts {
		// Only mounts an edge can pull now: a mount in grace, waiting on its
		// fallback or on its own relay has no stream to give.
		if m.Hidden || m.Source == nil {
			continue
		}
		b.WriteString(prefix + m.Name + "\n")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = io.WriteString(w, b.String())
	}
}

// streamsMount is the mount of an icecast-kh pull request
// (/admin/streams?mount=/m), taken as the edge sends it: verbatim, as it
// appeared in the list, or else query-decoded.
func streamsMount(u *url.URL) (string, bool) {
	if raw, ok := strings.CutPrefix(u.RawQuery, "mount="); ok && engine.CheckMountName(raw) == nil {
		return raw, true
	}
	q := u.Query()
	if !q.Has("mount") {
		return "", false
	}
	return q.Get("mount"), true
}

// streamRedirect answers an icecast-kh edge pulling /admin/streams?mount=/m
// with a 302 to the mount itself. kh edges follow up to ten redirects and
// keep their Authorization header across them; an icecast-kh origin serves
// the stream on that path instead, which a control plane cannot do. The
// mount is public anyway, so no credentials are asked for here (a kh edge
// sends none unless <master-relay-auth> is on).
func (h *Handler) streamRedirect(w http.ResponseWriter, r *http.Request, mount string) {
	if err := engine.CheckMountName(mount); err != nil {
		http.Error(w, "Bad mount: "+err.Error(), http.StatusBadRequest)
		return
	}
	// The edge names the host without the port (Icecast's relays send
	// "Host: server"), so the port comes from the connection when needed.
	host := r.Host
	if _, _, err := net.SplitHostPort(host); err != nil {
		local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		_, port, perr := net.SplitHostPort(fmt.Sprint(local))
		switch {
		case perr != nil:
		case host == "":
			host = local.String()
		default:
			host = net.JoinHostPort(strings.Trim(host, "[]"), port)
		}
	}
	if host == "" {
		http.Error(w, "No Host to redirect to", http.StatusBadRequest)
		return
	}
	w.Header().Set("Location", "http://"+host+mount)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusFound)
	_, _ = io.WriteString(w, "Moved to "+mount+"\n")
}

// HealthDoc is /health.
type HealthDoc struct {
	Status     string `json:"status"` // "ok", "full" or "shutting down"
	Listeners  int    `json:"listeners"`
	Clients    int    `json:"clients"`     // connections open, this check's included
	MaxClients int    `json:"max_clients"` // the client limit
}

// health tells a load balancer whether to send listeners here: 200 while
// the server takes them, 503 while it shuts down or has no free
// connection. The check's own connection counts: at the limit, the next
// listener would be refused.
func (h *Handler) health(w http.ResponseWriter, r *http.Request, s Engine) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
		return
	}
	snap := s.Summary()
	d := HealthDoc{Status: "ok", Listeners: snap.Listeners, Clients: snap.Clients, MaxClients: s.Config().MaxClients}
	code := http.StatusOK
	switch {
	case s.ShuttingDown():
		d.Status, code = "shutting down", http.StatusServiceUnavailable
	case d.Clients >= d.MaxClients:
		d.Status, code = "full", http.StatusServiceUnavailable
	}
	if code != http.StatusOK {
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, code, d)
}

// maxRelayBody bounds a POST /api/v1/relays body: a relay with a few
// upstreams is a few hundred bytes.
const maxRelayBody = 64 << 10

// relays serves /api/v1/relays: GET lists, POST adds (a JSON body with
// [[relay]]'s keys), DELETE ?mount= removes.
func (h *Handler) relays(w http.ResponseWriter, r *http.Request, s Engine) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		list := s.Relays()
		docs := make([]*apidoc.Relay, 0, len(list))
		for i := range list {
			docs = append(docs, apidoc.NewRelay(&list[i]))
		}
		writeJSON(w, http.StatusOK, map[string]any{"relays": docs})
	case http.MethodPost:
		var rs RelaySection
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRelayBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rs); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad relay: " + jsonError(err)})
			return
		}
		if dec.More() {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad relay: one JSON object expected"})
			return
		}
		if ps := rs.check(); len(ps) > 0 {
			msgs := make([]string, len(ps))
			for i, p := range ps {
				msgs[i] = p.msg
			}
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": strings.Join(msgs, "; ")})
			return
		}
		if err := s.AddRelay(rs.Config()); err != nil {
			code := http.StatusBadRequest
			if s.ShuttingDown() {
				code = http.StatusServiceUnavailable
			}
			writeJSON(w, code, map[string]string{"error": err.Error(), "mount": string(rs.Mount)})
			return
		}
		h.log.Info("control: relay added", "mount", rs.Mount, "by", r.RemoteAddr)
		for _, st := range s.Relays() {
			if st.Mount == string(rs.Mount) {
				w.Header().Set("Location", "/api/v1/relays?mount="+url.QueryEscape(st.Mount))
				writeJSON(w, http.StatusCreated, apidoc.NewRelay(&st))
				return
			}
		}
		// Removed again in between: still created.
		writeJSON(w, http.StatusCreated, map[string]string{"mount": string(rs.Mount)})
	case http.MethodDelete:
		mount := r.URL.Query().Get("mount")
		if mount == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "missing parameter: mount"})
			return
		}
		if err := s.RemoveRelay(mount); err != nil {
			code := http.StatusBadRequest
			if errors.Is(err, engine.ErrNoMount) {
				code = http.StatusNotFound
				err = errors.New("no relay on this mount")
			}
			writeJSON(w, code, map[string]string{"error": err.Error(), "mount": mount})
			return
		}
		h.log.Info("control: relay removed", "mount", mount, "by", r.RemoteAddr)
		writeJSON(w, http.StatusOK, map[string]any{"mount": mount, "removed": true})
	default:
		w.Header().Set("Allow", "GET, HEAD, POST, DELETE")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
	}
}

// jsonError says what is wrong with a request body in the API's terms
// rather than Go's type names.
func jsonError(err error) string {
	var te *json.UnmarshalTypeError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &te):
		want := "a string" // mount, retry and the like
		switch te.Type.Kind() {
		case reflect.Bool, reflect.Pointer:
			want = "true or false"
		case reflect.Slice:
			want = "an array of strings"
		}
		return fmt.Sprintf("%s must be %s, not a JSON %s", te.Field, want, te.Value)
	case errors.As(err, &mbe):
		return fmt.Sprintf("body larger than %d bytes", mbe.Limit)
	case errors.Is(err, io.EOF):
		return "empty body (a JSON object with mount and upstreams is expected)"
	}
	return err.Error()
}

func (h *Handler) pushes(w http.ResponseWriter, s Engine) {
	list := s.Pushes()
	docs := make([]apidoc.Push, 0, len(list))
	for _, p := range list {
		docs = append(docs, apidoc.NewPush(p))
	}
	writeJSON(w, http.StatusOK, map[string]any{"pushes": docs})
}
