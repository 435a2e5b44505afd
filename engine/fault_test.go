package engine

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// faultServer runs an engine whose source requests get faults in order,
// one per request; it returns the mounts the hook was asked about.
func faultServer(t *testing.T, faults ...SourceFault) (*Server, string, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var asked []string
	s, addr := startServer(t, func(c *Config) {
		c.SourceFaults = func(mount string) SourceFault {
			mu.Lock()
			defer mu.Unlock()
			asked = append(asked, mount)
			if len(asked) <= len(faults) {
				return faults[len(asked)-1]
			}
			return SourceFault{}
		}
	})
	return s, addr, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), asked...)
	}
}

// endedSession waits for the n-th session (from 1) to end and returns it.
func endedSession(t *testing.T, s *Server, n int) Session {
	t.Helper()
	var se Session
	testkit.Eventually(t, 10*time.Second, fmt.Sprintf("session %d ended", n), func() bool {
		list := s.Sessions()
		if len(list) < n || list[n-1].Ended.IsZero() {
			return false
		}
		se = list[n-1]
		return true
	})
	return se
}

func TestFaultRefuses(t *testing.T) {
	s, addr, asked := faultServer(t, SourceFault{Refuse: 503}, SourceFault{Refuse: 401})
	mp3 := testkit.Media(t, "tone.mp3")

	// No credentials: refused before the hook is asked, so a probe is
	// not an attempt.
	if r := testkit.RawRequest(t, addr, "PUT /f.mp3 HTTP/1.1\r\nContent-Type: audio/mpeg\r\n\r\n"); r.Code != 401 {
		t.Fatalf("probe: %d", r.Code)
	}
	_, r := connectSource(t, addr, "PUT", "/f.mp3", "audio/mpeg")
	if r.Code != 503 || r.Body != "Service Unavailable\n" {
		t.Fatalf("first attempt: %d %q, want 503", r.Code, r.Body)
	}
	if n := countEvents(s, EventSourceRejected, ReasonFault); n != 1 {
		t.Fatalf("%d refusals with reason fault, want 1", n)
	}
	_, r = connectSource(t, addr, "SOURCE", "/f.mp3", "audio/mpeg")
	if r.Code != 401 || !strings.Contains(r.Head, `WWW-Authenticate: Basic realm="icedeck"`) {
		t.Fatalf("second attempt: %d %q, want 401 with a challenge", r.Code, r.Head)
	}
	src, r := connectSource(t, addr, "PUT", "/f.mp3", "audio/mpeg")
	if src == nil {
		t.Fatalf("third attempt refused: %d %q", r.Code, r.Body)
	}
	src.Send(mp3[:20000], 0, 0)
	src.Close()
	if se := endedSession(t, s, 1); se.Bytes != 20000 || se.SHA256 != sha(mp3[:20000]) {
		t.Fatalf("session after the refusals: %d bytes %s", se.Bytes, se.SHA256)
	}
	if got := asked(); len(got) != 3 || got[0] != "/f.mp3" {
		t.Fatalf("hook asked for %q, want /f.mp3 three times", got)
	}
}

