package remote

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/engine/control"
	"github.com/icedeck/icedeck/internal/testkit"
)

func deckURL(d *deck) string { return "http://admin:" + deckAdmin + "@" + d.addr }

// Another icedeck, with live sources and listeners, read and driven
// through its API: its summary and its mount's listeners are the
// engine's own, frame statistics included; its events come live; a kick
// closes the listener's connection; a title reaches an ICY listener;
// moves, relays, recording and a source's kick all happen on the server.
func TestIcedeck(t *testing.T) {
	t.Parallel()
	d := startDeck(t, "", func(c *engine.Config) {
		c.Pushes = []engine.PushConfig{{Mount: "/a.mp3", URL: "http://source:pw@127.0.0.1:1/pushed.mp3"}}
	})
	src := feed(t, d.addr, deckSource, "/a.mp3", "Ice-Name", "Deck A")
	feed(t, d.addr, deckSource, "/b.mp3")
	icy := testkit.Listen(t, d.addr, "/a.mp3", "Icy-MetaData", "1")
	plain := testkit.Listen(t, d.addr, "/a.mp3")
	c := dial(t, deckURL(d), Options{})
	ev := subscribe(t, c)

	st := waitState(t, c, StateUp)
	if st.Kind != KindIcedeck || st.Version != "icedeck" || st.ReadOnly {
		t.Fatalf("status: %+v", st)
	}
	testkit.Eventually(t, 10*time.Second, "the event feed", func() bool { return c.Status().Events })
	testkit.Eventually(t, 10*time.Second, "both listeners counted, frames from both sources", func() bool {
		a, _ := mountOf(c.Summary(), "/a.mp3")
		b, _ := mountOf(c.Summary(), "/b.mp3")
		return a.ListenerCount == 2 && a.Source != nil && a.Source.Frames.Frames > 0 && b.Source != nil && b.Source.Frames.Frames > 0
	})
	// The summary is the engine's, as of the poll: what does not change
	// is equal, what grows has grown no further than the engine's since.
	got := c.Summary()
	want := d.srv.Summary()
	if got.ServerID != want.ServerID || !got.Started.Equal(want.Started) || got.Sources != 2 || got.Listeners != 2 ||
		got.Unknown != 0 || len(got.Mounts) != len(want.Mounts) || got.BytesOut > want.BytesOut || got.Totals.SourceConnections != 2 {
		t.Fatalf("summary: %+v\nengine's: %+v", got, want)
	}
	for i, m := range got.Mounts {
		w := want.Mounts[i]
		if m.Name != w.Name || m.ContentType != w.ContentType || m.ListenerCount != w.ListenerCount || m.Listeners != nil ||
			m.Source.ID != w.Source.ID || m.Source.Ice != w.Source.Ice || !m.Source.Connected.Equal(w.Source.Connected) ||
			m.Source.Frames.Codec != "MP3" || m.Source.Frames.SampleRate != w.Source.Frames.SampleRate ||
			m.Source.Frames.Frames == 0 || m.Source.Frames.Frames > w.Source.Frames.Frames || m.Source.SHA256 == "" || !m.Source.Known {
			t.Fatalf("mount %s: %+v\nengine's: %+v", m.Name, m.Source, w.Source)
		}
	}
	if p := c.Pushes(); len(p) != 1 || p[0].Mount != "/a.mp3" || p[0].Target != d.srv.Pushes()[0].Target {
		t.Fatalf("pushes: %+v", p)
	}

	// The mount's listeners are the engine's.
	testkit.Eventually(t, 10*time.Second, "the listeners listed", func() bool {
		m, _ := c.Mount("/a.mp3")
		return len(m.Listeners) == 2
	})
	m, _ := c.Mount("/a.mp3")
	em, _ := d.srv.Mount("/a.mp3")
	for i, l := range m.Listeners {
		w := em.Listeners[i]
		if l.ID != w.ID || l.Addr != w.Addr || l.UserAgent != w.UserAgent || l.ICY != w.ICY || !l.Connected.Equal(w.Connected) || l.BytesSent == 0 {
			t.Fatalf("listener %+v, engine's %+v", l, w)
		}
	}
	icyID := em.Listeners[slices.IndexFunc(em.Listeners, func(l engine.ListenerSnapshot) bool { return l.ICY })].ID
	plainID := em.Listeners[slices.IndexFunc(em.Listeners, func(l engine.ListenerSnapshot) bool { return !l.ICY })].ID

	// A title reaches the ICY listener, and comes back as an event.
	const title = "Deck Artist – Deck Song"
	if err := c.SetTitle("/a.mp3", title, ""); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the title at the ICY listener", func() bool {
		return slices.Contains(titles(t, icy), "StreamTitle='"+title+"';")
	})
	ev.wait(t, "the title", func(e engine.Event) bool { return e.Type == engine.EventMetadata && e.Subject == title })

	// A kick closes the listener's connection; the engine says so.
	if err := c.KickListener("/a.mp3", icyID); err != nil {
		t.Fatal(err)
	}
	icy.Wait(t, 10*time.Second)
	e := ev.wait(t, "the kick", func(e engine.Event) bool { return e.Type == engine.EventListenerLeft && e.ID == icyID })
	if e.Reason != engine.ReasonKicked || e.Mount != "/a.mp3" {
		t.Fatalf("the kick's event: %+v", e)
	}
	if err := c.KickListener("/a.mp3", icyID); !errors.Is(err, engine.ErrNoClient) {
		t.Fatalf("kicking a listener gone: %v", err)
	}

	// One listener moves, by its id.
	if n, err := c.MoveListeners("/a.mp3", "/b.mp3", []uint64{plainID}); err != nil || n != 1 {
		t.Fatalf("move: %d, %v", n, err)
	}
	testkit.Eventually(t, 10*time.Second, "the listener on /b.mp3", func() bool {
		b, _ := d.srv.Mount("/b.mp3")
		return len(b.Listeners) == 1 && b.Listeners[0].ID == plainID
	})
	if plain.Closed() {
		t.Fatal("the moved listener was disconnected")
	}
	// And all of /b.mp3's (that one) back.
	if n, err := c.MoveListeners("/b.mp3", "/a.mp3", nil); err != nil || n != 1 {
		t.Fatalf("move all: %d, %v", n, err)
	}
	testkit.Eventually(t, 10*time.Second, "the listener back on /a.mp3", func() bool {
		a, _ := d.srv.Mount("/a.mp3")
		return len(a.Listeners) == 1 && a.Listeners[0].ID == plainID
	})

	// Relays and recordings go through the API.
	rc := engine.RelayConfig{Mount: "/pulled.mp3", Upstreams: []string{"http://u:secret@127.0.0.1:1/x.mp3"}, OnDemand: true, Retry: 3 * time.Second}
	if err := c.AddRelay(rc); err != nil {
		t.Fatal(err)
	}
	if rs := d.srv.Relays(); len(rs) != 1 || rs[0].Mount != rc.Mount || !rs[0].OnDemand || rs[0].Upstreams[0] != rc.Upstreams[0] {
		t.Fatalf("relays: %+v", rs)
	}
	testkit.Eventually(t, 10*time.Second, "the relay in the summary", func() bool {
		r, ok := mountOf(c.Summary(), "/pulled.mp3")
		return ok && r.Relay != nil && r.Relay.Upstreams[0] == "http://u:xxxxx@127.0.0.1:1/x.mp3"
	})
	if err := c.RemoveRelay("/pulled.mp3"); err != nil || len(d.srv.Relays()) != 0 {
		t.Fatalf("remove relay: %v, %+v", err, d.srv.Relays())
	}
	if err := c.RemoveRelay("/pulled.mp3"); !errors.Is(err, engine.ErrNoMount) {
		t.Fatalf("removing a relay gone: %v", err)
	}
	path, err := c.StartRecording("/b.mp3")
	if err != nil || !d.srv.Recording("/b.mp3") {
		t.Fatalf("record: %q, %v", path, err)
	}
	testkit.Eventually(t, 10*time.Second, "the recording seen", func() bool { return c.Recording("/b.mp3") })
	if err := c.StopRecording("/b.mp3"); err != nil || d.srv.Recording("/b.mp3") {
		t.Fatalf("stop recording: %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("the recording %s: %v", path, err)
	}

	// The source kicked: its connection ends, the engine tells it.
	if err := c.KickSource("/a.mp3"); err != nil {
		t.Fatal(err)
	}
	ev.wait(t, "the source leaving", func(e engine.Event) bool {
		return e.Type == engine.EventSourceLeft && e.Mount == "/a.mp3" && e.Reason == engine.ReasonKicked
	})
	_ = src.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := src.Conn.Read(make([]byte, 1)); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Fatalf("the kicked source's connection: %v", err)
	}
}

