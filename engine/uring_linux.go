package engine

import (
	"errors"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// uring is the least of io_uring a batch needs: one ring, SENDMSG
// requests that never wait (MSG_DONTWAIT: a full socket completes with
// EAGAIN instead of being polled), submitted and reaped in one
// io_uring_enter. Its layout is the kernel's (linux/io_uring.h).
type uring struct {
	fd             int
	ring, sqeMem   []byte
	sqHead, sqTail *uint32
	sqMask         uint32
	sqArray        []uint32
	sqes           []uringSQE
	cqHead, cqTail *uint32
	cqMask         uint32
	cqes           []uringCQE
}

type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	_                                                                      [3]uint32
	sqOff                                                                  struct {
		head, tail, ringMask, ringEntries, flags, dropped, array, _ uint32
		_                                                           uint64
	}
	cqOff struct {
		head, tail, ringMask, ringEntries, overflow, cqes, flags, _ uint32
		_                                                           uint64
	}
}

type uringSQE struct {
	opcode, flags     uint8
	ioprio            uint16
	fd                int32
	off, addr         uint64
	len, opFlags      uint32
	userData          uint64
	bufIndex, persona uint16
	spliceFDIn        int32
	addr3, _          uint64
}

type uringCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

const (
	uringOpSendmsg            = 9
	uringEnterGetEvents       = 1 << 0
	uringSetupSubmitAll       = 1 << 7 // a request that fails does not stop the ones after it
	uringSetupCoopTask        = 1 << 8 // no interrupt to run completion work: ours completes inline
	uringFeatSingleMmap       = 1 << 0
	uringOffSQRing            = 0
	uringOffSQEs              = 0x10000000
	uringNoResult       int32 = -1 << 31 // a request the kernel did not complete
)

// uringOff is set once the kernel refuses a ring (too old, disabled by
// io_uring_disabled or a seccomp filter): shards then write one syscall a
// listener and stop asking.
var uringOff atomic.Bool

var errUringOld = errors.New("io_uring without IORING_FEAT_SINGLE_MMAP")

func newURing(entries uint32) (*uring, error) {
	p := uringParams{flags: uringSetupSubmitAll | uringSetupCoopTask}
	fd, _, e := unix.RawSyscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if e == unix.EINVAL { // before 5.19: without the flags
		p = uringParams{}
		fd, _, e = unix.RawSyscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	}
	if e != 0 {
		return nil, e
	}
	u := &uring{fd: int(fd)}
	if p.features&uringFeatSingleMmap == 0 {
		u.close()
		return nil, errUringOld
	}
	size := max(p.sqOff.array+p.sqEntries*4, p.cqOff.cqes+p.cqEntries*uint32(unsafe.Sizeof(uringCQE{})))
	var err error
	if u.ring, err = unix.Mmap(u.fd, uringOffSQRing, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		u.close()
		return nil, err
	}
	if u.sqeMem, err = unix.Mmap(u.fd, uringOffSQEs, int(p.sqEntries)*int(unsafe.Sizeof(uringSQE{})), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		u.close()
		return nil, err
	}
	at := func(off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&u.ring[off])) }
	u.sqHead, u.sqTail, u.sqMask = at(p.sqOff.head), at(p.sqOff.tail), *at(p.sqOff.ringMask)
	u.cqHead, u.cqTail, u.cqMask = at(p.cqOff.head), at(p.cqOff.tail), *at(p.cqOff.ringMask)
	u.sqArray = unsafe.Slice(at(p.sqOff.array), p.sqEntries)
	u.sqes = unsafe.Slice((*uringSQE)(unsafe.Pointer(&u.sqeMem[0])), p.sqEntries)
	u.cqes = unsafe.Slice((*uringCQE)(unsafe.Pointer(&u.ring[p.cqOff.cqes])), p.cqEntries)
	return u, nil
}

func (u *uring) close() {
	if u.sqeMem != nil {
		_ = unix.Munmap(u.sqeMem)
	}
	if u.ring != nil {
		_ = unix.Munmap(u.ring)
	}
	_ = unix.Close(u.fd)
}

// sendmsg sends msgs[j] on fds[j], all in one io_uring_enter as a rule,
// and sets res[j] to what sendmsg(2) returned (-errno on error), or
// uringNoResult where the kernel did not take the request. Nothing is in
// flight when it returns: every request either completed inline or was
// never taken. An error means the ring is not to be used again.
func (u *uring) sendmsg(fds []int32, msgs []unix.Msghdr, res []int32) error {
	k := uint32(len(msgs))
	if k > uint32(len(u.sqes)) {
		panic("uring: more requests than entries")
	}
	tail := *u.sqTail // the kernel only reads it
	for j := range msgs {
		i := (tail + uint32(j)) & u.sqMask
		u.sqes[i] = uringSQE{opcode: uringOpSendmsg, fd: fds[j], addr: uint64(uintptr(unsafe.Pointer(&msgs[j]))),
			len: 1, opFlags: unix.MSG_DONTWAIT | unix.MSG_NOSIGNAL, userData: uint64(j)}
		u.sqArray[i] = i
		res[j] = uringNoResult
	}
	atomic.StoreUint32(u.sqTail, tail+k)
	var done uint32
	for tries := 0; done < k; tries++ {
		if tries == 1000 {
			return unix.EIO
		}
		taken := atomic.LoadUint32(u.sqHead) - tail
		// Through Syscall, not RawSyscall: the scheduler may give this P
		// to other goroutines (a new listener's first write) meanwhile.
		_, _, e := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(u.fd), uintptr(k-taken), uintptr(k-done), uringEnterGetEvents, 0, 0)
		done += u.reap(res)
		if e != 0 && e != unix.EINTR && e != unix.EAGAIN && e != unix.EBUSY {
			return e
		}
	}
	return nil
}

func (u *uring) reap(res []int32) uint32 {
	head, tail := *u.cqHead, atomic.LoadUint32(u.cqTail)
	n := tail - head
	for ; head != tail; head++ {
		c := &u.cqes[head&u.cqMask]
		if c.userData < uint64(len(res)) {
			res[c.userData] = c.res
		}
	}
	atomic.StoreUint32(u.cqHead, head)
	return n
}
