package engine

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// checkForm compares a call's form, field by field and in order, with
// want (name, value pairs).
func checkForm(t *testing.T, c testkit.HookCall, want ...string) {
	t.Helper()
	w := url.Values{}
	var keys []string
	for i := 0; i < len(want); i += 2 {
		w.Add(want[i], want[i+1])
		keys = append(keys, want[i])
	}
	if !reflect.DeepEqual(c.Form, w) || !reflect.DeepEqual(c.Keys, keys) {
		t.Errorf("hook %s got\n %v\n in order %q\nwant\n %v\n in order %q", c.Path, c.Form, c.Keys, w, keys)
	}
}

// hookEvents are the kept hook events of mount whose message holds text.
func hookEvents(s *Server, mount, text string) []Event {
	var out []Event
	for _, e := range s.Events(0) {
		if e.Type == EventHook && e.Mount == mount && strings.Contains(e.Message, text) {
			out = append(out, e)
		}
	}
	return out
}

// hookEvent is the first of hookEvents, or nil.
func hookEvent(s *Server, mount, text string) *Event {
	if es := hookEvents(s, mount, text); len(es) > 0 {
		return &es[0]
	}
	return nil
}

// countEvents counts the kept events of typ with reason.
func countEvents(s *Server, typ EventType, reason Reason) int {
	n := 0
	for _, e := range s.Events(0) {
		if e.Type == typ && e.Reason == reason {
			n++
		}
	}
	return n
}

// endingCount is how many connections of kind ended for reason.
func endingCount(s *Server, kind ConnKind, reason Reason) uint64 {
	for _, e := range s.Snapshot().Endings {
		if e.Kind == kind && e.Reason == reason {
			return e.Count
		}
	}
	return 0
}

