package main

// Relay trees with a real Icecast (Debian's icecast2, 2.4.4): Icecast
// edges mirroring icedeck (<master-server>) and pulling one of its mounts
// (<relay>), and icedeck pulling from Icecast ([[relay]], [master]),
// failing over between two of them and connecting on demand. Each test
// runs its own Icecast on free loopback ports, in parallel.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/engine/control"
	"github.com/icedeck/icedeck/internal/testkit"
)

// Icecast's credentials in every test.
const (
	icSource = testkit.IcecastSourcePassword
	icAdmin  = testkit.IcecastAdminPassword
	icRelay  = testkit.IcecastRelayPassword
)

// startIcecast runs icecast2 (testkit's harness) with extra inside
// <icecast> (<master-server>, <relay>, …).
func startIcecast(t *testing.T, extra string) *testkit.Icecast { return testkit.StartIcecast(t, extra) }

// noiseMP3 is seconds of 128 kb/s MP3 noise: no two frames alike, so a
// run of bytes found in the source's stream is found in one place only.
func noiseMP3(t *testing.T, seconds int) []byte {
	t.Helper()
	ff := testkit.NeedTool(t, "ffmpeg")
	out := filepath.Join(t.TempDir(), "noise.mp3")
	cmd := exec.Command(ff, "-v", "error", "-f", "lavfi", "-i", fmt.Sprintf("anoisesrc=d=%d:c=pink:r=44100:a=0.2", seconds),
		"-ac", "2", "-c:a", "libmp3lame", "-b:a", "128k", "-write_xing", "0", "-id3v2_version", "0", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// pacedSource is a PUT source client sending data at 128 kb/s (after two
// seconds' worth at once, as an encoder's buffer would), looping, and
// keeping what it sent.
type pacedSource struct {
	conn net.Conn
	mu   sync.Mutex
	sent []byte
	stop chan struct{}
	done chan struct{}
}

func putSource(t *testing.T, addr, mount, password string, data []byte) *pacedSource {
	t.Helper()
	src, r := testkit.ConnectSource(t, addr, testkit.SourceRequest{Mount: mount, User: "source", Password: password, ContentType: "audio/mpeg",
		Header: []string{"Ice-Name", "tree test " + mount, "Ice-Public", "0"}})
	if src == nil {
		t.Fatalf("source %s on %s refused: %d %q", mount, addr, r.Code, r.Head)
	}
	s := &pacedSource{conn: src.Conn, stop: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(s.close)
	go s.run(data)
	return s
}

func (s *pacedSource) run(data []byte) {
	defer close(s.done)
	const chunk = 4180                   // ten 128 kb/s frames, 0.26 s
	every := chunk * time.Second / 16000 // 128 kb/s
	off := 0
	write := func() bool {
		end := min(off+chunk, len(data))
		s.mu.Lock()
		s.sent = append(s.sent, data[off:end]...)
		s.mu.Unlock()
		_ = s.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := s.conn.Write(data[off:end]); err != nil {
			return false
		}
		off = end % len(data)
		return true
	}
	for range 8 { // two seconds ahead
		if !write() {
			return
		}
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		if !write() {
			return
		}
	}
}

func (s *pacedSource) bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.sent...)
}

func (s *pacedSource) close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.conn.Close()
	<-s.done
}

// streamListener is a GET client keeping the audio it receives and, when
// it asked for ICY metadata, the titles, with the metadata cut out.
type streamListener struct {
	conn   net.Conn
	header http.Header
	mu     sync.Mutex
	audio  []byte
	titles []string
	first  time.Time // when the first audio byte came
	done   chan struct{}
}

func listenTo(t *testing.T, addr, mount string, icy bool) *streamListener {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	req := "GET " + mount + " HTTP/1.0\r\nHost: " + addr + "\r\nUser-Agent: tree-listener\r\n"
	if icy {
		req += "Icy-MetaData: 1\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReaderSize(c, 64<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("listener on %s%s: %v", addr, mount, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("listener on %s%s: %s", addr, mount, resp.Status)
	}
	_ = c.SetReadDeadline(time.Time{})
	l := &streamListener{conn: c, header: resp.Header, done: make(chan struct{})}
	metaint := 0
	if icy {
		metaint, _ = strconv.Atoi(resp.Header.Get("Icy-Metaint"))
		if metaint <= 0 {
			t.Fatalf("listener on %s%s asked for ICY metadata and got no icy-metaint: %v", addr, mount, resp.Header)
		}
	}
	go l.read(resp.Body, metaint)
	return l
}

