package tui

import (
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/internal/testkit"
)

// serveEngine runs an engine on a loopback port until the test ends.
func serveEngine(t *testing.T) (*engine.Server, string) {
	t.Helper()
	cfg := engine.Defaults()
	cfg.SourcePassword = "pw"
	cfg.Logger = testkit.Logger(t)
	s, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, testkit.Serve(t, s)
}

// TestRealEngineRelay drives the interface over a real engine that pulls
// from a second one: a, the origin's URL and enter make the mount appear
// live, with its upstream, its title through ICY, and R y removes it.
func TestRealEngineRelay(t *testing.T) {
	origin, originAddr := serveEngine(t)
	src, resp := testkit.ConnectSource(t, originAddr, testkit.SourceRequest{
		Mount: "/live.mp3", User: "source", Password: "pw", ContentType: "audio/mpeg",
	})
	if src == nil {
		t.Fatalf("origin refused the source: %s", resp.Head)
	}
	// 128 kb/s MP3 at about real time, so neither engine calls it stalled.
	src.Feed(testkit.Media(t, "tone.mp3"), 1600, 100*time.Millisecond)
	testkit.Eventually(t, 10*time.Second, "the origin's mount is live", func() bool {
		ms, ok := origin.Mount("/live.mp3")
		return ok && ms.Source != nil
	})
	if err := origin.SetTitle("/live.mp3", "Origin Song", ""); err != nil {
		t.Fatal(err)
	}

	edge, _ := serveEngine(t)
	m, err := NewModel(Options{Engine: edge, NoColor: true, Tick: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.Update(tea.WindowSizeMsg{Width: 160, Height: 40})
	until := func(what string, ok func() bool) { t.Helper(); untilScreen(t, m, what, ok) }

	upstream := "http://" + originAddr + "/live.mp3"
	press(t, m, "a")
	typeText(t, m, upstream)
	press(t, m, "enter")
	until("the relayed mount live", func() bool { return stateOf(m, "/live.mp3") == "live" })
	until("the origin's title, through ICY", func() bool { return strings.Contains(plain(m), "Origin Song") })
	if got := edge.Relays(); len(got) != 1 || got[0].Mount != "/live.mp3" || got[0].Upstream != upstream {
		t.Fatalf("edge relays %+v", got)
	}
	press(t, m, "tab", "l") // the new mount is selected: its Source tab
	scr := plain(m)
	for _, w := range []string{"relayed from " + upstream, "Relay state live · 0 failed attempts", "RELAY", "MP3"} {
		if !strings.Contains(scr, w) {
			t.Errorf("Source tab lacks %q:\n%s", w, scr)
		}
	}

	// An upstream that answers 404: the row says relay, the Source tab why.
	press(t, m, "tab", "a")
	typeText(t, m, "http://"+originAddr+"/nothing.mp3 as /missing.mp3")
	press(t, m, "enter")
	until("the failing relay retrying", func() bool {
		ms, _ := m.mounts.Selected()
		return ms.Name == "/missing.mp3" && ms.Relay != nil && ms.Relay.Attempts > 0
	})
	if st := stateOf(m, "/missing.mp3"); st != "relay" {
		t.Errorf("state of the failing relay %q, want relay", st)
	}
	press(t, m, "tab") // the Source tab is still the one shown
	if scr := plain(m); !strings.Contains(scr, "last error: upstream answered 404") {
		t.Errorf("Source tab does not say why:\n%s", scr)
	}

	// On demand and nobody listening: a row that says idle.
	if err := edge.AddRelay(engine.RelayConfig{Mount: "/later.mp3", Upstreams: []string{upstream}, OnDemand: true}); err != nil {
		t.Fatal(err)
	}
	until("the idle relay's row", func() bool { return stateOf(m, "/later.mp3") == "idle" })

	// R y on the first relay removes it from the engine and the table.
	press(t, m, "tab")
	selectMount(t, m, "/live.mp3")
	press(t, m, "R")
	if !strings.Contains(plain(m), "Remove the relay of /live.mp3 (from "+upstream+")? [y/N]") {
		t.Fatalf("prompt:\n%s", plain(m))
	}
	press(t, m, "y")
	if slices.ContainsFunc(edge.Relays(), func(rs engine.RelayStatus) bool { return rs.Mount == "/live.mp3" }) {
		t.Fatalf("relay still there: %+v", edge.Relays())
	}
	until("the relayed mount gone", func() bool { return !slices.Contains(m.mounts.Names(), "/live.mp3") })
	if !strings.Contains(plain(m), "relay of /live.mp3 removed") {
		t.Errorf("removal not reported:\n%s", plain(m))
	}
}
