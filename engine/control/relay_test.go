package control

// The control plane of relay trees, in process: the stream list edges
// read, /health, the relays API, and the [[relay]]/[master] configuration.
// End-to-end tests with a real Icecast are in cmd/icedeck/tree_test.go.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/internal/testkit"
)

const (
	rtSource = "rt-source"
	rtAdmin  = "rt-admin"
	rtRelay  = "rt-relay"
)

// rtServer is an engine with its control plane on a loopback port.
type rtServer struct {
	t    *testing.T
	srv  *engine.Server
	h    *Handler
	addr string
}

func rtStart(t *testing.T, opts Options, mod func(*engine.Config)) *rtServer {
	t.Helper()
	cfg := engine.Defaults()
	cfg.SourcePassword = rtSource
	cfg.Logger = testkit.Logger(t)
	if mod != nil {
		mod(&cfg)
	}
	s, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if opts.AdminPassword == "" {
		opts.AdminPassword = rtAdmin
	}
	h := New(s, opts)
	s.Handle(h)
	addr := testkit.Serve(t, s)
	t.Cleanup(h.Close) // runs before Serve's shutdown: event streams end first
	return &rtServer{t: t, srv: s, h: h, addr: addr}
}

// rtFeed connects a PUT source to mount and sends the MP3 fixture in a
// loop near real time (4 KiB every 200 ms) until the test ends; sent
// returns what it has sent so far.
func (s *rtServer) rtFeed(mount string) (sent func() []byte) {
	t := s.t
	t.Helper()
	data := testkit.Media(t, "tone.mp3")
	src, r := testkit.ConnectSource(t, s.addr, testkit.SourceRequest{Mount: mount, User: "source", Password: rtSource, ContentType: "audio/mpeg"})
	if src == nil {
		t.Fatalf("source on %s refused: %d %s", mount, r.Code, r.Body)
	}
	var mu sync.Mutex
	var out []byte
	stop := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() { close(stop); src.Close(); <-done })
	go func() {
		defer close(done)
		for off := 0; ; off = (off + 4096) % len(data) {
			b := data[off:min(off+4096, len(data))]
			mu.Lock()
			out = append(out, b...)
			mu.Unlock()
			if _, err := src.Conn.Write(b); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	testkit.Eventually(t, 5*time.Second, "source on "+mount, func() bool {
		m, ok := s.srv.Mount(mount)
		return ok && m.Source != nil
	})
	return func() []byte {
		mu.Lock()
		defer mu.Unlock()
		return append([]byte(nil), out...)
	}
}

// rtDo makes a request with optional Basic credentials and returns the
// status, headers and body.
func (s *rtServer) rtDo(method, path, user, pass, body string) (int, http.Header, string) {
	s.t.Helper()
	req, err := http.NewRequest(method, "http://"+s.addr+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// rawAnswer sends a request exactly as given and returns the answer's
// status line, header and body (testkit.RawRequest reads it to the end).
func rawAnswer(t *testing.T, addr, request string) (status string, head http.Header, body string) {
	t.Helper()
	r := testkit.RawRequest(t, addr, request)
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(r.Head+"\r\n\r\n")), nil)
	if err != nil {
		t.Fatalf("not an HTTP answer: %v\n%q", err, r.Head)
	}
	status, _, _ = strings.Cut(r.Head, "\r\n")
	return status, resp.Header, r.Body
}

// The stream list, as an Icecast 2.4 edge reads it: its exact request
// (HTTP/1.0, no Host, the relay credentials), an "HTTP/1.0 200 OK" status
// line, one live public mount per line, every line ending in "\n".
// Hidden mounts and relays that are not live are left out; the admin
// credentials open the list too, wrong ones do not, and admin_allow does
// not apply (edges are elsewhere).
func TestStreamListForIcecastEdges(t *testing.T) {
	s := rtStart(t, Options{RelayPassword: rtRelay, AdminAllow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, func(c *engine.Config) {
		c.Mounts = map[string]engine.MountConfig{"/hidden.mp3": {Hidden: true}}
		c.Relays = []engine.RelayConfig{{Mount: "/dead.mp3", Upstreams: []string{"http://127.0.0.1:1/x.mp3"}, Retry: time.Minute}}
	})
	edgeAsks := func(user, pass string) (string, http.Header, string) {
		return rawAnswer(t, s.addr, "GET /admin/streamlist.txt HTTP/1.0\r\nAuthorization: "+testkit.Basic(user, pass)+"\r\n\r\n")
	}
	status, _, body := edgeAsks("relay", rtRelay)
	if status != "HTTP/1.0 200 OK" || body != "" {
		t.Fatalf("no mounts: %q %q", status, body)
	}
	s.rtFeed("/b.mp3")
	s.rtFeed("/a.mp3")
	s.rtFeed("/hidden.mp3")
	for _, creds := range [][2]string{{"relay", rtRelay}, {"admin", rtAdmin}} {
		status, head, body := edgeAsks(creds[0], creds[1])
		if status != "HTTP/1.0 200 OK" || body != "/a.mp3\n/b.mp3\n" || !strings.HasPrefix(head.Get("Content-Type"), "text/plain") {
			t.Fatalf("as %s: %q %v %q", creds[0], status, head, body)
		}
	}
	// The rest of the admin interface stays behind admin_allow.
	if code, _, _ := s.rtDo(http.MethodGet, "/admin/stats", "admin", rtAdmin, ""); code != http.StatusForbidden {
		t.Errorf("/admin/stats from outside admin_allow: %d", code)
	}
	for _, creds := range [][2]string{{"relay", "wrong"}, {"source", rtSource}, {"admin", rtRelay}} {
		status, head, body := edgeAsks(creds[0], creds[1])
		if !strings.Contains(status, " 401 ") || head.Get("WWW-Authenticate") == "" || strings.Contains(body, "/a.mp3") {
			t.Errorf("%s:%s: %q %q", creds[0], creds[1], status, body)
		}
	}
	if code, _, _ := s.rtDo(http.MethodPost, "/admin/streamlist.txt", "relay", rtRelay, ""); code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", code)
	}

	// Without a relay password, relay logins are refused; the admin's work.
	s2 := rtStart(t, Options{}, nil)
	if code, _, _ := s2.rtDo(http.MethodGet, "/admin/streamlist.txt", "relay", "", ""); code != http.StatusUnauthorized {
		t.Errorf("relay login without a relay password: %d", code)
	}
	if code, _, _ := s2.rtDo(http.MethodGet, "/admin/streamlist.txt", "admin", rtAdmin, ""); code != http.StatusOK {
		t.Errorf("admin login: %d", code)
	}
}

// icecast-kh edges ask /admin/streams with curl (HTTP/1.1, expecting
// "HTTP/1.x 200 OK"), take each "/admin/streams?mount=/m" line's mount as
// their local mount, then GET that line's path, with "Host:" naming the
// server without its port: icedeck redirects it to the mount, which
// serves the stream.
func TestStreamsForIcecastKHEdges(t *testing.T) {
	s := rtStart(t, Options{RelayPassword: rtRelay}, nil)
	sent := s.rtFeed("/a.mp3")
	s.rtFeed("/b&c.mp3")
	status, _, body := rawAnswer(t, s.addr, "GET /admin/streams HTTP/1.1\r\nHost: "+s.addr+"\r\nUser-Agent: Icecast 2.4.0-kh22\r\n"+
		"Authorization: "+testkit.Basic("relay", rtRelay)+"\r\nConnection: close\r\n\r\n")
	if status != "HTTP/1.1 200 OK" || body != "/admin/streams?mount=/a.mp3\n/admin/streams?mount=/b&c.mp3\n" {
		t.Fatalf("%q %q", status, body)
	}

	for _, mount := range []string{"/a.mp3", "/b&c.mp3"} {
		status, head, _ := rawAnswer(t, s.addr, "GET /admin/streams?mount="+mount+" HTTP/1.0\r\nUser-Agent: Icecast 2.4.0-kh22\r\nHost: 127.0.0.1\r\nIcy-MetaData: 1\r\n\r\n")
		if want := "http://" + s.addr + mount; !strings.Contains(status, " 302 ") || head.Get("Location") != want {
			t.Fatalf("%s: %q Location %q, want %q", mount, status, head.Get("Location"), want)
		}
	}
	// An HTTP/1.0 request may name no host at all: the connection's address.
	if _, head, _ := rawAnswer(t, s.addr, "GET /admin/streams?mount=/a.mp3 HTTP/1.0\r\n\r\n"); head.Get("Location") != "http://"+s.addr+"/a.mp3" {
		t.Errorf("without Host: Location %q", head.Get("Location"))
	}
	// Following the redirect is listening.
	resp, err := http.Get("http://" + s.addr + "/admin/streams?mount=/a.mp3")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "audio/mpeg" {
		t.Fatalf("after the redirect: %s %v", resp.Status, resp.Header)
	}
	got := make([]byte, 20000)
	if _, err := io.ReadFull(resp.Body, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(sent(), got) {
		t.Fatal("the redirected stream is not the source's bytes")
	}
	if code, _, _ := s.rtDo(http.MethodGet, "/admin/streams?mount=nope", "", "", ""); code != http.StatusBadRequest {
		t.Errorf("bad mount: %d", code)
	}
}

// shuttingDown is a real engine that says it is shutting down.
type shuttingDown struct{ *engine.Server }

func (shuttingDown) ShuttingDown() bool { return true }

// /health is what a load balancer checks: 200 with a small JSON document
// while the server takes listeners, 503 at the client limit or while it
// shuts down. It needs no credentials and admin_allow does not apply.
func TestHealth(t *testing.T) {
	s := rtStart(t, Options{AdminAllow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, func(c *engine.Config) { c.MaxClients = 4 })
	health := func() (int, HealthDoc, http.Header) {
		code, head, body := s.rtDo(http.MethodGet, "/health", "", "", "")
		var d HealthDoc
		if err := json.Unmarshal([]byte(body), &d); err != nil {
			t.Fatalf("%v: %q", err, body)
		}
		return code, d, head
	}
	code, d, head := health()
	if code != http.StatusOK || d != (HealthDoc{Status: "ok", Listeners: 0, Clients: 1, MaxClients: 4}) || !strings.HasPrefix(head.Get("Content-Type"), "application/json") {
		t.Fatalf("idle: %d %+v %v", code, d, head)
	}
	s.rtFeed("/a.mp3")
	var conns []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /a.mp3 HTTP/1.0\r\n\r\n")
		conns = append(conns, c)
	}
	testkit.Eventually(t, 5*time.Second, "two listeners", func() bool { m, _ := s.srv.Mount("/a.mp3"); return m.ListenerCount == 2 })
	// Source, two listeners and this check: the limit of four is reached.
	code, d, head = health()
	if code != http.StatusServiceUnavailable || d != (HealthDoc{Status: "full", Listeners: 2, Clients: 4, MaxClients: 4}) || head.Get("Retry-After") == "" {
		t.Fatalf("full: %d %+v %v", code, d, head)
	}
	conns[0].Close()
	testkit.Eventually(t, 5*time.Second, "a listener gone", func() bool { m, _ := s.srv.Mount("/a.mp3"); return m.ListenerCount == 1 })
	if code, d, _ = health(); code != http.StatusOK || d.Status != "ok" || d.Listeners != 1 {
		t.Fatalf("after one left: %d %+v", code, d)
	}
	if code, _, _ := s.rtDo(http.MethodPost, "/health", "", "", ""); code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", code)
	}

	h := New(shuttingDown{s.srv}, Options{})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil || rec.Code != http.StatusServiceUnavailable || d.Status != "shutting down" {
		t.Fatalf("shutting down: %d %q", rec.Code, rec.Body.String())
	}
}

// relayJSON is RelayDoc as a client decodes it.
type relayJSON struct {
	Mount      string   `json:"mount"`
	State      string   `json:"state"`
	Upstream   string   `json:"upstream"`
	Upstreams  []string `json:"upstreams"`
	Attempts   int      `json:"attempts"`
	LastError  string   `json:"last_error"`
	OnDemand   bool     `json:"on_demand"`
	FromMaster bool     `json:"from_master"`
	Since      string   `json:"since"`
}

// The relays API adds, lists and removes pull relays at run time: bad
// bodies get 400 with the reason (never an upstream's password), a good
// one 201; the relayed mount carries its audio and title and a "relay"
// object in the API; a failing upstream shows as retrying with its error.
func TestRelaysAPI(t *testing.T) {
	origin := rtStart(t, Options{}, nil)
	sent := origin.rtFeed("/up.mp3")
	edge := rtStart(t, Options{}, nil)
	post := func(body string) (int, http.Header, string) {
		return edge.rtDo(http.MethodPost, "/api/v1/relays", "admin", rtAdmin, body)
	}
	for _, c := range []struct{ body, want string }{
		{``, "empty body"},
		{`{"mount":"/x.mp3"}`, "relay /x.mp3: upstreams is empty"},
		{`{"mount":"x.mp3","upstreams":["http://h/x"]}`, "starts with /"},
		{`{"upstreams":["http://h/x"]}`, "relay has no mount"},
		{`{"mount":"/x.mp3","upstreams":["ftp://u:S3CRET@h/x"]}`, `upstream "ftp://u:xxxxx@h/x": not an http:// URL`},
		{`{"mount":"/x.mp3","upstreams":["http://u:S3CRET@h:99999/x"]}`, "port"},
		{`{"mount":"/x.mp3","upstreams":["http://h"]}`, "no mount path"},
		{`{"mount":"/x.mp3","upstreams":"http://h/x"}`, "upstreams must be an array of strings"},
		{`{"mount":"/x.mp3","upstreams":["http://h/x"],"on_demand":"yes"}`, "on_demand must be true or false"},
		{`{"mount":"/x.mp3","upstreams":["http://h/x"],"retry":"5m"}`, "retry must be between 0s and 1m0s, got 5m0s"},
		{`{"mount":"/x.mp3","upstreams":["http://h/x"],"retry":"soon"}`, "not a duration"},
		{`{"mount":"/x.mp3","upstreams":["http://h/x"],"bogus":1}`, `unknown field "bogus"`},
		{`{"mount":"/x.mp3","upstreams":["http://h/x"]} {}`, "one JSON object"},
	} {
		code, _, body := post(c.body)
		var doc map[string]string
		if err := json.Unmarshal([]byte(body), &doc); err != nil || code != http.StatusBadRequest || !strings.Contains(doc["error"], c.want) {
			t.Errorf("%s: %d %s, want 400 with %q", c.body, code, body, c.want)
		}
		if strings.Contains(body, "S3CRET") {
			t.Errorf("%s: the answer shows the password: %s", c.body, body)
		}
	}
	if n := len(edge.srv.Relays()); n != 0 {
		t.Fatalf("%d relays after bad requests", n)
	}

	up := "http://relay:PASSW0RD@" + origin.addr + "/up.mp3"
	code, head, body := post(`{"mount":"/pulled.mp3","upstreams":["` + up + `"],"retry":"1s"}`)
	var rd relayJSON
	if err := json.Unmarshal([]byte(body), &rd); err != nil || code != http.StatusCreated || rd.Mount != "/pulled.mp3" ||
		len(rd.Upstreams) != 1 || rd.Upstreams[0] != "http://relay:xxxxx@"+origin.addr+"/up.mp3" || head.Get("Location") != "/api/v1/relays?mount=%2Fpulled.mp3" {
		t.Fatalf("POST: %d %v %s", code, head, body)
	}
	if code, _, body := post(`{"mount":"/pulled.mp3","upstreams":["` + up + `"]}`); code != http.StatusBadRequest || !strings.Contains(body, "relayed already") {
		t.Errorf("again: %d %s", code, body)
	}
	testkit.Eventually(t, 5*time.Second, "the relay live", func() bool {
		_, _, body := edge.rtDo(http.MethodGet, "/api/v1/relays", "admin", rtAdmin, "")
		var list struct{ Relays []relayJSON }
		return json.Unmarshal([]byte(body), &list) == nil && len(list.Relays) == 1 && list.Relays[0].State == "live"
	})
	if err := origin.srv.SetTitle("/up.mp3", `Quote "it" <now> & then`, ""); err != nil {
		t.Fatal(err)
	}
	var m struct {
		Name  string     `json:"name"`
		State string     `json:"state"`
		Title string     `json:"title"`
		Relay *relayJSON `json:"relay"`
	}
	testkit.Eventually(t, 10*time.Second, "the title relayed", func() bool {
		_, _, body := edge.rtDo(http.MethodGet, "/api/v1/mounts/pulled.mp3", "admin", rtAdmin, "")
		return json.Unmarshal([]byte(body), &m) == nil && m.Title == `Quote "it" <now> & then`
	})
	if m.State != "live" || m.Relay == nil || m.Relay.State != "live" || m.Relay.Upstream != "http://relay:xxxxx@"+origin.addr+"/up.mp3" || m.Relay.Attempts != 0 {
		t.Fatalf("mount: %+v relay %+v", m, m.Relay)
	}
	// Not relayed: "relay" is null.
	_, _, body = origin.rtDo(http.MethodGet, "/api/v1/mounts/up.mp3", "admin", rtAdmin, "")
	if !strings.Contains(body, `"relay":null`) {
		t.Errorf("origin's mount: %s", body)
	}
	resp, err := http.Get("http://" + edge.addr + "/pulled.mp3")
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 16000)
	_, err = io.ReadFull(resp.Body, got)
	resp.Body.Close()
	if err != nil || !bytes.Contains(sent(), got) {
		t.Fatalf("the relayed audio is not the origin's source's (%v)", err)
	}

	// An upstream that refuses: retrying, with the error, no password.
	if code, _, body := post(`{"mount":"/dead.mp3","upstreams":["http://u:D3ADPW@127.0.0.1:1/x.mp3"],"on_demand":false,"icy_metadata":false,"retry":"1s"}`); code != http.StatusCreated {
		t.Fatalf("dead: %d %s", code, body)
	}
	var list struct{ Relays []relayJSON }
	testkit.Eventually(t, 10*time.Second, "the dead relay retrying", func() bool {
		_, _, body = edge.rtDo(http.MethodGet, "/api/v1/relays", "admin", rtAdmin, "")
		list.Relays = nil
		return json.Unmarshal([]byte(body), &list) == nil && len(list.Relays) == 2 && list.Relays[0].Mount == "/dead.mp3" &&
			list.Relays[0].Attempts > 0 && list.Relays[0].LastError != ""
	})
	if dead := list.Relays[0]; dead.State != "retrying" && dead.State != "connecting" || strings.Contains(body, "D3ADPW") || dead.Upstream != "http://u:xxxxx@127.0.0.1:1/x.mp3" {
		t.Fatalf("dead relay: %s", body)
	}
	_, _, body = edge.rtDo(http.MethodGet, "/api/v1/mounts/dead.mp3", "admin", rtAdmin, "")
	if json.Unmarshal([]byte(body), &m) != nil || m.State != "relay" || m.Relay == nil || m.Relay.Mount != "/dead.mp3" {
		t.Errorf("dead mount: %s", body)
	}

	if code, _, body := edge.rtDo(http.MethodDelete, "/api/v1/relays?mount=/pulled.mp3", "admin", rtAdmin, ""); code != http.StatusOK || !strings.Contains(body, `"removed":true`) {
		t.Fatalf("DELETE: %d %s", code, body)
	}
	if code, _, _ := edge.rtDo(http.MethodDelete, "/api/v1/relays?mount=/pulled.mp3", "admin", rtAdmin, ""); code != http.StatusNotFound {
		t.Errorf("DELETE again: %d", code)
	}
	if code, _, _ := edge.rtDo(http.MethodDelete, "/api/v1/relays", "admin", rtAdmin, ""); code != http.StatusBadRequest {
		t.Errorf("DELETE without mount: %d", code)
	}
	if code, _, _ := edge.rtDo(http.MethodPut, "/api/v1/relays", "admin", rtAdmin, "{}"); code != http.StatusMethodNotAllowed {
		t.Errorf("PUT: %d", code)
	}
	if code, _, _ := edge.rtDo(http.MethodGet, "/api/v1/relays", "", "", ""); code != http.StatusUnauthorized {
		t.Errorf("no credentials: %d", code)
	}
	_ = edge.srv.RemoveRelay("/dead.mp3")
	if _, _, body := edge.rtDo(http.MethodGet, "/api/v1/relays", "admin", rtAdmin, ""); strings.TrimSpace(body) != `{"relays":[]}` {
		t.Errorf("empty list: %s", body)
	}
}

