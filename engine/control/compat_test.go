package control

// Icecast 2.4.4 compatibility of the status documents for Ogg and for
// what sources declare, opt-in CORS for the API, POST /api/v1/reload and
// Reconfigure. cmd/icedeck/compat_test.go holds the same sources up
// against a real Icecast 2.4.4.

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/internal/testkit"
)

// statusSources returns status-json.xsl's sources by mount.
func statusSources(t *testing.T, e *env) map[string]map[string]any {
	t.Helper()
	ice, body := statusJSON(t, e)
	var list []map[string]any
	if raw := ice["source"]; raw != nil {
		if raw[0] == '[' {
			if err := json.Unmarshal(raw, &list); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
		} else {
			var one map[string]any
			if err := json.Unmarshal(raw, &one); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			list = append(list, one)
		}
	}
	out := map[string]map[string]any{}
	for _, s := range list {
		u, _ := s["listenurl"].(string)
		out[u[strings.LastIndex(u, "/"):]] = s
	}
	return out
}

// xmlStats returns /admin/stats's elements for each source by mount, with
// their text; an element given twice fails the test.
func xmlStats(t *testing.T, e *env) map[string]map[string]string {
	t.Helper()
	code, body := e.admin("/admin/stats")
	if code != 200 {
		t.Fatalf("/admin/stats: %d %s", code, body)
	}
	var doc struct {
		Source []struct {
			Mount string `xml:"mount,attr"`
			Any   []struct {
				XMLName xml.Name
				Text    string `xml:",chardata"`
			} `xml:",any"`
		} `xml:"source"`
	}
	if err := xml.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("/admin/stats: %v\n%s", err, body)
	}
	out := map[string]map[string]string{}
	for _, s := range doc.Source {
		els := map[string]string{}
		for _, a := range s.Any {
			if _, dup := els[a.XMLName.Local]; dup {
				t.Fatalf("%s: <%s> twice", s.Mount, a.XMLName.Local)
			}
			els[a.XMLName.Local] = a.Text
		}
		out[s.Mount] = els
	}
	return out
}

// wantKeys fails unless doc has exactly the values in want (JSON numbers
// as float64) and no key in absent.
func wantKeys(t *testing.T, what string, doc map[string]any, want map[string]any, absent ...string) {
	t.Helper()
	for k, v := range want {
		if got, ok := doc[k]; !ok || got != v {
			t.Errorf("%s: %s = %#v (present %v), want %#v", what, k, got, ok, v)
		}
	}
	for _, k := range absent {
		if v, ok := doc[k]; ok {
			t.Errorf("%s: %s = %#v, want no such key", what, k, v)
		}
	}
}

// An Ogg Vorbis source shows what Icecast's Vorbis reader shows: the
// subtype, the stream's rate, channels and nominal bitrate, and its
// ARTIST and TITLE comments as two keys; an Opus one its subtype only. A
// title set by a metadata update replaces both.
func TestStatusOggStreams(t *testing.T) {
	e := start(t, Options{Host: "radio.example:8000"}, nil)
	ogg := func(mount, file string, header ...string) {
		s, r := testkit.ConnectSource(t, e.addr, testkit.SourceRequest{Mount: mount, User: "source", Password: srcPass,
			ContentType: "application/ogg", Header: header})
		if s == nil {
			t.Fatalf("%s refused: %d %s", mount, r.Code, r.Head)
		}
		s.Send(testkit.Media(t, file), 0, 0)
	}
	ogg("/v.ogg", "titled.ogg", "Ice-Name", "Vorbis test", "Ice-Public", "1")
	ogg("/o.opus", "tone.opus")
	var st map[string]map[string]any
	testkit.Eventually(t, 5*time.Second, "both Ogg streams read", func() bool {
		st = statusSources(t, e)
		return st["/v.ogg"]["title"] != nil && st["/o.opus"]["subtype"] != nil
	})
	wantKeys(t, "/v.ogg", st["/v.ogg"], map[string]any{
		"subtype": "Vorbis", "artist": "Night Band", "title": "Blue Hour", "audio_samplerate": 44100.0, "audio_channels": 2.0,
		"audio_bitrate": 64000.0, "ice-bitrate": 64.0, "server_type": "application/ogg", "server_name": "Vorbis test",
		"listenurl": "http://radio.example:8000/v.ogg",
	}, "bitrate", "public")
	wantKeys(t, "/o.opus", st["/o.opus"], map[string]any{"subtype": "Opus", "server_name": "Unspecified name", "genre": "various"},
		"audio_samplerate", "audio_channels", "audio_bitrate", "ice-bitrate", "artist", "title")

	x := xmlStats(t, e)["/v.ogg"]
	for k, v := range map[string]string{"subtype": "Vorbis", "artist": "Night Band", "title": "Blue Hour", "audio_samplerate": "44100",
		"audio_channels": "2", "audio_bitrate": "64000", "ice-bitrate": "64", "public": "1", "max_listeners": "unlimited", "source_ip": "127.0.0.1"} {
		if x[k] != v {
			t.Errorf("/admin/stats /v.ogg <%s> = %q, want %q", k, x[k], v)
		}
	}

	if code, body := e.admin("/admin/metadata?mount=/v.ogg&mode=updinfo&song=Set+By+Hand"); code != 200 {
		t.Fatalf("metadata: %d %s", code, body)
	}
	wantKeys(t, "/v.ogg after a metadata update", statusSources(t, e)["/v.ogg"], map[string]any{"title": "Set By Hand"}, "artist")
}