// The icedeck restarts its event streams (its control plane replaced,
// twice) while events keep coming: the client resumes each time where it
// was, and gives every event once, in order.
func TestIcedeckEventsResume(t *testing.T) {
	t.Parallel()
	d := startDeck(t, "", nil)
	c := dial(t, deckURL(d), Options{})
	ev := subscribe(t, c)
	testkit.Eventually(t, 10*time.Second, "the event feed", func() bool { return c.Status().Events })

	const n = 600
	emitted := make(chan struct{})
	go func() {
		defer close(emitted)
		for i := range n {
			d.srv.Emit(engine.Event{Type: engine.EventWarning, Message: fmt.Sprintf("resume %d", i)})
			if i%50 == 0 {
				time.Sleep(5 * time.Millisecond) // spread over the restarts
			}
		}
	}()
	for range 2 {
		// A new control plane takes the requests; the old one's streams end.
		h := control.New(d.srv, control.Options{AdminPassword: deckAdmin, Logger: testkit.Logger(t)})
		d.srv.Handle(h)
		old := d.h
		d.h = h
		old.Close()
		testkit.Eventually(t, 10*time.Second, "the feed broken", func() bool { return !c.Status().Events })
		testkit.Eventually(t, 10*time.Second, "the feed back", func() bool { return c.Status().Events })
	}
	<-emitted
	got := func() []string {
		var out []string
		for _, e := range ev.list() {
			if strings.HasPrefix(e.Message, "resume ") {
				out = append(out, e.Message)
			}
		}
		return out
	}
	testkit.Eventually(t, 10*time.Second, "every event", func() bool { return len(got()) >= n })
	msgs := got()
	for i, m := range msgs {
		if m != fmt.Sprintf("resume %d", i) {
			t.Fatalf("event %d is %q (of %d)", i, m, len(msgs))
		}
	}
	if len(msgs) != n {
		t.Fatalf("%d events, want %d", len(msgs), n)
	}
	// The client's numbering has no gap either.
	all := ev.list()
	for i := 1; i < len(all); i++ {
		if all[i].Seq != all[i-1].Seq+1 {
			t.Fatalf("seq %d after %d", all[i].Seq, all[i-1].Seq)
		}
	}
}

