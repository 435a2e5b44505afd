package engine

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/icedeck/icedeck/internal/testkit"
	"golang.org/x/sys/unix"
)

// needURing skips a test where the kernel refuses io_uring, except under
// CI=true, whose machines have it.
func needURing(t *testing.T) {
	t.Helper()
	u, err := newURing(1)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("io_uring refused under CI=true: %v", err)
		}
		t.Skipf("io_uring refused by this kernel (%v): skipping (under CI=true it fails)", err)
	}
	u.close()
}

// The ring's structures are the kernel's, byte for byte.
func TestURingLayout(t *testing.T) {
	if sq, cq, p := unsafe.Sizeof(uringSQE{}), unsafe.Sizeof(uringCQE{}), unsafe.Sizeof(uringParams{}); sq != 64 || cq != 16 || p != 120 {
		t.Fatalf("sizes: SQE %d, CQE %d, params %d; the kernel's are 64, 16, 120", sq, cq, p)
	}
}

// slowConn reads a little at a time, so the server finds its socket full
// and its writes cut short.
type slowConn struct{ net.Conn }

func (c slowConn) Read(p []byte) (int, error) {
	time.Sleep(time.Millisecond)
	return c.Conn.Read(p[:min(len(p), 300)])
}

// Big shards send in io_uring batches where the kernel allows and one
// writev a listener where it does not; either way every listener gets
// every byte, ICY blocks in their places, slow readers included, and a
// listener that resets its connection is closed as such.
func TestBatchedWrites(t *testing.T) {
	for _, ring := range []bool{true, false} {
		name := map[bool]string{true: "io_uring", false: "writev"}[ring]
		t.Run(name, func(t *testing.T) {
			if ring {
				needURing(t)
				uringOff.Store(false)
			} else {
				was := uringOff.Swap(true)
				t.Cleanup(func() { uringOff.Store(was) })
			}
			s, addr := startServer(t, func(c *Config) { c.MetaInt = 1000; c.Latency = 20 * time.Millisecond })
			mp3 := testkit.Media(t, "tone.mp3")
			src, _ := connectSource(t, addr, "PUT", "/b.mp3", "audio/mpeg", "Ice-Title", "First")
			src.Send(mp3[:1], 1, 0) // every listener gets the stream from its first byte
			testkit.Eventually(t, 2*time.Second, "mount up", func() bool { return mountSnap(s, "/b.mp3") != nil })
			m := s.lookup("/b.mp3")
			n := gapFrom*s.shardCount + 8 // every shard a big one
			ls := make([]*testkit.Listener, n)
			for i := range ls {
				switch i % 3 {
				case 0:
					ls[i] = testkit.Listen(t, addr, "/b.mp3", "Icy-MetaData", "1")
				case 1:
					ls[i] = testkit.Listen(t, addr, "/b.mp3")
				case 2:
					c, err := net.Dial("tcp", addr)
					if err != nil {
						t.Fatal(err)
					}
					_ = c.(*net.TCPConn).SetReadBuffer(2048)
					ls[i] = testkit.ListenOn(t, slowConn{c}, addr, "/b.mp3")
				}
			}
			leaver := testkit.Listen(t, addr, "/b.mp3")
			testkit.Eventually(t, 5*time.Second, "listeners placed", func() bool { return mountSnap(s, "/b.mp3").ListenerCount == n+1 })
			src.Send(mp3[1:30000], 418, 2*time.Millisecond)
			_ = leaver.Conn.(*net.TCPConn).SetLinger(0) // a reset, not a FIN
			leaver.Conn.Close()
			if err := s.SetTitle("/b.mp3", "Second", ""); err != nil {
				t.Fatal(err)
			}
			src.Send(mp3[30000:], 418, 2*time.Millisecond)
			testkit.Eventually(t, 5*time.Second, "the reset listener closed", func() bool {
				return slices.ContainsFunc(s.Events(0), func(e Event) bool {
					return e.Type == EventListenerLeft && e.Reason == ReasonClientClosed
				})
			})
			src.Close()
			for i, l := range ls {
				got := l.Wait(t, 20*time.Second)
				if i%3 == 0 {
					audio, metas := testkit.SplitICY(t, got, 1000)
					if !bytes.Equal(audio, mp3) || !slices.Equal(metas, []string{"StreamTitle='First';", "StreamTitle='Second';"}) {
						t.Fatalf("ICY listener %d: %d audio bytes (sha %s), titles %q; want all %d and both titles once",
							i, len(audio), sha(audio), metas, len(mp3))
					}
				} else if !bytes.Equal(got, mp3) {
					t.Fatalf("listener %d got %d bytes (sha %s), want all %d", i, len(got), sha(got), len(mp3))
				}
			}
			var batched uint64
			for _, sh := range m.shards {
				batched += sh.batched.Load()
			}
			if ring && batched == 0 {
				t.Fatal("no write went in an io_uring batch")
			}
			if !ring && batched != 0 {
				t.Fatalf("%d writes went in io_uring batches while it was refused", batched)
			}
		})
	}
}

