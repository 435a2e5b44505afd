package engine

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// Regression tests for faults that hostile and real clients found. Each
// reproduced its fault before the fix.

// A mount path that is not UTF-8 was accepted and later crashed /metrics.
func TestSourceMountNotUTF8Refused(t *testing.T) {
	s, addr := startServer(t, nil)
	r := testkit.RawRequest(t, addr, "SOURCE /x%FF.mp3 HTTP/1.0\r\nAuthorization: "+testkit.Basic("source", testPassword)+"\r\nContent-Type: audio/mpeg\r\n\r\n")
	if r.Code != 400 {
		t.Fatalf("got %d, want 400", r.Code)
	}
	if n := len(s.Snapshot().Mounts); n != 0 {
		t.Fatalf("%d mounts after a refused source", n)
	}
	e := findEvent(s, EventSourceRejected, "")
	if e == nil || e.Reason != ReasonBadRequest || !strings.Contains(e.Detail, "UTF-8") || e.Mount != "" {
		t.Fatalf("rejection event %+v: want the reason, and no invalid mount label", e)
	}
}

// Idle kept-alive connections stayed open forever, uncounted, until the
// server ran out of descriptors.
func TestIdleKeepAliveConnectionsAreCountedAndClosed(t *testing.T) {
	s, addr := startServer(t, func(c *Config) {
		c.HeaderTimeout = 500 * time.Millisecond
	})
	s.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	const n = 20
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /status-json.xsl HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 200 || resp.Close {
			t.Fatalf("keep-alive request: %v %+v", err, resp)
		}
		conns[i] = c
	}
	if got := s.Snapshot().Clients; got != n {
		t.Fatalf("%d idle kept-alive connections open, %d counted as clients", n, got)
	}
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("idle connection not closed by the server: %v", err)
		}
	}
	testkit.Eventually(t, time.Second, "no clients left", func() bool { return s.Snapshot().Clients == 0 })
	tot := s.Snapshot().Totals
	if tot.Connections != n || tot.ClientConnections != n {
		t.Fatalf("totals %+v, want %d connections and requests", tot, n)
	}
}

// A client that stops reading an answer from the control plane is cut off
// after the write timeout instead of holding its connection.
func TestControlPlaneWriteIsBounded(t *testing.T) {
	big := strings.Repeat("x", 64<<20)
	wrote := make(chan error, 1)
	s, addr := startServer(t, func(c *Config) {
		c.WriteTimeout = 300 * time.Millisecond
	})
	s.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.WriteString(w, big)
		wrote <- err
	}))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n") // and never read
	select {
	case err := <-wrote:
		if err == nil {
			t.Fatal("64 MiB written to a client that reads nothing")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's write to a client that stopped reading is still blocked after 5 s")
	}
	testkit.Eventually(t, 5*time.Second, "the stuck connection closed", func() bool { return s.Snapshot().Clients == 0 })
}

// Source passwords could be guessed without limit.
func TestSourcePasswordGuessingIsLimited(t *testing.T) {
	s, addr := startServer(t, nil)
	put := func(from, pass string) int {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "SOURCE /g.mp3 HTTP/1.0\r\nAuthorization: %s\r\nContent-Type: audio/mpeg\r\n\r\n", testkit.Basic("source", pass))
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(c)
		return testkit.ParseResponse(t, string(b)).Code
	}
	for i := range 10 {
		if code := put("127.0.0.1", fmt.Sprintf("guess%d", i)); code != 401 {
			t.Fatalf("guess %d: %d, want 401", i, code)
		}
	}
	if code := put("127.0.0.1", testPassword); code != 429 {
		t.Fatalf("right password after 10 wrong ones from the same address: %d, want 429", code)
	}
	if code := put("127.0.0.2", testPassword); code != 200 {
		t.Fatalf("right password from another address: %d, want 200", code)
	}
	blocked := 0
	for _, e := range s.Events(0) {
		if e.Type == EventSourceRejected && e.Reason == ReasonLoginsBlocked && strings.HasPrefix(e.Addr, "127.0.0.1") {
			blocked++
		}
	}
	if blocked < 1 {
		t.Fatal("no event says the address was blocked")
	}
}