func (l *streamListener) read(r io.Reader, metaint int) {
	defer close(l.done)
	buf := make([]byte, 16<<10)
	left := metaint
	for {
		p := buf
		if metaint > 0 && left < len(p) {
			p = p[:left]
		}
		n, err := r.Read(p)
		if n > 0 {
			l.mu.Lock()
			if l.first.IsZero() {
				l.first = time.Now()
			}
			l.audio = append(l.audio, p[:n]...)
			l.mu.Unlock()
		}
		if err != nil {
			return
		}
		if metaint == 0 {
			continue
		}
		if left -= n; left > 0 {
			continue
		}
		var lb [1]byte
		if _, err := io.ReadFull(r, lb[:]); err != nil {
			return
		}
		meta := make([]byte, int(lb[0])*16)
		if _, err := io.ReadFull(r, meta); err != nil {
			return
		}
		if text := strings.TrimRight(string(meta), "\x00"); text != "" {
			if title, ok := streamTitle(text); ok {
				l.mu.Lock()
				l.titles = append(l.titles, title)
				l.mu.Unlock()
			}
		}
		left = metaint
	}
}

func streamTitle(meta string) (string, bool) {
	_, rest, ok := strings.Cut(meta, "StreamTitle='")
	if !ok {
		return "", false
	}
	title, _, ok := strings.Cut(rest, "';")
	return title, ok
}

func (l *streamListener) bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.audio...)
}

func (l *streamListener) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.audio)
}

func (l *streamListener) hasTitle(want string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, t := range l.titles {
		if t == want {
			return true
		}
	}
	return false
}

func (l *streamListener) closed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// waitBytes waits for n audio bytes, failing if the stream ends first.
func (l *streamListener) waitBytes(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	testkit.Eventually(t, timeout, fmt.Sprintf("%d audio bytes (have %d)", n, l.size()), func() bool {
		if l.closed() && l.size() < n {
			t.Fatalf("stream ended after %d bytes, waiting for %d", l.size(), n)
		}
		return l.size() >= n
	})
}

// contiguous fails unless got is one unbroken run of what the source sent.
func contiguous(t *testing.T, what string, got, sent []byte) {
	t.Helper()
	if len(got) == 0 {
		t.Fatalf("%s: no bytes", what)
	}
	if !bytes.Contains(sent, got) {
		t.Fatalf("%s: the %d bytes received are not one contiguous run of the %d the source sent", what, len(got), len(sent))
	}
}

// deck is an in-process icedeck with its control plane on a loopback port.
type deck struct {
	srv  *engine.Server
	addr string
}

const (
	deckSource = "deck-source-pw"
	deckAdmin  = "deck-admin-pw"
	deckRelay  = "deck-relay-pw"
)

func startDeck(t *testing.T, mod func(*engine.Config)) *deck {
	t.Helper()
	cfg := engine.Defaults()
	cfg.SourcePassword = deckSource
	cfg.Logger = testkit.Logger(t)
	if mod != nil {
		mod(&cfg)
	}
	srv, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctl := control.New(srv, control.Options{Logger: cfg.Logger, AdminPassword: deckAdmin, RelayPassword: deckRelay})
	srv.Handle(ctl)
	addr := testkit.Serve(t, srv)
	t.Cleanup(ctl.Close) // before Serve's shutdown, which waits for event streams
	return &deck{srv: srv, addr: addr}
}

func (d *deck) live(mount string) bool {
	m, ok := d.srv.Mount(mount)
	return ok && m.Source != nil
}

func (d *deck) relay(mount string) (engine.RelayStatus, bool) {
	for _, rs := range d.srv.Relays() {
		if rs.Mount == mount {
			return rs, true
		}
	}
	return engine.RelayStatus{}, false
}

// getJSON GETs an icedeck API document with the admin credentials.
func getJSON(t *testing.T, addr, path, adminPass string, v any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	req.SetBasicAuth("admin", adminPass)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return resp.StatusCode
}

