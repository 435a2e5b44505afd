package engine

import (
	"errors"
	"net"
	"os"
	"time"
)

// writeSlow writes with a short deadline instead of a non-blocking
// syscall: for connections that are not raw sockets, and other systems.
func writeSlow(l *listener, bufs [][]byte) (int, error) {
	_ = l.conn.SetWriteDeadline(time.Now().Add(2 * time.Millisecond))
	b := make(net.Buffers, len(bufs))
	copy(b, bufs)
	n, err := b.WriteTo(l.conn)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = nil
	}
	return int(n), err
}