// A user name with a newline forged access-log lines.
func TestAccessLogEscapesClientFields(t *testing.T) {
	var log testkit.Buffer
	_, addr := startServer(t, func(c *Config) { c.AccessLog = &log })
	forged := "x\n127.0.0.1 - admin [01/Jan/2026:00:00:00 +0000] \"GET /admin/killsource HTTP/1.0\" 200 0 \"-\" \"-\" 0"
	r := testkit.RawRequest(t, addr, "SOURCE /l.mp3 HTTP/1.0\r\nAuthorization: "+testkit.Basic(forged, "nope")+"\r\nUser-Agent: a\"b\r\nContent-Type: audio/mpeg\r\n\r\n")
	if r.Code != 401 {
		t.Fatalf("got %d", r.Code)
	}
	testkit.Eventually(t, time.Second, "log line", func() bool { return log.String() != "" })
	lines := strings.Split(strings.TrimSuffix(log.String(), "\n"), "\n")
	if len(lines) != 1 || strings.Contains(lines[0], " admin ") {
		t.Fatalf("one request made %d access-log lines:\n%s", len(lines), log.String())
	}
	if f := strings.Fields(lines[0]); len(f) < 3 || !strings.HasPrefix(f[2], `x\n127.0.0.1`) {
		t.Fatalf("user field not escaped as one field: %q", lines[0])
	}
}

// A title holding "';" added keys of its own to the ICY block, and titles
// from Ogg comments reached the terminal with escape sequences.
func TestTitlesAreOneCleanValue(t *testing.T) {
	s, addr := startServer(t, func(c *Config) { c.MetaInt = 1000 })
	src, _ := connectSource(t, addr, "PUT", "/t.mp3", "audio/mpeg")
	mp3 := testkit.Media(t, "tone.mp3")
	src.Send(mp3[:4000], 4000, 0)
	testkit.Eventually(t, 2*time.Second, "mount", func() bool { return mountSnap(s, "/t.mp3") != nil })
	if err := s.SetTitle("/t.mp3", "x';StreamUrl='http://evil/';\x1b[2J", ""); err != nil {
		t.Fatal(err)
	}
	l := testkit.Listen(t, addr, "/t.mp3", "Icy-MetaData", "1")
	src.Send(mp3[4000:20000], 4000, 0)
	src.Close()
	_, metas := testkit.SplitICY(t, l.Wait(t, 5*time.Second), 1000)
	if len(metas) == 0 {
		t.Fatal("no metadata block")
	}
	if got := metas[0]; got != "StreamTitle='x\u2019;StreamUrl='http://evil/\u2019;';" {
		t.Fatalf("metadata block %q: want exactly one StreamTitle value, no escape sequence", got)
	}
	if strings.Count(metas[0], "';") != 1 {
		t.Fatalf("a player would find %d keys in %q", strings.Count(metas[0], "';"), metas[0])
	}

	// In-band: an Ogg comment with an escape sequence and a newline.
	ffmpeg := testkit.NeedTool(t, "ffmpeg")
	ogg := filepath.Join(t.TempDir(), "esc.ogg")
	out, err := exec.Command(ffmpeg, "-v", "error", "-f", "lavfi", "-i", "sine=f=440:d=1", "-c:a", "libvorbis",
		"-metadata", "title=Blue\x1b]0;pwned\x07 Hour\nLive", "-metadata", "artist=Night\x1b[31m Band", ogg).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	b, err := os.ReadFile(ogg)
	if err != nil {
		t.Fatal(err)
	}
	osrc, _ := connectSource(t, addr, "PUT", "/t.ogg", "application/ogg")
	osrc.Send(b, 1000, time.Millisecond)
	testkit.Eventually(t, 2*time.Second, "in-band title, cleaned", func() bool {
		m := mountSnap(s, "/t.ogg")
		return m != nil && m.Title == "Night Band - Blue Hour Live"
	})
}

// /a/b.mp3 and /ab.mp3 recorded in the same second appended into one file.
func TestRecordingsNeverShareAFile(t *testing.T) {
	dir := t.TempDir()
	s, addr := startServer(t, func(c *Config) {
		c.RecordDir = dir
		c.Mounts = map[string]MountConfig{"/fixed.mp3": {DumpFile: filepath.Join(dir, "fixed.mp3")}}
	})
	mp3 := testkit.Media(t, "tone.mp3")
	parts := map[string][]byte{"/a/b.mp3": mp3[:10000], "/ab.mp3": mp3[10000:20000], "/a_b.mp3": mp3[20000:30000]}
	for name, data := range parts {
		src, _ := connectSource(t, addr, "PUT", name, "audio/mpeg")
		src.Send(data[:2000], 2000, 0)
		testkit.Eventually(t, 2*time.Second, "mount up", func() bool { return mountSnap(s, name) != nil })
		if _, err := s.StartRecording(name); err != nil {
			t.Fatal(err)
		}
		src.Send(data[2000:], 1000, time.Millisecond)
		src.Close()
		testkit.Eventually(t, 2*time.Second, "gone", func() bool { return mountSnap(s, name) == nil })
	}
	// Two sessions of a mount whose dump file has no time pattern.
	for i := range 2 {
		src, _ := connectSource(t, addr, "PUT", "/fixed.mp3", "audio/mpeg")
		src.Send(mp3[i*5000:(i+1)*5000], 1000, time.Millisecond)
		testkit.Eventually(t, 2*time.Second, "recorded", func() bool { m := mountSnap(s, "/fixed.mp3"); return m != nil && m.RecordedBytes == 5000 })
		src.Close()
		testkit.Eventually(t, 2*time.Second, "gone", func() bool { return mountSnap(s, "/fixed.mp3") == nil })
	}
	testkit.Eventually(t, 2*time.Second, "files closed", func() bool {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		return len(files) == 5
	})
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	sums := map[string]bool{}
	holds := map[string]int{} // mount → files holding the end of what it sent
	for _, f := range files {
		b, _ := os.ReadFile(f)
		sums[sha(b)] = true
		for name, data := range parts {
			// A recording started at run time begins at the newest frame
			// boundary: at most a frame before the 8,000 bytes sent after it.
			if len(b) >= 7000 && bytes.HasSuffix(data, b) {
				holds[name]++
			}
		}
	}
	for name := range parts {
		if holds[name] != 1 {
			t.Errorf("%s: %d files hold exactly its recording (files %v)", name, holds[name], files)
		}
	}
	if !sums[sha(mp3[:5000])] || !sums[sha(mp3[5000:10000])] {
		t.Errorf("dump file sessions share a file: %v", files)
	}
}