// Icecast's listener_add: the hook admits one listener by its answer's
// header and refuses another with a message. The admitted one gets the
// whole stream; the refused one gets 401 with the message; the hook saw
// exactly the fields Icecast sends, each the client's value as received,
// and hears of the admitted listener's leaving with its duration.
func TestURLAuthAdmitsAndRefuses(t *testing.T) {
	t.Parallel()
	hook := testkit.StartHook(t, func(w http.ResponseWriter, r *http.Request, f url.Values) {
		switch {
		case f.Get("action") != "listener_add":
		case f.Get("user") == "alice":
			w.Header().Set("ICECAST-AUTH-USER", "1") // the name in any case
		default:
			w.Header().Set("icecast-auth-message", "No ticket\tfor   bob")
		}
	})
	s, addr := startServer(t, func(c *Config) {
		c.Mounts = map[string]MountConfig{"/auth.mp3": {Auth: &URLAuth{
			ListenerAdd: hook.URL + "/add", ListenerRemove: hook.URL + "/remove", Username: "deck", Password: "hook&pw",
			Headers: []string{"Referer", "X-Token"},
		}}}
	})
	port := addr[strings.LastIndex(addr, ":")+1:]
	mp3 := testkit.Media(t, "tone.mp3")
	src, _ := connectSource(t, addr, "PUT", "/auth.mp3", "audio/mpeg")
	src.Send(mp3[:1000], 1000, 0)

	start := time.Now()
	a := testkit.Listen(t, addr, "/auth.mp3?token=a%20b&x=1", "Authorization", testkit.Basic("alice", "s3cret&pass=x"),
		"X-Token", `tok"en`, "Referer", "http://ref.example/")
	if !strings.HasPrefix(a.Head, "HTTP/1.0 200 OK\r\n") {
		t.Fatalf("admitted listener's head:\n%s", a.Head)
	}
	id := strconv.FormatUint(mountSnap(s, "/auth.mp3").Listeners[0].ID, 10)
	evil := "bob&action=mount_add&pass=x"
	r := testkit.RawRequest(t, addr, "GET /auth.mp3 HTTP/1.0\r\nUser-Agent: "+evil+"\r\nAuthorization: "+testkit.Basic("bob", "pw=1")+"\r\n\r\n")
	if r.Code != http.StatusUnauthorized || r.Body != "No ticket for bob\n" || !strings.Contains(r.Head, "WWW-Authenticate: Basic realm=") {
		t.Fatalf("refused listener got %d %q\n%s", r.Code, r.Body, r.Head)
	}
	src.Send(mp3[1000:], 5000, time.Millisecond)
	src.Close()
	if got := a.Wait(t, 10*time.Second); sha(got) != sha(mp3) {
		t.Fatalf("admitted listener got %d bytes (sha %s), the source sent %d (sha %s)", len(got), sha(got), len(mp3), sha(mp3))
	}
	elapsed := time.Since(start)

	adds := hook.Received(t, "listener_add", 2)
	checkForm(t, adds[0], "action", "listener_add", "server", "127.0.0.1", "port", port, "client", id,
		"mount", "/auth.mp3?token=a%20b&x=1", "user", "alice", "pass", "s3cret&pass=x", "ip", "127.0.0.1", "agent", testkit.ListenerAgent,
		"ClientHeader.Referer", "http://ref.example/", "ClientHeader.X-Token", `tok"en`)
	if adds[0].User != "deck" || adds[0].Pass != "hook&pw" || adds[0].Path != "/add" {
		t.Errorf("hook called at %s with basic auth %q:%q", adds[0].Path, adds[0].User, adds[0].Pass)
	}
	b := adds[1].Form
	if b.Get("user") != "bob" || b.Get("pass") != "pw=1" || b.Get("agent") != evil || len(b["action"]) != 1 {
		t.Errorf("refused listener's form: %v", b)
	}

	removes := hook.Received(t, "listener_remove", 1)
	dur, err := strconv.Atoi(removes[0].Form.Get("duration"))
	if err != nil || dur < 0 || time.Duration(dur)*time.Second > elapsed {
		t.Errorf("listener_remove duration %q after %s", removes[0].Form.Get("duration"), elapsed)
	}
	checkForm(t, removes[0], "action", "listener_remove", "server", "127.0.0.1", "port", port, "client", id,
		"mount", "/auth.mp3?token=a%20b&x=1", "user", "alice", "pass", "s3cret&pass=x", "duration", removes[0].Form.Get("duration"),
		"ip", "127.0.0.1", "agent", testkit.ListenerAgent)
	if removes[0].Path != "/remove" || len(hook.Received(t, "listener_remove", 1)) != 1 {
		t.Errorf("listener_remove calls: %d, at %s; only the admitted listener leaves", len(hook.Received(t, "listener_remove", 1)), removes[0].Path)
	}

	e := findEvent(s, EventListenerRefused, "/auth.mp3")
	if e == nil || e.Reason != ReasonAuthRefused || e.Detail != "No ticket for bob" {
		t.Errorf("refusal event %+v", e)
	}
	if n := endingCount(s, KindListener, ReasonAuthRefused); n != 1 {
		t.Errorf("%d listeners counted refused by the hook", n)
	}
}

// waitingListener asks for mount and returns the connection once the hook
// has the question (arrived receives), the answer still to come.
func waitingListener(t *testing.T, addr, mount string, arrived <-chan struct{}) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, "GET "+mount+" HTTP/1.0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the hook was not asked")
	}
	return c
}

