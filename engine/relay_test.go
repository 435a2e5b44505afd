package engine

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// A relay pulls a mount from another server: the listener of the edge gets
// the origin's audio, without the ICY blocks it asked for, and the titles
// in them become the edge mount's.
func TestRelayPullsAudioAndTitles(t *testing.T) {
	origin, oaddr := startServer(t, func(c *Config) { c.MetaInt = 1000 })
	mp3 := testkit.Media(t, "tone.mp3")
	src, _ := connectSource(t, oaddr, "PUT", "/up.mp3", "audio/mpeg", "Ice-Name", "Origin FM")
	src.Send(mp3[:4000], 4000, 0)
	testkit.Eventually(t, 2*time.Second, "origin up", func() bool { return mountSnap(origin, "/up.mp3") != nil })
	if err := origin.SetTitle("/up.mp3", "Artist - Song", ""); err != nil {
		t.Fatal(err)
	}
	edge, eaddr := startServer(t, func(c *Config) {
		c.Relays = []RelayConfig{{Mount: "/live.mp3", Upstreams: []string{"http://" + oaddr + "/up.mp3"}, ICYMetadata: true}}
		c.Mounts = map[string]MountConfig{"/live.mp3": {Genre: "Edge Genre"}} // a relayed mount's settings apply as a source's
	})
	testkit.Eventually(t, 5*time.Second, "relay live", func() bool {
		m := mountSnap(edge, "/live.mp3")
		return m != nil && m.Relay != nil && m.Relay.State == RelayLive && m.Source != nil
	})
	l := testkit.Listen(t, eaddr, "/live.mp3")
	src.Send(mp3[4000:40000], 2000, 20*time.Millisecond)
	testkit.Eventually(t, 5*time.Second, "title relayed", func() bool { return mountSnap(edge, "/live.mp3").Title == "Artist - Song" })
	m := mountSnap(edge, "/live.mp3")
	if m.Source.Method != "RELAY" || m.Source.Ice.Name != "Origin FM" || m.Source.Ice.Genre != "Edge Genre" || m.Source.Frames.SyncLosses != 0 {
		t.Fatalf("relayed source %+v", m.Source)
	}
	if len(origin.Relays()) != 0 || len(edge.Relays()) != 1 || edge.Relays()[0].LastError != "" {
		t.Fatalf("relay lists %+v", edge.Relays())
	}
	if tot := edge.Snapshot().Totals; tot.RelayConnections != 1 || tot.SourceConnections != 1 {
		t.Fatalf("totals %+v: one relay session, which is the one source", tot)
	}
	edge.RemoveRelay("/live.mp3")
	got := l.Wait(t, 5*time.Second)
	// A contiguous run of what the origin's source sent: no ICY bytes.
	if len(got) < 20000 || !bytes.Contains(mp3[:40000], got[:len(got)-200]) {
		t.Fatalf("edge listener got %d bytes that are not a run of the origin's stream", len(got))
	}
}

