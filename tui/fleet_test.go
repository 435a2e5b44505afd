package tui

import (
	"context"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/engine/control"
	"github.com/icedeck/icedeck/internal/testkit"
	"github.com/icedeck/icedeck/playback"
	"github.com/icedeck/icedeck/remote"
)

// remoteDeck is an icedeck (engine and control plane) on a loopback port,
// for the console to watch over the network. Its sources and listeners
// use a second port, srcAddr, so that stop can take the console's port
// away first, as a crash or a cut cable would: a graceful shutdown ends
// the sources while an API read may still be answered, and the console
// would rightly show the mounts gone.
type remoteDeck struct {
	srv     *engine.Server
	h       *control.Handler
	api     *cutListener
	addr    string
	srcAddr string
	done    chan error
}

// cutListener closes, on cut, itself and every connection it accepted.
type cutListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *cutListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *cutListener) cut() {
	l.Listener.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
}

// startRemoteDeck runs an icedeck on addr ("" for a free port; a port
// just freed is waited for).
func startRemoteDeck(t *testing.T, addr string) *remoteDeck {
	t.Helper()
	cfg := engine.Defaults()
	cfg.SourcePassword = "deck-src"
	cfg.Logger = testkit.Logger(t)
	srv, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := control.New(srv, control.Options{AdminPassword: "deck-admin", Logger: cfg.Logger})
	srv.Handle(h)
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	testkit.Eventually(t, 10*time.Second, "the port free", func() bool {
		ln, err = net.Listen("tcp", addr)
		return err == nil
	})
	src, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &remoteDeck{srv: srv, h: h, api: &cutListener{Listener: ln}, addr: ln.Addr().String(),
		srcAddr: src.Addr().String(), done: make(chan error, 2)}
	go func() { d.done <- srv.Serve(d.api) }()
	go func() { d.done <- srv.Serve(src) }()
	t.Cleanup(d.stop)
	return d
}

func (d *remoteDeck) stop() {
	if d.h == nil {
		return
	}
	d.h.Close()
	d.api.cut()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = d.srv.Shutdown(ctx)
	<-d.done
	<-d.done
	d.h = nil
}

func feedMP3(t *testing.T, addr, password, mount string) {
	t.Helper()
	src, r := testkit.ConnectSource(t, addr, testkit.SourceRequest{Mount: mount, User: "source", Password: password,
		ContentType: "audio/mpeg", Header: []string{"Ice-Name", "fleet test"}})
	if src == nil {
		t.Fatalf("source on %s refused: %d %s", mount, r.Code, r.Body)
	}
	src.Feed(testkit.Media(t, "tone.mp3"), 4096, 200*time.Millisecond)
}

