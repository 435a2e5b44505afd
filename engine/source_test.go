package engine

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

func TestSourceAnswers(t *testing.T) {
	s, addr := startServer(t, func(c *Config) {
		c.MaxSources = 2
		c.MaxHeaderBytes = 2048
		c.HeaderTimeout = 300 * time.Millisecond
		c.Mounts = map[string]MountConfig{"/own.mp3": {Username: "dj", Password: "djpass"}}
	})
	mp3 := testkit.Media(t, "tone.mp3")

	t.Run("probe without credentials gets a challenge", func(t *testing.T) {
		// What libshout sends first.
		r := testkit.RawRequest(t, addr, "SOURCE /probe.ogg HTTP/1.0\r\nContent-Type: application/ogg\r\nContent-Length: 0\r\nConnection: Keep-Alive\r\nPrefer: return=minimal\r\n\r\n")
		if r.Code != 401 || !strings.Contains(r.Head, `WWW-Authenticate: Basic realm="icedeck"`) {
			t.Fatalf("want 401 with a Basic challenge, got %d %q", r.Code, r.Head)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		r := testkit.RawRequest(t, addr, "PUT /live.mp3 HTTP/1.1\r\nAuthorization: "+testkit.Basic("source", "nope")+"\r\nContent-Type: audio/mpeg\r\n\r\n")
		if r.Code != 401 {
			t.Fatalf("got %d, want 401", r.Code)
		}
		e := findEvent(s, EventSourceRejected, "/live.mp3")
		if e == nil || e.Reason != ReasonWrongCredentials || e.Detail != `user "source"` {
			t.Fatalf("no rejection event with a reason: %+v", e)
		}
	})
	t.Run("mount credentials", func(t *testing.T) {
		r := testkit.RawRequest(t, addr, "PUT /own.mp3 HTTP/1.1\r\nAuthorization: "+testkit.Basic("source", testPassword)+"\r\nContent-Type: audio/mpeg\r\n\r\n")
		if r.Code != 401 {
			t.Fatalf("global password on a mount with its own: got %d, want 401", r.Code)
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "PUT /own.mp3 HTTP/1.1\r\nAuthorization: %s\r\nContent-Type: audio/mpeg\r\n\r\n", testkit.Basic("dj", "djpass"))
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		if !strings.HasPrefix(string(buf[:n]), "HTTP/1.0 200 OK") {
			t.Fatalf("mount's own credentials refused: %q", buf[:n])
		}
	})
	t.Run("PUT without Content-Type", func(t *testing.T) {
		r := testkit.RawRequest(t, addr, "PUT /x.mp3 HTTP/1.1\r\nAuthorization: "+testkit.Basic("source", testPassword)+"\r\n\r\n")
		if r.Code != 400 {
			t.Fatalf("got %d, want 400", r.Code)
		}
	})
	t.Run("bad mount path", func(t *testing.T) {
		for _, p := range []string{"/", "/admin/x", "/a/../b", "/a//b"} {
			r := testkit.RawRequest(t, addr, "PUT "+p+" HTTP/1.1\r\nAuthorization: "+testkit.Basic("source", testPassword)+"\r\nContent-Type: audio/mpeg\r\n\r\n")
			if r.Code != 400 {
				t.Errorf("%s: got %d, want 400", p, r.Code)
			}
		}
	})
	t.Run("head too large", func(t *testing.T) {
		r := testkit.RawRequest(t, addr, "PUT /x.mp3 HTTP/1.1\r\nX-Junk: "+strings.Repeat("a", 4000)+"\r\n\r\n")
		if r.Code != 431 {
			t.Fatalf("got %d, want 431", r.Code)
		}
	})
	t.Run("head never completed", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "PUT /x.mp3 HTTP/1.1\r\n")
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(make([]byte, 10))
		if n != 0 || err == nil {
			t.Fatalf("want the connection closed, got %d bytes, %v", n, err)
		}
		testkit.Eventually(t, time.Second, "header timeout event", func() bool {
			for _, e := range s.Events(0) {
				if e.Type == EventRequestRejected && e.Reason == ReasonHeadTimeout {
					return true
				}
			}
			return false
		})
	})
	t.Run("busy mount and too many sources", func(t *testing.T) {
		src, r := connectSource(t, addr, "PUT", "/busy.mp3", "audio/mpeg", "Expect", "100-continue")
		if src == nil {
			t.Fatalf("first source refused: %+v", r)
		}
		if !strings.Contains(src.Head, "100 Continue") {
			// Head keeps the 100 Continue that came before the 200.
			t.Fatalf("Expect: 100-continue not answered with 100 first: %q", src.Head)
		}
		src.Send(mp3[:4096], 4096, 0)
		_, r = connectSource(t, addr, "PUT", "/busy.mp3", "audio/mpeg")
		if r.Code != 403 || !strings.Contains(r.Body, "Mountpoint in use") {
			t.Fatalf("second source on a busy mount: %d %q, want 403 Mountpoint in use", r.Code, r.Body)
		}
		two, _ := connectSource(t, addr, "SOURCE", "/two.mp3", "audio/mpeg")
		if two == nil {
			t.Fatal("second mount refused")
		}
		_, r = connectSource(t, addr, "SOURCE", "/three.mp3", "audio/mpeg")
		if r.Code != 503 {
			t.Fatalf("third source with max 2: got %d, want 503", r.Code)
		}
		src.Close()
		two.Close()
		testkit.Eventually(t, 2*time.Second, "sources gone", func() bool { return s.Snapshot().Sources == 0 })
	})
}

