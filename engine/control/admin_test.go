package control

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/internal/testkit"
)

func TestAuth(t *testing.T) {
	e := start(t, Options{}, func(c *engine.Config) {
		c.Mounts = map[string]engine.MountConfig{"/own.mp3": {Username: "dj", Password: "djpw"}}
	})
	e.connectSource("/live.mp3", "source", srcPass)
	e.connectSource("/own.mp3", "dj", "djpw")

	// ezstream probes without credentials first: 401 with a challenge.
	code, hdr, _ := e.get("/admin/metadata?mount=/live.mp3&mode=updinfo&song=x", "", "")
	if code != 401 || hdr.Get("WWW-Authenticate") != `Basic realm="Icecast2 Server"` {
		t.Fatalf("no credentials: %d %q", code, hdr.Get("WWW-Authenticate"))
	}
	cases := []struct {
		path, user, pass string
		want             int
	}{
		{"/admin/stats", "admin", "wrong", 401},
		{"/admin/stats", "admin", adminPass, 200},
		{"/admin/stats", "source", srcPass, 401}, // source credentials only for mount commands
		{"/admin/metadata?mount=/live.mp3&mode=updinfo&song=x", "source", srcPass, 200},
		{"/admin/listclients?mount=/live.mp3", "source", srcPass, 200},
		{"/admin/moveclients?mount=/live.mp3&destination=/own.mp3", "source", srcPass, 401},
		{"/admin/metadata?mount=/own.mp3&mode=updinfo&song=x", "source", srcPass, 401}, // the mount has its own
		{"/admin/metadata?mount=/own.mp3&mode=updinfo&song=x", "dj", "djpw", 200},
		{"/admin/metadata?mount=/live.mp3&mode=updinfo&song=x", "dj", "djpw", 401},
		{"/api/v1/status", "", "", 401},
		{"/api/v1/status", "admin", adminPass, 200},
	}
	for _, c := range cases {
		code, _, body := e.get(c.path, c.user, c.pass)
		if code != c.want {
			t.Errorf("%s as %s:%s: %d, want %d (%s)", c.path, c.user, c.pass, code, c.want, body)
		}
	}
}

func TestFailedLoginsRateLimited(t *testing.T) {
	e := start(t, Options{MaxAuthFailures: 10}, nil)
	for i := 0; i < 9; i++ {
		if code, _, _ := e.get("/admin/stats", "admin", "guess"); code != 401 {
			t.Fatalf("failure %d: %d, want 401", i+1, code)
		}
	}
	if code, _ := e.admin("/admin/stats"); code != 200 {
		t.Fatalf("right password after 9 failures: %d", code)
	}
	if code, _, _ := e.get("/admin/stats", "admin", "guess"); code != 401 {
		t.Fatalf("10th failure: %d", code)
	}
	code, hdr, _ := e.get("/admin/stats", "admin", adminPass)
	if code != 429 || hdr.Get("Retry-After") == "" {
		t.Fatalf("after 10 failures: %d Retry-After %q, want 429", code, hdr.Get("Retry-After"))
	}
	// Public documents stay open.
	if code, _, _ := e.get("/status-json.xsl", "", ""); code != 200 {
		t.Fatalf("status-json.xsl while blocked: %d", code)
	}
	// Refusals reach the engine's event feed, where the interface shows them.
	var refused, blocked int
	for _, ev := range e.srv.Events(0) {
		if ev.Type == engine.EventAdminRejected {
			switch ev.Reason {
			case engine.ReasonWrongCredentials:
				refused++
			case engine.ReasonLoginsBlocked:
				blocked++
			}
		}
	}
	if refused != 10 || blocked != 1 {
		t.Fatalf("events: %d refused logins, %d blocks; want 10 and 1", refused, blocked)
	}
}