// The icedeck stops: the client says unreachable since then, keeps the
// last state, and when an icedeck runs again at the address it is back,
// with nothing asked of the client, and its events (numbered afresh by
// the new server) come through, none taken for old.
func TestIcedeckStopStart(t *testing.T) {
	t.Parallel()
	d := startDeck(t, "", nil)
	feed(t, d.addr, deckSource, "/a.mp3")
	c := dial(t, deckURL(d), Options{})
	ev := subscribe(t, c)
	testkit.Eventually(t, 10*time.Second, "the mount and the feed", func() bool {
		_, ok := mountOf(c.Summary(), "/a.mp3")
		return ok && c.Status().Events
	})
	for i := range 5 {
		d.srv.Emit(engine.Event{Type: engine.EventWarning, Message: fmt.Sprintf("before %d", i)})
	}
	ev.wait(t, "the events before", func(e engine.Event) bool { return e.Message == "before 4" })

	stopped := time.Now()
	d.stop(t)
	st := waitState(t, c, StateUnreachable)
	if st.Since.Before(stopped) || st.Err == "" || st.LastOK.After(st.Since) {
		t.Fatalf("status: %+v", st)
	}
	if _, ok := mountOf(c.Summary(), "/a.mp3"); !ok {
		t.Fatal("the last known state is gone")
	}
	ev.wait(t, "unreachable", func(e engine.Event) bool {
		return e.Type == engine.EventWarning && strings.Contains(e.Message, "unreachable")
	})

	d2 := startDeck(t, d.addr, nil)
	for i := range 5 {
		d2.srv.Emit(engine.Event{Type: engine.EventWarning, Message: fmt.Sprintf("after %d", i)})
	}
	waitState(t, c, StateUp)
	ev.wait(t, "answers again", func(e engine.Event) bool { return strings.Contains(e.Message, "answers again") })
	testkit.Eventually(t, 10*time.Second, "the new server's start", func() bool {
		return c.Summary().Started.Equal(d2.srv.Summary().Started)
	})
	ev.wait(t, "the events after", func(e engine.Event) bool { return e.Message == "after 4" })
	if _, ok := mountOf(c.Summary(), "/a.mp3"); ok {
		t.Fatal("the old server's mount is still shown")
	}
	count := map[string]int{}
	for _, e := range ev.list() {
		count[e.Message]++
	}
	for i := range 5 {
		if b, a := count[fmt.Sprintf("before %d", i)], count[fmt.Sprintf("after %d", i)]; b != 1 || a != 1 {
			t.Fatalf("event %d: %d times before the restart, %d after", i, b, a)
		}
	}
}

