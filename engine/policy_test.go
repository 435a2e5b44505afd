package engine

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// dialFrom sends head from a chosen loopback address, as a client at
// another address would.
func dialFrom(t *testing.T, local, addr, head string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	return c
}

// rawFrom is testkit.RawRequest from a chosen loopback address: the
// whole answer, until the server closes.
func rawFrom(t *testing.T, local, addr, head string) testkit.Response {
	t.Helper()
	c := dialFrom(t, local, addr, head)
	defer c.Close()
	b, _ := io.ReadAll(c)
	return testkit.ParseResponse(t, string(b))
}

// streamFrom asks for a stream from a chosen loopback address and returns
// the status, and for a 200 the first 1000 bytes of audio (fails without).
func streamFrom(t *testing.T, local, addr, head string) int {
	t.Helper()
	c := dialFrom(t, local, addr, head)
	defer c.Close()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusOK {
		if _, err := io.ReadFull(resp.Body, make([]byte, 1000)); err != nil {
			t.Fatalf("no audio: %v", err)
		}
	}
	return resp.StatusCode
}

// getHead is a listener's GET with a user agent and header pairs, sent as
// a raw request.
func getHead(mount, ua string, header ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.0\r\nUser-Agent: %s\r\n", mount, ua)
	for i := 0; i+1 < len(header); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", header[i], header[i+1])
	}
	b.WriteString("\r\n")
	return b.String()
}

// denials counts the requests refused by the listener policy.
func denials(s *Server) uint64 {
	for _, e := range s.Snapshot().Endings {
		if e.Kind == KindRequest && e.Reason == ReasonDenied {
			return e.Count
		}
	}
	return 0
}

// liveMount starts a source on mount that keeps sending tone.mp3.
func liveMount(t *testing.T, s *Server, addr, mount string) {
	t.Helper()
	src, r := connectSource(t, addr, "PUT", mount, "audio/mpeg")
	if src == nil {
		t.Fatalf("source refused: %+v", r)
	}
	src.Feed(testkit.Media(t, "tone.mp3"), 4000, 20*time.Millisecond)
	testkit.Eventually(t, 2*time.Second, "mount up", func() bool { return mountSnap(s, mount) != nil })
}

func TestDenyIPDirectAndForwarded(t *testing.T) {
	t.Parallel()
	s, addr := startServer(t, func(c *Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.DenyIPs = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("127.0.0.2/32")}
	})
	s.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "page") }))
	liveMount(t, s, addr, "/p.mp3")

	// Behind the trusted proxy the client is the forwarded address.
	r := testkit.RawRequest(t, addr, getHead("/p.mp3", "player", "X-Forwarded-For", "198.51.100.1, 203.0.113.7"))
	if r.Code != http.StatusForbidden || r.Body != "Forbidden\n" {
		t.Fatalf("forwarded denied address: %d %q", r.Code, r.Body)
	}
	e := findEvent(s, EventRequestRejected, "")
	if e == nil || e.Reason != ReasonDenied || e.Addr != "203.0.113.7" || e.Detail != "deny-ip 203.0.113.0/24" {
		t.Fatalf("event %+v", e)
	}
	// Directly from a denied address: every request, not only listeners.
	for _, head := range []string{getHead("/p.mp3", "player"), getHead("/status-json.xsl", "browser"),
		"PUT /q.mp3 HTTP/1.0\r\nAuthorization: " + testkit.Basic("source", testPassword) + "\r\nContent-Type: audio/mpeg\r\n\r\n"} {
		if r := rawFrom(t, "127.0.0.2", addr, head); r.Code != http.StatusForbidden {
			t.Fatalf("from 127.0.0.2 %q: %d %q", head, r.Code, r.Body)
		}
	}
	// Another forwarded address and another peer are served.
	l := testkit.Listen(t, addr, "/p.mp3", "X-Forwarded-For", "198.51.100.1")
	if !strings.HasPrefix(l.Head, "HTTP/1.0 200") {
		t.Fatalf("allowed listener: %q", l.Head)
	}
	testkit.Eventually(t, 2*time.Second, "allowed listener gets audio", func() bool { return len(l.Bytes()) > 1000 })
	if r := rawFrom(t, "127.0.0.3", addr, getHead("/status-json.xsl", "browser")); r.Code != http.StatusOK || r.Body != "page" {
		t.Fatalf("from 127.0.0.3: %d %q", r.Code, r.Body)
	}
	if n := denials(s); n != 4 {
		t.Fatalf("%d denials counted, want 4", n)
	}

	// A kept-alive connection: each request is judged by its own
	// forwarded address.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for _, tc := range []struct {
		xff  string
		code int
	}{{"198.51.100.2", 200}, {"203.0.113.9", 403}} {
		fmt.Fprintf(c, "GET /page HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: %s\r\n\r\n", tc.xff)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Fatalf("kept-alive request from %s: %d, want %d", tc.xff, resp.StatusCode, tc.code)
		}
	}
	if n := denials(s); n != 5 {
		t.Fatalf("%d denials counted, want 5", n)
	}
}

