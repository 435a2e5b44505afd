package main

import (
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/internal/testkit"
)

// icedeck pushes a mount to the real Icecast as its source: a listener of
// Icecast gets a contiguous run of what icedeck's source sent, with the
// title set on icedeck; when Icecast restarts, the push comes back.
func TestPushToIcecast(t *testing.T) {
	t.Parallel()
	data := noiseMP3(t, 40)
	ic := startIcecast(t, "")
	origin := startDeck(t, func(c *engine.Config) {
		c.Pushes = []engine.PushConfig{{Mount: "/live.mp3", URL: "icecast://source:" + icSource + "@" + ic.Addr + "/pushed.mp3", Retry: 500 * time.Millisecond}}
	})
	src := putSource(t, origin.addr, "/live.mp3", deckSource, data)
	testkit.Eventually(t, 10*time.Second, "pushed mount on Icecast", func() bool { return ic.Listeners("/pushed.mp3") >= 0 })
	if err := origin.srv.SetTitle("/live.mp3", "Pushed Artist - Pushed Song", ""); err != nil {
		t.Fatal(err)
	}
	l := listenTo(t, ic.Addr, "/pushed.mp3", true)
	l.waitBytes(t, 48000, 15*time.Second)
	contiguous(t, "Icecast's listener", l.bytes(), src.bytes())
	testkit.Eventually(t, 10*time.Second, "title on Icecast", func() bool { return l.hasTitle("Pushed Artist - Pushed Song") })

	ic.Restart()
	testkit.Eventually(t, 15*time.Second, "push back after the restart", func() bool {
		for _, p := range origin.srv.Pushes() {
			if p.State == engine.PushLive && p.BytesSent > 0 {
				return ic.Listeners("/pushed.mp3") >= 0
			}
		}
		return false
	})
	l2 := listenTo(t, ic.Addr, "/pushed.mp3", false)
	l2.waitBytes(t, 32000, 15*time.Second)
	contiguous(t, "Icecast's listener after the restart", l2.bytes(), src.bytes())
}