// A source writing 1-byte pieces filled the ring's slots in a third of a
// second, and every listener of a big shard was dropped as too slow.
func TestTinySourceWritesStarveNobody(t *testing.T) {
	s, addr := startServer(t, nil)
	mp3 := testkit.Media(t, "tone.mp3")[:40000]
	src, _ := connectSource(t, addr, "PUT", "/tiny.mp3", "audio/mpeg")
	_ = src.Conn.(*net.TCPConn).SetNoDelay(true)
	src.Send(mp3[:1], 1, 0)
	testkit.Eventually(t, 2*time.Second, "mount up", func() bool { return mountSnap(s, "/tiny.mp3") != nil })
	// Enough listeners that every shard is a big one, sweeping at passGap.
	n := gapFrom*s.shardCount + 8
	ls := make([]*testkit.Listener, n)
	for i := range ls {
		ls[i] = testkit.Listen(t, addr, "/tiny.mp3")
	}
	testkit.Eventually(t, 2*time.Second, "listeners placed", func() bool { return mountSnap(s, "/tiny.mp3").ListenerCount == n })
	src.Send(mp3[1:], 1, 0)
	src.Close()
	for i, l := range ls {
		if got := l.Wait(t, 20*time.Second); !bytes.Equal(got, mp3) {
			t.Fatalf("listener %d got %d bytes, want all %d", i, len(got), len(mp3))
		}
	}
	if d := mountSnapDisconnects(s); d != 0 {
		t.Fatalf("%d listeners dropped as too slow", d)
	}
}

func mountSnapDisconnects(s *Server) int {
	n := 0
	for _, e := range s.Events(0) {
		if e.Type == EventListenerLeft && e.Reason == ReasonTooSlow {
			n++
		}
	}
	return n
}

// Dropped ring slots kept their chunks and slabs alive: two fast sources
// held about 500 MB with the default 512 KiB queue.
func TestMemoryBoundedByQueueSize(t *testing.T) {
	s, addr := startServer(t, nil)
	junk := make([]byte, 64<<10)
	for i := range junk {
		junk[i] = byte(i * 7)
	}
	var srcs []*testkit.Source
	for _, name := range []string{"/fast1", "/fast2"} {
		src, _ := connectSource(t, addr, "PUT", name, "application/octet-stream")
		srcs = append(srcs, src)
	}
	done := make(chan struct{})
	for _, src := range srcs {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 2000 { // 125 MiB each, as fast as loopback takes it
				if _, err := src.Conn.Write(junk); err != nil {
					return
				}
			}
		}()
	}
	for range srcs {
		<-done
	}
	testkit.Eventually(t, 5*time.Second, "all bytes in", func() bool { return s.Snapshot().BytesIn == 2*2000*64<<10 })
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	// Two queues of 512 KiB, a slab or two each beyond, and the test's own
	// heap: nowhere near the ~250 MB the kept slots pinned.
	if ms.HeapInuse > 32<<20 {
		t.Fatalf("heap in use %d MiB with two 512 KiB queues", ms.HeapInuse>>20)
	}
	t.Logf("heap in use after 250 MiB through two mounts: %.1f MiB", float64(ms.HeapInuse)/(1<<20))
}

