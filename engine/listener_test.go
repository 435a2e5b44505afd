package engine

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// A listener that joins right after the source starts gets every byte,
// from the source's first to its very last, even though the source leaves.
func TestListenerGetsEveryByteToTheEnd(t *testing.T) {
	s, addr := startServer(t, nil)
	mp3 := testkit.Media(t, "tone.mp3")
	src, _ := connectSource(t, addr, "PUT", "/all.mp3", "audio/mpeg")
	src.Send(mp3[:1000], 1000, 0)
	testkit.Eventually(t, 2*time.Second, "mount up", func() bool { return mountSnap(s, "/all.mp3") != nil })
	l := testkit.Listen(t, addr, "/all.mp3")
	if !strings.HasPrefix(l.Head, "HTTP/1.0 200 OK\r\n") || !strings.Contains(l.Head, "Content-Type: audio/mpeg\r\n") ||
		!strings.Contains(l.Head, "Cache-Control: no-cache, no-store\r\n") || !strings.Contains(l.Head, "Connection: close\r\n") ||
		strings.Contains(l.Head, "icy-metaint") {
		t.Errorf("listener head:\n%s", l.Head)
	}
	src.Send(mp3[1000:], 3001, time.Millisecond) // odd sizes: frames split anywhere
	src.Close()
	got := l.Wait(t, 5*time.Second)
	if len(got) != len(mp3) || sha(got) != sha(mp3) {
		t.Fatalf("listener got %d bytes (sha %s), source sent %d (sha %s)", len(got), sha(got), len(mp3), sha(mp3))
	}
	testkit.Eventually(t, time.Second, "listener left with reason source ended", func() bool {
		e := findEvent(s, EventListenerLeft, "/all.mp3")
		return e != nil && e.Reason == ReasonSourceEnded
	})
}

// mpegFrameStarts lists the offsets of the frames of a CBR MP3 file by
// walking its headers — independently of the engine's parser.
func mpegFrameStarts(t *testing.T, b []byte) map[int]bool {
	t.Helper()
	starts := map[int]bool{}
	i := 0
	if bytes.HasPrefix(b, []byte("ID3")) {
		i = 10 + (int(b[6])<<21 | int(b[7])<<14 | int(b[8])<<7 | int(b[9]))
	}
	bitrates := []int{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320}
	for i+4 <= len(b) {
		h := b[i : i+4]
		if h[0] != 0xFF || h[1]&0xFE != 0xFA { // MPEG-1 layer III only: the fixture
			t.Fatalf("fixture: no frame header at %d", i)
		}
		br := bitrates[h[2]>>4] * 1000
		pad := int(h[2]>>1) & 1
		starts[i] = true
		i += 144*br/44100 + pad
	}
	return starts
}

func TestMidStreamJoinStartsOnFrame(t *testing.T) {
	s, addr := startServer(t, func(c *Config) { c.BurstSize = 8 << 10 })
	mp3 := testkit.Media(t, "tone.mp3")
	starts := mpegFrameStarts(t, mp3)
	src, _ := connectSource(t, addr, "PUT", "/mid.mp3", "audio/mpeg")
	half := len(mp3) / 2
	src.Send(mp3[:half], 1500, time.Millisecond) // paced, as a live source is
	testkit.Eventually(t, 2*time.Second, "first half in", func() bool {
		m := mountSnap(s, "/mid.mp3")
		return m != nil && m.Source.BytesIn == uint64(half)
	})
	l := testkit.Listen(t, addr, "/mid.mp3")
	src.Send(mp3[half:], 1500, 0)
	src.Close()
	got := l.Wait(t, 5*time.Second)
	start := len(mp3) - len(got)
	if !bytes.Equal(got, mp3[start:]) {
		t.Fatalf("listener's %d bytes are not the tail of what was sent", len(got))
	}
	if !starts[start] {
		t.Fatalf("listener started at byte %d, which is not a frame boundary", start)
	}
	if burst := half - start; burst <= 0 || burst > 8<<10 {
		t.Fatalf("burst of %d bytes, want (0, 8 KiB]", burst)
	}
}

