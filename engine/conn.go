package engine

import (
	"net"
	"sync/atomic"
	"time"
)

// clientConn is every accepted connection, whatever it turns out to ask:
// it counts against MaxClients from accept until its one Close, so
// sources, listeners, admin requests, kept-alive HTTP connections and
// unfinished request heads share one limit.
type clientConn struct {
	net.Conn
	s       *Server
	closed  atomic.Bool
	onClose atomic.Pointer[func()] // run once closed: a URL auth hook's listener_remove
}

func (c *clientConn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	// Released before the socket closes: a client that sees the close and
	// connects again must find the room it left.
	c.s.clients.Add(-1)
	err := c.Conn.Close()
	if f := c.onClose.Load(); f != nil {
		(*f)()
	}
	return err
}

// tcpConn finds the TCP socket under the engine's wrappers, or nil.
func tcpConn(c net.Conn) *net.TCPConn {
	tc, _ := under[*net.TCPConn](c)
	return tc
}

// under finds the connection of type T under the engine's wrappers. A TLS
// connection is not looked through: its socket carries ciphertext.
func under[T net.Conn](c net.Conn) (T, bool) {
	for {
		if v, ok := c.(T); ok {
			return v, true
		}
		switch v := c.(type) {
		case *clientConn:
			c = v.Conn
		case *replayConn:
			c = v.Conn
		default:
			var zero T
			return zero, false
		}
	}
}

// replayConn carries a connection handed to net/http: it gives back the
// bytes the front end already read, and bounds every write, so a client
// that stops reading an admin answer or an event stream cannot hold its
// goroutine and descriptor forever.
type replayConn struct {
	net.Conn
	r            interface{ Read([]byte) (int, error) }
	writeTimeout time.Duration
}

func (c *replayConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *replayConn) Write(p []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	return c.Conn.Write(p)
}