// A hook that takes its time holds up only the listener it is asked
// about: while it waits, a listener of another mount is served, the
// server's state can be read, and the waiting listener counts against
// the client limit. Once it answers, the listener is in, starting near
// live however long the hook took.
func TestURLAuthSlowHookDelaysNobody(t *testing.T) {
	t.Parallel()
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	hook := testkit.StartHook(t, func(w http.ResponseWriter, r *http.Request, f url.Values) {
		if f.Get("action") != "listener_add" {
			return
		}
		arrived <- struct{}{}
		select {
		case <-release:
			w.Header().Set("icecast-auth-user", "1")
		case <-r.Context().Done():
		}
	})
	s, addr := startServer(t, func(c *Config) {
		c.MaxClients = 4
		c.QueueSize, c.BurstSize = 64<<10, 16<<10
		c.Mounts = map[string]MountConfig{"/slow.mp3": {Auth: &URLAuth{ListenerAdd: hook.URL, Timeout: time.Minute}}}
	})
	mp3 := testkit.Media(t, "tone.mp3")
	for _, m := range []string{"/slow.mp3", "/open.mp3"} {
		src, r := connectSource(t, addr, "PUT", m, "audio/mpeg")
		if src == nil {
			t.Fatalf("source on %s: %d", m, r.Code)
		}
		src.Feed(mp3, 4000, 20*time.Millisecond)
	}

	slow := waitingListener(t, addr, "/slow.mp3", arrived)
	asked := mountSnap(s, "/slow.mp3").Source.BytesIn

	open := testkit.Listen(t, addr, "/open.mp3")
	testkit.Eventually(t, 10*time.Second, "the other mount's listener gets audio", func() bool { return len(open.Bytes()) >= 4000 })
	if got := open.Bytes(); !bytes.Contains(append(append([]byte(nil), mp3...), mp3...), got[:4000]) {
		t.Fatal("the other listener's bytes are not the source's")
	}
	if ms := mountSnap(s, "/slow.mp3"); ms == nil || ms.ListenerCount != 0 {
		t.Fatalf("the mount being asked about: %+v", ms)
	}
	// Two sources, the open listener and the one waiting: the limit of 4.
	if r := testkit.RawRequest(t, addr, "GET /open.mp3 HTTP/1.0\r\n\r\n"); r.Code != http.StatusServiceUnavailable {
		t.Fatalf("a fifth client got %d: the waiting listener is not counted", r.Code)
	}

	// More than the queue goes by before the answer: a listener placed in
	// the stream when it asked would be behind what is kept, and dropped.
	testkit.Eventually(t, 10*time.Second, "the source sends a queue's worth", func() bool {
		return mountSnap(s, "/slow.mp3").Source.BytesIn > asked+64<<10
	})
	close(release)
	_ = slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(slow)
	status, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.0 200 OK") {
		t.Fatalf("the waiting listener got %q, %v", status, err)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
	}
	if _, err := io.ReadFull(br, make([]byte, 4000)); err != nil {
		t.Fatalf("the admitted listener got no audio: %v", err)
	}
}

// The hook asked is the one of the mount the listener asked for, also
// when a fallback serves it; a mount without a hook that falls back to
// one with a hook does not pass by it.
func TestURLAuthAppliesToTheMountAskedFor(t *testing.T) {
	t.Parallel()
	hook := testkit.StartHook(t, func(w http.ResponseWriter, r *http.Request, f url.Values) {
		w.Header().Set("icecast-auth-message", "no entry to "+f.Get("mount"))
	})
	_, addr := startServer(t, func(c *Config) {
		c.Mounts = map[string]MountConfig{
			"/paid.mp3":   {Auth: &URLAuth{ListenerAdd: hook.URL}, Fallback: "/free.mp3"},
			"/gate.mp3":   {Fallback: "/locked.mp3"},
			"/locked.mp3": {Auth: &URLAuth{ListenerAdd: hook.URL}},
		}
	})
	mp3 := testkit.Media(t, "tone.mp3")
	for _, m := range []string{"/free.mp3", "/locked.mp3"} {
		src, _ := connectSource(t, addr, "PUT", m, "audio/mpeg")
		src.Feed(mp3, 4000, 20*time.Millisecond)
	}
	for path, want := range map[string]string{"/paid.mp3": "no entry to /paid.mp3\n", "/gate.mp3": "no entry to /gate.mp3\n"} {
		if r := testkit.RawRequest(t, addr, "GET "+path+" HTTP/1.0\r\n\r\n"); r.Code != http.StatusUnauthorized || r.Body != want {
			t.Errorf("%s: %d %.60q", path, r.Code, r.Body)
		}
	}
	if l := testkit.Listen(t, addr, "/free.mp3"); !strings.HasPrefix(l.Head, "HTTP/1.0 200 OK") {
		t.Errorf("the fallback itself, without a hook: %s", l.Head)
	}
	if n := hook.Count(); n != 2 {
		t.Errorf("the hook was asked %d times", n)
	}
}