func TestAdminAllowList(t *testing.T) {
	e := start(t, Options{AdminAllow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, nil)
	for _, p := range []string{"/admin/stats", "/admin/listmounts", "/api/v1/status", "/api/v1/events"} {
		if code, _, _ := e.get(p, "admin", adminPass); code != 403 {
			t.Errorf("%s from 127.0.0.1 outside 10.0.0.0/8: %d, want 403", p, code)
		}
	}
	for _, p := range []string{"/status-json.xsl", "/metrics"} {
		if code, _, _ := e.get(p, "", ""); code != 200 {
			t.Errorf("%s: %d, want 200 (not restricted)", p, code)
		}
	}
	e2 := start(t, Options{AdminAllow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, nil)
	if code, _, _ := e2.get("/admin/stats", "admin", adminPass); code != 200 {
		t.Errorf("/admin/stats from inside the allow-list: %d", code)
	}
	// Behind a trusted proxy the client's forwarded address is what counts.
	e3 := start(t, Options{AdminAllow: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}}, func(c *engine.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	if code, _, _ := e3.get("/admin/stats", "admin", adminPass, "X-Forwarded-For", "203.0.113.5"); code != 200 {
		t.Errorf("allowed client behind the proxy: %d", code)
	}
	if code, _, _ := e3.get("/admin/stats", "admin", adminPass, "X-Forwarded-For", "198.51.100.5"); code != 403 {
		t.Errorf("other client behind the proxy: %d, want 403", code)
	}
	// An untrusted peer cannot claim an address.
	e4 := start(t, Options{AdminAllow: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}}, nil)
	if code, _, _ := e4.get("/admin/stats", "admin", adminPass, "X-Forwarded-For", "203.0.113.5"); code != 403 {
		t.Errorf("forged X-Forwarded-For from an untrusted peer: %d, want 403", code)
	}
}

func TestMetadataReachesICYListener(t *testing.T) {
	e := start(t, Options{}, func(c *engine.Config) {
		c.MetaInt = 1024
		c.Mounts = map[string]engine.MountConfig{"/latin.mp3": {Charset: "ISO-8859-1"}}
	})
	src := e.connectSource("/live.mp3", "source", srcPass)
	src.Feed(testkit.Media(t, "tone.mp3"), 4096, 50*time.Millisecond)
	l := testkit.Listen(t, e.addr, "/live.mp3", "Icy-MetaData", "1")
	if !strings.Contains(l.Head, "icy-metaint: 1024") {
		t.Fatalf("no icy-metaint in %q", l.Head)
	}

	cases := []struct {
		query string
		want  string
	}{
		{"song=" + urlq("Ünïcødé — Test"), "StreamTitle='Ünïcødé — Test';"},
		// ISO-8859-1 bytes: é is 0xE9, ü is 0xFC.
		{"song=Caf%E9+M%FCller&charset=ISO-8859-1", "StreamTitle='Café Müller';"},
		// windows-1252: 0x80 is €, 0x93/0x94 are curly quotes.
		{"song=%93Price%94+%8010&charset=windows-1252", "StreamTitle='“Price” €10';"},
		{"artist=Artist&title=Song&url=" + urlq("http://example.com/"), "StreamTitle='Artist - Song';StreamUrl='http://example.com/';"},
	}
	for _, c := range cases {
		code, body := e.admin("/admin/metadata?mount=/live.mp3&mode=updinfo&" + c.query)
		want := "<?xml version=\"1.0\"?>\n<iceresponse><message>Metadata update successful</message><return>1</return></iceresponse>\n"
		if code != 200 || body != want {
			t.Fatalf("%s: %d %q", c.query, code, body)
		}
		testkit.Eventually(t, 5*time.Second, "title "+c.want+" in an ICY block", func() bool {
			for _, m := range testkit.ICYTitles(l.Bytes(), 1024) {
				if m == c.want {
					return true
				}
			}
			return false
		})
	}
	if m := findMount(e.srv.Snapshot(), "/live.mp3"); m.Title != "Artist - Song" {
		t.Fatalf("mount title %q", m.Title)
	}
	// A mount configured as ISO-8859-1 converts updates that name no
	// charset, even bytes that would be valid UTF-8.
	src2 := e.connectSource("/latin.mp3", "source", srcPass)
	src2.Send(testkit.Media(t, "tone.mp3")[:8000], 8000, 0)
	if code, body := e.admin("/admin/metadata?mount=/latin.mp3&mode=updinfo&song=Caf%C3%A9"); code != 200 {
		t.Fatalf("latin mount: %d %s", code, body)
	}
	if m := findMount(e.srv.Snapshot(), "/latin.mp3"); m.Title != "CafÃ©" {
		t.Fatalf("latin mount title %q", m.Title)
	}
	// An unknown charset is refused, not guessed.
	code, _, body := e.get("/admin/metadata.json?mount=/live.mp3&mode=updinfo&song=x&charset=koi8-r", "admin", adminPass)
	var r struct{ Iceresponse iceResponse }
	if err := json.Unmarshal([]byte(body), &r); err != nil || code != 400 || r.Iceresponse.Return != 0 {
		t.Fatalf("koi8-r: %d %s %v", code, body, err)
	}
}

func urlq(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

type listClientsXML struct {
	Source struct {
		Mount     string `xml:"mount,attr"`
		Listeners int    `xml:"Listeners"`
		Listener  []struct {
			IP        string `xml:"IP"`
			UserAgent string `xml:"UserAgent"`
			Lag       int64  `xml:"lag"`
			Connected int64  `xml:"Connected"`
			ID        uint64 `xml:"ID"`
			BytesSent uint64 `xml:"BytesSent"`
		} `xml:"listener"`
	} `xml:"source"`
}

func TestListClientsAndKillClient(t *testing.T) {
	e := start(t, Options{}, nil)
	src := e.connectSource("/live.mp3", "source", srcPass)
	src.Feed(testkit.Media(t, "tone.mp3"), 4096, 50*time.Millisecond)
	l1 := testkit.Listen(t, e.addr, "/live.mp3")
	l2 := testkit.Listen(t, e.addr, "/live.mp3")
	testkit.Eventually(t, 5*time.Second, "two listeners", func() bool { return len(e.listenerIDs("/live.mp3")) == 2 })

	code, body := e.admin("/admin/listclients?mount=/live.mp3")
	if code != 200 || !strings.HasPrefix(body, "<?xml version=\"1.0\"?>\n<icestats><source mount=\"/live.mp3\"><Listeners>2</Listeners><listener><IP>127.0.0.1</IP><UserAgent>test-listener</UserAgent>") {
		t.Fatalf("listclients: %d %s", code, body)
	}
	var doc listClientsXML
	if err := xml.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Source.Listeners != 2 || len(doc.Source.Listener) != 2 {
		t.Fatalf("listclients parsed: %+v", doc)
	}
	ids := e.listenerIDs("/live.mp3")
	for i, li := range doc.Source.Listener {
		if li.ID != ids[i] || li.IP != "127.0.0.1" {
			t.Fatalf("listener %d: %+v, want id %d", i, li, ids[i])
		}
	}

	// JSON, by Accept.
	_, _, jb := e.get("/admin/listclients?mount=/live.mp3", "admin", adminPass, "Accept", "application/json")
	var jd struct {
		Icestats struct {
			Source struct {
				Listeners int
				Listener  []struct{ ID uint64 }
			} `json:"source"`
		} `json:"icestats"`
	}
	if err := json.Unmarshal([]byte(jb), &jd); err != nil || jd.Icestats.Source.Listeners != 2 || len(jd.Icestats.Source.Listener) != 2 {
		t.Fatalf("listclients JSON: %s %v", jb, err)
	}

	// Kick the first: its connection ends, the other keeps going.
	victim := ids[0]
	code, body = e.admin(fmt.Sprintf("/admin/killclient?mount=/live.mp3&id=%d", victim))
	if code != 200 || !strings.Contains(body, fmt.Sprintf("<message>Client %d removed</message><return>1</return>", victim)) {
		t.Fatalf("killclient: %d %s", code, body)
	}
	select {
	case <-l1.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("kicked listener still connected")
	}
	if l2.Closed() {
		t.Fatal("the other listener was disconnected too")
	}
	testkit.Eventually(t, 5*time.Second, "kick recorded", func() bool {
		for _, d := range findMount(e.srv.Snapshot(), "/live.mp3").Disconnects {
			if d.ID == victim && d.Reason == engine.ReasonKicked {
				return true
			}
		}
		return false
	})

	// Unknown id: 200 with return 0, as Icecast.
	code, body = e.admin("/admin/killclient?mount=/live.mp3&id=999999")
	if code != 200 || !strings.Contains(body, "<message>Client 999999 not found</message><return>0</return>") {
		t.Fatalf("unknown id: %d %s", code, body)
	}
	code, body = e.admin("/admin/listclients?mount=/nope.mp3")
	if code != 400 || !strings.Contains(body, "<return>0</return>") {
		t.Fatalf("unknown mount: %d %s", code, body)
	}
}

func TestMoveClients(t *testing.T) {
	e := start(t, Options{}, nil)
	a, b := testkit.Media(t, "tone.mp3"), testkit.Media(t, "tone440.mp3")
	sa := e.connectSource("/a.mp3", "source", srcPass)
	sb := e.connectSource("/b.mp3", "source", srcPass)
	sa.Feed(a, 4096, 50*time.Millisecond)
	sb.Feed(b, 4096, 50*time.Millisecond)
	l := testkit.Listen(t, e.addr, "/a.mp3")
	testkit.Eventually(t, 5*time.Second, "listener gets /a bytes", func() bool { return len(l.Bytes()) > 8192 })

	code, body := e.admin("/admin/moveclients?mount=/a.mp3&destination=/b.mp3")
	if code != 200 || !strings.Contains(body, "<message>Clients moved from /a.mp3 to /b.mp3</message><return>1</return>") {
		t.Fatalf("moveclients: %d %s", code, body)
	}
	testkit.Eventually(t, 5*time.Second, "listener on /b", func() bool { return len(e.listenerIDs("/b.mp3")) == 1 && len(e.listenerIDs("/a.mp3")) == 0 })
	n := len(l.Bytes())
	testkit.Eventually(t, 5*time.Second, "bytes after the move", func() bool { return len(l.Bytes()) > n+16384 })
	if l.Closed() {
		t.Fatal("listener lost its connection in the move")
	}
	after := l.Bytes()[n+8192:]
	// What arrives now is /b's stream: 512-byte pieces of it are found in
	// tone440.mp3 and not in tone.mp3.
	found := 0
	for off := 0; off+512 <= len(after) && off < 8192; off += 512 {
		w := after[off : off+512]
		if bytes.Contains(a, w) {
			t.Fatalf("bytes of /a after the move at offset %d", off)
		}
		if bytes.Contains(b, w) {
			found++
		}
	}
	if found < 8 {
		t.Fatalf("only %d of 16 pieces after the move are /b's bytes", found)
	}

	code, body = e.admin("/admin/moveclients?mount=/a.mp3&destination=/nowhere.mp3")
	if code != 400 || !strings.Contains(body, "<return>0</return>") {
		t.Fatalf("move to a missing mount: %d %s", code, body)
	}
}

func TestKillSource(t *testing.T) {
	e := start(t, Options{}, nil)
	src := e.connectSource("/live.mp3", "source", srcPass)
	src.Send(testkit.Media(t, "tone.mp3")[:16384], 16384, 0)
	code, body := e.admin("/admin/killsource?mount=/live.mp3")
	if code != 200 || !strings.Contains(body, "<message>Source Removed</message><return>1</return>") {
		t.Fatalf("killsource: %d %s", code, body)
	}
	_ = src.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := src.Conn.Read(make([]byte, 1)); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Fatalf("source connection still open: %v", err)
	}
	testkit.Eventually(t, 5*time.Second, "source gone", func() bool {
		m := findMount(e.srv.Snapshot(), "/live.mp3")
		return m == nil || m.Source == nil
	})
}

type statsXML struct {
	Admin       string `xml:"admin"`
	Host        string `xml:"host"`
	Listeners   int    `xml:"listeners"`
	Sources     int    `xml:"sources"`
	ServerID    string `xml:"server_id"`
	ServerStart string `xml:"server_start_iso8601"`
	Source      []struct {
		Mount        string `xml:"mount,attr"`
		Listeners    int    `xml:"listeners"`
		ListenerPeak int    `xml:"listener_peak"`
		ListenURL    string `xml:"listenurl"`
		ServerName   string `xml:"server_name"`
		ServerType   string `xml:"server_type"`
		Genre        string `xml:"genre"`
		Bitrate      int    `xml:"bitrate"`
		Title        string `xml:"title"`
		Frames       uint64 `xml:"frames"`
		SyncLosses   uint64 `xml:"sync_losses"`
		BytesRead    uint64 `xml:"total_bytes_read"`
		Disconnects  []struct {
			Reason string `xml:"reason"`
		} `xml:"disconnects>disconnect"`
	} `xml:"source"`
}

func TestStatsAndListMounts(t *testing.T) {
	e := start(t, Options{Admin: "ops@example.com", Host: "radio.example.com:8000"}, nil)
	data := testkit.Media(t, "tone.mp3")
	src := e.connectSource("/live.mp3", "source", srcPass, "Ice-Name", "Test Radio", "Ice-Genre", "Jazz", "Ice-Bitrate", "128")
	src.Send(data[:40000], 40000, 0)
	l := testkit.Listen(t, e.addr, "/live.mp3")
	testkit.Eventually(t, 5*time.Second, "frames counted", func() bool {
		m := findMount(e.srv.Snapshot(), "/live.mp3")
		return m.Source.Frames.Frames > 50 && m.ListenerCount == 1
	})
	id := e.listenerIDs("/live.mp3")[0]
	e.srv.KickListener("/live.mp3", id)
	<-l.Done()
	testkit.Eventually(t, 5*time.Second, "kick recorded", func() bool { return len(findMount(e.srv.Snapshot(), "/live.mp3").Disconnects) == 1 })

	code, body := e.admin("/admin/stats")
	var st statsXML
	if err := xml.Unmarshal([]byte(body), &st); err != nil || code != 200 {
		t.Fatalf("stats: %d %v\n%s", code, err, body)
	}
	if st.Admin != "ops@example.com" || st.Host != "radio.example.com" || st.Sources != 1 || len(st.Source) != 1 {
		t.Fatalf("stats: %+v", st)
	}
	s := st.Source[0]
	if s.Mount != "/live.mp3" || s.ServerName != "Test Radio" || s.Genre != "Jazz" || s.Bitrate != 128 ||
		s.ServerType != "audio/mpeg" || s.ListenURL != "http://radio.example.com:8000/live.mp3" || s.ListenerPeak != 1 ||
		s.Frames < 50 || s.BytesRead != 40000 {
		t.Fatalf("stats source: %+v", s)
	}
	if len(s.Disconnects) != 1 || s.Disconnects[0].Reason != "kicked" {
		t.Fatalf("disconnect reasons: %+v", s.Disconnects)
	}

	code, body = e.admin("/admin/listmounts")
	want := `<icestats><source mount="/live.mp3"><fallback></fallback><listeners>0</listeners><Connected>`
	if code != 200 || !strings.Contains(body, want) || !strings.Contains(body, "<content-type>audio/mpeg</content-type>") {
		t.Fatalf("listmounts: %d %s", code, body)
	}
	code, body = e.admin("/admin/listmounts.json")
	var lm struct {
		Icestats struct {
			Source []struct {
				Mount       string `json:"mount"`
				ContentType string `json:"content-type"`
			} `json:"source"`
		} `json:"icestats"`
	}
	if err := json.Unmarshal([]byte(body), &lm); err != nil || code != 200 || len(lm.Icestats.Source) != 1 || lm.Icestats.Source[0].ContentType != "audio/mpeg" {
		t.Fatalf("listmounts.json: %d %s %v", code, body, err)
	}
	if code, body := e.admin("/admin/frobnicate"); code != 400 || !strings.Contains(body, "<return>0</return>") {
		t.Fatalf("unknown command: %d %s", code, body)
	}
	if code, _, _ := e.get("/nothing-here", "", ""); code != http.StatusNotFound {
		t.Fatalf("unknown path: %d", code)
	}
}

// icecastGlobals are the global elements of /admin/stats in the order a
// real Icecast 2.4.4 (Debian's icecast2 2.4.4-4) answers them.
var icecastGlobals = []string{"admin", "client_connections", "clients", "connections", "file_connections", "host",
	"listener_connections", "listeners", "location", "server_id", "server_start", "server_start_iso8601",
	"source_client_connections", "source_relay_connections", "source_total_connections", "sources", "stats", "stats_connections"}

// adminStats fetches path and returns icestats' simple child elements
// in document order, and their values.
func adminStats(t *testing.T, e *env, path string) ([]string, map[string]string) {
	t.Helper()
	code, hdr, body := e.get(path, "admin", adminPass)
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/xml") {
		t.Fatalf("%s: %d %q\n%s", path, code, hdr.Get("Content-Type"), body)
	}
	d := xml.NewDecoder(strings.NewReader(body))
	var order []string
	vals := map[string]string{}
	depth := 0
	var cur string
	for {
		tok, err := d.Token()
		if err != nil {
			if err.Error() == "EOF" {
				break
			}
			t.Fatalf("%s: %v\n%s", path, err, body)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 1 && x.Name.Local != "icestats" {
				t.Fatalf("%s: root %q", path, x.Name.Local)
			}
			if depth == 2 {
				cur = x.Name.Local
				order = append(order, cur)
			}
		case xml.CharData:
			if depth == 2 {
				vals[cur] += string(x)
			}
		case xml.EndElement:
			depth--
		}
	}
	return order, vals
}

// /admin/stats carries Icecast's global counters, in Icecast's order,
// and they follow the connections made; /admin/stats.xml (which Icecast
// answers like /admin/stats) and /admin/stats.json say the same.
func TestAdminStatsCounters(t *testing.T) {
	e := start(t, Options{}, nil)
	num := func(vals map[string]string, k string) int {
		t.Helper()
		n, err := strconv.Atoi(vals[k])
		if err != nil {
			t.Fatalf("%s = %q: %v", k, vals[k], err)
		}
		return n
	}
	order, before := adminStats(t, e, "/admin/stats.xml")
	if len(order) < len(icecastGlobals) || !slices.Equal(order[:len(icecastGlobals)], icecastGlobals) {
		t.Fatalf("globals in order\n%q\nwant Icecast 2.4.4's\n%q", order, icecastGlobals)
	}
	for _, k := range []string{"sources", "listeners", "source_client_connections", "listener_connections", "stats", "stats_connections", "file_connections", "source_relay_connections"} {
		if num(before, k) != 0 {
			t.Fatalf("%s = %s on a fresh server", k, before[k])
		}
	}

	src := e.connectSource("/live.mp3", "source", srcPass)
	src.Send(testkit.Media(t, "tone.mp3")[:16000], 16000, 0)
	l := testkit.Listen(t, e.addr, "/live.mp3")
	_, _, closeFeed := openSSE(t, e, "")
	// A GET on no mount is a client connection; a refused source is a
	// connection, but neither a client nor a source connection.
	if code, _, _ := e.get("/x.mp3", "", ""); code != http.StatusNotFound {
		t.Fatalf("GET on no mount: %d", code)
	}
	put, _ := http.NewRequest(http.MethodPut, e.base+"/bad.mp3", strings.NewReader("x"))
	put.Header.Set("Content-Type", "audio/mpeg")
	put.SetBasicAuth("source", "wrong")
	// On a connection of its own, as source clients do: a kept-alive one
	// is net/http's, which takes no sources.
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := fresh.Do(put); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("source with a wrong password: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	testkit.Eventually(t, 5*time.Second, "listener counted", func() bool { return len(e.listenerIDs("/live.mp3")) == 1 })

	_, during := adminStats(t, e, "/admin/stats")
	want := map[string]int{"sources": 1, "listeners": 1, "source_client_connections": 1, "source_total_connections": 1,
		"listener_connections": 1, "stats": 1, "stats_connections": 1, "file_connections": 0, "source_relay_connections": 0}
	for k, v := range want {
		if got := num(during, k); got != v {
			t.Errorf("with a source, a listener and an event stream: %s = %d, want %d", k, got, v)
		}
	}
	// New connections: the source, the listener and the refused source at
	// least (HTTP requests may share a kept-alive one); clients open now:
	// the source, the listener, the event stream and this request.
	if d := num(during, "connections") - num(before, "connections"); d < 3 {
		t.Errorf("connections grew by %d, want at least 3", d)
	}
	if d := num(during, "client_connections") - num(before, "client_connections"); d < 4 {
		t.Errorf("client_connections grew by %d, want at least 4 (listener, events, GET, stats)", d)
	}
	if c := num(during, "clients"); c < 4 {
		t.Errorf("clients = %d, want at least 4 open", c)
	}

	l.Conn.Close()
	closeFeed()
	testkit.Eventually(t, 5*time.Second, "listener and stream gone", func() bool {
		_, v := adminStats(t, e, "/admin/stats")
		return num(v, "listeners") == 0 && num(v, "stats") == 0
	})
	_, after := adminStats(t, e, "/admin/stats")
	if num(after, "listener_connections") != 1 || num(after, "stats_connections") != 1 || num(after, "source_client_connections") != 1 {
		t.Errorf("totals must not fall when clients leave: %v", after)
	}

	code, body := e.admin("/admin/stats.json")
	var js struct {
		Icestats map[string]any `json:"icestats"`
	}
	if err := json.Unmarshal([]byte(body), &js); err != nil || code != 200 {
		t.Fatalf("stats.json: %d %v\n%s", code, err, body)
	}
	for _, k := range icecastGlobals {
		if _, ok := js.Icestats[k]; !ok {
			t.Errorf("stats.json has no %q", k)
		}
	}
	if js.Icestats["listener_connections"] != 1.0 || js.Icestats["stats_connections"] != 1.0 {
		t.Errorf("stats.json counters: %v", js.Icestats)
	}
}