func TestSourceTimeout(t *testing.T) {
	s, addr := startServer(t, func(c *Config) { c.SourceTimeout = 300 * time.Millisecond })
	src, _ := connectSource(t, addr, "PUT", "/quiet.mp3", "audio/mpeg")
	src.Send(testkit.Media(t, "tone.mp3")[:2000], 2000, 0)
	testkit.Eventually(t, 3*time.Second, "source dropped for silence", func() bool {
		e := findEvent(s, EventSourceLeft, "/quiet.mp3")
		return e != nil && e.Reason == ReasonTimeout
	})
	// The mount goes just after the event that says why.
	testkit.Eventually(t, 3*time.Second, "mount removed after the timeout", func() bool { return mountSnap(s, "/quiet.mp3") == nil })
}

func TestSourceStatsAndHeaders(t *testing.T) {
	s, addr := startServer(t, nil)
	mp3 := testkit.Media(t, "tone.mp3")
	src, r := connectSource(t, addr, "SOURCE", "/stats.mp3", "audio/mpeg",
		"Ice-Name", "Test FM", "Ice-Description", "a test", "Ice-Genre", "Tone", "Ice-Url", "http://example.org",
		"Ice-Public", "0", "Ice-Bitrate", "128", "Ice-Audio-Info", "ice-samplerate=44100;ice-bitrate=128;ice-channels=2")
	if src == nil {
		t.Fatalf("refused: %+v", r)
	}
	src.Send(mp3, 8192, 0)
	testkit.Eventually(t, 2*time.Second, "all bytes in", func() bool {
		m := mountSnap(s, "/stats.mp3")
		return m != nil && m.Source.BytesIn == uint64(len(mp3))
	})
	m := mountSnap(s, "/stats.mp3")
	ss := m.Source
	if ss.SHA256 != sha(mp3) {
		t.Errorf("sha so far %s, want %s", ss.SHA256, sha(mp3))
	}
	if ss.Method != "SOURCE" || ss.UserAgent != "icedeck-test" || ss.Ice.Name != "Test FM" || ss.Ice.Bitrate != 128000 || ss.Ice.SampleRate != 44100 || ss.Ice.Channels != 2 {
		t.Errorf("source details: %+v", ss)
	}
	if f := ss.Frames; f.Codec != "MP3" || f.SampleRate != 44100 || f.Channels != 2 || f.SyncLosses != 0 || f.Frames < 190 {
		t.Errorf("frame stats: %+v", f)
	}
	// Headers reach listeners once each, renamed to icy-*.
	resp, _ := httpHead(t, "http://"+addr+"/stats.mp3")
	for k, want := range map[string]string{"icy-name": "Test FM", "icy-description": "a test", "icy-genre": "Tone", "icy-url": "http://example.org", "icy-pub": "0", "icy-br": "128"} {
		if got := resp[strings.ToLower(k)]; len(got) != 1 || got[0] != want {
			t.Errorf("%s: got %q, want exactly one %q", k, got, want)
		}
	}
	src.Close()
}