// An unmodified Icecast edge with <master-server> mirrors every public
// live mount of icedeck: it reads /admin/streamlist.txt with the relay
// credentials (HTTP/1.0, no Host) and pulls each mount, and its listeners
// get an unbroken run of what icedeck's source sent. A hidden mount is
// not mirrored.
func TestIcecastEdgeMirrorsIcedeck(t *testing.T) {
	t.Parallel()
	data := noiseMP3(t, 30)
	origin := startDeck(t, func(c *engine.Config) {
		c.Mounts = map[string]engine.MountConfig{"/secret.mp3": {Hidden: true}}
	})
	one := putSource(t, origin.addr, "/one.mp3", deckSource, data)
	two := putSource(t, origin.addr, "/two.mp3", deckSource, data[len(data)/2:])
	putSource(t, origin.addr, "/secret.mp3", deckSource, data)
	_, port, _ := net.SplitHostPort(origin.addr)
	edge := startIcecast(t, fmt.Sprintf(`
  <master-server>127.0.0.1</master-server>
  <master-server-port>%s</master-server-port>
  <master-update-interval>1</master-update-interval>
  <master-username>relay</master-username>
  <master-password>%s</master-password>
  <relays-on-demand>0</relays-on-demand>`, port, deckRelay))

	testkit.Eventually(t, 15*time.Second, "both mounts on the Icecast edge", func() bool {
		return edge.Listeners("/one.mp3") >= 0 && edge.Listeners("/two.mp3") >= 0
	})
	for _, c := range []struct {
		mount string
		src   *pacedSource
	}{{"/one.mp3", one}, {"/two.mp3", two}} {
		l := listenTo(t, edge.Addr, c.mount, false)
		l.waitBytes(t, 48000, 10*time.Second)
		contiguous(t, "edge "+c.mount, l.bytes(), c.src.bytes())
	}
	if n := edge.Listeners("/secret.mp3"); n != -1 {
		t.Errorf("the hidden mount is on the edge")
	}
	// What pulled them was Icecast, as a listener of icedeck's.
	m, _ := origin.srv.Mount("/one.mp3")
	var ua string
	for _, l := range m.Listeners {
		if strings.HasPrefix(l.UserAgent, "Icecast") {
			ua = l.UserAgent
		}
	}
	if ua == "" {
		t.Errorf("no Icecast among the listeners of /one.mp3: %+v", m.Listeners)
	}
}

