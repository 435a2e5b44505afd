package engine

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// A reload changes a mount's password and listener limit while its source
// and listener go on untouched: the listener's bytes stay one contiguous
// run of what the source sent.
func TestReconfigureKeepsClientsAndAppliesSettings(t *testing.T) {
	s, addr := startServer(t, func(c *Config) {
		c.Mounts = map[string]MountConfig{"/live.mp3": {Password: "old"}}
	})
	mp3 := testkit.Media(t, "tone.mp3")
	src, _ := testkit.ConnectSource(t, addr, testkit.SourceRequest{Method: "PUT", Mount: "/live.mp3", User: "source", Password: "old", ContentType: "audio/mpeg"})
	src.Send(mp3[:8000], 8000, 0)
	l := testkit.Listen(t, addr, "/live.mp3")
	src.Send(mp3[8000:20000], 2000, 10*time.Millisecond)

	cfg := s.Config()
	cfg.Mounts = map[string]MountConfig{"/live.mp3": {Password: "new", MaxListeners: 1}}
	cfg.SourcePassword = "global2"
	if err := s.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	if e := findEvent(s, EventReload, ""); e == nil || e.Level.String() != "INFO" {
		t.Fatalf("reload event %+v", e)
	}
	src.Send(mp3[20000:40000], 2000, 10*time.Millisecond)

	// The new limit holds for the next listener; the new password for the
	// next source; the old one is refused.
	if r := testkit.RawRequest(t, addr, "GET /live.mp3 HTTP/1.0\r\n\r\n"); r.Code != 503 {
		t.Fatalf("second listener over the reloaded limit of 1: %d", r.Code)
	}
	if _, r := testkit.ConnectSource(t, addr, testkit.SourceRequest{Method: "PUT", Mount: "/other.mp3", User: "source", Password: testPassword, ContentType: "audio/mpeg"}); r.Code != 401 {
		t.Fatalf("old global password after reload: %d", r.Code)
	}
	if src2, r := testkit.ConnectSource(t, addr, testkit.SourceRequest{Method: "PUT", Mount: "/other.mp3", User: "source", Password: "global2", ContentType: "audio/mpeg"}); src2 == nil {
		t.Fatalf("new global password after reload: %d", r.Code)
	}
	src.Close()
	got := l.Wait(t, 5*time.Second)
	if len(got) < 30000 || !bytes.Contains(mp3[:40000], got) {
		t.Fatalf("listener got %d bytes, not one contiguous run of the 40000 sent across the reload", len(got))
	}
}

// A configuration that does not validate is refused whole: the old
// settings stay and the refusal is an event with the reason.
func TestReconfigureRefusesBadConfig(t *testing.T) {
	s, addr := startServer(t, nil)
	cfg := s.Config()
	cfg.SourcePassword = "other"
	cfg.Mounts = map[string]MountConfig{"/a.mp3": {Fallback: "/b.mp3"}, "/b.mp3": {Fallback: "/a.mp3"}}
	err := s.Reconfigure(cfg)
	if err == nil || !strings.Contains(err.Error(), "loop") {
		t.Fatalf("fallback loop accepted: %v", err)
	}
	e := findEvent(s, EventReload, "")
	if e == nil || e.Level.String() != "ERROR" || !strings.Contains(e.Message, "old settings stay") {
		t.Fatalf("refusal event %+v", e)
	}
	if src, r := connectSource(t, addr, "PUT", "/live.mp3", "audio/mpeg"); src == nil {
		t.Fatalf("old password refused after a refused reload: %d", r.Code)
	}
}

// Relays follow the configuration: a new one starts, an unchanged one is
// left alone (its listener stays), a removed one stops.
func TestReconfigureRelays(t *testing.T) {
	origin, oaddr := startServer(t, nil)
	mp3 := testkit.Media(t, "tone.mp3")
	src, _ := connectSource(t, oaddr, "PUT", "/up.mp3", "audio/mpeg")
	src.Send(mp3[:4000], 4000, 0)
	src.Feed(mp3, 2000, 125*time.Millisecond)
	testkit.Eventually(t, 2*time.Second, "origin up", func() bool { return mountSnap(origin, "/up.mp3") != nil })
	a := RelayConfig{Mount: "/a.mp3", Upstreams: []string{"http://" + oaddr + "/up.mp3"}}
	b := RelayConfig{Mount: "/b.mp3", Upstreams: []string{"http://" + oaddr + "/up.mp3"}}
	edge, eaddr := startServer(t, func(c *Config) { c.Relays = []RelayConfig{a} })
	live := func(mount string) func() bool {
		return func() bool {
			m := mountSnap(edge, mount)
			return m != nil && m.Relay != nil && m.Relay.State == RelayLive
		}
	}
	testkit.Eventually(t, 5*time.Second, "relay a live", live("/a.mp3"))
	l := testkit.Listen(t, eaddr, "/a.mp3")

	cfg := edge.Config()
	cfg.Relays = []RelayConfig{a, b}
	if err := edge.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "relay b live", live("/b.mp3"))
	cfg.Relays = []RelayConfig{a}
	if err := edge.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "relay b gone", func() bool { return len(edge.Relays()) == 1 && edge.Relays()[0].Mount == "/a.mp3" })
	n := len(l.Bytes())
	testkit.Eventually(t, 5*time.Second, "listener of a goes on", func() bool { return len(l.Bytes()) > n+4000 })
	if l.Closed() {
		t.Fatal("the unchanged relay's listener was disconnected by the reload")
	}
}
