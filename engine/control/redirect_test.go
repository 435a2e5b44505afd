package control

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/engine/apidoc"
	"github.com/icedeck/icedeck/internal/testkit"
)

// The origin answers a listener 302 to the edge with the fewest listeners
// on that mount (read from the edges' /status-json.xsl), keeps the query
// string, skips a dead edge, and serves requests with credentials itself.
func TestRedirectToLeastLoadedEdge(t *testing.T) {
	mp3 := testkit.Media(t, "tone.mp3")
	edge := func(listeners int) *env {
		e := start(t, Options{}, nil)
		src := e.connectSource("/live.mp3", "source", srcPass)
		src.Feed(mp3, 2000, 100*time.Millisecond)
		for range listeners {
			testkit.Listen(t, e.addr, "/live.mp3")
		}
		testkit.Eventually(t, 5*time.Second, "edge listeners", func() bool {
			return findMount(e.srv.Snapshot(), "/live.mp3").ListenerCount == listeners
		})
		return e
	}
	busy, quiet := edge(3), edge(1)
	origin := start(t, Options{}, func(c *engine.Config) {
		c.Redirect = &engine.RedirectConfig{Edges: []string{busy.base, quiet.base}, Refresh: 200 * time.Millisecond}
	})
	src := origin.connectSource("/live.mp3", "source", srcPass)
	src.Feed(mp3, 2000, 100*time.Millisecond)
	noFollow := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ask := func(path string, auth bool) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, origin.base+path, nil)
		if auth {
			req.SetBasicAuth("relay", "x")
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Location")
	}
	testkit.Eventually(t, 5*time.Second, "sent to the quieter edge", func() bool {
		code, loc := ask("/live.mp3?token=abc", false)
		return code == http.StatusFound && loc == quiet.base+"/live.mp3?token=abc"
	})
	if code, _ := ask("/live.mp3", true); code != http.StatusOK {
		t.Fatalf("a request with credentials was not served by the origin: %d", code)
	}
	// The quiet edge dies: listeners go to the busy one.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	quiet.h.Close()
	_ = quiet.srv.Shutdown(ctx)
	testkit.Eventually(t, 5*time.Second, "dead edge skipped", func() bool {
		code, loc := ask("/live.mp3", false)
		return code == http.StatusFound && loc == busy.base+"/live.mp3"
	})
	// A mount no edge carries is served here.
	origin.connectSource("/only-here.mp3", "source", srcPass).Send(mp3[:4000], 4000, 0)
	if code, _ := ask("/only-here.mp3", false); code != http.StatusOK {
		t.Fatalf("a mount no edge carries: %d", code)
	}
}

// A push's titles follow through the target's real /admin/metadata.
func TestPushTitlesReachTheTarget(t *testing.T) {
	target := start(t, Options{}, nil)
	mp3 := testkit.Media(t, "tone.mp3")
	origin := start(t, Options{}, func(c *engine.Config) {
		c.Pushes = []engine.PushConfig{{Mount: "/live.mp3", URL: "http://source:" + srcPass + "@" + target.addr + "/pushed.mp3"}}
	})
	src := origin.connectSource("/live.mp3", "source", srcPass)
	src.Feed(mp3, 2000, 100*time.Millisecond)
	testkit.Eventually(t, 5*time.Second, "pushed", func() bool {
		m := findMount(target.srv.Snapshot(), "/pushed.mp3")
		return m != nil && m.Source != nil
	})
	if err := origin.srv.SetTitle("/live.mp3", `Artist - "Song" <&>`, ""); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "title on the target", func() bool {
		return findMount(target.srv.Snapshot(), "/pushed.mp3").Title == `Artist - "Song" <&>`
	})
	var body string
	testkit.Eventually(t, 5*time.Second, "push listed with bytes sent", func() bool {
		var code int
		code, _, body = origin.get("/api/v1/pushes", "admin", adminPass)
		var doc struct{ Pushes []apidoc.Push }
		if err := json.Unmarshal([]byte(body), &doc); err != nil || code != 200 {
			t.Fatalf("/api/v1/pushes: %d %v %s", code, err, body)
		}
		if len(doc.Pushes) != 1 || doc.Pushes[0].Target != "http://source:xxxxx@"+target.addr+"/pushed.mp3" || strings.Contains(body, srcPass) {
			t.Fatalf("/api/v1/pushes: %s", body)
		}
		return doc.Pushes[0].State == "live" && doc.Pushes[0].BytesSent > 0
	})
}