// The server reads exactly CloseAfter bytes, then drops the client.
func TestFaultCloseAfter(t *testing.T) {
	s, addr, _ := faultServer(t, SourceFault{CloseAfter: 10000})
	mp3 := testkit.Media(t, "tone.mp3")
	c, err := testkit.DialSource(addr, testkit.SourceRequest{Mount: "/c.mp3", User: "source", Password: testPassword, ContentType: "audio/mpeg"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Written in pieces: the writes fail once the server has gone.
	var werr error
	for off := 0; off < len(mp3) && werr == nil; off += 4000 {
		_, werr = c.Write(mp3[off:min(off+4000, len(mp3))])
		if werr == nil {
			time.Sleep(5 * time.Millisecond) // paces the client; not a synchronisation
		}
	}
	se := endedSession(t, s, 1)
	if se.Bytes != 10000 || se.SHA256 != sha(mp3[:10000]) || se.Reason != ReasonFault {
		t.Fatalf("session: %d bytes, reason %s; want the first 10000 bytes, reason fault", se.Bytes, se.Reason)
	}
	if werr == nil {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("the connection is still open after the drop")
		}
	}
}

// A stall holds the client back without losing a byte, and shows as the
// session's longest gap.
func TestFaultStall(t *testing.T) {
	const stall = 700 * time.Millisecond
	s, addr, _ := faultServer(t, SourceFault{StallAfter: 8000, Stall: stall})
	mp3 := testkit.Media(t, "tone.mp3")
	src, _ := connectSource(t, addr, "PUT", "/s.mp3", "audio/mpeg")
	src.Send(mp3, 0, 0)
	src.Close() // before the stall ends: what the server had not read yet must still arrive
	se := endedSession(t, s, 1)
	if se.Bytes != uint64(len(mp3)) || se.SHA256 != sha(mp3) {
		t.Fatalf("stalled session lost data: %d of %d bytes", se.Bytes, len(mp3))
	}
	// The reader slept the whole stall; the gap is measured where the
	// pieces are taken, a little later each, so it may show a little less.
	if se.Wall < stall || se.LongestGap < stall/2 {
		t.Fatalf("session of %s with a longest gap of %s, want the stall of %s to show in both", se.Wall, se.LongestGap, stall)
	}
	if n := countEvents(s, EventWarning, ReasonFault); n != 1 {
		t.Fatalf("%d fault warnings, want the stall's", n)
	}
}

// A slow fault reads no faster than its rate, through the limit-rate
// pacing (a second's worth at once, then the rate).
func TestFaultSlow(t *testing.T) {
	s, addr, _ := faultServer(t, SourceFault{Rate: 20000})
	mp3 := testkit.Media(t, "tone.mp3")[:60000]
	src, _ := connectSource(t, addr, "PUT", "/slow.mp3", "audio/mpeg")
	src.Send(mp3, 0, 0)
	src.Close()
	se := endedSession(t, s, 1)
	if se.Bytes != uint64(len(mp3)) || se.SHA256 != sha(mp3) {
		t.Fatalf("slow session: %d of %d bytes", se.Bytes, len(mp3))
	}
	// 60000 bytes at 20000 a second, the first 20000 at once: 2 s.
	if se.Wall < 1900*time.Millisecond {
		t.Fatalf("60000 bytes read in %s at 20000 B/s, want about 2 s", se.Wall)
	}
}

// Expect: 100-continue as a server that ignores it, and as an HTTP/1.0
// server, answer it.
func TestFaultContinue(t *testing.T) {
	s, addr, _ := faultServer(t, SourceFault{NoContinue: true}, SourceFault{HTTP10: true})
	mp3 := testkit.Media(t, "tone.mp3")
	head := "PUT /e.mp3 HTTP/1.1\r\nAuthorization: " + testkit.Basic("source", testPassword) + "\r\nContent-Type: audio/mpeg\r\nExpect: 100-continue\r\n\r\n"

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	// Nothing comes: a client waiting for its 100 waits in vain (the
	// half second is how long this one gives up after).
	_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if n, err := c.Read(make([]byte, 64)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("no-continue answered: %d bytes, %v", n, err)
	}
	if _, err := c.Write(mp3[:30000]); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if se := endedSession(t, s, 1); se.Bytes != 30000 {
		t.Fatalf("sent unasked after the wait: %d bytes arrived, want 30000", se.Bytes)
	}

	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := c2.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	_ = c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	status, err := bufio.NewReader(c2).ReadString('\n')
	if err != nil || status != "HTTP/1.0 200 OK\r\n" {
		t.Fatalf("http10 answered %q (%v), want HTTP/1.0 200 OK and no 100", status, err)
	}
}
