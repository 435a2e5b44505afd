//go:build !linux

package engine

// vecWriter falls back to net.Buffers with a short deadline where writev
// through RawConn is not wired up.
type vecWriter struct{}

func (w *vecWriter) write(l *listener, bufs [][]byte) (int, error) {
	return writeSlow(l, bufs)
}

// peerGone cannot tell without a raw socket; write timeouts do.
func peerGone(*listener) bool { return false }