// A hook that does not answer in time fails closed: 401 and one event for
// the outage, however many listeners it refuses.
func TestURLAuthTimeoutFailsClosed(t *testing.T) {
	t.Parallel()
	hook := testkit.StartHook(t, func(w http.ResponseWriter, r *http.Request, f url.Values) { <-r.Context().Done() })
	s, addr := startServer(t, func(c *Config) {
		c.Mounts = map[string]MountConfig{"/t.mp3": {Auth: &URLAuth{ListenerAdd: hook.URL, Timeout: 200 * time.Millisecond}}}
	})
	src, _ := connectSource(t, addr, "PUT", "/t.mp3", "audio/mpeg")
	src.Feed(testkit.Media(t, "tone.mp3"), 4000, 20*time.Millisecond)
	for i := range 3 {
		r := testkit.RawRequest(t, addr, "GET /t.mp3 HTTP/1.0\r\n\r\n")
		if r.Code != http.StatusUnauthorized || r.Body != "Authentication unavailable, try again later\n" {
			t.Fatalf("listener %d while the hook is slow: %d %q", i, r.Code, r.Body)
		}
	}
	if n := endingCount(s, KindListener, ReasonAuthUnavailable); n != 3 {
		t.Errorf("%d refusals counted", n)
	}
	if n := countEvents(s, EventHook, ReasonAuthUnavailable); n != 1 {
		t.Errorf("%d hook events for one outage", n)
	}
	if n := countEvents(s, EventListenerRefused, ReasonAuthUnavailable); n != 1 {
		t.Errorf("%d refusal events for one outage", n)
	}
	e := findEvent(s, EventHook, "/t.mp3")
	if e == nil || e.Level != slog.LevelError || !strings.Contains(e.Detail, "deadline exceeded") || !strings.Contains(e.Message, hook.URL) {
		t.Errorf("outage event %+v", e)
	}
	if ms := mountSnap(s, "/t.mp3"); ms.ListenerCount != 0 {
		t.Errorf("%d listeners got in", ms.ListenerCount)
	}
}

