package engine

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// loopback returns both ends of a real TCP connection, closed when the
// test ends.
func loopback(tb testing.TB, ln net.Listener) (server, client net.Conn) {
	tb.Helper()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	sc, err := ln.Accept()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close(); sc.Close() })
	return sc, c
}

// loopbackPair returns the server side of a real TCP connection whose
// client side is drained as fast as it arrives.
func loopbackPair(b *testing.B, ln net.Listener) net.Conn {
	b.Helper()
	sc, c := loopback(b, ln)
	go func() { _, _ = io.Copy(io.Discard, c) }()
	return sc
}

// BenchmarkFanout publishes one 4 KiB chunk per op and sweeps it to n
// listeners over real loopback sockets with one shard, as the shard
// goroutine does, until all of them have it. allocs/op must not grow with n: the fan-out allocates
// nothing per listener per chunk (the one alloc is the chunk itself).
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		for _, icy := range []bool{false, true} {
			b.Run(fmt.Sprintf("listeners=%d/icy=%v", n, icy), func(b *testing.B) {
				s, err := New(Config{SourcePassword: "x", MetaInt: 8192})
				if err != nil {
					b.Fatal(err)
				}
				m := newMount(s, "/bench.mp3")
				m.setTitle("a title that every ICY listener gets once", "")
				sh := m.shards[0]
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				defer ln.Close()
				for i := 0; i < n; i++ {
					c := loopbackPair(b, ln)
					_ = c.(*net.TCPConn).SetWriteBuffer(listenerSendBuffer) // as front.go sets it
					l := &listener{id: uint64(i + 1), conn: c, mount: m, icy: icy, metaLeft: m.metaInt, lastProgress: monoAt(time.Now())}
					l.raw, _ = c.(syscall.Conn).SyscallConn()
					sh.list = append(sh.list, l)
				}
				data := make([]byte, 4096)
				data[0], data[1] = 0xFF, 0xFB
				// A big shard makes its batch (batch_linux.go) at its first
				// sweep: once, not per chunk, so before the timer.
				m.ring.publish(&chunk{data: data, sync: 0})
				for !caughtUp(sh) {
					sh.sweep(time.Now())
					runtime.Gosched()
				}
				b.SetBytes(int64(len(data) * n))
				b.ReportAllocs()
				b.ResetTimer()
				cpu0 := processCPU()
				for i := 0; i < b.N; i++ {
					m.ring.publish(&chunk{data: data, sync: 0})
					// An op ends when every listener has taken the chunk, so
					// the figure is delivered throughput, not a backlog.
					for !caughtUp(sh) {
						sh.sweep(time.Now())
						runtime.Gosched()
					}
				}
				b.StopTimer()
				cpu := processCPU() - cpu0
				if len(sh.list) != n {
					b.Fatalf("%d of %d listeners dropped during the benchmark", n-len(sh.list), n)
				}
				reportPerListener(b, n, cpu)
			})
		}
	}
}

// BenchmarkFanoutFloor is the floor BenchmarkFanout is measured against:
// the same chunk to the same drained loopback sockets, one plain write(2)
// per listener, with no ring, cursor, vector or bookkeeping. The
// difference between the two ns/listener-chunk is what the fan-out adds
// to the kernel's cost of the same writes.
func BenchmarkFanoutFloor(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("listeners=%d", n), func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			type sock struct {
				raw  syscall.RawConn
				left int
			}
			socks := make([]sock, n)
			for i := range socks {
				c := loopbackPair(b, ln)
				_ = c.(*net.TCPConn).SetWriteBuffer(listenerSendBuffer) // as a listener's
				socks[i].raw, _ = c.(syscall.Conn).SyscallConn()
			}
			data := make([]byte, 4096)
			var cur *sock
			write := func(fd uintptr) bool {
				k, err := syscall.Write(int(fd), data[len(data)-cur.left:])
				if err == nil {
					cur.left -= k
				}
				return true // never wait: a full socket is retried, as a shard does
			}
			b.SetBytes(int64(len(data) * n))
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU()
			for i := 0; i < b.N; i++ {
				for j := range socks {
					socks[j].left = len(data)
				}
				for done := false; !done; {
					done = true
					for j := range socks {
						if cur = &socks[j]; cur.left > 0 {
							_ = cur.raw.Write(write)
							done = done && cur.left == 0
						}
					}
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

// reportPerListener reports the wall time and the process's CPU time per
// listener and chunk. CPU counts the readers' goroutines too (the same in
// both benchmarks), but not other processes, so on a busy machine it is
// the steadier of the two.
func reportPerListener(b *testing.B, n int, cpu time.Duration) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/listener-chunk")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/listener-chunk")
	}
}

func caughtUp(sh *shard) bool {
	head := sh.m.ring.head.Load()
	for _, l := range sh.list {
		if l.seq != head || len(l.pending[0]) > 0 {
			return false
		}
	}
	return true
}

// BenchmarkSnapshot10k copies the state of a mount with 10,000 listeners,
// as the interface does several times a second; Summary is the same
// without the listener list, Mount one mount with it.
func BenchmarkSnapshot10k(b *testing.B) {
	s, err := New(Config{SourcePassword: "x"})
	if err != nil {
		b.Fatal(err)
	}
	m := newMount(s, "/big.mp3")
	for i := 0; i < 10000; i++ {
		l := &listener{id: uint64(i + 1), addr: fmt.Sprintf("10.0.%d.%d:5000", i/256, i%256), ua: "VLC/3.0.20 LibVLC/3.0.20", connected: time.Now().UnixNano(), mount: m}
		m.listeners = append(m.listeners, l)
	}
	s.mounts[m.name] = m
	for _, bc := range []struct {
		name string
		read func() int
	}{
		{"Snapshot", func() int { return s.Snapshot().Listeners }},
		{"Summary", func() int { return s.Summary().Listeners }},
		{"Mount", func() int { ms, _ := s.Mount("/big.mp3"); return len(ms.Listeners) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if n := bc.read(); n != 10000 {
					b.Fatal(n)
				}
			}
		})
	}
}