// An Icecast <relay> pulls one mount of icedeck, asking for ICY metadata:
// titles set on icedeck reach Icecast's ICY listeners, the audio they get
// is the source's, and no other mount is pulled.
func TestIcecastRelayPullsOneMountWithTitles(t *testing.T) {
	t.Parallel()
	data := noiseMP3(t, 30)
	origin := startDeck(t, nil)
	one := putSource(t, origin.addr, "/one.mp3", deckSource, data)
	putSource(t, origin.addr, "/two.mp3", deckSource, data)
	if err := origin.srv.SetTitle("/one.mp3", "First Title", ""); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(origin.addr)
	edge := startIcecast(t, fmt.Sprintf(`
  <relay>
    <server>127.0.0.1</server>
    <port>%s</port>
    <mount>/one.mp3</mount>
    <local-mount>/pulled.mp3</local-mount>
    <on-demand>0</on-demand>
    <relay-shoutcast-metadata>1</relay-shoutcast-metadata>
  </relay>`, port))
	testkit.Eventually(t, 15*time.Second, "/pulled.mp3 on Icecast", func() bool { return edge.Listeners("/pulled.mp3") >= 0 })

	l := listenTo(t, edge.Addr, "/pulled.mp3", true)
	testkit.Eventually(t, 10*time.Second, "the first title on Icecast", func() bool { return l.hasTitle("First Title") })
	// A title changed on icedeck through its admin API, as ezstream does.
	req, _ := http.NewRequest(http.MethodGet, "http://"+origin.addr+"/admin/metadata?mode=updinfo&mount=/one.mp3&song="+url.QueryEscape("Second Title"), nil)
	req.SetBasicAuth("admin", deckAdmin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	testkit.Eventually(t, 10*time.Second, "the second title on Icecast", func() bool { return l.hasTitle("Second Title") })
	l.waitBytes(t, 48000, 10*time.Second)
	contiguous(t, "audio between Icecast's metadata blocks", l.bytes(), one.bytes())
	if n := edge.Listeners("/two.mp3"); n != -1 {
		t.Errorf("Icecast pulled /two.mp3 too")
	}
}

// The headless binary, configured with a [[relay]], pulls a mount from
// Icecast: the audio is an unbroken run of what Icecast's source sent,
// titles set on Icecast reach icedeck's ICY listeners, and the API and
// /health show it.
func TestIcedeckBinaryPullsFromIcecast(t *testing.T) {
	t.Parallel()
	data := noiseMP3(t, 30)
	ic := startIcecast(t, "")
	src := putSource(t, ic.Addr, "/src.mp3", icSource, data)
	testkit.Eventually(t, 10*time.Second, "the source on Icecast", func() bool { return ic.Listeners("/src.mp3") >= 0 })
	ic.SetTitle("/src.mp3", "Upstream Title")

	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "icedeck.toml")
	addr := freePort(t)
	toml := fmt.Sprintf(`[server]
listen = [%q]

[auth]
source_password = "s"
admin_password = %q

[[relay]]
mount = "/pulled.mp3"
upstreams = ["http://%s/src.mp3"]
icy_metadata = true
retry = "1s"
`, addr, deckAdmin, ic.Addr)
	if err := os.WriteFile(conf, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless", "--config", conf, "--log-format", "json")
	var logs testkit.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("icedeck log:\n%s", logs.String())
		}
	})
	testkit.Eventually(t, 10*time.Second, "icedeck listening", func() bool { return strings.Contains(logs.String(), "icedeck relay listening") })

	type relayDoc struct {
		Mount, State, Upstream string
		Attempts               int
		LastError              string `json:"last_error"`
	}
	var mount struct {
		State string    `json:"state"`
		Title string    `json:"title"`
		Relay *relayDoc `json:"relay"`
	}
	testkit.Eventually(t, 10*time.Second, "the relay live with the title", func() bool {
		getJSON(t, addr, "/api/v1/mounts/pulled.mp3", deckAdmin, &mount)
		return mount.State == "live" && mount.Title == "Upstream Title"
	})
	if mount.Relay == nil || mount.Relay.State != "live" || mount.Relay.Upstream != "http://"+ic.Addr+"/src.mp3" {
		t.Fatalf("mount's relay: %+v", mount.Relay)
	}
	var list struct{ Relays []relayDoc }
	if getJSON(t, addr, "/api/v1/relays", deckAdmin, &list); len(list.Relays) != 1 || list.Relays[0].Mount != "/pulled.mp3" || list.Relays[0].State != "live" {
		t.Fatalf("relays: %+v", list)
	}

	plain := listenTo(t, addr, "/pulled.mp3", false)
	icy := listenTo(t, addr, "/pulled.mp3", true)
	plain.waitBytes(t, 48000, 10*time.Second)
	contiguous(t, "icedeck's listener", plain.bytes(), src.bytes())
	testkit.Eventually(t, 10*time.Second, "the upstream title on icedeck's ICY listener", func() bool { return icy.hasTitle("Upstream Title") })
	ic.SetTitle("/src.mp3", "Next Title")
	testkit.Eventually(t, 10*time.Second, "a changed title", func() bool { return icy.hasTitle("Next Title") })
	icy.waitBytes(t, 48000, 10*time.Second)
	contiguous(t, "icedeck's ICY listener, metadata cut out", icy.bytes(), src.bytes())

	var health control.HealthDoc
	if code := getJSON(t, addr, "/health", "", &health); code != http.StatusOK || health.Status != "ok" || health.Listeners != 2 || health.MaxClients != 20000 || health.Clients < 3 {
		t.Fatalf("/health: %d %+v", code, health)
	}
}

