package engine

import (
	"syscall"
	"unsafe"
)

// vecWriter does one non-blocking writev per call. The closure handed to
// RawConn.Write is made once per shard, so a write allocates nothing.
type vecWriter struct {
	iov   []syscall.Iovec
	n     uintptr
	errno syscall.Errno
	fn    func(fd uintptr) bool
}

func (w *vecWriter) write(l *listener, bufs [][]byte) (int, error) {
	if w.fn == nil {
		w.iov = make([]syscall.Iovec, 0, maxVecs)
		w.fn = w.writev
	}
	w.iov = w.iov[:0]
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		v := syscall.Iovec{Base: &b[0]}
		v.SetLen(len(b))
		w.iov = append(w.iov, v)
	}
	if len(w.iov) == 0 {
		return 0, nil
	}
	if l.raw == nil {
		return writeSlow(l, bufs)
	}
	w.n, w.errno = 0, 0
	if err := l.raw.Write(w.fn); err != nil {
		return 0, err
	}
	clear(w.iov) // drop references to chunks
	switch w.errno {
	case 0:
		return int(w.n), nil
	case syscall.EAGAIN:
		return 0, nil
	default:
		return 0, w.errno
	}
}

// writev tries once and never waits: a full socket is retried next sweep.
func (w *vecWriter) writev(fd uintptr) bool {
	for {
		n, _, e := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&w.iov[0])), uintptr(len(w.iov)))
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			w.errno = e
			return true
		}
		w.n = n
		return true
	}
}

// peerGone says whether the client has closed or reset its end, without
// waiting: for a listener there is nothing to write to, so no write
// error would tell.
func peerGone(l *listener) bool {
	if l.raw == nil {
		return false
	}
	var b [1]byte
	gone := false
	_ = l.raw.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		gone = n == 0 && err == nil || err == syscall.ECONNRESET
		return true
	})
	return gone
}