// Ogg muxers send about a page a second, each carrying a second of audio:
// every healthy Ogg source was counted as stalling.
func TestHealthyOggSourceDoesNotStall(t *testing.T) {
	ffmpeg := testkit.NeedTool(t, "ffmpeg")
	s, addr := startServer(t, nil)
	cmd := exec.Command(ffmpeg, "-v", "error", "-re", "-f", "lavfi", "-i", "sine=f=440:d=5", "-c:a", "libvorbis", "-b:a", "64k",
		"-content_type", "audio/ogg", "-f", "ogg", "icecast://source:"+testPassword+"@"+addr+"/h.ogg")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	var ss *Session
	testkit.Eventually(t, 2*time.Second, "session recorded", func() bool {
		for _, x := range s.Sessions() {
			if x.Mount == "/h.ogg" {
				ss = &x
				return true
			}
		}
		return false
	})
	if ss.Stalls != 0 {
		t.Fatalf("a real-time Ogg source counted %d stalls ", ss.Stalls)
	}
}

// A source that falls behind real time is still counted as stalling.
func TestLateSourceStalls(t *testing.T) {
	s, addr := startServer(t, nil)
	mp3 := testkit.Media(t, "tone.mp3") // 128 kb/s: 16,000 bytes a second
	src, _ := connectSource(t, addr, "PUT", "/late.mp3", "audio/mpeg")
	for i := 0; i < 16; i++ { // two seconds, in real time
		src.Send(mp3[i*2000:(i+1)*2000], 2000, 0)
		time.Sleep(125 * time.Millisecond)
	}
	time.Sleep(1200 * time.Millisecond) // audio ran out long ago
	testkit.Eventually(t, time.Second, "shown as stalled", func() bool {
		m := mountSnap(s, "/late.mp3")
		return m.State == StateStalled
	})
	src.Send(mp3[32000:34000], 2000, 0)
	testkit.Eventually(t, time.Second, "stall counted", func() bool {
		m := mountSnap(s, "/late.mp3")
		return m.Source.Stalls == 1 && m.State == StateLive
	})
}

// A listener waiting for a frame boundary is written to by nobody: when it
// left, nothing noticed, and dead listeners piled up in the counts.
func TestWaitingListenerThatLeavesIsNoticed(t *testing.T) {
	s, addr := startServer(t, func(c *Config) { c.BurstSize = 4096 })
	junk := bytes.Repeat([]byte{0x55}, 20000) // no MPEG frame in it
	src, _ := connectSource(t, addr, "PUT", "/junk.mp3", "audio/mpeg")
	src.Send(junk, 2000, time.Millisecond)
	testkit.Eventually(t, 2*time.Second, "mount up", func() bool { return mountSnap(s, "/junk.mp3") != nil })
	l := testkit.Listen(t, addr, "/junk.mp3")
	testkit.Eventually(t, 2*time.Second, "listener waiting", func() bool { return mountSnap(s, "/junk.mp3").ListenerCount == 1 })
	l.Conn.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() { // the source goes on sending junk
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				if _, err := src.Conn.Write(junk[:1000]); err != nil {
					return
				}
			}
		}
	}()
	testkit.Eventually(t, 2*idleProbe+time.Second, "departed listener noticed", func() bool {
		return mountSnap(s, "/junk.mp3").ListenerCount == 0
	})
	if e := findEvent(s, EventListenerLeft, "/junk.mp3"); e == nil || e.Reason != ReasonClientClosed {
		t.Fatalf("leave event %+v", e)
	}
}

// Near the descriptor limit the server must neither spin on accept errors
// nor stop serving: it backs off and answers again once descriptors free.
func TestAcceptAtDescriptorLimit(t *testing.T) {
	if os.Getenv("ICEDECK_FD_CHILD") == "1" {
		fdLimitChild()
		return
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcceptAtDescriptorLimit$")
	cmd.Env = append(os.Environ(), "ICEDECK_FD_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	addr = strings.TrimSpace(addr)
	var held []net.Conn
	for range 80 { // more than the child's 48 descriptors
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	cpu := func() int64 { // user+system ticks of the child
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		var u, s int64
		fmt.Sscan(f[11], &u)
		fmt.Sscan(f[12], &s)
		return u + s
	}
	time.Sleep(300 * time.Millisecond)
	before := cpu()
	time.Sleep(2 * time.Second)
	if used := cpu() - before; used > 40 { // ticks of 10 ms: 20% of a core
		t.Fatalf("the server used %d ms of CPU in 2 s while out of descriptors: it spins", used*10)
	}
	for _, c := range held {
		c.Close()
	}
	testkit.Eventually(t, 5*time.Second, "serving again", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(time.Second))
		fmt.Fprintf(c, "GET /nothing HTTP/1.0\r\n\r\n")
		b, _ := io.ReadAll(c)
		return strings.HasPrefix(string(b), "HTTP/1.0 404")
	})
}

// fdLimitChild runs a server with 48 descriptors and prints its address.
func fdLimitChild() {
	lim := syscall.Rlimit{Cur: 48, Max: 48}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		panic(err)
	}
	cfg := Defaults()
	cfg.SourcePassword = "x"
	s, err := New(cfg)
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Println(ln.Addr())
	_ = s.Serve(ln)
}
