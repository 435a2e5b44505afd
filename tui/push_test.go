package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine"
)

// pushLines are the Push lines on screen, from the label on.
func pushLines(m *Model) []string {
	var out []string
	for _, line := range strings.Split(plain(m), "\n") {
		if i := strings.Index(line, "Push "); i >= 0 {
			out = append(out, strings.Join(strings.Fields(line[i:]), " "))
		}
	}
	return out
}

// rowOf is the mount's row in the table on screen, from the mount's
// name (after the cursor and audition marks), trimmed.
func rowOf(m *Model, mount string) string {
	for _, line := range strings.Split(plain(m), "\n") {
		if f := strings.Fields(line); len(f) > 1 && (f[0] == mount || f[1] == mount) {
			return strings.TrimSpace(line[strings.Index(line, mount):])
		}
	}
	return ""
}

func TestPushesOnSourceTab(t *testing.T) {
	m, e := newTestModel(t, 10, nil)
	wide(m)
	press(t, m, "j", "tab", "l") // /live.mp3, Source tab
	if got := pushLines(m); len(got) != 0 {
		t.Fatalf("push lines without pushes: %q", got)
	}

	// Pushes are read with the snapshot, one call a tick.
	e.addPushes()
	before := e.polls
	refresh(m) // one tick's poll and its answer; the next tick is not run
	if n := e.polls - before; n != 1 {
		t.Errorf("Pushes called %d times for one tick, want 1", n)
	}
	m.render()
	m.render()
	if n := e.polls - before; n != 1 {
		t.Errorf("rendering called Pushes: %d calls", n)
	}

	want := []string{
		"Push → http://source:xxxxx@cdn.example:8000/live.mp3 · live · 1.2 MB sent",
		"Push → http://source:xxxxx@backup.example:8000/live.mp3 · retrying, 3 failed: target answered 401 Unauthorized",
	}
	if got := pushLines(m); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("push lines of /live.mp3:\n%s\nwant:\n%s\nscreen:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), plain(m))
	}
	// Under the relay-style label column, before the source's lines.
	scr := plain(m)
	if i, j := strings.Index(scr, "Push        → http://source:xxxxx@cdn"), strings.Index(scr, "Codec "); i < 0 || j < i {
		t.Errorf("push line not in the label column above Codec:\n%s", scr)
	}

	// The table: /live.mp3 keeps its title, untitled /jazz.aac says it is pushed.
	if row := rowOf(m, "/live.mp3"); !strings.HasSuffix(row, " Nina Simone - Sinnerman") {
		t.Errorf("row of /live.mp3 %q", row)
	}
	if row := rowOf(m, "/jazz.aac"); !strings.HasSuffix(row, " → pushed") {
		t.Errorf("row of /jazz.aac %q, want it to end in → pushed", row)
	}
	if n := strings.Count(scr, "→ pushed"); n != 1 {
		t.Errorf("→ pushed shown %d times:\n%s", n, scr)
	}

	// Each mount shows its own pushes; the state follows the engine.
	press(t, m, "shift+tab", "k", "tab")
	if ms, _ := m.mounts.Selected(); ms.Name != "/jazz.aac" {
		t.Fatalf("selected %s", ms.Name)
	}
	if got := pushLines(m); len(got) != 1 || got[0] != "Push → http://source:xxxxx@cdn.example:8000/jazz.aac · connecting" {
		t.Errorf("push lines of /jazz.aac: %q", got)
	}
	e.mu.Lock()
	e.pushes[2].State, e.pushes[2].Attempts, e.pushes[2].LastError = engine.PushRetrying, 1, "dial tcp: connection refused"
	e.mu.Unlock()
	refresh(m)
	if got := pushLines(m); len(got) != 1 || got[0] != "Push → http://source:xxxxx@cdn.example:8000/jazz.aac · retrying, 1 failed: dial tcp: connection refused" {
		t.Errorf("after a failure: %q", got)
	}

	// A mount whose source left: the push waits and says so, above the
	// "no source connected" line; its old failures are not shown.
	e.mu.Lock()
	e.pushes = append(e.pushes, engine.PushStatus{Mount: "/talk.ogg", Target: "http://source:xxxxx@cdn.example:8000/talk.ogg",
		State: engine.PushWaiting, Attempts: 2, LastError: "target answered 403 Forbidden", Since: t0})
	e.mu.Unlock()
	refresh(m)
	press(t, m, "shift+tab", "j", "j", "tab")
	if ms, _ := m.mounts.Selected(); ms.Name != "/talk.ogg" {
		t.Fatalf("selected %s", ms.Name)
	}
	if got := pushLines(m); len(got) != 1 || got[0] != "Push → http://source:xxxxx@cdn.example:8000/talk.ogg · waiting for a source" {
		t.Errorf("push lines of /talk.ogg: %q\n%s", got, plain(m))
	}
	if !strings.Contains(plain(m), "no source connected") {
		t.Errorf("the grace line went:\n%s", plain(m))
	}
	// /talk.ogg has a title: no marker.
	if n := strings.Count(plain(m), "→ pushed"); n != 1 {
		t.Errorf("→ pushed shown %d times:\n%s", n, plain(m))
	}

	// Pushes gone: the lines and the marker go at the next tick.
	e.mu.Lock()
	e.pushes = nil
	e.mu.Unlock()
	refresh(m)
	if got := pushLines(m); len(got) != 0 || strings.Contains(plain(m), "→ pushed") {
		t.Errorf("pushes still shown: %q\n%s", got, plain(m))
	}
}

// TestPushesRealEngine checks *engine.Server's pushes reach the screen: a
// push of a mount without a source waits, with its password hidden.
func TestPushesRealEngine(t *testing.T) {
	s, _ := serveEngine(t)
	if err := s.AddPush(engine.PushConfig{Mount: "/live.mp3", URL: "http://source:s3cret@127.0.0.1:1/live.mp3"}); err != nil {
		t.Fatal(err)
	}
	m, err := NewModel(Options{Engine: s, NoColor: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if len(m.pushes) != 1 || m.pushes[0].Mount != "/live.mp3" {
		t.Fatalf("pushes read at start: %+v", m.pushes)
	}
	deadline := time.Now().Add(5 * time.Second)
	for m.pushes[0].State != engine.PushWaiting {
		if time.Now().After(deadline) {
			t.Fatalf("push state %s, want waiting", m.pushes[0].State)
		}
		time.Sleep(20 * time.Millisecond)
		refresh(m)
	}
	if tg := m.pushes[0].Target; strings.Contains(tg, "s3cret") {
		t.Errorf("target %q shows the password", tg)
	}
}