// icedeck with [master] mirrors every mount of an Icecast master: it reads
// Icecast's /admin/streamlist.txt with the relay credentials, relays each
// mount, and drops a mount that leaves the list.
func TestIcedeckMirrorsIcecastMaster(t *testing.T) {
	t.Parallel()
	data := noiseMP3(t, 30)
	ic := startIcecast(t, "")
	m1 := putSource(t, ic.Addr, "/m1.mp3", icSource, data)
	m2 := putSource(t, ic.Addr, "/m2.mp3", icSource, data[len(data)/2:])
	edge := startDeck(t, func(c *engine.Config) {
		c.Master = &engine.MasterConfig{URL: "http://" + ic.Addr, User: "relay", Password: icRelay, UpdateInterval: time.Second, ICYMetadata: true}
	})
	testkit.Eventually(t, 15*time.Second, "both mounts live on icedeck", func() bool { return edge.live("/m1.mp3") && edge.live("/m2.mp3") })
	for _, c := range []struct {
		mount string
		src   *pacedSource
	}{{"/m1.mp3", m1}, {"/m2.mp3", m2}} {
		if rs, ok := edge.relay(c.mount); !ok || !rs.FromMaster {
			t.Fatalf("%s: relay %+v %v", c.mount, rs, ok)
		}
		l := listenTo(t, edge.addr, c.mount, false)
		l.waitBytes(t, 48000, 10*time.Second)
		contiguous(t, "icedeck "+c.mount, l.bytes(), c.src.bytes())
	}
	m2.close()
	testkit.Eventually(t, 15*time.Second, "/m2.mp3 dropped from the mirror", func() bool {
		_, ok := edge.relay("/m2.mp3")
		return !ok
	})
	if !edge.live("/m1.mp3") {
		t.Error("/m1.mp3 went with /m2.mp3")
	}
}

// With two upstreams, icedeck fails over to the second when the first
// Icecast dies, and its listener stays connected across: its bytes are a
// run of the first upstream's stream, then a run of the second's.
func TestRelayFailsOverBetweenIcecasts(t *testing.T) {
	t.Parallel()
	data := noiseMP3(t, 30)
	a, b := startIcecast(t, ""), startIcecast(t, "")
	srcA := putSource(t, a.Addr, "/live.mp3", icSource, data)
	srcB := putSource(t, b.Addr, "/live.mp3", icSource, data[len(data)/2:])
	testkit.Eventually(t, 10*time.Second, "both upstreams", func() bool { return a.Listeners("/live.mp3") >= 0 && b.Listeners("/live.mp3") >= 0 })
	edge := startDeck(t, func(c *engine.Config) {
		c.Relays = []engine.RelayConfig{{Mount: "/live.mp3", Upstreams: []string{"http://" + a.Addr + "/live.mp3", "http://" + b.Addr + "/live.mp3"}, Retry: time.Second}}
	})
	testkit.Eventually(t, 10*time.Second, "the relay live", func() bool { return edge.live("/live.mp3") })
	l := listenTo(t, edge.addr, "/live.mp3", false)
	l.waitBytes(t, 32000, 10*time.Second)
	contiguous(t, "before the failover", l.bytes(), srcA.bytes())
	ids := func() []uint64 {
		m, _ := edge.srv.Mount("/live.mp3")
		var out []uint64
		for _, x := range m.Listeners {
			out = append(out, x.ID)
		}
		return out
	}
	before := ids()

	a.Stop()
	testkit.Eventually(t, 15*time.Second, "the relay on the second upstream", func() bool {
		rs, _ := edge.relay("/live.mp3")
		return rs.State == engine.RelayLive && rs.Upstream == "http://"+b.Addr+"/live.mp3"
	})
	at := l.size()
	l.waitBytes(t, at+48000, 15*time.Second)
	got := l.bytes()
	if l.closed() {
		t.Fatal("the listener was disconnected by the failover")
	}
	if after := ids(); len(after) != 1 || len(before) != 1 || after[0] != before[0] {
		t.Fatalf("listeners %v before, %v after", before, after)
	}
	contiguous(t, "after the failover", got[len(got)-32000:], srcB.bytes())
	// Everything before the switch is A's, everything after it B's.
	split := -1
	for i := 4000; i < len(got); i += 4000 {
		if !bytes.Contains(srcA.bytes(), got[:i]) {
			split = i - 4000
			break
		}
	}
	if split < 32000-4000 {
		t.Fatalf("only %d bytes are A's", split)
	}
}