// What a source declares comes from its ice-* headers, else icy-*, else
// x-audiocast-* (as Icecast's source_apply_mount); the mount's settings
// win over all and are read when the document is, so a reload shows at
// once. The audio info's pairs are statistics of their own, typed as
// Icecast's XSL types them; one that would replace another, or whose name
// is no XML name, is left out.
func TestStatusDeclaredAndMountSettings(t *testing.T) {
	e := start(t, Options{}, func(c *engine.Config) {
		c.Mounts = map[string]engine.MountConfig{"/over.mp3": {StreamName: "Over name", StreamDescription: "Over desc",
			Genre: "Over genre", URL: "http://over.example/", Bitrate: "96", Public: "1", Fallback: "/fb.mp3", MaxListeners: 7}}
	})
	data := testkit.Media(t, "tone.mp3")
	e.connectSource("/over.mp3", "source", srcPass, "Ice-Name", "Src name", "Ice-Genre", "Src genre", "Ice-Bitrate", "128",
		"Ice-Url", "http://src.example/", "Ice-Public", "0").Send(data[:8000], 0, 0)
	e.connectSource("/icy.mp3", "source", srcPass, "Icy-Name", "Icy name", "Icy-Genre", "Icy genre", "Icy-Br", "128",
		"Icy-Url", "http://icy.example/", "Icy-Pub", "1", "X-Audiocast-Description", "XA desc",
		"Ice-Audio-Info", "samplerate=44100;channels=2;quality=0.5;bad key=1;listeners=99;title=injected;note=a%3Cb%3E;flag=TRUE").Send(data[:8000], 0, 0)

	st := statusSources(t, e)
	wantKeys(t, "/over.mp3", st["/over.mp3"], map[string]any{"server_name": "Over name", "server_description": "Over desc",
		"genre": "Over genre", "server_url": "http://over.example/", "bitrate": 96.0})
	wantKeys(t, "/icy.mp3", st["/icy.mp3"], map[string]any{"server_name": "Icy name", "server_description": "XA desc",
		"genre": "Icy genre", "server_url": "http://icy.example/", "bitrate": 128.0, "samplerate": 44100.0, "channels": 2.0,
		"quality": "0.5", "note": "a<b>", "flag": true, "listeners": 0.0,
		"audio_info": "samplerate=44100;channels=2;quality=0.5;bad key=1;listeners=99;title=injected;note=a%3Cb%3E;flag=TRUE"},
		"bad key", "title", "public", "max_listeners")
	x := xmlStats(t, e)
	if x["/over.mp3"]["public"] != "1" || x["/over.mp3"]["max_listeners"] != "7" || x["/icy.mp3"]["public"] != "1" ||
		x["/icy.mp3"]["flag"] != "TRUE" || x["/icy.mp3"]["note"] != "a<b>" {
		t.Errorf("/admin/stats: %v", x)
	}

	code, body := e.admin("/admin/listmounts")
	var lm struct {
		Source []struct {
			Mount    string `xml:"mount,attr"`
			Fallback string `xml:"fallback"`
		} `xml:"source"`
	}
	if err := xml.Unmarshal([]byte(body), &lm); err != nil || code != 200 || len(lm.Source) != 2 ||
		lm.Source[0].Mount != "/icy.mp3" || lm.Source[0].Fallback != "" || lm.Source[1].Fallback != "/fb.mp3" {
		t.Fatalf("listmounts: %d %v %+v\n%s", code, err, lm, body)
	}
	if !strings.Contains(body, `<source mount="/icy.mp3"><fallback></fallback><listeners>`) {
		t.Errorf("listmounts: no empty <fallback> first, as Icecast: %s", body)
	}

	// A reload that changes the mount's name shows in the next document.
	cfg := e.srv.Config()
	mc := cfg.Mounts["/over.mp3"]
	mc.StreamName, mc.Genre = "Reloaded name", ""
	cfg.Mounts = map[string]engine.MountConfig{"/over.mp3": mc}
	if err := e.srv.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, "/over.mp3 after a reload", statusSources(t, e)["/over.mp3"], map[string]any{"server_name": "Reloaded name", "genre": "Src genre"})
}

