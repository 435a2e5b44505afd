package engine

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// icyServing serves a Server's Shoutcast port with testkit.Serve.
type icyServing struct {
	*Server
	mount string
}

func (s icyServing) Serve(ln net.Listener) error { return s.ServeShoutcast(ln, s.mount) }

// startShoutcast runs an engine with a plain port for listeners and a
// Shoutcast source port for /stream.
func startShoutcast(t *testing.T, mod func(*Config)) (s *Server, plain, icy string) {
	t.Helper()
	s, plain = startServer(t, mod)
	return s, plain, testkit.Serve(t, icyServing{s, "/stream"})
}

const okICY = "OK2\r\nicy-caps:11\r\n\r\n"

// icyDial connects to a Shoutcast port, sends first and returns what the
// server answers: OK2 and the connection, or a refusal and nil once the
// server has closed.
func icyDial(t *testing.T, addr, first string) (net.Conn, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, first); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got []byte
	buf := make([]byte, 64)
	for !strings.HasSuffix(string(got), "\r\n\r\n") {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return nil, string(got)
		}
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, string(got)
}

// rejection waits for the source rejection event with reason r on /stream.
func rejection(t *testing.T, s *Server, r Reason) Event {
	t.Helper()
	var found Event
	testkit.Eventually(t, 5*time.Second, "a source rejection: "+r.String(), func() bool {
		for _, e := range s.Events(0) {
			if e.Type == EventSourceRejected && e.Reason == r && e.Mount == "/stream" {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

// A Shoutcast source (the password line, OK2, icy-* headers, the audio)
// feeds its mount as any source does: listeners get its bytes exactly, and
// what its headers declare is the stream's name, genre and so on.
func TestShoutcastSourceStreams(t *testing.T) {
	t.Parallel()
	s, plain, icy := startShoutcast(t, nil)
	mp3 := testkit.Media(t, "tone.mp3")
	c, answer := icyDial(t, icy, testPassword+"\r\n")
	if c == nil || answer != okICY {
		t.Fatalf("password answered %q, want %q", answer, okICY)
	}
	// As butt and DarkIce: the headers after OK2, then the audio.
	head := "icy-name:ICY test\r\nicy-genre:Jazz\r\nicy-pub:1\r\nicy-br:128\r\nicy-url:http://radio.example/\r\nicy-irc:#radio\r\ncontent-type:audio/mpeg\r\n\r\n"
	if _, err := io.WriteString(c, head+string(mp3[:1000])); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "/stream up", func() bool { return mountSnap(s, "/stream") != nil })
	l := testkit.Listen(t, plain, "/stream")
	for off := 1000; off < len(mp3); off += 1777 {
		if _, err := c.Write(mp3[off:min(off+1777, len(mp3))]); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, 5*time.Second, "every byte in", func() bool {
		m := mountSnap(s, "/stream")
		return m.Source != nil && m.Source.BytesIn == uint64(len(mp3))
	})
	ss := *mountSnap(s, "/stream").Source
	c.Close()
	if got := l.Wait(t, 5*time.Second); sha(got) != sha(mp3) {
		t.Fatalf("listener got %d bytes (sha %s), the source sent %d (sha %s)", len(got), sha(got), len(mp3), sha(mp3))
	}
	if ss.SHA256 != sha(mp3) || ss.ContentType != "audio/mpeg" || ss.Method != "SOURCE" {
		t.Errorf("source %+v", ss)
	}
	if ice := ss.Ice; ice.Name != "ICY test" || ice.Genre != "Jazz" || ice.Public != "1" || ice.Bitrate != 128000 || ice.URL != "http://radio.example/" {
		t.Errorf("declared %+v", ice)
	}
	if ss.Headers["Icy-Irc"] != "#radio" {
		t.Errorf("headers %v", ss.Headers)
	}
	for _, h := range []string{"icy-name: ICY test\r\n", "icy-genre: Jazz\r\n", "icy-br: 128\r\n", "icy-url: http://radio.example/\r\n", "Content-Type: audio/mpeg\r\n"} {
		if !strings.Contains(l.Head, h) {
			t.Errorf("listener head lacks %q:\n%s", h, l.Head)
		}
	}
}

// libshout does not wait for OK2: the password, the headers (LF only, no
// content type: MP3 is assumed, as Icecast does) and the audio may come
// in one write. Its probe (!POKE) is refused as a probe, not counted as a
// failed login.
func TestShoutcastLibshoutStyle(t *testing.T) {
	t.Parallel()
	s, _, icy := startShoutcast(t, nil)
	for range 12 { // more than the login limiter's 10
		c, answer := icyDial(t, icy, "!POKE\nicy-name:libshout server poke request\n\n")
		if c != nil || answer != "invalid password\r\n" {
			t.Fatalf("poke answered %q", answer)
		}
	}
	rejection(t, s, ReasonNoCredentials)
	mp3 := testkit.Media(t, "tone.mp3")
	c, answer := icyDial(t, icy, "source:"+testPassword+"\nicy-name:libshout\nicy-pub:0\nicy-br:128\n\n"+string(mp3[:4000]))
	if c == nil || answer != okICY {
		t.Fatalf("user:password answered %q", answer)
	}
	testkit.Eventually(t, 5*time.Second, "the audio in", func() bool {
		m := mountSnap(s, "/stream")
		return m != nil && m.Source != nil && m.Source.SHA256 == sha(mp3[:4000]) && m.ContentType == "audio/mpeg" && m.Source.Ice.Name == "libshout"
	})
}

// Refusals are one line and a close, and the reason is logged: a wrong
// password, too many of them, a mount already fed, a head never finished.
func TestShoutcastRefusals(t *testing.T) {
	t.Parallel()
	s, _, icy := startShoutcast(t, func(c *Config) {
		c.HeaderTimeout = 500 * time.Millisecond
		c.Mounts = map[string]MountConfig{"/stream": {Password: "mountpw"}}
	})

	if c, answer := icyDial(t, icy, testPassword+"\r\n"); c != nil || answer != "invalid password\r\n" {
		t.Fatalf("the global password on a mount with its own: %q", answer)
	}
	if e := rejection(t, s, ReasonWrongCredentials); e.Detail != `user "source"` {
		t.Errorf("event %+v", e)
	}

	c, answer := icyDial(t, icy, "mountpw\r\n")
	if c == nil || answer != okICY {
		t.Fatalf("the mount's password: %q", answer)
	}
	if _, err := io.WriteString(c, "icy-name:first\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "/stream up", func() bool { return mountSnap(s, "/stream") != nil })
	// A second source gets OK2 (the password is right) and is then closed:
	// ICY has no answer after OK2.
	second, answer := icyDial(t, icy, "mountpw\r\n")
	if second == nil || answer != okICY {
		t.Fatalf("second source: %q", answer)
	}
	if _, err := io.WriteString(second, "icy-name:second\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	rejection(t, s, ReasonMountBusy)
	_ = second.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := second.Read(make([]byte, 64)); n != 0 || err != io.EOF {
		t.Errorf("second source on a busy mount: read %d, %v; want a close and nothing else", n, err)
	}
	c.Close()

	// OK2, then the headers never finish: the header timeout ends it.
	c, _ = icyDial(t, icy, "mountpw\r\n")
	if _, err := io.WriteString(c, "icy-name:slow\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("unfinished head: read %d, %v", n, err)
	}
	testkit.Eventually(t, 5*time.Second, "a header timeout", func() bool {
		return findEventReason(s, EventRequestRejected, ReasonHeadTimeout)
	})

	// No password line at all in the first 512 bytes.
	if c, answer := icyDial(t, icy, strings.Repeat("x", 600)); c != nil || answer != "Malformed request\r\n" {
		t.Errorf("endless password line: %q", answer)
	}
	testkit.Eventually(t, 5*time.Second, "a bad request", func() bool { return findEventReason(s, EventRequestRejected, ReasonBadRequest) })

	// Ten wrong passwords block the address, the right one included.
	for range 10 {
		icyDial(t, icy, "wrong\r\n")
	}
	if c, answer := icyDial(t, icy, "mountpw\r\n"); c != nil || answer != "Too many failed logins\r\n" {
		t.Fatalf("blocked address with the right password: %q", answer)
	}
	rejection(t, s, ReasonLoginsBlocked)
}

func findEventReason(s *Server, typ EventType, r Reason) bool {
	for _, e := range s.Events(0) {
		if e.Type == typ && e.Reason == r {
			return true
		}
	}
	return false
}

func TestServeShoutcastRefusesBadMount(t *testing.T) {
	s, err := New(Config{SourcePassword: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ServeShoutcast(ln, "/admin/x"); err == nil {
		t.Fatal("a Shoutcast port for /admin/x")
	}
}