// A hook that is down (nothing listens on its port) or answers garbage
// refuses listeners with 401; one that answers again is reported back,
// with the count of listeners refused meanwhile.
func TestURLAuthHookDownAndBack(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1 (tcpmux, long unused), and no test can
	// take it, as one could a port another listener just left.
	down := "http://127.0.0.1:1/auth"
	var mu sync.Mutex
	garbage := true
	hook := testkit.StartHook(t, func(w http.ResponseWriter, r *http.Request, f url.Values) {
		mu.Lock()
		defer mu.Unlock()
		if garbage {
			c, brw, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_, _ = brw.WriteString("SPAM SPAM\r\n\r\n")
				_ = brw.Flush()
				c.Close()
			}
			return
		}
		w.Header().Set("icecast-auth-user", "1")
	})
	s, addr := startServer(t, func(c *Config) {
		c.Mounts = map[string]MountConfig{
			"/down.mp3":    {Auth: &URLAuth{ListenerAdd: down}},
			"/garbage.mp3": {Auth: &URLAuth{ListenerAdd: hook.URL}},
		}
	})
	mp3 := testkit.Media(t, "tone.mp3")
	for _, m := range []string{"/down.mp3", "/garbage.mp3"} {
		src, _ := connectSource(t, addr, "PUT", m, "audio/mpeg")
		src.Feed(mp3, 4000, 20*time.Millisecond)
	}
	for _, m := range []string{"/down.mp3", "/garbage.mp3", "/garbage.mp3"} {
		if r := testkit.RawRequest(t, addr, "GET "+m+" HTTP/1.0\r\n\r\n"); r.Code != http.StatusUnauthorized {
			t.Fatalf("listener of %s got %d", m, r.Code)
		}
	}
	if e := findEvent(s, EventHook, "/down.mp3"); e == nil || !strings.Contains(e.Detail, "connection refused") {
		t.Errorf("hook down: event %+v", e)
	}
	if e := findEvent(s, EventHook, "/garbage.mp3"); e == nil || !strings.Contains(e.Detail, "malformed HTTP") {
		t.Errorf("hook answering garbage: event %+v", e)
	}

	mu.Lock()
	garbage = false
	mu.Unlock()
	l := testkit.Listen(t, addr, "/garbage.mp3")
	if !strings.HasPrefix(l.Head, "HTTP/1.0 200 OK") {
		t.Fatalf("once the hook answers: %s", l.Head)
	}
	testkit.Eventually(t, 5*time.Second, "the hook reported back", func() bool {
		e := hookEvent(s, "", "answers again")
		return e != nil && e.Level == slog.LevelInfo && strings.Contains(e.Message, "2 listeners were refused")
	})
}

// icecast-auth-timelimit ends the listener after that many seconds, with
// its reason, and the hook hears it left.
func TestURLAuthTimeLimit(t *testing.T) {
	t.Parallel()
	hook := testkit.StartHook(t, func(w http.ResponseWriter, r *http.Request, f url.Values) {
		w.Header().Set("icecast-auth-user", "1")
		w.Header().Set("icecast-auth-timelimit", "1")
	})
	s, addr := startServer(t, func(c *Config) {
		c.Mounts = map[string]MountConfig{"/limited.mp3": {Auth: &URLAuth{ListenerAdd: hook.URL, ListenerRemove: hook.URL}}}
	})
	src, _ := connectSource(t, addr, "PUT", "/limited.mp3", "audio/mpeg")
	src.Feed(testkit.Media(t, "tone.mp3"), 4000, 20*time.Millisecond)
	l := testkit.Listen(t, addr, "/limited.mp3")
	if got := l.Wait(t, 10*time.Second); len(got) == 0 {
		t.Fatal("the listener got nothing before its time ran out")
	}
	testkit.Eventually(t, 5*time.Second, "left for its time limit", func() bool {
		e := findEvent(s, EventListenerLeft, "/limited.mp3")
		return e != nil && e.Reason == ReasonTimeLimit
	})
	for _, d := range mountSnap(s, "/limited.mp3").Disconnects {
		if !d.Source && (d.Reason != ReasonTimeLimit || d.Duration < time.Second) {
			t.Errorf("disconnect %+v: ended before its second", d)
		}
	}
	if d, err := strconv.Atoi(hook.Received(t, "listener_remove", 1)[0].Form.Get("duration")); err != nil || d < 1 {
		t.Errorf("listener_remove duration %d, %v", d, err)
	}
}

