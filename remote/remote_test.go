package remote

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/internal/testkit"
)

// Dial takes the credentials from the URL unless given apart, names the
// server by its address, and refuses what is not a server's address.
func TestDial(t *testing.T) {
	for _, c := range []struct {
		url        string
		opts       Options
		name, user string
		pass, err  string
	}{
		{url: "http://admin:pw@radio:8000", name: "radio:8000", user: "admin", pass: "pw"},
		{url: "https://radio/", name: "radio"},
		{url: "http://:pw@radio:8000", name: "radio:8000", user: "admin", pass: "pw"},
		{url: "http://admin:pw@radio:8000", opts: Options{User: "ops", Password: "other"}, name: "radio:8000", user: "ops", pass: "other"},
		{url: "http://radio:8000", opts: Options{Password: "p"}, name: "radio:8000", user: "admin", pass: "p"},
		{url: "ftp://radio", err: "http:// or https://"},
		{url: "radio:8000", err: "http:// or https://"},
		{url: "http://", err: "no host"},
		{url: "http://admin:secret@radio:8000/stream.mp3", err: "no path"},
		{url: "http://radio", opts: Options{Kind: "shoutcast"}, err: "auto, icedeck or icecast"},
	} {
		cl, err := Dial("", c.url, c.opts)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "secret") {
				t.Errorf("%s: error %v, want %q without the password", c.url, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		st := cl.Status()
		if cl.Name() != c.name || cl.user != c.user || cl.password != c.pass || st.ReadOnly != (c.pass == "") ||
			strings.Contains(st.URL, "pw") || st.Kind != KindAuto || st.State != StateConnecting {
			t.Errorf("%s: name %q, user %q, password %q, status %+v", c.url, cl.Name(), cl.user, cl.password, st)
		}
		cl.Close()
	}
}

// A server that takes connections and never answers holds up no reader:
// Status, Summary and Mount return at once while the poll waits, which
// then gives up and says why; an action gives up after the timeout.
func TestNeverWaits(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // read nothing, answer nothing
		}
	}()
	c := dial(t, "http://admin:pw@"+ln.Addr().String(), Options{Timeout: time.Second})
	for range 100 {
		start := time.Now()
		c.Status()
		c.Summary()
		c.Mount("/a.mp3")
		c.Events(10)
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Fatalf("the readers took %s", d)
		}
		time.Sleep(5 * time.Millisecond) // while the poll waits
	}
	st := waitState(t, c, StateUnreachable)
	if !strings.Contains(st.Err, "no answer in time") {
		t.Fatalf("status: %+v", st)
	}
	start := time.Now()
	if err := c.KickListener("/a.mp3", 1); err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("an action on a server that does not answer: %v after %s", err, time.Since(start))
	}
}

// A server that is neither icedeck nor Icecast is an error, said; a kind
// given is taken as it is (an icedeck answers Icecast's admin API too).
func TestKinds(t *testing.T) {
	t.Parallel()
	d := startDeck(t, "", nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 4096)
				_, _ = conn.Read(buf)
				_, _ = io.WriteString(conn, "HTTP/1.1 404 Not Found\r\nServer: nginx\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found")
			}()
		}
	}()
	c := dial(t, "http://"+ln.Addr().String(), Options{})
	st := waitState(t, c, StateError)
	if !strings.Contains(st.Err, "neither an icedeck") || !strings.Contains(st.Err, `"nginx"`) {
		t.Fatalf("status: %+v", st)
	}
	c2 := dial(t, "http://"+d.addr+"/", Options{Kind: KindIcecast, Password: deckAdmin})
	if st := waitState(t, c2, StateUp); st.Kind != KindIcecast || st.Version != "icedeck" {
		t.Fatalf("an icedeck read as an Icecast (its admin API): %+v", st)
	}
	if err := c2.KickListener("/none.mp3", 1); !errors.Is(err, engine.ErrNoMount) {
		t.Fatalf("kick: %v", err)
	}
}

// The event feed's reader takes events, comments and multi-line data,
// and refuses a line longer than any event.
func TestReadSSE(t *testing.T) {
	in := "retry: 2000\n\n: heartbeat\n\nid: 7\nevent: x\ndata: {\"a\":\ndata: 1}\n\nid: 8\ndata:\n\n"
	var got []string
	pings := 0
	err := readSSE(strings.NewReader(in), func(id string, data []byte) {
		if data == nil {
			pings++
			return
		}
		got = append(got, id+"="+string(data))
	})
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(got) != 2 || got[0] != "7={\"a\":\n1}" || got[1] != "8=" || pings != 3 {
		t.Fatalf("got %q, %d pings, %v", got, pings, err)
	}
	err = readSSE(strings.NewReader("data: "+strings.Repeat("x", 70<<10)+"\n\n"), func(string, []byte) {})
	if err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("a huge line: %v", err)
	}
}

// Listen opens a mount as a player does, on an icedeck and on the real
// Icecast: the source's bytes come, with the content type and no ICY
// blocks; a mount that is not there is the server's 404.
func TestListen(t *testing.T) {
	t.Parallel()
	ic := testkit.StartIcecast(t, "")
	d := startDeck(t, "", nil)
	tone := testkit.Media(t, "tone.mp3")
	for _, s := range []struct{ url, addr, password string }{
		{icecastURL(ic), ic.Addr, testkit.IcecastSourcePassword},
		{"http://admin:" + deckAdmin + "@" + d.addr, d.addr, deckSource},
	} {
		feed(t, s.addr, s.password, "/heard.mp3")
		c := dial(t, s.url, Options{})
		body, ct, err := c.Listen(context.Background(), "/heard.mp3")
		if err != nil {
			t.Fatalf("%s: %v", s.addr, err)
		}
		got := make([]byte, 4096)
		_, err = io.ReadFull(body, got)
		body.Close()
		if err != nil || ct != "audio/mpeg" {
			t.Fatalf("%s: %q, %v", s.addr, ct, err)
		}
		// A run of the fixture, from wherever the burst began: no ICY
		// block cut into it.
		if !bytes.Contains(tone, got[1024:2048]) {
			t.Errorf("%s: the bytes heard are not the source's", s.addr)
		}
		_, _, err = c.Listen(context.Background(), "/missing.mp3")
		var he *httpError
		if !errors.As(err, &he) || he.code != 404 {
			t.Errorf("%s: a missing mount: %v", s.addr, err)
		}
	}
}