// httpHead sends HEAD and returns the response headers by lower-case name.
func httpHead(t *testing.T, url string) (map[string][]string, int) {
	t.Helper()
	host := strings.TrimPrefix(url, "http://")
	host, path, _ := strings.Cut(host, "/")
	r := testkit.RawRequest(t, host, "HEAD /"+path+" HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
	out := map[string][]string{}
	for _, line := range strings.Split(r.Head, "\r\n")[1:] {
		k, v, _ := strings.Cut(line, ":")
		out[strings.ToLower(k)] = append(out[strings.ToLower(k)], strings.TrimSpace(v))
	}
	if r.Body != "" {
		t.Errorf("HEAD answered with a body of %d bytes", len(r.Body))
	}
	return out, r.Code
}

func TestMountOverridesWhatTheSourceDeclares(t *testing.T) {
	s, addr := startServer(t, func(c *Config) {
		c.Mounts = map[string]MountConfig{"/o.mp3": {StreamName: "Official Name", StreamDescription: "Official", Public: "1"}}
	})
	src, _ := connectSource(t, addr, "PUT", "/o.mp3", "audio/mpeg", "Ice-Name", "whatever", "Ice-Genre", "Jazz")
	src.Send(testkit.Media(t, "tone.mp3")[:4000], 4000, 0)
	testkit.Eventually(t, 2*time.Second, "mount", func() bool { return mountSnap(s, "/o.mp3") != nil })
	h, _ := httpHead(t, "http://"+addr+"/o.mp3")
	for k, want := range map[string]string{"icy-name": "Official Name", "icy-description": "Official", "icy-pub": "1", "icy-genre": "Jazz"} {
		if got := h[k]; len(got) != 1 || got[0] != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if n := mountSnap(s, "/o.mp3").Source.Ice.Name; n != "Official Name" {
		t.Errorf("snapshot name %q", n)
	}
}

// Ogg sources carry their titles in-band (Vorbis comments): they become the
// mount's title.
func TestOggInBandTitle(t *testing.T) {
	s, addr := startServer(t, nil)
	src, _ := connectSource(t, addr, "PUT", "/t.ogg", "application/ogg")
	src.Send(testkit.Media(t, "titled.ogg"), 1000, time.Millisecond)
	testkit.Eventually(t, 2*time.Second, "in-band title", func() bool {
		m := mountSnap(s, "/t.ogg")
		return m != nil && m.Title == "Night Band - Blue Hour"
	})
	if e := findEvent(s, EventMetadata, "/t.ogg"); e == nil || e.Detail != "in-band" || e.Subject != "Night Band - Blue Hour" {
		t.Fatalf("metadata event %+v", e)
	}
}

// Connections that never finish their request are bounded by MaxClients:
// a flood of them cannot grow without bound, and the server answers again
// once they go.
func TestStalledHeadsCountAsClients(t *testing.T) {
	s, addr := startServer(t, func(c *Config) { c.MaxClients = 5; c.HeaderTimeout = time.Second })
	var stalled []net.Conn
	for i := 0; i < 5; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /x HTTP/1.1\r\n") // and nothing more
		stalled = append(stalled, c)
	}
	testkit.Eventually(t, 2*time.Second, "five unfinished requests held", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.heads) == 5
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if b, err := io.ReadAll(c); !strings.HasPrefix(string(b), "HTTP/1.0 503") || err != nil {
		t.Fatalf("sixth connection: %q, %v; want a 503 and close at once", b, err)
	}
	c.Close()
	if e := findEvent(s, EventRequestRejected, ""); e == nil || (e.Reason != ReasonServerFull && e.Reason != ReasonHeadTimeout) {
		t.Fatalf("no rejection event: %+v", e)
	}
	for _, c := range stalled {
		c.Close()
	}
	testkit.Eventually(t, 3*time.Second, "room again", func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /nothing HTTP/1.0\r\n\r\n")
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		b, _ := io.ReadAll(c)
		return strings.HasPrefix(string(b), "HTTP/1.0 404")
	})
}
