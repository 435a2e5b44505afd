package engine

import (
	"fmt"
	"net/netip"
	"regexp"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

func TestAccessLogAndForwardedFor(t *testing.T) {
	var log testkit.Buffer
	s, addr := startServer(t, func(c *Config) {
		c.AccessLog = &log
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	mp3 := testkit.Media(t, "tone.mp3")
	src, _ := connectSource(t, addr, "PUT", "/al.mp3", "audio/mpeg")
	src.Send(mp3[:10000], 2000, time.Millisecond)
	testkit.Eventually(t, 2*time.Second, "mount", func() bool { return mountSnap(s, "/al.mp3") != nil })
	l := testkit.Listen(t, addr, "/al.mp3", "X-Forwarded-For", "198.51.100.9, 203.0.113.7", "Referer", "http://radio.example/")
	testkit.Eventually(t, 2*time.Second, "listener from the forwarded address", func() bool {
		m := mountSnap(s, "/al.mp3")
		return m != nil && len(m.Listeners) == 1 && m.Listeners[0].Addr == "203.0.113.7"
	})
	src.Close()
	body := l.Wait(t, 5*time.Second)
	testkit.RawRequest(t, addr, "GET /missing.mp3 HTTP/1.0\r\nUser-Agent: probe\r\n\r\n")
	want := []string{
		`^127\.0\.0\.1 - source \[[^]]+\] "PUT /al\.mp3 HTTP/1\.1" 200 10000 "-" "icedeck-test" \d+$`,
		fmt.Sprintf(`^203\.0\.113\.7 - - \[[^]]+\] "GET /al\.mp3 HTTP/1\.1" 200 %d "http://radio\.example/" "test-listener" \d+$`, len(body)+len(l.Head)),
		`^127\.0\.0\.1 - - \[[^]]+\] "GET /missing\.mp3 HTTP/1\.0" 404 0 "-" "probe" 0$`,
	}
	testkit.Eventually(t, 2*time.Second, "three access log lines", func() bool {
		for _, w := range want {
			if !regexp.MustCompile(`(?m)` + w).MatchString(log.String()) {
				return false
			}
		}
		return true
	})
}

func TestForwardedForOnlyFromTrustedPeers(t *testing.T) {
	s := &Server{}
	s.conf.Store(&Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	h := map[string][]string{"X-Forwarded-For": {"203.0.113.7, 10.1.1.1"}}
	for peer, want := range map[string]string{
		"10.0.0.2:5000":  "203.0.113.7",    // proxy → the last untrusted hop
		"192.0.2.1:5000": "192.0.2.1:5000", // not a proxy: its header is ignored
		"[::1]:5000":     "[::1]:5000",     // not trusted either
		"10.0.0.3:5000 ": "10.0.0.3:5000 ", // unparsable peer left alone
	} {
		if got := s.clientAddr(peer, h); got != want {
			t.Errorf("%q: got %q, want %q", peer, got, want)
		}
	}
}
