package remote

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/internal/testkit"
)

// icecastURL is the admin URL of a test Icecast.
func icecastURL(ic *testkit.Icecast) string {
	return "http://admin:" + testkit.IcecastAdminPassword + "@" + ic.Addr
}

var listClientID = regexp.MustCompile(`<ID>(\d+)</ID>`)

// The real Icecast 2.4.4, with two live sources and listeners, read and
// driven through its admin API: the summary is what its own statistics
// say, listeners are listed with the ids Icecast gives them, a kick
// closes the listener's connection, a title reaches an ICY listener, a
// move takes the listeners to the other mount, and a kicked source's
// mount goes, each told as an event.
func TestIcecastAdmin(t *testing.T) {
	t.Parallel()
	ic := testkit.StartIcecast(t, "")
	src := feed(t, ic.Addr, testkit.IcecastSourcePassword, "/a.mp3", "Ice-Name", "Station A", "Ice-Bitrate", "128")
	feed(t, ic.Addr, testkit.IcecastSourcePassword, "/b.mp3")
	testkit.Eventually(t, 10*time.Second, "both mounts on Icecast", func() bool {
		return ic.Listeners("/a.mp3") == 0 && ic.Listeners("/b.mp3") == 0
	})
	icy := testkit.Listen(t, ic.Addr, "/a.mp3", "Icy-MetaData", "1")
	c := dial(t, icecastURL(ic), Options{})
	ev := subscribe(t, c)

	st := waitState(t, c, StateUp)
	if st.Kind != KindIcecast || st.Version != "Icecast 2.4.4" || st.ReadOnly || st.URL != "http://"+ic.Addr || st.LastOK.IsZero() {
		t.Fatalf("status: %+v", st)
	}
	var a engine.MountSnapshot
	testkit.Eventually(t, 10*time.Second, "the listener counted", func() bool {
		var ok bool
		a, ok = mountOf(c.Summary(), "/a.mp3")
		return ok && a.ListenerCount == 1
	})
	snap := c.Summary()
	if ic.Listeners("/a.mp3") != 1 || snap.Listeners != 1 || snap.Sources != 2 || snap.ServerID != "Icecast 2.4.4" ||
		snap.Started.IsZero() || len(snap.Mounts) != 2 || snap.Mounts[1].Name != "/b.mp3" {
		t.Fatalf("summary: %+v", snap)
	}
	if a.ContentType != "audio/mpeg" || a.State != engine.StateLive || a.Source == nil || a.Source.UserAgent != testkit.SourceAgent ||
		a.Source.Addr != "127.0.0.1" || a.Source.Ice.Name != "Station A" || a.Source.Ice.Bitrate != 128000 || !a.Source.Ice.BitrateStated ||
		time.Since(a.Source.Connected) > time.Minute || a.Listeners != nil {
		t.Fatalf("mount /a.mp3: %+v, source %+v", a, a.Source)
	}
	// What Icecast does not tell is flagged, not taken for zero.
	for _, u := range []engine.Unknown{engine.UnknownFrames, engine.UnknownSource, engine.UnknownListenerDetail, engine.UnknownHistory} {
		if !a.Unknown.Has(u) || !snap.Unknown.Has(u) {
			t.Fatalf("unknown %b not flagged: mount %b, server %b", u, a.Unknown, snap.Unknown)
		}
	}
	if a.Unknown.Has(engine.UnknownListeners) || a.Unknown.Has(engine.UnknownBytes) {
		t.Fatalf("the admin statistics have listeners and bytes, flagged unknown: %b", a.Unknown)
	}

	// The listener, with the id Icecast's own listclients gives.
	body, _, err := ic.Admin("listclients", map[string][]string{"mount": {"/a.mp3"}})
	if err != nil {
		t.Fatal(err)
	}
	ids := listClientID.FindStringSubmatch(string(body))
	if ids == nil {
		t.Fatalf("listclients: %s", body)
	}
	testkit.Eventually(t, 10*time.Second, "the listener listed", func() bool {
		m, ok := c.Mount("/a.mp3")
		return ok && len(m.Listeners) == 1
	})
	m, _ := c.Mount("/a.mp3")
	l := m.Listeners[0]
	if fmt.Sprint(l.ID) != ids[1] || l.Addr != "127.0.0.1" || l.UserAgent != testkit.ListenerAgent || time.Since(l.Connected) > time.Minute {
		t.Fatalf("listener: %+v, listclients says id %s", l, ids[1])
	}

	// A title set through the client reaches the ICY listener.
	const title = "Fleet Artist - Fleet Song"
	if err := c.SetTitle("/a.mp3", title, ""); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 15*time.Second, "the title at the ICY listener", func() bool {
		return slices.Contains(titles(t, icy), "StreamTitle='"+title+"';")
	})
	ev.wait(t, "the title", func(e engine.Event) bool {
		return e.Type == engine.EventMetadata && e.Subject == title && e.Mount == "/a.mp3"
	})
	// Sent as UTF-8, said so: Icecast's statistics have it as it is, and
	// its MP3 listeners get it in the mount's charset, ISO-8859-1.
	if err := c.SetTitle("/a.mp3", "Café Fleet", ""); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 15*time.Second, "the accented title", func() bool {
		m, _ := mountOf(c.Summary(), "/a.mp3")
		return m.Title == "Café Fleet" && slices.Contains(titles(t, icy), "StreamTitle='Caf\xe9 Fleet';")
	})

	// A second listener joins; both can move only together on 2.4.
	other := testkit.Listen(t, ic.Addr, "/a.mp3")
	var second uint64
	testkit.Eventually(t, 10*time.Second, "two listeners listed", func() bool {
		m, _ := c.Mount("/a.mp3")
		if len(m.Listeners) != 2 {
			return false
		}
		for _, x := range m.Listeners {
			if x.ID != l.ID {
				second = x.ID
			}
		}
		return true
	})
	ev.wait(t, "the second listener joining", func(e engine.Event) bool { return e.Type == engine.EventListenerJoined && e.ID == second })
	if _, err := c.MoveListeners("/a.mp3", "/b.mp3", []uint64{second}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("moving one of two listeners on Icecast 2.4: %v", err)
	}

	// A kick closes the listener's connection.
	if err := c.KickListener("/a.mp3", l.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-icy.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the kicked listener's connection is still open")
	}
	testkit.Eventually(t, 10*time.Second, "the kick seen", func() bool {
		c.Mount("/a.mp3") // keeps its listeners read
		return slices.ContainsFunc(ev.list(), func(e engine.Event) bool { return e.Type == engine.EventListenerLeft && e.ID == l.ID })
	})
	if err := c.KickListener("/a.mp3", l.ID); !errors.Is(err, engine.ErrNoClient) {
		t.Fatalf("kicking a listener gone: %v", err)
	}
	if err := c.KickListener("/nowhere.mp3", 1); !errors.Is(err, engine.ErrNoMount) {
		t.Fatalf("kicking on a mount that is not there: %v", err)
	}

	// The one left moves to /b.mp3, its connection open.
	n, err := c.MoveListeners("/a.mp3", "/b.mp3", nil)
	if err != nil || n != 1 {
		t.Fatalf("move: %d, %v", n, err)
	}
	testkit.Eventually(t, 10*time.Second, "the listener on /b.mp3", func() bool {
		b, _ := mountOf(c.Summary(), "/b.mp3")
		return b.ListenerCount == 1 && ic.Listeners("/b.mp3") == 1
	})
	if other.Closed() {
		t.Fatal("the moved listener was disconnected")
	}

	// The source kicked: its connection ends and its mount goes.
	if err := c.KickSource("/a.mp3"); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "/a.mp3 gone", func() bool {
		_, ok := mountOf(c.Summary(), "/a.mp3")
		return !ok
	})
	ev.wait(t, "the source leaving", func(e engine.Event) bool { return e.Type == engine.EventSourceLeft && e.Mount == "/a.mp3" })
	_ = src.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := src.Conn.Read(make([]byte, 1)); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Fatalf("the kicked source's connection: %v", err)
	}
	if err := c.AddRelay(engine.RelayConfig{Mount: "/r.mp3", Upstreams: []string{"http://127.0.0.1:1/x"}}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("a relay on Icecast: %v", err)
	}
}