// CORS for /api/v1 is for the origins listed only: their pages may read
// the API (refusals included) and preflights are answered without
// credentials; other origins get no CORS header; none by default.
func TestAPICORS(t *testing.T) {
	const panel = "https://panel.example"
	do := func(e *env, method, path, origin string, auth bool, hdr ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, e.base+path, nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if auth {
			req.SetBasicAuth("admin", adminPass)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	noCORS := func(what string, resp *http.Response) {
		t.Helper()
		for k := range resp.Header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("%s: %s: %q", what, k, resp.Header.Get(k))
			}
		}
	}

	e := start(t, Options{APICORS: []string{"https://other.example", panel + "/"}}, nil)
	resp := do(e, http.MethodGet, "/api/v1/status", panel, true)
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != panel || !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Origin") {
		t.Fatalf("listed origin: %d %v", resp.StatusCode, resp.Header)
	}
	if resp.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("credentials allowed: %v", resp.Header)
	}
	// A refusal is readable too, so the panel can say why.
	if resp := do(e, http.MethodGet, "/api/v1/status", panel, false); resp.StatusCode != 401 || resp.Header.Get("Access-Control-Allow-Origin") != panel {
		t.Errorf("refusal to the listed origin: %d %v", resp.StatusCode, resp.Header)
	}
	pre := do(e, http.MethodOptions, "/api/v1/reload", panel, false,
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization")
	if pre.StatusCode != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != panel ||
		!strings.Contains(pre.Header.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(pre.Header.Get("Access-Control-Allow-Headers"), "Authorization") || pre.Header.Get("Access-Control-Max-Age") == "" {
		t.Fatalf("preflight: %d %v", pre.StatusCode, pre.Header)
	}

	resp = do(e, http.MethodGet, "/api/v1/status", "https://evil.example", true)
	if resp.StatusCode != 200 {
		t.Fatalf("unlisted origin with credentials: %d", resp.StatusCode)
	}
	noCORS("unlisted origin", resp)
	pre = do(e, http.MethodOptions, "/api/v1/status", "https://evil.example", false, "Access-Control-Request-Method", "GET")
	noCORS("unlisted origin's preflight", pre)
	if pre.StatusCode != 401 {
		t.Errorf("unlisted origin's preflight: %d, want 401 as any request without credentials", pre.StatusCode)
	}
	// Only the API: the admin commands are not for other origins' pages.
	noCORS("/admin/stats", do(e, http.MethodGet, "/admin/stats", panel, true))

	def := start(t, Options{}, nil)
	resp = do(def, http.MethodGet, "/api/v1/status", panel, true)
	noCORS("no api_cors", resp)
	if resp.Header.Get("Vary") != "" {
		t.Errorf("no api_cors: Vary %q", resp.Header.Get("Vary"))
	}
}

func postReload(t *testing.T, e *env, user, pass string) (int, reloadDoc, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.base+"/api/v1/reload", nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var doc reloadDoc
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return resp.StatusCode, doc, string(raw) // a refused login
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("reload answer: %v %s", err, raw)
	}
	return resp.StatusCode, doc, strings.TrimSpace(string(raw))
}

// POST /api/v1/reload is the admin's: it calls Options.Reload and says
// whether the configuration is in force or why it was refused.
func TestReloadEndpoint(t *testing.T) {
	var calls atomic.Int32
	var fail atomic.Bool
	e := start(t, Options{RelayPassword: "relaypw", Reload: func() error {
		calls.Add(1)
		if fail.Load() {
			return errors.New(`icecast.xml:12: <max-listeners>: "many" is not a number`)
		}
		return nil
	}}, nil)
	for _, c := range []struct{ user, pass string }{{"", ""}, {"admin", "wrong"}, {"relay", "relaypw"}, {"source", srcPass}} {
		if code, _, _ := postReload(t, e, c.user, c.pass); code != 401 {
			t.Errorf("reload as %q: %d, want 401", c.user, code)
		}
	}
	if code, _, _ := e.get("/api/v1/reload", "admin", adminPass); code != http.StatusMethodNotAllowed {
		t.Errorf("GET reload: %d", code)
	}
	if calls.Load() != 0 {
		t.Fatalf("Reload called %d times by refused requests", calls.Load())
	}
	code, doc, raw := postReload(t, e, "admin", adminPass)
	if code != 200 || !doc.OK || doc.Error != "" || raw != `{"ok":true}` || calls.Load() != 1 {
		t.Fatalf("reload: %d %s (calls %d)", code, raw, calls.Load())
	}
	fail.Store(true)
	code, doc, raw = postReload(t, e, "admin", adminPass)
	if code != http.StatusUnprocessableEntity || doc.OK || doc.Error != `icecast.xml:12: <max-listeners>: "many" is not a number` {
		t.Fatalf("refused reload: %d %s", code, raw)
	}

	none := start(t, Options{}, nil)
	if code, doc, raw := postReload(t, none, "admin", adminPass); code != http.StatusNotImplemented || doc.OK || doc.Error == "" {
		t.Fatalf("no Reload: %d %s", code, raw)
	}
}

