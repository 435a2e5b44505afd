package engine

import (
	"bytes"
	"io"
	"net"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// A joining listener's head and burst are written by the goroutine that
// admits it, not at its shard's next sweep: here the shards are not even
// running, and the client still reads the head and a burst that starts on
// a frame boundary and ends at live.
func TestFirstBytesWrittenOnAdmission(t *testing.T) {
	s, err := New(Config{SourcePassword: "x", BurstSize: 8 << 10})
	if err != nil {
		t.Fatal(err)
	}
	m := newMount(s, "/first.mp3") // shards not started
	mp3 := testkit.Media(t, "tone.mp3")
	starts := mpegFrameStarts(t, mp3)
	offs := make([]int, 0, len(starts))
	for o := range starts {
		offs = append(offs, o)
	}
	sort.Ints(offs)
	// Publish 40 frames, one chunk each, as a frame-paced source does;
	// the first with the ID3 tag before it, so stream offsets are the
	// file's.
	live := offs[40]
	offs[0] = 0
	for i := 0; i < 40; i++ {
		m.ring.publish(&chunk{data: mp3[offs[i]:offs[i+1]], sync: 0, first: i == 0})
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	server, client := loopback(t, ln)
	head := []byte("HTTP/1.0 200 OK\r\n\r\n")
	l := &listener{conn: server, mount: m, lastProgress: monoAt(time.Now()), lastWrite: monoAt(time.Now())}
	l.raw, _ = server.(syscall.Conn).SyscallConn()
	st := m.startFor(int(m.burst.Load()))
	l.pending[0] = head
	l.placeAt(st)
	if why, detail := m.addListener(l); why != ReasonNone {
		t.Fatalf("not admitted: %s %s", why, detail)
	}

	want := len(head) + live - int(st.pos)
	got := make([]byte, want)
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatalf("client read %v; the first bytes did not come from the admitting goroutine (%d sent, want %d, start %+v)", err, l.bytesSent.Load(), want, st)
	}
	if !bytes.Equal(got[:len(head)], head) {
		t.Fatalf("head %q", got[:len(head)])
	}
	start := int(st.pos)
	if !starts[start] || !bytes.Equal(got[len(head):], mp3[start:live]) {
		t.Fatalf("burst of %d bytes from %d: not the stream from a frame boundary to live", len(got)-len(head), start)
	}
	if burst := live - start; burst <= 0 || burst > 8<<10 {
		t.Fatalf("burst of %d bytes, want (0, 8 KiB]", burst)
	}
	if l.bytesSent.Load() != uint64(want) || l.pos.Load() != uint64(live) {
		t.Fatalf("listener counts %d bytes sent, cursor at %d; want %d and %d", l.bytesSent.Load(), l.pos.Load(), want, live)
	}
	if n := m.shards[0].count.Load() + m.shards[len(m.shards)-1].count.Load(); n < 1 {
		t.Fatal("listener not handed to a shard")
	}
}

// A first write that fails marks the listener with the reason, for its
// shard to end it on the one ending path.
func TestFirstWriteFailureEndsListener(t *testing.T) {
	s, err := New(Config{SourcePassword: "x"})
	if err != nil {
		t.Fatal(err)
	}
	m := newMount(s, "/gone.mp3")
	m.ring.publish(&chunk{data: []byte{0xFF, 0xFB, 0x90, 0x64}, sync: 0, first: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	server, client := loopback(t, ln)
	// The client resets the connection (linger 0: close sends RST), as
	// a player killed before the answer does.
	_ = client.(*net.TCPConn).SetLinger(0)
	client.Close()
	l := &listener{conn: server, mount: m, lastProgress: monoAt(time.Now())}
	l.raw, _ = server.(syscall.Conn).SyscallConn()
	l.pending[0] = []byte("HTTP/1.0 200 OK\r\n\r\n")
	l.placeAt(m.startFor(1))
	m.addListener(l)
	if r := l.kickReason(); r != ReasonClientClosed {
		t.Fatalf("listener marked %q, want %q", r, ReasonClientClosed)
	}
}

// A big shard sweeps when its oldest unsent byte has waited the mount's
// latency, or at an arrival when waiting for
// the next one would make that byte late; a small shard and a forced
// wake sweep at once. A reload's latency applies to the live mount.
func TestShardWaitsForLatency(t *testing.T) {
	s, err := New(Config{SourcePassword: "x", Latency: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	m := newMount(s, "/wait.mp3")
	sh := m.shards[0]
	sh.list = make([]*listener, gapFrom)
	t0 := time.Now()
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	publish := func(d time.Duration) {
		m.ring.publish(&chunk{data: []byte{1}})
		m.ring.get(m.ring.head.Load() - 1).at = monoAt(at(d))
	}
	if d := sh.wait(at(0)); d != idleSweep {
		t.Fatalf("nothing published: wait %s, want %s", d, idleSweep)
	}
	publish(0)
	if d := sh.wait(at(10 * time.Millisecond)); d != 40*time.Millisecond {
		t.Fatalf("one chunk 10 ms old, latency 50 ms: wait %s, want 40ms", d)
	}
	publish(24 * time.Millisecond)
	if d := sh.wait(at(24 * time.Millisecond)); d != 26*time.Millisecond {
		t.Fatalf("chunks 24 ms apart, the oldest 24 ms old: the next comes in time, wait %s, want 26ms", d)
	}
	publish(48 * time.Millisecond)
	if d := sh.wait(at(48 * time.Millisecond)); d != 0 {
		t.Fatalf("the oldest 48 ms old: the next arrival would be late, wait %s, want 0", d)
	}
	sh.swept = m.ring.head.Load()
	publish(72 * time.Millisecond)
	if d := sh.wait(at(74 * time.Millisecond)); d != 48*time.Millisecond {
		t.Fatalf("after a sweep, one chunk 2 ms old: wait %s, want 48ms", d)
	}
	sh.poke()
	if d := sh.wait(at(74 * time.Millisecond)); d != 0 || sh.force.Load() {
		t.Fatalf("forced: wait %s (force left %v), want 0", d, sh.force.Load())
	}
	sh.list = sh.list[:gapFrom-1]
	if d := sh.wait(at(74 * time.Millisecond)); d != 0 {
		t.Fatalf("small shard: wait %s, want 0", d)
	}
	sh.list = make([]*listener, gapFrom)

	cfg := s.Config()
	cfg.Mounts = map[string]MountConfig{"/wait.mp3": {Latency: 200 * time.Millisecond}}
	if err := s.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	m.configure(s.cfg()) // as Reconfigure does for the mounts it holds
	if !sh.force.Swap(false) {
		t.Fatal("a latency change did not wake the shards")
	}
	if d := sh.wait(at(74 * time.Millisecond)); d != 198*time.Millisecond {
		t.Fatalf("mount latency 200 ms: wait %s, want 198ms", d)
	}
}

// Listeners of big shards get every byte, across a reload that lowers
// the latency from the default to 20 ms while the source plays, and with
// the mount's own latency set.
func TestLatencyReloadKeepsEveryByte(t *testing.T) {
	t.Parallel()
	s, addr := startServer(t, nil)
	mp3 := testkit.Media(t, "tone.mp3")
	src, _ := connectSource(t, addr, "PUT", "/lat.mp3", "audio/mpeg")
	src.Send(mp3[:1], 1, 0) // the source's first byte: every listener gets the whole stream
	testkit.Eventually(t, 2*time.Second, "mount up", func() bool { return mountSnap(s, "/lat.mp3") != nil })
	n := gapFrom*s.shardCount + 8 // every shard a big one
	ls := make([]*testkit.Listener, n)
	for i := range ls {
		ls[i] = testkit.Listen(t, addr, "/lat.mp3")
	}
	testkit.Eventually(t, 5*time.Second, "listeners placed", func() bool { return mountSnap(s, "/lat.mp3").ListenerCount == n })
	src.Send(mp3[1:27000], 418, 2*time.Millisecond)
	cfg := s.Config()
	cfg.Latency = 20 * time.Millisecond
	if err := s.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	src.Send(mp3[27000:54000], 418, 2*time.Millisecond)
	cfg.Mounts = map[string]MountConfig{"/lat.mp3": {Latency: 500 * time.Millisecond}}
	if err := s.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	if got := s.lookup("/lat.mp3").latency.Load(); got != int64(500*time.Millisecond) {
		t.Fatalf("mount latency %s after the reload, want 500ms", time.Duration(got))
	}
	src.Send(mp3[54000:], 418, 2*time.Millisecond)
	src.Close()
	for i, l := range ls {
		if got := l.Wait(t, 20*time.Second); !bytes.Equal(got, mp3) {
			t.Fatalf("listener %d got %d bytes (sha %s), want all %d", i, len(got), sha(got), len(mp3))
		}
	}
}
