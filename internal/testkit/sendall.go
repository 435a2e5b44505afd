package testkit

import (
	"io"
	"net"
	"time"
)

// SendAll sends data as one source session and reports whether the server
// read all of it: after the last byte the client closes its side and
// waits for the server's close, which a server that stopped reading
// early sends as a reset. A resuming client is built on it.
func SendAll(addr string, req SourceRequest, data []byte) error {
	c, err := DialSource(addr, req)
	if err != nil {
		return err
	}
	defer c.Close()
	for off := 0; off < len(data); off += 4096 {
		if _, err := c.Write(data[off:min(off+4096, len(data))]); err != nil {
			return err
		}
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.Copy(io.Discard, c)
	return err
}
