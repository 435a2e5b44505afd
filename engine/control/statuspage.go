package control

import (
	"html/template"
	"net/http"
	"strings"
	"time"
)

// statusPage is /status.xsl, Icecast's public page: one table per public
// mount with a link to listen. Icecast configurations alias "/" to it.
var statusPage = template.Must(template.New("status").Funcs(template.FuncMap{
	"since": func(t time.Time) string { return t.Format(icecastTime) },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{.Server}} status</title>
<style>body{font-family:system-ui,sans-serif;margin:2em auto;max-width:50em;padding:0 1em;color:#222}
h1{font-size:1.4em}section{border:1px solid #ccc;border-radius:6px;padding:.5em 1em;margin:1em 0}
h2{font-size:1.1em;margin:.3em 0}table{border-collapse:collapse}td{padding:.15em 1em .15em 0;vertical-align:top}
td:first-child{color:#666}</style></head><body>
<h1>{{.Server}}</h1>
{{if not .Mounts}}<p>No stream is on the air.</p>{{end}}
{{range .Mounts}}<section><h2>Mount point {{.Name}}</h2><p><a href="{{.Listen}}">{{.Listen}}</a> · <a href="{{.Name}}.m3u">M3U</a></p><table>
<tr><td>Stream name</td><td>{{.StreamName}}</td></tr>
{{with .Description}}<tr><td>Description</td><td>{{.}}</td></tr>{{end}}
<tr><td>Content type</td><td>{{.ContentType}}</td></tr>
<tr><td>Stream started</td><td>{{since .Started}}</td></tr>
{{with .Bitrate}}<tr><td>Bitrate</td><td>{{.}} kb/s</td></tr>{{end}}
<tr><td>Listeners (current)</td><td>{{.Listeners}}</td></tr>
<tr><td>Listeners (peak)</td><td>{{.Peak}}</td></tr>
{{with .Genre}}<tr><td>Genre</td><td>{{.}}</td></tr>{{end}}
{{with .URL}}<tr><td>Stream URL</td><td><a href="{{.}}">{{.}}</a></td></tr>{{end}}
{{with .Title}}<tr><td>Currently playing</td><td>{{.}}</td></tr>{{end}}
</table></section>{{end}}
</body></html>
`))

type statusPageMount struct {
	Name, Listen, StreamName, Description, ContentType, Genre, URL, Title string
	Started                                                               time.Time
	Bitrate, Listeners, Peak                                              int
}

func (h *Handler) statusHTML(w http.ResponseWriter, r *http.Request, s Engine) {
	snap := s.Summary()
	data := struct {
		Server string
		Mounts []statusPageMount
	}{Server: snap.ServerID}
	for _, m := range snap.Mounts {
		if m.Hidden || m.Source == nil {
			continue
		}
		ice := m.Source.Ice
		data.Mounts = append(data.Mounts, statusPageMount{
			Name: m.Name, Listen: h.listenURL(r, m.Name), StreamName: orDefault(ice.Name, "Unspecified name"),
			Description: ice.Description, ContentType: m.ContentType, Genre: ice.Genre, URL: ice.URL, Title: m.Title,
			Started: m.Source.Connected, Bitrate: ice.Bitrate / 1000, Listeners: m.ListenerCount, Peak: m.ListenerPeak,
		})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := statusPage.Execute(w, data); err != nil {
		h.opts.Logger.Warn("status page not written whole", "err", err)
	}
}

// playlist answers /MOUNT.m3u, as Icecast does, with the mount's listen
// URL, for players that open playlists; ok is false when there is no such
// public mount.
func (h *Handler) playlist(w http.ResponseWriter, r *http.Request, s Engine) (ok bool) {
	name := strings.TrimSuffix(r.URL.Path, ".m3u")
	m, found := s.Mount(name)
	if !found || m.Hidden {
		return false
	}
	w.Header().Set("Content-Type", "audio/x-mpegurl")
	_, _ = w.Write([]byte(h.listenURL(r, name) + "\r\n"))
	return true
}