// When its upstream goes away the relay fails over to the next one, and
// the edge's listener stays connected and goes on at a frame boundary.
func TestRelayFailsOverKeepingListeners(t *testing.T) {
	a, b := testkit.Media(t, "tone.mp3"), testkit.Media(t, "tone440.mp3")
	o1, addr1 := startServer(t, nil)
	s1, _ := connectSource(t, addr1, "PUT", "/up.mp3", "audio/mpeg")
	s1.Send(a[:4000], 4000, 0)
	s1.Feed(a, 2000, 125*time.Millisecond) // real time at 128 kb/s
	o2, addr2 := startServer(t, nil)
	s2, _ := connectSource(t, addr2, "PUT", "/up.mp3", "audio/mpeg")
	s2.Send(b[:4000], 4000, 0)
	s2.Feed(b, 2000, 125*time.Millisecond)
	testkit.Eventually(t, 2*time.Second, "origins up", func() bool { return mountSnap(o1, "/up.mp3") != nil && mountSnap(o2, "/up.mp3") != nil })
	edge, eaddr := startServer(t, func(c *Config) {
		c.Relays = []RelayConfig{{Mount: "/live.mp3", Upstreams: []string{"http://" + addr1 + "/up.mp3", "http://" + addr2 + "/up.mp3"}, Retry: 100 * time.Millisecond}}
	})
	testkit.Eventually(t, 5*time.Second, "relay live on the first", func() bool {
		m := mountSnap(edge, "/live.mp3")
		return m != nil && m.Relay != nil && m.Relay.State == RelayLive && strings.Contains(m.Relay.Upstream, addr1)
	})
	l := testkit.Listen(t, eaddr, "/live.mp3")
	time.Sleep(500 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = o1.Shutdown(ctx) // the first upstream dies
	testkit.Eventually(t, 5*time.Second, "relay live on the second", func() bool {
		m := mountSnap(edge, "/live.mp3")
		return m != nil && m.Relay != nil && m.Relay.State == RelayLive && strings.Contains(m.Relay.Upstream, addr2)
	})
	n := mountSnap(edge, "/live.mp3").ListenerCount
	time.Sleep(500 * time.Millisecond)
	if n != 1 {
		t.Fatalf("%d listeners on the edge after failover, want the same one", n)
	}
	l.Conn.Close()
	if e := findEvent(edge, EventListenerLeft, "/live.mp3"); e != nil && e.Reason != ReasonClientClosed {
		t.Fatalf("the listener was closed by the server during failover: %+v", e)
	}
}

// An on-demand relay holds no upstream connection until someone listens,
// serves the first listener within two seconds, and lets go once the last
// one has left.
func TestRelayOnDemand(t *testing.T) {
	t.Parallel()
	origin, oaddr := startServer(t, nil)
	mp3 := testkit.Media(t, "tone.mp3")
	src, _ := connectSource(t, oaddr, "PUT", "/up.mp3", "audio/mpeg")
	src.Send(mp3[:4000], 4000, 0)
	src.Feed(mp3, 2000, 125*time.Millisecond)
	testkit.Eventually(t, 2*time.Second, "origin up", func() bool { return mountSnap(origin, "/up.mp3") != nil })
	edge, eaddr := startServer(t, func(c *Config) {
		c.Relays = []RelayConfig{{Mount: "/od.mp3", Upstreams: []string{"http://" + oaddr + "/up.mp3"}, OnDemand: true}}
	})
	time.Sleep(500 * time.Millisecond)
	if n := mountSnap(origin, "/up.mp3").ListenerCount; n != 0 {
		t.Fatalf("an idle on-demand relay holds %d upstream connections", n)
	}
	if m := mountSnap(edge, "/od.mp3"); m == nil || m.State != StateRelay || m.Relay.State != RelayIdle {
		t.Fatalf("idle relay mount %+v", m)
	}
	start := time.Now()
	l := testkit.Listen(t, eaddr, "/od.mp3")
	first := make([]byte, 1)
	_ = l.Conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := l.Conn.Read(first); err != nil {
		t.Fatalf("no audio within 2 s of the first listener: %v", err)
	}
	t.Logf("first byte %s after the request", time.Since(start).Round(time.Millisecond))
	if n := mountSnap(origin, "/up.mp3").ListenerCount; n != 1 {
		t.Fatalf("upstream connections while listened to: %d", n)
	}
	l.Conn.Close()
	testkit.Eventually(t, idleClose+5*time.Second, "upstream let go", func() bool {
		m := mountSnap(edge, "/od.mp3")
		return mountSnap(origin, "/up.mp3").ListenerCount == 0 && m != nil && m.Relay != nil && m.Relay.State == RelayIdle
	})
}

// An upstream that refuses is an event with the reason, retried with a
// growing wait.
func TestRelayUpstreamRefusal(t *testing.T) {
	_, oaddr := startServer(t, nil)
	edge, _ := startServer(t, func(c *Config) {
		c.Relays = []RelayConfig{{Mount: "/x.mp3", Upstreams: []string{"http://" + oaddr + "/nothing.mp3"}, Retry: 50 * time.Millisecond}}
	})
	testkit.Eventually(t, 5*time.Second, "attempts counted", func() bool {
		rs := edge.Relays()
		return len(rs) == 1 && rs[0].Attempts >= 3 && strings.Contains(rs[0].LastError, "404")
	})
	e := findEvent(edge, EventRelay, "/x.mp3")
	for _, ev := range edge.Events(0) {
		if ev.Type == EventRelay && strings.Contains(ev.Detail, "404") {
			e = &ev
		}
	}
	if e == nil || !strings.Contains(e.Detail, "404") {
		t.Fatalf("no event with the upstream's answer: %+v", e)
	}
	if err := edge.AddRelay(RelayConfig{Mount: "/x.mp3", Upstreams: []string{"http://" + oaddr + "/y"}}); err == nil {
		t.Fatal("a second relay of the same mount was accepted")
	}
	for _, bad := range []RelayConfig{{Mount: "/a", Upstreams: nil}, {Mount: "/b", Upstreams: []string{"ftp://x/y"}}, {Mount: "bad", Upstreams: []string{"http://x/y"}}} {
		if err := edge.AddRelay(bad); err == nil {
			t.Errorf("relay %+v accepted", bad)
		}
	}
}