// Stopping the real Icecast makes it unreachable; running it again on its
// port brings it back, nothing asked of the client.
func TestIcecastStopStart(t *testing.T) {
	t.Parallel()
	ic := testkit.StartIcecast(t, "")
	c := dial(t, icecastURL(ic), Options{})
	waitState(t, c, StateUp)
	ic.Stop()
	st := waitState(t, c, StateUnreachable)
	if !strings.Contains(st.Err, "refused") {
		t.Fatalf("status: %+v", st)
	}
	ic.Restart()
	feed(t, ic.Addr, testkit.IcecastSourcePassword, "/back.mp3")
	testkit.Eventually(t, 20*time.Second, "the new source seen", func() bool {
		_, ok := mountOf(c.Summary(), "/back.mp3")
		return ok && c.Status().State == StateUp
	})
}

// Wrong credentials are refused by that server alone: the others go on.
func TestWrongCredentials(t *testing.T) {
	t.Parallel()
	ic := testkit.StartIcecast(t, "")
	d := startDeck(t, "", nil)
	icGood := dial(t, icecastURL(ic), Options{})
	icBad := dial(t, "http://admin:wrong@"+ic.Addr, Options{})
	deckGood := dial(t, deckURL(d), Options{})
	deckBad := dial(t, "http://"+d.addr, Options{User: "admin", Password: "wrong"})
	ev := subscribe(t, icBad)
	for _, c := range []*Client{icBad, deckBad} {
		st := waitState(t, c, StateUnauthorized)
		if !strings.Contains(st.Err, "401") {
			t.Fatalf("%s: %+v", c.Name(), st)
		}
	}
	for _, c := range []*Client{icGood, deckGood} {
		waitState(t, c, StateUp)
	}
	if st := icBad.Status(); st.Kind != KindIcecast || st.State != StateUnauthorized {
		t.Fatalf("the Icecast with wrong credentials: %+v", st)
	}
	if st := deckBad.Status(); st.Kind != KindIcedeck || st.State != StateUnauthorized {
		t.Fatalf("the icedeck with wrong credentials: %+v", st)
	}
	ev.wait(t, "the refusal", func(e engine.Event) bool { return e.Reason == engine.ReasonWrongCredentials })
}
