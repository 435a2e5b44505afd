package engine

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"time"
)

// Shoutcast (ICY) sources, as Icecast's <shoutcast-mount> takes them. The
// client connects to a port of their own (by custom the HTTP port + 1)
// and sends its password on a line of its own; the server answers
// "OK2\r\nicy-caps:11\r\n\r\n" (or refuses with a line and closes); then
// come icy-* header lines up to a blank line, then the audio. There is no
// mount in the protocol: the port decides it.
//
// As Icecast does, each connection is turned into the SOURCE request an
// Icecast source client would send, so that it takes the one source path:
// credentials, the login limiter, limits, events and the ending are those
// of SOURCE and PUT. Only the password is looked at before that, because
// OK2 must answer it before the client sends its headers.

// ServeShoutcast accepts Shoutcast (ICY) source clients on ln for mount,
// until Shutdown. The password is the mount's source password (the whole
// line, as Icecast compares it), or "user:password" with the mount's user.
func (s *Server) ServeShoutcast(ln net.Listener, mount string) error {
	if err := CheckMountName(mount); err != nil {
		ln.Close()
		return fmt.Errorf("engine: shoutcast mount %q: %v", mount, err)
	}
	return s.Serve(&icyListener{Listener: ln, s: s, mount: mount})
}

type icyListener struct {
	net.Listener
	s     *Server
	mount string
}

func (l *icyListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &icyConn{Conn: nc, s: l.s, mount: l.mount, br: bufio.NewReaderSize(nc, icyLineMax)}, nil
}

// icyLineMax bounds the password line; a header line may be longer (the
// request head's limit bounds it).
const icyLineMax = 512

type icyState uint8

const (
	icyPassword icyState = iota // waiting for the password line
	icyHeaders                  // OK2 sent: passing header lines on
	icyBody                     // head done: the audio, as it comes
	icyRefused                  // the request that will be refused is all there is
)

// icyConn reads as the SOURCE request an Icecast source client sends, and
// writes HTTP answers as the ICY protocol has them. Reads and the answer
// happen in one goroutine, before the stream is read elsewhere.
type icyConn struct {
	net.Conn
	s     *Server
	mount string
	br    *bufio.Reader // the client's bytes

	state     icyState
	out       []byte // translated, not yet read
	midLine   bool   // the last header piece did not end its line
	okSent    atomic.Bool
	refusedOK atomic.Bool // the refusal line is written
}

func (c *icyConn) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		var err error
		switch c.state {
		case icyBody:
			return c.br.Read(p)
		case icyRefused:
			return 0, io.EOF
		case icyPassword:
			err = c.login()
		case icyHeaders:
			err = c.header()
		}
		if err != nil {
			return 0, err
		}
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

// login reads the password line and starts the request with it; a good
// password is answered with OK2 at once.
func (c *icyConn) login() error {
	line, err := c.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return fmt.Errorf("shoutcast: no password line in the first %d bytes", icyLineMax)
	}
	if err != nil {
		return err // an early close or the header timeout, as for any request head
	}
	pass := strings.TrimRight(string(line), "\r\n")
	c.out = []byte("SOURCE " + c.mount + " HTTP/1.0\r\n")
	if pass == "!POKE" {
		// libshout's probe of what the server can do, before its real
		// login: answered as its HTTP probe is, without counting as a
		// failed login.
		c.out = append(c.out, "\r\n"...)
		c.state = icyRefused
		return nil
	}
	cfg := c.s.cfg()
	user, want := cfg.SourceCredentials(c.mount)
	ok := equalSecret(pass, want)
	if u, p, found := strings.Cut(pass, ":"); !ok && found && equalSecret(u, user) && equalSecret(p, want) {
		pass, ok = p, true
	}
	if _, blocked := c.s.sourceLogins.Blocked(addrOf(c.RemoteAddr().String()), time.Now()); blocked {
		ok = false
	}
	c.out = append(c.out, "Authorization: Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass))+"\r\n"...)
	if !ok {
		// The source path refuses it, counts it and says why; the client
		// gets the one line Shoutcast servers answer with (Write).
		c.out = append(c.out, "\r\n"...)
		c.state = icyRefused
		return nil
	}
	_ = c.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c.Conn, "OK2\r\nicy-caps:11\r\n\r\n"); err != nil {
		return err
	}
	_ = c.Conn.SetWriteDeadline(time.Time{})
	c.okSent.Store(true)
	c.state = icyHeaders
	return nil
}

// icyNames are the ICY header names with the Icecast ones the source path
// reads (icy-pub is ice-public, icy-br ice-bitrate).
var icyNames = map[string]string{
	"icy-name": "Ice-Name", "icy-genre": "Ice-Genre", "icy-url": "Ice-Url", "icy-pub": "Ice-Public",
	"icy-br": "Ice-Bitrate", "icy-description": "Ice-Description",
}

// header passes on one header line (or a piece of a long one), renamed
// as an Icecast source would name it; the blank line ends the head.
func (c *icyConn) header() error {
	line, err := c.br.ReadSlice('\n')
	if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
		return err
	}
	switch {
	case c.midLine:
		c.out = append(c.out[:0], line...)
	case len(bytes.TrimRight(line, "\r\n")) == 0 && err == nil:
		c.out = append(c.out[:0], "\r\n"...)
		c.state = icyBody
	default:
		c.out = append(c.out[:0], line...)
		if name, value, found := bytes.Cut(line, []byte(":")); found {
			if ice, ok := icyNames[strings.ToLower(string(bytes.TrimSpace(name)))]; ok {
				c.out = append([]byte(ice+":"), value...)
			}
		}
	}
	c.midLine = err != nil
	return nil
}

// Write turns the answer to the translated request into the ICY
// protocol's: after OK2 there is none (the client reads nothing more), so
// it is dropped; before it, a refusal is one line, "invalid password" or
// the reason, and the connection closes.
func (c *icyConn) Write(p []byte) (int, error) {
	if c.okSent.Load() || !c.refusedOK.CompareAndSwap(false, true) {
		return len(p), nil
	}
	var code int
	_, _ = fmt.Sscanf(string(p), "HTTP/1.%d %d", new(int), &code)
	msg := "invalid password"
	if code != 401 {
		_, body, _ := strings.Cut(string(p), "\r\n\r\n")
		msg, _, _ = strings.Cut(body, "\n")
		if msg = strings.TrimSpace(msg); msg == "" {
			return len(p), nil
		}
	}
	if _, err := io.WriteString(c.Conn, msg+"\r\n"); err != nil {
		return 0, err
	}
	return len(p), nil
}