// [[relay]] and [master] are read into the engine's configuration, with
// their defaults (ICY metadata on, user "relay"); [auth] relay_user and
// relay_password into the control plane's options.
func TestRelayConfigApplies(t *testing.T) {
	f, err := ParseConfig("edge.toml", []byte(`
[auth]
relay_password = "rp"

[[relay]]
mount = "/a.mp3"
upstreams = ["http://o1:8000/a.mp3", "http://u:p@o2/a.mp3"]

[[relay]]
mount = "/b.mp3"
upstreams = ["http://o1:8000/b.mp3"]
on_demand = true
icy_metadata = false
retry = "5s"

[master]
url = "http://origin:8000/"
password = "mp"
update_interval = "10s"
on_demand = true
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.Defaults()
	f.Apply(&cfg)
	want := []engine.RelayConfig{
		{Mount: "/a.mp3", Upstreams: []string{"http://o1:8000/a.mp3", "http://u:p@o2/a.mp3"}, ICYMetadata: true},
		{Mount: "/b.mp3", Upstreams: []string{"http://o1:8000/b.mp3"}, OnDemand: true, Retry: 5 * time.Second},
	}
	if fmt.Sprint(cfg.Relays) != fmt.Sprint(want) {
		t.Fatalf("relays %+v", cfg.Relays)
	}
	if cfg.Master == nil || *cfg.Master != (engine.MasterConfig{URL: "http://origin:8000", User: "relay", Password: "mp", UpdateInterval: 10 * time.Second, OnDemand: true, ICYMetadata: true}) {
		t.Fatalf("master %+v", cfg.Master)
	}
	var o Options
	f.ApplyOptions(&o)
	if o.RelayUser != "" || o.RelayPassword != "rp" || New(nil, o).opts.RelayUser != "relay" {
		t.Fatalf("options %+v", o)
	}
	cfg.SourcePassword = "s"
	if _, err := engine.New(cfg); err != nil {
		t.Fatal(err)
	}

	// The example file sets every key.
	ex, err := LoadConfig(filepath.Join("..", "..", "icedeck.example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg = engine.Defaults()
	ex.Apply(&cfg)
	ex.ApplyOptions(&o)
	if len(cfg.Relays) != 1 || len(cfg.Relays[0].Upstreams) != 2 || cfg.Relays[0].Retry != 2*time.Second || !cfg.Relays[0].ICYMetadata ||
		cfg.Master == nil || cfg.Master.UpdateInterval != 30*time.Second || !cfg.Master.OnDemand || o.RelayUser != "relay" || o.RelayPassword == "" {
		t.Fatalf("example: %+v %+v %+v", cfg.Relays, cfg.Master, o)
	}
}

// Mistakes in [[relay]] and [master] are reported with the file and line,
// and never with an upstream's password.
func TestRelayConfigErrors(t *testing.T) {
	for _, c := range []struct{ name, toml, want string }{
		{"no upstreams", "[[relay]]\nmount = \"/a\"\n", "r.toml:1: relay /a: upstreams is empty"},
		{"no mount", "[[relay]]\n\nupstreams = [\"http://h/a\"]\n", "r.toml:1: relay has no mount"},
		{"bad mount", "[[relay]]\nmount = \"a\"\n", "r.toml:2:"},
		{"https", "[[relay]]\nmount = \"/a\"\nupstreams = [\"https://u:S3CRET@h/a\"]\n", `r.toml:3: relay /a: upstream "https://u:xxxxx@h/a": not an http:// URL`},
		{"no path", "[[relay]]\nmount = \"/a\"\nupstreams = [\"http://h:8000\"]\n", "r.toml:3: relay /a: upstream \"http://h:8000\": no mount path"},
		{"retry", "[[relay]]\nmount = \"/a\"\nupstreams = [\"http://h/a\"]\n\nretry = \"2m\"\n", "r.toml:5: relay /a: retry must be between 0s and 1m0s, got 2m0s"},
		{"duplicate", "[[relay]]\nmount = \"/a\"\nupstreams = [\"http://h/a\"]\n[[relay]]\nmount = \"/a\"\nupstreams = [\"http://h/a\"]\n", "r.toml:5: relay /a is defined twice (first at line 2)"},
		{"unknown key", "[[relay]]\nmount = \"/a\"\nupstreams = [\"http://h/a\"]\nupstream = \"x\"\n", `r.toml:4: unknown key "relay.upstream"`},
		{"master without password", "[master]\nurl = \"http://o:8000\"\n", "r.toml:1: master.password is missing"},
		{"master without url", "[master]\npassword = \"p\"\n", "r.toml:1: master.url is missing"},
		{"master url", "[master]\nurl = \"o:8000\"\npassword = \"p\"\n", `r.toml:2: master.url "o:8000": not an http:// URL`},
		{"master credentials", "[master]\nurl = \"http://relay:S3CRET@o:8000\"\npassword = \"p\"\n", "r.toml:2: master.url: put the credentials in master.user and master.password"},
		{"master interval", "[master]\nurl = \"http://o:8000\"\npassword = \"p\"\nupdate_interval = \"100ms\"\n", "r.toml:4: master.update_interval must be between 1s and 24h0m0s, got 100ms"},
		{"master interval type", "[master]\nurl = \"http://o:8000\"\npassword = \"p\"\nupdate_interval = 30\n", "r.toml:4:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig("r.toml", []byte(c.toml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if strings.Contains(err.Error(), "S3CRET") {
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
}