// A reload puts the control plane's new settings in force for the next
// request: the old admin password stops working and the new one works,
// the relay password, host, location and CORS origins change, while an
// event stream opened before goes on and sees what happens after.
func TestReconfigure(t *testing.T) {
	var e *env
	next := Options{AdminPassword: "new-admin", RelayPassword: "new-relay", Host: "new.example:8000", Location: "Mars",
		Admin: "new@example", APICORS: []string{"https://panel.example"}}
	e = start(t, Options{RelayPassword: "old-relay", Heartbeat: time.Hour, Reload: func() error {
		e.h.Reconfigure(next)
		return nil
	}}, nil)
	events, _, closeFeed := openSSE(t, e, "")
	defer closeFeed()
	if code, _, _ := e.get("/admin/streamlist.txt", "relay", "old-relay"); code != 200 {
		t.Fatalf("old relay password before: %d", code)
	}

	if code, _, raw := postReload(t, e, "admin", adminPass); code != 200 {
		t.Fatalf("reload: %d %s", code, raw)
	}
	for _, c := range []struct {
		path, user, pass string
		want             int
	}{
		{"/admin/stats", "admin", adminPass, 401},
		{"/admin/stats", "admin", "new-admin", 200},
		{"/api/v1/status", "admin", adminPass, 401},
		{"/api/v1/status", "admin", "new-admin", 200},
		{"/admin/streamlist.txt", "relay", "old-relay", 401},
		{"/admin/streamlist.txt", "relay", "new-relay", 200},
	} {
		if code, _, _ := e.get(c.path, c.user, c.pass); code != c.want {
			t.Errorf("%s as %s/%s after the reload: %d, want %d", c.path, c.user, c.pass, code, c.want)
		}
	}
	ice, _ := statusJSON(t, e)
	if string(ice["host"]) != `"new.example"` || string(ice["location"]) != `"Mars"` || string(ice["admin"]) != `"new@example"` {
		t.Errorf("status after the reload: host %s location %s admin %s", ice["host"], ice["location"], ice["admin"])
	}
	if _, hdr, _ := e.get("/api/v1/status", "admin", "new-admin", "Origin", "https://panel.example"); hdr.Get("Access-Control-Allow-Origin") != "https://panel.example" {
		t.Errorf("CORS origin added by the reload not honoured: %v", hdr)
	}

	// The stream opened with the old password is still open and live.
	e.connectSource("/after.mp3", "source", srcPass)
	waitEvent(t, events, "source.connected", "/after.mp3")

	// An allow-list that leaves this address out closes the admin
	// commands to it; the public status stays open.
	e.h.Reconfigure(Options{AdminPassword: "new-admin", AdminAllow: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}})
	if code, _, _ := e.get("/admin/stats", "admin", "new-admin"); code != 403 {
		t.Errorf("/admin/stats outside the new allow-list: %d", code)
	}
	if code, _, _ := e.get("/status-json.xsl", "", ""); code != 200 {
		t.Errorf("status-json.xsl: %d", code)
	}
}

// The login limiter outlives a reload: an address blocked before is still
// blocked, even with the new password.
func TestReconfigureKeepsLoginBlocks(t *testing.T) {
	e := start(t, Options{MaxAuthFailures: 2, AuthWindow: time.Minute}, nil)
	for range 2 {
		e.get("/admin/stats", "admin", "guess")
	}
	if code, _, _ := e.get("/admin/stats", "admin", adminPass); code != http.StatusTooManyRequests {
		t.Fatalf("after two failures: %d", code)
	}
	e.h.Reconfigure(Options{AdminPassword: "new-admin", MaxAuthFailures: 100})
	if code, _, _ := e.get("/admin/stats", "admin", "new-admin"); code != http.StatusTooManyRequests {
		t.Fatalf("after the reload: %d, want still blocked", code)
	}
}