func TestAllowIP(t *testing.T) {
	t.Parallel()
	s, addr := startServer(t, func(c *Config) {
		c.AllowIPs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("127.0.5.0/24")}
	})
	liveMount(t, s, addr, "/a.mp3") // the source, from 127.0.0.1, is admitted
	if r := rawFrom(t, "127.0.0.3", addr, getHead("/a.mp3", "player")); r.Code != http.StatusForbidden {
		t.Fatalf("from outside allow-ip: %d %q", r.Code, r.Body)
	}
	if e := findEvent(s, EventRequestRejected, ""); e == nil || e.Detail != "not in allow-ip" {
		t.Fatalf("event %+v", e)
	}
	if code := streamFrom(t, "127.0.5.9", addr, getHead("/a.mp3", "player")); code != http.StatusOK {
		t.Fatalf("from inside allow-ip: %d", code)
	}
}

func TestDenyAgents(t *testing.T) {
	t.Parallel()
	s, addr := startServer(t, func(c *Config) {
		c.DenyAgents = []string{"VLC/3.0.18 LibVLC/3.0.18", "*Bot*", "curl/*"}
	})
	liveMount(t, s, addr, "/u.mp3")
	for ua, rule := range map[string]string{
		"vlc/3.0.18 libvlc/3.0.18": `deny-agents "vlc/3.0.18 libvlc/3.0.18"`, // whole, any case
		"Googlebot/2.1":            `deny-agents "*Bot*"`,
		"Mozilla/5.0 (AhrefsBOT)":  `deny-agents "*Bot*"`,
		"curl/8.5.0":               `deny-agents "curl/*"`,
		`a "quoted" Bot`:           `deny-agents "*Bot*"`,
	} {
		r := testkit.RawRequest(t, addr, getHead("/u.mp3", ua))
		if r.Code != http.StatusForbidden {
			t.Fatalf("%q: %d", ua, r.Code)
		}
		found := false
		for _, e := range s.Events(0) {
			found = found || e.Reason == ReasonDenied && e.Detail == rule && strings.Contains(e.Message, fmt.Sprintf("%q", ua))
		}
		if !found {
			t.Fatalf("%q: no event with detail %s", ua, rule)
		}
	}
	for _, ua := range []string{"VLC/3.0.19 LibVLC/3.0.19", "Mozilla/5.0", "libcurl-agent", "Robo-cop"} {
		l := testkit.Listen(t, addr, "/u.mp3", "User-Agent", ua)
		if !strings.HasPrefix(l.Head, "HTTP/1.0 200") {
			t.Fatalf("%q refused: %q", ua, l.Head)
		}
	}
	// Sources are not listeners: a source's agent is not judged.
	if src, r := connectSource(t, addr, "PUT", "/v.mp3", "audio/mpeg", "User-Agent", "SourceBot"); src == nil {
		t.Fatalf("source with a denied agent refused: %+v", r)
	}
	if n := denials(s); n != 5 {
		t.Fatalf("%d denials counted, want 5", n)
	}
}