// An on-demand relay holds no connection to Icecast while nobody listens;
// the first listener opens it and gets audio within 2 s; ten seconds
// after the last one leaves, the connection is closed again.
func TestRelayOnDemandFromIcecast(t *testing.T) {
	t.Parallel()
	data := noiseMP3(t, 40)
	ic := startIcecast(t, "")
	src := putSource(t, ic.Addr, "/od.mp3", icSource, data)
	testkit.Eventually(t, 10*time.Second, "the source on Icecast", func() bool { return ic.Listeners("/od.mp3") >= 0 })
	edge := startDeck(t, func(c *engine.Config) {
		c.Relays = []engine.RelayConfig{{Mount: "/od.mp3", Upstreams: []string{"http://" + ic.Addr + "/od.mp3"}, OnDemand: true}}
	})
	time.Sleep(time.Second)
	if n := ic.Listeners("/od.mp3"); n != 0 {
		t.Fatalf("Icecast has %d listeners before anyone listens to icedeck", n)
	}
	if rs, _ := edge.relay("/od.mp3"); rs.State != engine.RelayIdle {
		t.Fatalf("relay %+v", rs)
	}

	start := time.Now()
	l := listenTo(t, edge.addr, "/od.mp3", false)
	l.waitBytes(t, 1, 2*time.Second)
	t.Logf("first audio %s after connecting", l.first.Sub(start).Round(time.Millisecond))
	testkit.Eventually(t, 5*time.Second, "icedeck listening to Icecast", func() bool { return ic.Listeners("/od.mp3") == 1 })
	l.waitBytes(t, 32000, 10*time.Second)
	contiguous(t, "on demand", l.bytes(), src.bytes())

	l.conn.Close()
	left := time.Now()
	testkit.Eventually(t, 20*time.Second, "icedeck to leave Icecast", func() bool { return ic.Listeners("/od.mp3") == 0 })
	t.Logf("Icecast lost its listener %s after icedeck's left", time.Since(left).Round(time.Millisecond))
	testkit.Eventually(t, 5*time.Second, "the relay idle", func() bool {
		rs, _ := edge.relay("/od.mp3")
		return rs.State == engine.RelayIdle
	})
	// The engine closes the upstream 10 s after it sees the last listener
	// go, on a one-second tick.
	var closed time.Time
	for _, e := range edge.srv.EventsSince(0) {
		if e.Mount == "/od.mp3" && e.Reason == engine.ReasonIdle {
			closed = e.Time
		}
	}
	if closed.IsZero() {
		t.Fatal("no event with reason \"no listeners\"")
	}
	if d := closed.Sub(left); d < 9*time.Second || d > 12*time.Second {
		t.Errorf("the upstream connection closed %s after the last listener left", d.Round(time.Millisecond))
	}
}

// The relay password comes from --relay-password or the environment, like
// the other passwords; without one, only the admin opens the stream list.
func TestRelayPasswordFlag(t *testing.T) {
	var errb bytes.Buffer
	o, err := parseFlags([]string{"--source-password", "x", "--relay-password", "rp"}, &errb)
	if err != nil || o.ctl.RelayPassword != "rp" {
		t.Fatalf("flag: %v %q", err, o.ctl.RelayPassword)
	}
	t.Setenv("ICEDECK_RELAY_PASSWORD", "envpw")
	if o, err = parseFlags([]string{"--source-password", "x"}, &errb); err != nil || o.ctl.RelayPassword != "envpw" {
		t.Fatalf("environment: %v %q", err, o.ctl.RelayPassword)
	}
	t.Setenv("ICEDECK_RELAY_PASSWORD", "")
	if o, err = parseFlags([]string{"--source-password", "x"}, &errb); err != nil || o.ctl.RelayPassword != "" {
		t.Fatalf("none: %v %q", err, o.ctl.RelayPassword)
	}
}

// --check-config reports a wrong [[relay]] or [master] at its line, and
// accepts good ones.
func TestCheckConfigRelaySections(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("bad.toml", "[[relay]]\nmount = \"/a.mp3\"\nupstreams = [\"https://relay:S3CRET@origin/a.mp3\"]\n\n[master]\nurl = \"http://origin:8000\"\n")
	code, stderr := runBinary(t, dir, "--check-config", "--config", "bad.toml")
	for _, want := range []string{`bad.toml:3: relay /a.mp3: upstream "https://relay:xxxxx@origin/a.mp3": not an http:// URL`, "bad.toml:5: master.password is missing"} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("exit %d, stderr %q, want %q", code, stderr, want)
		}
	}
	if strings.Contains(stderr, "S3CRET") {
		t.Errorf("the password is shown: %s", stderr)
	}
	write("good.toml", "[auth]\nrelay_password = \"rp\"\n\n[[relay]]\nmount = \"/a.mp3\"\nupstreams = [\"http://origin/a.mp3\"]\non_demand = true\n\n[master]\nurl = \"http://origin:8000\"\npassword = \"p\"\n")
	if code, stderr := runBinary(t, dir, "--check-config", "--config", "good.toml"); code != 0 {
		t.Errorf("good: exit %d: %s", code, stderr)
	}
}