// mount_add and mount_remove are told when a source starts and ends, and
// the on-connect and on-disconnect programs run with the mount as their
// argument; their exit status and first line of error output are
// reported, and a missing program is named.
func TestMountHooksAndPrograms(t *testing.T) {
	t.Parallel()
	testkit.NeedTool(t, "sh")
	dir := t.TempDir()
	out := filepath.Join(dir, "ran")
	script := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	onConnect := script("connect.sh", `echo "connect $1" >> `+out)
	onDisconnect := script("disconnect.sh", `echo "disconnect $1" >> `+out+`; echo "no tea left" >&2; echo "line two" >&2; exit 3`)
	hook := testkit.StartHook(t, nil)
	s, addr := startServer(t, func(c *Config) {
		c.Mounts = map[string]MountConfig{
			"/m.mp3":       {Auth: &URLAuth{MountAdd: hook.URL + "/add", MountRemove: hook.URL + "/remove"}, OnConnect: onConnect, OnDisconnect: onDisconnect},
			"/missing.mp3": {OnConnect: filepath.Join(dir, "nothing-here")},
		}
	})
	port := addr[strings.LastIndex(addr, ":")+1:]
	read := func() string { b, _ := os.ReadFile(out); return string(b) }

	src, _ := connectSource(t, addr, "PUT", "/m.mp3", "audio/mpeg")
	src.Send(testkit.Media(t, "tone.mp3")[:4000], 4000, 0)
	testkit.Eventually(t, 10*time.Second, "on-connect ran", func() bool { return read() == "connect /m.mp3\n" })
	checkForm(t, hook.Received(t, "mount_add", 1)[0], "action", "mount_add", "mount", "/m.mp3", "server", "127.0.0.1", "port", port)
	src.Close()
	testkit.Eventually(t, 10*time.Second, "on-disconnect ran", func() bool { return read() == "connect /m.mp3\ndisconnect /m.mp3\n" })
	checkForm(t, hook.Received(t, "mount_remove", 1)[0], "action", "mount_remove", "mount", "/m.mp3", "server", "127.0.0.1", "port", port)

	testkit.Eventually(t, 5*time.Second, "exit status reported", func() bool {
		return hookEvent(s, "/m.mp3", "on-disconnect program "+onDisconnect+" /m.mp3 exited 3") != nil
	})
	if e := hookEvent(s, "/m.mp3", "on-disconnect"); e.Level != slog.LevelWarn || e.Detail != "no tea left" {
		t.Errorf("on-disconnect event %+v", e)
	}
	testkit.Eventually(t, 5*time.Second, "on-connect's exit reported", func() bool {
		e := hookEvent(s, "/m.mp3", "on-connect program "+onConnect+" /m.mp3 exited 0")
		return e != nil && e.Level == slog.LevelInfo
	})

	src2, _ := connectSource(t, addr, "PUT", "/missing.mp3", "audio/mpeg")
	defer src2.Close()
	testkit.Eventually(t, 5*time.Second, "missing program reported", func() bool {
		e := hookEvent(s, "/missing.mp3", "on-connect program "+filepath.Join(dir, "nothing-here")+" not found")
		return e != nil && e.Level == slog.LevelError
	})
}

// Notifications to a hook that does not answer wait in a bounded queue,
// sent one at a time: past the bound they are dropped and counted, never
// a goroutine each. Once the hook answers, the queue is delivered in
// order.
func TestHookNotificationsBounded(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	hook := testkit.StartHook(t, func(w http.ResponseWriter, r *http.Request, f url.Values) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	s, _ := startServer(t, nil)
	a := &URLAuth{MountAdd: hook.URL, Timeout: time.Minute}
	note := func(i int) {
		s.notify(hookNote{auth: a, url: hook.URL, form: form{"action", "mount_add", "mount", "/n" + strconv.Itoa(i)}})
	}
	note(0)
	testkit.Eventually(t, 5*time.Second, "the first notification sent", func() bool { return hook.Count() == 1 })
	for i := 1; i < hookQueueMax+50; i++ {
		note(i)
	}
	if n := len(hookEvents(s, "", "hook notifications dropped:")); n != 1 {
		t.Errorf("%d events for one run of drops", n)
	}
	s.hooks.mu.Lock()
	queued, working := len(s.hooks.queue), s.hooks.working
	s.hooks.mu.Unlock()
	// One in flight, the bound waiting, the rest dropped.
	if queued != hookQueueMax || !working {
		t.Fatalf("%d queued (working %v), want %d", queued, working, hookQueueMax)
	}
	close(release)
	calls := hook.Received(t, "mount_add", hookQueueMax+1)
	for i, c := range calls {
		if c.Form.Get("mount") != "/n"+strconv.Itoa(i) {
			t.Fatalf("notification %d is %s: out of order", i, c.Form.Get("mount"))
		}
	}
	testkit.Eventually(t, 5*time.Second, "drops reported", func() bool {
		return hookEvent(s, "", "49 hook notifications were dropped") != nil
	})
}

// Shutdown does not wait for a listener_add the hook has not answered:
// the listener is refused at once.
func TestURLAuthShutdownEndsWaitingListener(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 1)
	hook := testkit.StartHook(t, func(w http.ResponseWriter, r *http.Request, f url.Values) {
		arrived <- struct{}{}
		<-r.Context().Done()
	})
	s, addr := startServer(t, func(c *Config) {
		c.Mounts = map[string]MountConfig{"/w.mp3": {Auth: &URLAuth{ListenerAdd: hook.URL, Timeout: time.Hour}}}
	})
	src, _ := connectSource(t, addr, "PUT", "/w.mp3", "audio/mpeg")
	src.Send(testkit.Media(t, "tone.mp3")[:4000], 4000, 0)
	c := waitingListener(t, addr, "/w.mp3", arrived)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with a listener waiting for the hook: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, _ := io.ReadAll(c)
	if r := testkit.ParseResponse(t, string(b)); r.Code != http.StatusUnauthorized {
		t.Fatalf("the waiting listener got %d", r.Code)
	}
}