// A ring that fails mid-sweep is given up, and what its batch held goes
// out one write a listener, in the same sweep.
func TestBatchRingFailure(t *testing.T) {
	needURing(t)
	s, err := New(Config{SourcePassword: "x"})
	if err != nil {
		t.Fatal(err)
	}
	m := newMount(s, "/f.mp3")
	sh := m.shards[0]
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	clients := make([]net.Conn, gapFrom)
	for i := range clients {
		sc, c := loopback(t, ln)
		l := &listener{id: uint64(i + 1), conn: sc, mount: m, lastProgress: monoAt(time.Now()), lastWrite: monoAt(time.Now())}
		l.raw, _ = sc.(*net.TCPConn).SyscallConn()
		sh.list = append(sh.list, l)
		sh.count.Add(1)
		clients[i] = c
	}
	want := make([]byte, 2*4096)
	for i := range want {
		want[i] = byte(i * 31)
	}
	m.ring.publish(&chunk{data: want[:4096]})
	sh.sweep(time.Now())
	if sh.batch == nil || sh.batched.Load() != gapFrom {
		t.Fatalf("first sweep: batch %v, %d writes batched; want a batch and %d", sh.batch != nil, sh.batched.Load(), gapFrom)
	}
	fd := sh.batch.ring.fd
	sh.batch.ring.fd = -1 // its next io_uring_enter fails with EBADF
	defer unix.Close(fd)
	m.ring.publish(&chunk{data: want[4096:]})
	sh.sweep(time.Now())
	if sh.batch != nil || len(sh.list) != gapFrom {
		t.Fatalf("after the failure: batch kept %v, %d listeners of %d", sh.batch != nil, len(sh.list), gapFrom)
	}
	for i, c := range clients {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got := make([]byte, len(want))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("listener %d: %v, %d bytes equal: %v", i, err, len(got), bytes.Equal(got, want))
		}
	}
}

// BenchmarkFanoutFloorBatched is BenchmarkFanoutFloor with the sends to up
// to batchSlots sockets in one io_uring_enter, as a batch makes them, and
// nothing else: the floor of the batched fan-out (BenchmarkFanout).
func BenchmarkFanoutFloorBatched(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("listeners=%d", n), func(b *testing.B) {
			u, err := newURing(batchSlots)
			if err != nil {
				b.Skipf("io_uring refused by this kernel: %v", err)
			}
			defer u.close()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			fds, left := make([]int32, n), make([]int, n)
			for i := range fds {
				c := loopbackPair(b, ln)
				_ = c.(*net.TCPConn).SetWriteBuffer(listenerSendBuffer)
				raw, _ := c.(*net.TCPConn).SyscallConn()
				_ = raw.Control(func(fd uintptr) { fds[i] = int32(fd) })
			}
			data := make([]byte, 4096)
			iov := make([]unix.Iovec, batchSlots)
			msgs := make([]unix.Msghdr, batchSlots)
			bfds, res, idx := make([]int32, batchSlots), make([]int32, batchSlots), make([]int, batchSlots)
			k := 0
			send := func() {
				if err := u.sendmsg(bfds[:k], msgs[:k], res); err != nil {
					b.Fatal(err)
				}
				for j := range k {
					if res[j] > 0 {
						left[idx[j]] -= int(res[j])
					}
				}
				k = 0
			}
			b.SetBytes(int64(len(data) * n))
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU()
			for range b.N {
				for j := range left {
					left[j] = len(data)
				}
				for done := false; !done; {
					for j, l := range left {
						if l == 0 {
							continue
						}
						iov[k] = unix.Iovec{Base: &data[len(data)-l]}
						iov[k].SetLen(l)
						msgs[k] = unix.Msghdr{Iov: &iov[k]}
						msgs[k].SetIovlen(1)
						bfds[k], idx[k] = fds[j], j
						if k++; k == batchSlots {
							send()
						}
					}
					if k > 0 {
						send()
					}
					done = !slices.ContainsFunc(left, func(l int) bool { return l > 0 })
					if !done {
						runtime.Gosched()
					}
				}
			}
			b.StopTimer()
			reportPerListener(b, n, processCPU()-cpu0)
		})
	}
}