func TestICYMetadataRoundTrip(t *testing.T) {
	s, addr := startServer(t, func(c *Config) { c.MetaInt = 1000 })
	mp3 := testkit.Media(t, "tone.mp3")
	src, _ := connectSource(t, addr, "SOURCE", "/icy.mp3", "audio/mpeg", "Ice-Title", "First")
	src.Send(mp3[:500], 500, 0)
	testkit.Eventually(t, 2*time.Second, "mount up", func() bool { return mountSnap(s, "/icy.mp3") != nil })
	l := testkit.Listen(t, addr, "/icy.mp3", "Icy-MetaData", "1")
	if !strings.Contains(l.Head, "icy-metaint: 1000\r\n") {
		t.Fatalf("no icy-metaint in %q", l.Head)
	}
	src.Send(mp3[500:20000], 700, time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	title := "Ünïcödé – it's “quoted”"
	if err := s.SetTitle("/icy.mp3", title, ""); err != nil {
		t.Fatal(err)
	}
	src.Send(mp3[20000:], 700, time.Millisecond)
	src.Close()
	body := l.Wait(t, 5*time.Second)
	audio, metas := testkit.SplitICY(t, body, 1000)
	if !bytes.Equal(audio, mp3) {
		t.Fatalf("audio after removing ICY blocks differs: %d bytes vs %d sent", len(audio), len(mp3))
	}
	want := []string{"StreamTitle='First';", "StreamTitle='" + title + "';"}
	if len(metas) != 2 || metas[0] != want[0] || metas[1] != want[1] {
		t.Fatalf("metadata blocks %q, want %q (each title once, then empty blocks)", metas, want)
	}
	if e := findEvent(s, EventMetadata, "/icy.mp3"); e == nil {
		t.Error("no metadata event")
	}
}

func TestICYBlockFraming(t *testing.T) {
	for _, title := range []string{"", "a", strings.Repeat("x", 3), strings.Repeat("é", 3000)} {
		b := icyBlock(title, "")
		if len(b) != 1+int(b[0])*16 || len(b) > 1+255*16 {
			t.Fatalf("%d-byte title: block of %d bytes with length byte %d", len(title), len(b), b[0])
		}
		text := strings.TrimRight(string(b[1:]), "\x00")
		if !strings.HasPrefix(text, "StreamTitle='") || !strings.HasSuffix(text, "';") || !utf8Valid(text) {
			t.Fatalf("bad block text %q", text[:min(60, len(text))])
		}
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func TestSlowListenerDroppedFastOneKeepsEverything(t *testing.T) {
	s, addr := startServer(t, func(c *Config) { c.QueueSize = 64 << 10; c.BurstSize = 16 << 10 })
	mp3 := testkit.Media(t, "tone.mp3")
	data := bytes.Repeat(mp3, 8) // 640 KB, ten times the queue
	src, _ := connectSource(t, addr, "PUT", "/slow.mp3", "audio/mpeg")
	src.Send(data[:100], 100, 0)
	testkit.Eventually(t, 2*time.Second, "mount up", func() bool { return mountSnap(s, "/slow.mp3") != nil })
	fast := testkit.Listen(t, addr, "/slow.mp3")
	slow := slowListener(t, addr, "/slow.mp3")
	// 4 MB/s: thirty times real time, yet a queue of 64 KiB leaves the fast
	// listener 16 ms of slack for the scheduler.
	src.Send(data[100:], 4096, time.Millisecond)
	testkit.Eventually(t, 5*time.Second, "slow listener dropped", func() bool {
		e := findEvent(s, EventListenerLeft, "/slow.mp3")
		return e != nil && e.Reason == ReasonTooSlow
	})
	src.Close()
	got := fast.Wait(t, 5*time.Second)
	if sha(got) != sha(data) {
		t.Fatalf("fast listener got %d bytes, want all %d", len(got), len(data))
	}
	if m := s.Snapshot(); m.Listeners != 0 {
		t.Errorf("%d listeners left", m.Listeners)
	}
	_ = slow
}

// slowListener connects with a tiny receive buffer and never reads.
func slowListener(t *testing.T, addr, mount string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	io.WriteString(c, "GET "+mount+" HTTP/1.0\r\n\r\n")
	return c
}

func TestSlowListenerSkipPolicy(t *testing.T) {
	s, addr := startServer(t, func(c *Config) {
		c.QueueSize = 64 << 10
		c.BurstSize = 16 << 10
		c.Mounts = map[string]MountConfig{"/skip.mp3": {SlowListener: SlowSkip}}
	})
	mp3 := testkit.Media(t, "tone.mp3")
	starts := mpegFrameStarts(t, mp3)
	starts[0] = true // the source's first byte (its ID3 tag) is where the listener begins
	data := bytes.Repeat(mp3, 8)
	src, _ := connectSource(t, addr, "PUT", "/skip.mp3", "audio/mpeg")
	src.Send(data[:100], 100, 0)
	testkit.Eventually(t, 2*time.Second, "mount up", func() bool { return mountSnap(s, "/skip.mp3") != nil })
	c := slowListener(t, addr, "/skip.mp3")
	src.Send(data[100:400000], 4096, 100*time.Microsecond)
	time.Sleep(300 * time.Millisecond)
	// Now read everything: the listener skipped ahead instead of being dropped.
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(c); done <- b }()
	src.Send(data[400000:], 4096, 100*time.Microsecond)
	src.Close()
	var body []byte
	select {
	case body = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("skip listener never closed")
	}
	_, payload, _ := strings.Cut(string(body), "\r\n\r\n")
	if len(payload) >= len(data) || len(payload) == 0 {
		t.Fatalf("skip listener got %d of %d bytes: did not skip", len(payload), len(data))
	}
	// The ending is recorded just after the socket closes.
	testkit.Eventually(t, 5*time.Second, "the skip listener left at the end", func() bool { return findEvent(s, EventListenerLeft, "/skip.mp3") != nil })
	if e := findEvent(s, EventListenerLeft, "/skip.mp3"); e.Reason != ReasonSourceEnded {
		t.Fatalf("skip listener should stay until the end, left with %+v", e)
	}
	// Every skip lands on a frame boundary: the received stream is a chain
	// of whole frames of the file.
	p := []byte(payload)
	for len(p) > 0 {
		off := bytes.Index(mp3, p[:min(len(p), 64)])
		if off < 0 || !starts[off] {
			t.Fatalf("a piece of the skipped stream starts at %d, not a frame boundary", off)
		}
		n := 0
		for n < len(p) && off+n < len(mp3) && p[n] == mp3[off+n] {
			n++
		}
		p = p[n:]
	}
}

func TestKickListener(t *testing.T) {
	s, addr := startServer(t, nil)
	src, _ := connectSource(t, addr, "PUT", "/kick.mp3", "audio/mpeg")
	src.Send(testkit.Media(t, "tone.mp3")[:20000], 4000, 0)
	testkit.Eventually(t, 2*time.Second, "mount up", func() bool { return mountSnap(s, "/kick.mp3") != nil })
	l := testkit.Listen(t, addr, "/kick.mp3")
	var id uint64
	testkit.Eventually(t, 2*time.Second, "listener listed", func() bool {
		m := mountSnap(s, "/kick.mp3")
		if m != nil && len(m.Listeners) == 1 {
			id = m.Listeners[0].ID
		}
		return id != 0
	})
	if err := s.KickListener("/kick.mp3", id); err != nil {
		t.Fatal(err)
	}
	l.Wait(t, 2*time.Second) // the connection is really closed
	testkit.Eventually(t, time.Second, "listener left with reason kicked", func() bool {
		e := findEvent(s, EventListenerLeft, "/kick.mp3")
		return e != nil && e.Reason == ReasonKicked
	})
	if err := s.KickListener("/kick.mp3", id); err != ErrNoClient {
		t.Fatalf("second kick: %v", err)
	}
	// Kicking the source ends it; the mount goes.
	if err := s.KickSource("/kick.mp3"); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 2*time.Second, "source kicked", func() bool {
		e := findEvent(s, EventSourceLeft, "/kick.mp3")
		return e != nil && e.Reason == ReasonKicked
	})
}

func TestListenerLimitsAndNotFound(t *testing.T) {
	s, addr := startServer(t, func(c *Config) { c.MaxListeners = 1; c.MaxClients = 3 })
	src, _ := connectSource(t, addr, "PUT", "/lim.mp3", "audio/mpeg")
	src.Send(testkit.Media(t, "tone.mp3")[:5000], 5000, 0)
	testkit.Eventually(t, 2*time.Second, "mount up", func() bool { return mountSnap(s, "/lim.mp3") != nil })
	testkit.Listen(t, addr, "/lim.mp3")
	r := testkit.RawRequest(t, addr, "GET /lim.mp3 HTTP/1.0\r\n\r\n")
	if r.Code != 503 || !strings.Contains(r.Body, "full") {
		t.Fatalf("over the mount limit: %d %q", r.Code, r.Body)
	}
	r = testkit.RawRequest(t, addr, "GET /nothing.mp3 HTTP/1.0\r\n\r\n")
	if r.Code != 404 {
		t.Fatalf("missing mount: %d", r.Code)
	}
	h, code := httpHead(t, "http://"+addr+"/lim.mp3")
	if code != 200 || h["content-type"][0] != "audio/mpeg" {
		t.Fatalf("HEAD: %d %v", code, h)
	}
	src2, _ := connectSource(t, addr, "PUT", "/lim2.mp3", "audio/mpeg")
	src2.Send(testkit.Media(t, "tone.mp3")[:5000], 5000, 0)
	testkit.Eventually(t, 2*time.Second, "mount up", func() bool { return mountSnap(s, "/lim2.mp3") != nil })
	// Clients now: two sources and one listener = 3, the global limit,
	// which every connection counts against, whatever it asks.
	for _, req := range []string{"GET /lim2.mp3 HTTP/1.0\r\n\r\n", "GET /nothing.mp3 HTTP/1.0\r\n\r\n", "GET /status-json.xsl HTTP/1.1\r\nHost: x\r\n\r\n"} {
		r = testkit.RawRequest(t, addr, req)
		if r.Code != 503 || !strings.Contains(r.Body, "Server full") {
			t.Fatalf("over the global limit, %q: %d %q", req, r.Code, r.Body)
		}
	}
	if snap := s.Snapshot(); snap.Clients != 3 || snap.Totals.ListenerConnections != 1 || snap.Totals.SourceConnections != 2 {
		t.Fatalf("counts: %d clients, totals %+v", snap.Clients, snap.Totals)
	}
}

func TestGraceResumesHeldListeners(t *testing.T) {
	s, addr := startServer(t, func(c *Config) { c.Grace = 3 * time.Second })
	mp3 := testkit.Media(t, "tone.mp3")
	a, b := mp3[:30000], mp3[30000:]
	src, _ := connectSource(t, addr, "PUT", "/grace.mp3", "audio/mpeg")
	src.Send(a[:100], 100, 0)
	testkit.Eventually(t, 2*time.Second, "mount up", func() bool { return mountSnap(s, "/grace.mp3") != nil })
	l := testkit.Listen(t, addr, "/grace.mp3")
	src.Send(a[100:], 1000, 0)
	src.Close()
	testkit.Eventually(t, 2*time.Second, "mount in grace", func() bool {
		m := mountSnap(s, "/grace.mp3")
		return m != nil && m.State == StateGrace && m.ListenerCount == 1
	})
	src2, r := connectSource(t, addr, "PUT", "/grace.mp3", "audio/mpeg")
	if src2 == nil {
		t.Fatalf("returning source refused: %+v", r)
	}
	src2.Send(b, 1000, 0)
	src2.Close()
	// After the second source leaves, grace runs out and the listener goes.
	got := l.Wait(t, 8*time.Second)
	if sha(got) != sha(mp3) {
		t.Fatalf("held listener got %d bytes, want both sources' %d", len(got), len(mp3))
	}
	if findEvent(s, EventMountResumed, "/grace.mp3") == nil {
		t.Error("no resume event")
	}
}

func TestSnapshotAndEvents(t *testing.T) {
	s, addr := startServer(t, nil)
	events, cancel := s.Subscribe(64)
	defer cancel()
	src, _ := connectSource(t, addr, "PUT", "/snap.mp3", "audio/mpeg")
	src.Send(testkit.Media(t, "tone.mp3")[:9000], 3000, 0)
	select {
	case e := <-events:
		if e.Type != EventSourceConnected || e.Mount != "/snap.mp3" || e.Seq == 0 {
			t.Fatalf("first event %+v", e)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no event")
	}
	tl := testkit.Listen(t, addr, "/snap.mp3")
	testkit.Eventually(t, 2*time.Second, "listener in snapshot", func() bool {
		sn := s.Snapshot()
		if sn.Sources != 1 || sn.Listeners != 1 {
			return false
		}
		l := sn.Mounts[0].Listeners[0]
		// Bytes sent count everything written: response head and audio.
		return l.BytesSent == 9000+uint64(len(tl.Head)) && l.Lag == 0 && l.UserAgent == "test-listener"
	})
	if got := s.EventsSince(1); len(got) == 0 || got[0].Seq != 2 {
		t.Fatalf("EventsSince(1) = %+v", got)
	}
	ms := mountSnap(s, "/snap.mp3")
	if ms.Source.Addr == "" || ms.ListenerPeak != 1 || ms.ContentType != "audio/mpeg" {
		t.Fatalf("mount snapshot %+v", ms)
	}
}

func TestTapReadsFromFrameBoundary(t *testing.T) {
	s, addr := startServer(t, func(c *Config) { c.BurstSize = 4096 })
	mp3 := testkit.Media(t, "tone.mp3")
	starts := mpegFrameStarts(t, mp3)
	src, _ := connectSource(t, addr, "PUT", "/tap.mp3", "audio/mpeg")
	src.Send(mp3[:40000], 2000, time.Millisecond)
	testkit.Eventually(t, 2*time.Second, "in", func() bool {
		m := mountSnap(s, "/tap.mp3")
		return m != nil && m.Source.BytesIn == 40000
	})
	tap, err := s.Tap("/tap.mp3")
	if err != nil {
		t.Fatal(err)
	}
	if sn := s.Snapshot(); sn.Taps != 1 || sn.Listeners != 0 {
		t.Fatalf("taps %d listeners %d: a tap is counted apart", sn.Taps, sn.Listeners)
	}
	go func() { src.Send(mp3[40000:], 4000, 0); src.Close() }()
	got, err := io.ReadAll(tap)
	if err != nil {
		t.Fatal(err)
	}
	start := len(mp3) - len(got)
	if !starts[start] || !bytes.Equal(got, mp3[start:]) {
		t.Fatalf("tap got %d bytes starting at %d (frame boundary: %v)", len(got), start, starts[start])
	}
	tap.Close()
	if _, err := s.Tap("/none"); err != ErrNoMount {
		t.Fatalf("tap on a missing mount: %v", err)
	}
}

func TestShutdownClosesEveryone(t *testing.T) {
	s, addr := startServer(t, nil)
	src, _ := connectSource(t, addr, "PUT", "/sd.mp3", "audio/mpeg")
	src.Send(testkit.Media(t, "tone.mp3")[:5000], 5000, 0)
	testkit.Eventually(t, 2*time.Second, "mount up", func() bool { return mountSnap(s, "/sd.mp3") != nil })
	l := testkit.Listen(t, addr, "/sd.mp3")
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	l.Wait(t, 2*time.Second)
	var reasons []string
	for _, e := range s.Events(0) {
		if e.Type == EventListenerLeft || e.Type == EventSourceLeft {
			reasons = append(reasons, string(e.Type)+"="+e.Reason.String())
		}
	}
	if strings.Join(reasons, ",") != "source.left=shutdown,listener.left=shutdown" && strings.Join(reasons, ",") != "listener.left=shutdown,source.left=shutdown" {
		t.Fatalf("reasons %v", reasons)
	}
	_ = strconv.Itoa
}

// A moved listener keeps its connection: it gets the first mount up to a
// frame boundary, then the second from one of its frame boundaries.
func TestMoveListeners(t *testing.T) {
	s, addr := startServer(t, func(c *Config) { c.BurstSize = 4096 })
	a, b := testkit.Media(t, "tone.mp3"), testkit.Media(t, "tone440.mp3")
	startsA, startsB := mpegFrameStarts(t, a), mpegFrameStarts(t, b)
	srcA, _ := connectSource(t, addr, "PUT", "/a.mp3", "audio/mpeg")
	srcB, _ := connectSource(t, addr, "PUT", "/b.mp3", "audio/mpeg")
	srcA.Send(a[:20000], 1000, time.Millisecond)
	srcB.Send(b[:10000], 1000, time.Millisecond)
	l := testkit.Listen(t, addr, "/a.mp3")
	srcA.Send(a[20000:30000], 1000, time.Millisecond)
	n, err := s.MoveListeners("/a.mp3", "/b.mp3", nil)
	if err != nil || n != 1 {
		t.Fatalf("move: %d, %v", n, err)
	}
	srcA.Send(a[30000:40000], 1000, time.Millisecond)
	srcB.Send(b[10000:], 1000, time.Millisecond)
	srcB.Close()
	srcA.Close()
	got := l.Wait(t, 5*time.Second)
	runs := splitRuns(t, got, [][]byte{a, b}, []map[int]bool{startsA, startsB})
	if len(runs) != 2 || runs[0].stream != 0 || runs[1].stream != 1 || runs[1].to != len(b) {
		t.Fatalf("want a up to a frame boundary, then b from one to its end; got %v", runs)
	}
	if !startsA[runs[0].from] {
		t.Fatalf("listener joined a at byte %d, not a frame boundary", runs[0].from)
	}
	testkit.Eventually(t, time.Second, "move event", func() bool { return findEvent(s, EventListenerMoved, "/b.mp3") != nil })
	if _, err := s.MoveListeners("/a.mp3", "/nope", nil); err != ErrNoMount {
		t.Fatalf("move to a missing mount: %v", err)
	}
}