// What an answer's header means, as Icecast reads it.
func TestURLAuthAnswer(t *testing.T) {
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}
	def := &URLAuth{}
	for _, c := range []struct {
		a      *URLAuth
		status int
		h      http.Header
		admit  bool
		limit  time.Duration
	}{
		{def, 200, h("icecast-auth-user", "1"), true, 0},
		{def, 200, h("Icecast-Auth-User", " 1 "), true, 0},
		{def, 200, h("icecast-auth-user", "0"), false, 0},
		{def, 200, h(), false, 0},
		{def, 403, h("icecast-auth-user", "1", "icecast-auth-timelimit", "900"), true, 900 * time.Second},
		{def, 200, h("icecast-auth-user", "1", "icecast-auth-timelimit", "30s"), true, 30 * time.Second},
		{def, 200, h("icecast-auth-user", "1", "icecast-auth-timelimit", "soon"), true, 0},
		{def, 200, h("icecast-auth-user", "1", "icecast-auth-timelimit", "0"), true, 0},
		{&URLAuth{AuthHeader: "X-Allowed: Yes"}, 200, h("x-allowed", "yes"), true, 0},
		{&URLAuth{AuthHeader: "X-Allowed: Yes"}, 200, h("icecast-auth-user", "1"), false, 0},
		{&URLAuth{AuthHeader: "X-Allowed"}, 200, h("x-allowed", "anything"), true, 0},
		{&URLAuth{Accept2xx: true}, 204, h(), true, 0},
		{&URLAuth{Accept2xx: true}, 403, h(), false, 0},
		{&URLAuth{TimelimitHeader: "X-Limit:"}, 200, h("icecast-auth-user", "1", "x-limit", "5"), true, 5 * time.Second},
	} {
		if got := c.a.admits(c.status, c.h); got != c.admit {
			t.Errorf("%+v: %d %v admits %v", c.a, c.status, c.h, got)
		}
		if got := c.a.timelimit(c.h); got != c.limit {
			t.Errorf("%+v: %v time limit %s, want %s", c.a, c.h, got, c.limit)
		}
	}
	cfg := Defaults()
	cfg.SourcePassword = "x"
	cfg.Mounts = map[string]MountConfig{"/a": {Auth: &URLAuth{ListenerAdd: "ftp://user:secret@host/x", Timeout: -time.Second}}}
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "listener_add must be an http:// or https:// URL") ||
		strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "timeout must not be negative") {
		t.Errorf("bad hook settings: %v", err)
	}
}
