package engine

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Regression tests for faults that hostile and real clients found. Each
// reproduced its fault before the fix.

// A mount path that is not UTF-8 was accepted and later crashed /metrics.
func TestSourceMountNotUTF8Refused(t *testing.T) {
	s, addr := startServer(t, nil)
	r := rawRequest(t, addr, "SOURCE /x%FF.mp3 HTTP/1.0\r\nAuthorization: "+basic("source", testPassword)+"\r\nContent-Type: audio/mpeg\r\n\r\n")
	if r.code != 400 {
		t.Fatalf("got %d, want 400", r.code)
	}
	if n := len(s.Snapshot().Mounts); n != 0 {
		t.Fatalf("%d mounts after a refused source", n)
	}
	e := findEvent(s, EventSourceRejected, "")
	if e == nil || !strings.Contains(e.Reason, "UTF-8") || e.Mount != "" {
		t.Fatalf("rejection event %+v: want the reason, and no invalid mount label", e)
	}
}

// Idle kept-alive connections stayed open forever, uncounted, until the
// server ran out of descriptors.
func TestIdleKeepAliveConnectionsAreCountedAndClosed(t *testing.T) {
	s, addr := startServer(t, func(c *Config) {
		c.HeaderTimeout = 500 * time.Millisecond
		c.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	})
	const n = 20
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /status-json.xsl HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 200 || resp.Close {
			t.Fatalf("keep-alive request: %v %+v", err, resp)
		}
		conns[i] = c
	}
	if got := s.Snapshot().Clients; got != n {
		t.Fatalf("%d idle kept-alive connections open, %d counted as clients", n, got)
	}
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("idle connection not closed by the server: %v", err)
		}
	}
	eventually(t, time.Second, "no clients left", func() bool { return s.Snapshot().Clients == 0 })
	tot := s.Snapshot().Totals
	if tot.Connections != n || tot.ClientConnections != n {
		t.Fatalf("totals %+v, want %d connections and requests", tot, n)
	}
}

// A client that stops reading an answer from the control plane is cut off
// after the write timeout instead of holding its connection.
func TestControlPlaneWriteIsBounded(t *testing.T) {
	big := strings.Repeat("x", 64<<20)
	s, addr := startServer(t, func(c *Config) {
		c.WriteTimeout = 300 * time.Millisecond
		c.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, big) })
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n") // and never read
	eventually(t, 5*time.Second, "the stuck connection closed", func() bool { return s.Snapshot().Clients == 0 })
}

// Source passwords could be guessed without limit.
func TestSourcePasswordGuessingIsLimited(t *testing.T) {
	s, addr := startServer(t, nil)
	put := func(from, pass string) int {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "SOURCE /g.mp3 HTTP/1.0\r\nAuthorization: %s\r\nContent-Type: audio/mpeg\r\n\r\n", basic("source", pass))
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(c)
		return parseResponse(t, string(b)).code
	}
	for i := range 10 {
		if code := put("127.0.0.1", fmt.Sprintf("guess%d", i)); code != 401 {
			t.Fatalf("guess %d: %d, want 401", i, code)
		}
	}
	if code := put("127.0.0.1", testPassword); code != 429 {
		t.Fatalf("right password after 10 wrong ones from the same address: %d, want 429", code)
	}
	if code := put("127.0.0.2", testPassword); code != 200 {
		t.Fatalf("right password from another address: %d, want 200", code)
	}
	blocked := 0
	for _, e := range s.Events(0) {
		if e.Type == EventSourceRejected && e.Reason == "too many failed logins" && strings.HasPrefix(e.Addr, "127.0.0.1") {
			blocked++
		}
	}
	if blocked < 1 {
		t.Fatal("no event says the address was blocked")
	}
}

// A user name with a newline forged access-log lines.
func TestAccessLogEscapesClientFields(t *testing.T) {
	var log lockedBuffer
	_, addr := startServer(t, func(c *Config) { c.AccessLog = &log })
	forged := "x\n127.0.0.1 - admin [01/Jan/2026:00:00:00 +0000] \"GET /admin/killsource HTTP/1.0\" 200 0 \"-\" \"-\" 0"
	r := rawRequest(t, addr, "SOURCE /l.mp3 HTTP/1.0\r\nAuthorization: "+basic(forged, "nope")+"\r\nUser-Agent: a\"b\r\nContent-Type: audio/mpeg\r\n\r\n")
	if r.code != 401 {
		t.Fatalf("got %d", r.code)
	}
	eventually(t, time.Second, "log line", func() bool { return log.String() != "" })
	lines := strings.Split(strings.TrimSuffix(log.String(), "\n"), "\n")
	if len(lines) != 1 || strings.Contains(lines[0], " admin ") {
		t.Fatalf("one request made %d access-log lines:\n%s", len(lines), log.String())
	}
	if f := strings.Fields(lines[0]); len(f) < 3 || !strings.HasPrefix(f[2], `x\n127.0.0.1`) {
		t.Fatalf("user field not escaped as one field: %q", lines[0])
	}
}

// A title holding "';" added keys of its own to the ICY block, and titles
// from Ogg comments reached the terminal with escape sequences.
func TestTitlesAreOneCleanValue(t *testing.T) {
	s, addr := startServer(t, func(c *Config) { c.MetaInt = 1000 })
	src, _ := connectSource(t, addr, "PUT", "/t.mp3", "audio/mpeg")
	mp3 := fixture(t, "tone.mp3")
	src.send(mp3[:4000], 4000, 0)
	eventually(t, 2*time.Second, "mount", func() bool { return mountSnap(s, "/t.mp3") != nil })
	if err := s.SetTitle("/t.mp3", "x';StreamUrl='http://evil/';\x1b[2J", ""); err != nil {
		t.Fatal(err)
	}
	l := listen(t, addr, "/t.mp3", "Icy-MetaData", "1")
	src.send(mp3[4000:20000], 4000, 0)
	src.close()
	_, metas := stripICY(t, l.wait(t, 5*time.Second), 1000)
	if len(metas) == 0 {
		t.Fatal("no metadata block")
	}
	if got := metas[0]; got != "StreamTitle='x\u2019;StreamUrl='http://evil/\u2019;';" {
		t.Fatalf("metadata block %q: want exactly one StreamTitle value, no escape sequence", got)
	}
	if strings.Count(metas[0], "';") != 1 {
		t.Fatalf("a player would find %d keys in %q", strings.Count(metas[0], "';"), metas[0])
	}

	// In-band: an Ogg comment with an escape sequence and a newline.
	ffmpeg := needTool(t, "ffmpeg")
	ogg := filepath.Join(t.TempDir(), "esc.ogg")
	out, err := exec.Command(ffmpeg, "-v", "error", "-f", "lavfi", "-i", "sine=f=440:d=1", "-c:a", "libvorbis",
		"-metadata", "title=Blue\x1b]0;pwned\x07 Hour\nLive", "-metadata", "artist=Night\x1b[31m Band", ogg).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	b, err := os.ReadFile(ogg)
	if err != nil {
		t.Fatal(err)
	}
	osrc, _ := connectSource(t, addr, "PUT", "/t.ogg", "application/ogg")
	osrc.send(b, 1000, time.Millisecond)
	eventually(t, 2*time.Second, "in-band title, cleaned", func() bool {
		m := mountSnap(s, "/t.ogg")
		return m != nil && m.Title == "Night Band - Blue Hour Live"
	})
}