func dialRemote(t *testing.T, name, rawURL string) *remote.Client {
	t.Helper()
	c, err := remote.Dial(name, rawURL, remote.Options{Interval: 200 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
		Logger: testkit.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// serverLine is the servers pane's line for name ("" when none).
func serverLine(scr, name string) string {
	re := regexp.MustCompile(`^.\s*` + regexp.QuoteMeta(name) + `\s`)
	for _, l := range strings.Split(scr, "\n") {
		if re.MatchString(strings.TrimLeft(l, " ")) || re.MatchString(l) {
			return l
		}
	}
	return ""
}

// TestFleetConsole drives the interface over the engine in this process,
// a remote icedeck and the real Debian Icecast 2.4.4, each with a live
// source and listeners, plus the same Icecast with wrong credentials:
// every mount shows with its server, a listener kicked on the Icecast is
// cut, a title set there reaches an ICY listener, a server shown alone
// and all again, and the icedeck going away and coming back.
func TestFleetConsole(t *testing.T) {
	t.Parallel()
	ic := testkit.StartIcecast(t, "")

	local, err := engine.New(engine.Config{SourcePassword: "local-src", Listen: []string{"127.0.0.1:0"}, Logger: testkit.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	localAddr := testkit.Serve(t, local)
	feedMP3(t, localAddr, "local-src", "/studio.mp3")

	deck := startRemoteDeck(t, "")
	feedMP3(t, deck.srcAddr, "deck-src", "/edge.mp3")
	deckListener := testkit.Listen(t, deck.srcAddr, "/edge.mp3")
	_ = deckListener

	feedMP3(t, ic.Addr, testkit.IcecastSourcePassword, "/ice.mp3")
	kicked := testkit.Listen(t, ic.Addr, "/ice.mp3", "User-Agent", "kick-me/1.0")
	icy := testkit.Listen(t, ic.Addr, "/ice.mp3", "Icy-MetaData", "1", "User-Agent", "icy-ear/1.0")

	player := playback.NewPlayer(playback.Options{NoDevice: true, Logger: testkit.Logger(t)})
	defer player.Close()
	m, err := NewModel(Options{Engine: local, NoColor: true, Auditioner: NewAuditioner(local, player), Remotes: []*remote.Client{
		dialRemote(t, "deck", "http://admin:deck-admin@"+deck.addr),
		dialRemote(t, "ice", "http://admin:"+testkit.IcecastAdminPassword+"@"+ic.Addr),
		dialRemote(t, "", "http://admin:wrong@"+ic.Addr),
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	update(t, m, tea.WindowSizeMsg{Width: 160, Height: 44})
	until := func(what string, ok func(scr string) bool) {
		t.Helper()
		untilScreen(t, m, what, func() bool { return ok(plain(m)) })
	}

	until("three servers answering and one refused", func(scr string) bool {
		return strings.Contains(serverLine(scr, "deck"), " up ") && strings.Contains(serverLine(scr, "ice"), " up ") &&
			strings.Contains(serverLine(scr, ic.Addr), "401 refused")
	})
	until("every server's mount", func(scr string) bool {
		return strings.Contains(scr, "/studio.mp3") && strings.Contains(scr, "/edge.mp3") && strings.Contains(scr, "/ice.mp3")
	})
	scr := plain(m)
	for _, want := range []string{"SERVER", "local", "4 servers, 1 down"} {
		if !strings.Contains(scr, want) {
			t.Errorf("screen lacks %q:\n%s", want, scr)
		}
	}
	if l := serverLine(scr, "ice"); !strings.Contains(l, "icecast") || !strings.Contains(l, "Icecast 2.4") {
		t.Errorf("Icecast's line: %q", l)
	}
	// The refused server: the others answer, it says why.
	if l := serverLine(scr, ic.Addr); !strings.Contains(l, "401") || strings.Contains(serverLine(scr, "ice"), "401") {
		t.Errorf("only the wrong credentials are refused:\n%s", scr)
	}
	// Listener counts of each server, from each server.
	until("listeners counted on each server", func(scr string) bool {
		return strings.Contains(serverLine(scr, "ice"), " 2 ") && strings.Contains(serverLine(scr, "deck"), " 1 ")
	})

	// d y on the Icecast listener cuts that connection.
	selectMount(t, m, "ice/ice.mp3")
	press(t, m, "1")
	until("the Icecast's listeners", func(scr string) bool { return strings.Contains(scr, "kick-me/1.0") })
	for m.focus != paneDetail {
		press(t, m, "tab") // to the Listeners pane
	}
	for range 3 {
		if l, _ := m.listeners.Selected(); l.UserAgent == "kick-me/1.0" {
			break
		}
		press(t, m, "j")
	}
	if l, _ := m.listeners.Selected(); l.UserAgent != "kick-me/1.0" {
		t.Fatalf("cannot select the listener:\n%s", plain(m))
	}
	press(t, m, "d")
	if scr := plain(m); !strings.Contains(scr, "/ice.mp3 on ice?") {
		t.Fatalf("the prompt does not name the server:\n%s", scr)
	}
	press(t, m, "y")
	select {
	case <-kicked.Done():
	case <-time.After(15 * time.Second):
		t.Fatalf("the Icecast listener is still connected:\n%s", plain(m))
	}
	if icy.Closed() {
		t.Fatal("the other Icecast listener was cut too")
	}

	// T sets the title on the Icecast mount, as its ICY listener hears.
	press(t, m, "T", "ctrl+u")
	if scr := plain(m); !strings.Contains(scr, "Title of /ice.mp3 on ice:") {
		t.Fatalf("title prompt:\n%s", scr)
	}
	for _, r := range "Fleet Title 42" {
		press(t, m, string(r))
	}
	press(t, m, "enter")
	until("the title set", func(scr string) bool { return strings.Contains(scr, `title of /ice.mp3 on ice set: "Fleet Title 42"`) })
	metaint := testkit.ICYMetaint(t, icy.Head)
	testkit.Eventually(t, 15*time.Second, "the title in the ICY stream", func() bool {
		return slices.Contains(testkit.ICYTitles(icy.Bytes(), metaint), "StreamTitle='Fleet Title 42';")
	})

	// p auditions the Icecast's mount, over HTTP: the tone is heard.
	press(t, m, "p")
	testkit.Eventually(t, 15*time.Second, "the Icecast's mount auditioned", func() bool {
		st := m.opts.Auditioner.AuditionStatus()
		return st.Mount == "ice/ice.mp3" && st.Codec == "MP3" && st.Levels.PeakDB[0] > -30
	})
	press(t, m, "x")

	// enter on a server shows its mounts alone; 0 shows all again.
	press(t, m, "tab") // from the Listeners pane to the servers
	if m.focus != paneServers {
		t.Fatalf("tab from the lower pane did not reach the servers list")
	}
	for range 5 {
		if sel, _ := m.servers.Selected(); sel.Name == "deck" {
			break
		}
		press(t, m, "j")
	}
	press(t, m, "enter")
	until("only the deck's mounts", func(string) bool {
		return slices.Equal(m.mounts.Order(), []string{"deck/edge.mp3"})
	})
	// The header and the source command are the deck's, whose source
	// password this console does not know.
	if scr := plain(m); !strings.Contains(scr, "server deck (0: all)") || !strings.Contains(scr, deck.addr) ||
		!strings.Contains(scr, "icecast://source:PASSWORD@"+deck.addr+"/") && !strings.Contains(scr, "icecast://source:PASSWORD@"+deck.srcAddr+"/") ||
		strings.Contains(scr, localAddr) {
		t.Errorf("the header is not the deck's:\n%s", scr)
	}
	press(t, m, "0")
	until("all mounts again", func(string) bool {
		return slices.Equal(m.mounts.Order(), []string{"/studio.mp3", "deck/edge.mp3", "ice/ice.mp3"})
	})

	// The icedeck goes away: shown unreachable, its mount dimmed but kept,
	// while the Icecast's line goes on; it comes back by itself.
	deck.stop()
	until("the deck unreachable", func(scr string) bool {
		return strings.Contains(serverLine(scr, "deck"), "unreachable")
	})
	if l := serverLine(plain(m), "ice"); !strings.Contains(l, " up ") {
		t.Errorf("the Icecast's line changed with the deck's: %q", l)
	}
	if scr := plain(m); !strings.Contains(scr, "/edge.mp3") {
		t.Errorf("the deck's last known mount is gone:\n%s", scr)
	}
	late := testkit.Listen(t, ic.Addr, "/ice.mp3", "User-Agent", "late/1.0")
	_ = late
	until("the Icecast's listeners counted while the deck is down", func(scr string) bool {
		return strings.Contains(serverLine(scr, "ice"), " 2 ")
	})
	restarted := startRemoteDeck(t, deck.addr)
	feedMP3(t, restarted.srcAddr, "deck-src", "/edge.mp3")
	until("the deck back", func(scr string) bool { return strings.Contains(serverLine(scr, "deck"), " up ") })
}

// icedeck watch: no engine in this process, remote servers only.
func TestFleetWithoutEngine(t *testing.T) {
	t.Parallel()
	d := startRemoteDeck(t, "")
	feedMP3(t, d.addr, "deck-src", "/only.mp3")
	m, err := NewModel(Options{NoColor: true, Remotes: []*remote.Client{dialRemote(t, "deck", "http://admin:deck-admin@"+d.addr)}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	update(t, m, tea.WindowSizeMsg{Width: 120, Height: 30})
	untilScreen(t, m, "the deck's mount", func() bool { return slices.Equal(m.mounts.Order(), []string{"deck/only.mp3"}) })
	scr := plain(m)
	if strings.Contains(scr, "ffmpeg") || !strings.Contains(scr, d.addr) || strings.Contains(scr, "local") {
		t.Errorf("watching only: no source command, the deck's address, no local server:\n%s", scr)
	}
	// Quitting stops no server: no question asked.
	if _, cmd := m.Update(keyMsg("q")); cmd == nil || m.confirm != nil {
		t.Errorf("q asked before quitting a watch:\n%s", plain(m))
	}
}