// Icecast's byte counts (updated every few seconds) give a source's
// bitrate once ten seconds of them are in.
func TestIcecastBitrate(t *testing.T) {
	t.Parallel()
	ic := testkit.StartIcecast(t, "")
	feed(t, ic.Addr, testkit.IcecastSourcePassword, "/a.mp3")
	c := dial(t, icecastURL(ic), Options{})
	var rate int
	testkit.Eventually(t, 40*time.Second, "a measured bitrate", func() bool {
		m, ok := mountOf(c.Summary(), "/a.mp3")
		if ok {
			rate = m.Source.Bitrate10s
		}
		return rate > 0
	})
	// The fixture is 128 kb/s, fed in 4 KiB pieces every 200 ms (at most
	// 164 kb/s); the first seconds' burst is over.
	if rate < 64000 || rate > 250000 {
		t.Fatalf("bitrate %d", rate)
	}
}

// Without admin credentials an Icecast is read through status-json.xsl:
// counts, titles, no listener list, and every action refused as
// read-only.
func TestIcecastReadOnly(t *testing.T) {
	t.Parallel()
	ic := testkit.StartIcecast(t, "")
	feed(t, ic.Addr, testkit.IcecastSourcePassword, "/a.mp3", "Ice-Name", "Station A")
	testkit.Listen(t, ic.Addr, "/a.mp3")
	ic.SetTitle("/a.mp3", "Read\x1b[2J\tOnly") // a terminal escape, which the client leaves out
	c := dial(t, "http://"+ic.Addr, Options{})
	st := waitState(t, c, StateUp)
	if !st.ReadOnly || st.Kind != KindIcecast || st.Version != "Icecast 2.4.4" {
		t.Fatalf("status: %+v", st)
	}
	var a engine.MountSnapshot
	testkit.Eventually(t, 10*time.Second, "the listener counted and the title", func() bool {
		var ok bool
		a, ok = mountOf(c.Summary(), "/a.mp3")
		return ok && a.ListenerCount == 1 && a.Title == "Read Only"
	})
	if a.Source.Ice.Name != "Station A" || a.ContentType != "audio/mpeg" ||
		!a.Unknown.Has(engine.UnknownListeners|engine.UnknownBytes|engine.UnknownSourceClient|engine.UnknownFrames) {
		t.Fatalf("mount: %+v (unknown %b)", a, a.Unknown)
	}
	if m, ok := c.Mount("/a.mp3"); !ok || m.Listeners != nil {
		t.Fatalf("a listener list without credentials: %+v", m)
	}
	if err := c.KickListener("/a.mp3", 1); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("kick without credentials: %v", err)
	}
	if err := c.SetTitle("/a.mp3", "x", ""); !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("title without credentials: %v", err)
	}
}

// Control characters in status-json.xsl's strings (Icecast writes them
// raw) are escaped, and nothing else is touched.
func TestEscapeControls(t *testing.T) {
	in := "{\"t\":\"a\x1b[2J\\\"\tb\",\n\"n\":1}"
	want := "{\"t\":\"a\\u001b[2J\\\"\\u0009b\",\n\"n\":1}"
	if got := string(escapeControls([]byte(in))); got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	g, srcs, err := readStatusJSON([]byte(`{"icestats":{"server_id":"Icecast 2.4.4","source":{"listenurl":"http://h:8000/a.mp3","title":"x` + "\x1b[31m\x01" + `y"}}}`))
	if err != nil || g["server_id"] != "Icecast 2.4.4" || len(srcs) != 1 || srcs[0]["title"] != "xy" || srcs[0]["mount"] != "/a.mp3" {
		t.Fatal(g, srcs, err)
	}
}