func TestCompilePolicy(t *testing.T) {
	for _, tc := range []struct {
		pattern, ua string
		match       bool
	}{
		{"*bot*", "googlebot", true}, {"*bot*", "bot", true}, {"*bot*", "bo", false},
		{"a*b*c", "abc", true}, {"a*b*c", "a-b-b-c", true}, {"a*b*c", "acb", false}, {"a*b*c", "abcx", false},
		{"*", "", true}, {"x*", "x", true}, {"*x", "yx", true}, {"*x", "xy", false}, {"ab*ba", "aba", false},
	} {
		if got := globMatch(strings.Split(tc.pattern, "*"), tc.ua); got != tc.match {
			t.Errorf("%q on %q: %v", tc.pattern, tc.ua, got)
		}
	}
	for _, bad := range [][]string{{""}, {"  "}, {"a\tb"}} {
		if _, err := compilePolicy(&Config{DenyAgents: bad}); err == nil {
			t.Errorf("agents %q accepted", bad)
		}
		if err := (Config{DenyAgents: bad}).Validate(); err == nil || !strings.Contains(err.Error(), "deny-agents") {
			t.Errorf("Validate of agents %q: %v", bad, err)
		}
	}
	p, err := compilePolicy(&Config{
		DenyIPs:  []netip.Prefix{netip.MustParsePrefix("::ffff:192.0.2.0/120"), netip.MustParsePrefix("2001:db8::/32")},
		AllowIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/31")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]string{
		"192.0.2.7":        "deny-ip 192.0.2.0/24", // a mapped range matches plain IPv4 clients
		"::ffff:192.0.2.7": "deny-ip 192.0.2.0/24",
		"2001:db8::1":      "deny-ip 2001:db8::/32",
		"2001:db9::1":      "",
		"198.51.100.1":     "not in allow-ip",
	} {
		if got := p.addrRefused(netip.MustParseAddr(addr)); got != want {
			t.Errorf("%s: %q, want %q", addr, got, want)
		}
	}
}

// A reload swaps the configuration whole; the policy follows it at the
// next request, without a step of its own.
func TestPolicyFollowsTheConfiguration(t *testing.T) {
	s, addr := startServer(t, nil)
	liveMount(t, s, addr, "/r.mp3")
	if code := streamFrom(t, "127.0.0.4", addr, getHead("/r.mp3", "Bot")); code != http.StatusOK {
		t.Fatalf("before: %d", code)
	}
	c := s.Config()
	c.DenyAgents = []string{"bot"}
	s.conf.Store(&c)
	if r := rawFrom(t, "127.0.0.4", addr, getHead("/r.mp3", "Bot")); r.Code != http.StatusForbidden {
		t.Fatalf("after: %d", r.Code)
	}
}

func TestAliases(t *testing.T) {
	t.Parallel()
	s, addr := startServer(t, func(c *Config) {
		c.Aliases = map[string]string{"/": "/status-json.xsl", "/radio": "/al.mp3"}
	})
	s.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "served %s", r.URL.Path) }))
	liveMount(t, s, addr, "/al.mp3")
	if r := testkit.RawRequest(t, addr, "GET / HTTP/1.0\r\n\r\n"); r.Code != 200 || r.Body != "served /status-json.xsl" {
		t.Fatalf("/: %d %q", r.Code, r.Body)
	}
	if r := testkit.RawRequest(t, addr, "GET /other HTTP/1.0\r\n\r\n"); r.Body != "served /other" {
		t.Fatalf("/other: %q", r.Body)
	}
	l := testkit.Listen(t, addr, "/radio")
	if !strings.Contains(l.Head, "Content-Type: audio/mpeg") {
		t.Fatalf("/radio: %q", l.Head)
	}
	testkit.Eventually(t, 2*time.Second, "listener of the alias on the mount", func() bool {
		m := mountSnap(s, "/al.mp3")
		return m != nil && m.ListenerCount == 1 && len(l.Bytes()) > 0
	})
	// Only GET and HEAD: a source for the alias's path is a source there.
	if src, r := connectSource(t, addr, "PUT", "/radio", "audio/mpeg"); src == nil {
		t.Fatalf("source on /radio: %+v", r)
	}
	testkit.Eventually(t, 2*time.Second, "/radio mounted", func() bool { return mountSnap(s, "/radio") != nil })
}

func TestMountOverridesGenreURLBitrate(t *testing.T) {
	t.Parallel()
	s, addr := startServer(t, func(c *Config) {
		c.Mounts = map[string]MountConfig{"/o.mp3": {Genre: "Jazz", URL: "https://radio.example/", Bitrate: "96"}}
	})
	src, _ := connectSource(t, addr, "PUT", "/o.mp3", "audio/mpeg", "Ice-Genre", "Rock", "Ice-Url", "http://mine.example", "Ice-Bitrate", "128", "Ice-Name", "Mine")
	src.Feed(testkit.Media(t, "tone.mp3"), 4000, 20*time.Millisecond)
	testkit.Eventually(t, 2*time.Second, "mount up", func() bool { return mountSnap(s, "/o.mp3") != nil })
	l := testkit.Listen(t, addr, "/o.mp3")
	for _, want := range []string{"icy-genre: Jazz\r\n", "icy-url: https://radio.example/\r\n", "icy-br: 96\r\n", "icy-name: Mine\r\n"} {
		if !strings.Contains(l.Head, want) {
			t.Errorf("head lacks %q:\n%s", want, l.Head)
		}
	}
	ice := mountSnap(s, "/o.mp3").Source.Ice
	if ice.Genre != "Jazz" || ice.URL != "https://radio.example/" || ice.Bitrate != 96000 || ice.Name != "Mine" {
		t.Fatalf("snapshot %+v", ice)
	}
}

// max-listener-duration ends a listener after that long, found by the
// shard's sweeps, with the reason.
func TestMaxListenerDuration(t *testing.T) {
	t.Parallel()
	s, addr := startServer(t, func(c *Config) {
		c.Mounts = map[string]MountConfig{"/d.mp3": {MaxListenerDuration: time.Second}}
	})
	liveMount(t, s, addr, "/d.mp3")
	liveMount(t, s, addr, "/free.mp3")
	start := time.Now()
	l := testkit.Listen(t, addr, "/d.mp3")
	free := testkit.Listen(t, addr, "/free.mp3")
	l.Wait(t, 5*time.Second)
	if d := time.Since(start); d < time.Second {
		t.Fatalf("ended after %s", d)
	}
	if free.Closed() {
		t.Fatal("a listener of a mount without the limit was ended too")
	}
	testkit.Eventually(t, 2*time.Second, "left with the time limit", func() bool {
		e := findEvent(s, EventListenerLeft, "/d.mp3")
		return e != nil && e.Reason == ReasonTimeLimit
	})
}
