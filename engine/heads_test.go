package engine

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// Request heads are read through pooled readers whose buffer is smaller
// than many heads: a long head still arrives whole on every path (a
// listener, a source, net/http, a 404), and no reader passes one client's
// bytes or state to the next, a source that streams through it included.
func TestHeadsThroughPooledReaders(t *testing.T) {
	s, addr := startServer(t, nil)
	s.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %d", r.URL.Path, len(r.UserAgent()))
	}))
	mp3 := testkit.Media(t, "tone.mp3")
	long := "player/" + strings.Repeat("x", 3000) // three times the reader's buffer

	src, _ := connectSource(t, addr, "PUT", "/a.mp3", "audio/mpeg")
	src.Send(mp3[:4000], 4000, 0)
	testkit.Eventually(t, 2*time.Second, "mount up", func() bool { return mountSnap(s, "/a.mp3") != nil })
	agents := []string{long, "short/1", "short/2", long + "/2"}
	for _, ua := range agents {
		l := testkit.Listen(t, addr, "/a.mp3", "User-Agent", ua)
		if !strings.HasPrefix(l.Head, "HTTP/1.0 200 OK\r\n") {
			t.Fatalf("listener with a %d-byte agent: head %q", len(ua), l.Head)
		}
	}
	testkit.Eventually(t, 2*time.Second, "each listener with its own agent", func() bool {
		m := mountSnap(s, "/a.mp3")
		if m == nil || len(m.Listeners) != len(agents) {
			return false
		}
		var got []string
		for _, l := range m.Listeners { // ordered by id, as they joined
			got = append(got, l.UserAgent)
		}
		return slices.Equal(got, agents)
	})

	r := testkit.RawRequest(t, addr, "GET /page HTTP/1.0\r\nUser-Agent: "+long+"\r\n\r\n")
	if want := fmt.Sprintf("/page %d", len(long)); r.Code != 200 || r.Body != want {
		t.Fatalf("net/http got %d %q, want 200 %q", r.Code, r.Body, want)
	}

	// This source's head is read by a reader that served the requests
	// above, and its stream is read through it.
	src2, _ := connectSource(t, addr, "PUT", "/b.mp3", "audio/mpeg", "Ice-Description", long)
	src2.Send(mp3[:1000], 1000, 0)
	testkit.Eventually(t, 2*time.Second, "second mount up", func() bool { return mountSnap(s, "/b.mp3") != nil })
	l := testkit.Listen(t, addr, "/b.mp3")
	src2.Send(mp3[1000:], 3001, time.Millisecond)
	src2.Close()
	if got := l.Wait(t, 5*time.Second); sha(got) != sha(mp3) {
		t.Fatalf("listener got %d bytes (sha %s), source sent %d (sha %s)", len(got), sha(got), len(mp3), sha(mp3))
	}
}
