package engine

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// serveAt runs an engine on addr (a port a previous one left), until the
// returned stop.
func serveAt(t *testing.T, addr string) (*Server, func()) {
	t.Helper()
	cfg := Defaults()
	cfg.SourcePassword = "targetpw"
	cfg.Logger = testkit.Logger(t)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	testkit.Eventually(t, 5*time.Second, "port free again", func() bool {
		ln, err = net.Listen("tcp", addr)
		return err == nil
	})
	go func() { _ = s.Serve(ln) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	}
	t.Cleanup(stop)
	return s, stop
}

// A push sends a local mount to another server as its source: from a frame
// boundary, byte for byte; when the target restarts, the push reconnects.
func TestPushToAnotherServer(t *testing.T) {
	probe, _ := net.Listen("tcp", "127.0.0.1:0")
	taddr := probe.Addr().String()
	probe.Close()
	target, stopTarget := serveAt(t, taddr)

	mp3 := testkit.Media(t, "tone.mp3")
	origin, oaddr := startServer(t, func(c *Config) {
		c.BurstSize = 4096
		c.Pushes = []PushConfig{{Mount: "/live.mp3", URL: "icecast://source:targetpw@" + taddr + "/pushed.mp3", Retry: 100 * time.Millisecond}}
	})
	src, _ := connectSource(t, oaddr, "PUT", "/live.mp3", "audio/mpeg", "Ice-Name", "Pushed FM")
	src.Send(mp3[:8000], 2000, 10*time.Millisecond)
	testkit.Eventually(t, 5*time.Second, "pushed mount live on the target", func() bool {
		m := mountSnap(target, "/pushed.mp3")
		return m != nil && m.Source != nil
	})
	// (Titles follow through the target's /admin/metadata: the control
	// plane's tests check that; this target has none.)
	src.Send(mp3[8000:30000], 2000, 10*time.Millisecond)
	// Everything since the burst's frame boundary, to the last byte sent.
	testkit.Eventually(t, 5*time.Second, "all bytes pushed", func() bool {
		ss := mountSnap(target, "/pushed.mp3").Source
		n := int(ss.BytesIn)
		return n > 20000 && ss.SHA256 == sha(mp3[30000-n:30000])
	})
	ps := origin.Pushes()
	if len(ps) != 1 || ps[0].State != PushLive || ps[0].Target != "http://source:xxxxx@"+taddr+"/pushed.mp3" {
		t.Fatalf("push status %+v", ps)
	}
	ms := mountSnap(target, "/pushed.mp3")
	if ms.Source.Ice.Name != "Pushed FM" || ms.Source.Frames.SyncLosses != 0 || ms.Source.Frames.SkippedBytes != 0 {
		t.Fatalf("target's source %+v", ms.Source)
	}

	// The target restarts: the push comes back by itself.
	stopTarget()
	target2, _ := serveAt(t, taddr)
	src.Send(mp3[30000:60000], 2000, 10*time.Millisecond)
	testkit.Eventually(t, 10*time.Second, "pushed again after the restart", func() bool {
		m := mountSnap(target2, "/pushed.mp3")
		return m != nil && m.Source != nil && m.Source.BytesIn > 0
	})
	src.Close()
	var got []Session
	testkit.Eventually(t, 5*time.Second, "second session ended", func() bool {
		got = target2.Sessions()
		return len(got) == 1 && !got[0].Ended.IsZero()
	})
	// Each session the target saw is a contiguous run of what the local
	// source sent, starting on a frame boundary (no sync loss, nothing
	// skipped), ending with the source's last byte.
	for _, se := range append(target.Sessions(), got...) {
		if se.Frames.SyncLosses != 0 || se.Frames.SkippedBytes != 0 || se.Bytes == 0 {
			t.Fatalf("target session %+v", se)
		}
	}
	if got[0].SHA256 != sha(mp3[60000-int(got[0].Bytes):60000]) {
		t.Fatalf("after the restart the target got %d bytes that are not the end of what was sent", got[0].Bytes)
	}
}

// A push target slower than the stream is dropped with a reason; it never
// slows the mount or its listeners.
func TestPushSlowTargetIsDropped(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // takes the source, answers, then reads nothing
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*net.TCPConn).SetReadBuffer(4096)
			buf := make([]byte, 1024)
			_, _ = c.Read(buf)
			_, _ = c.Write([]byte("HTTP/1.0 200 OK\r\n\r\n"))
			defer c.Close()
		}
	}()
	origin, oaddr := startServer(t, func(c *Config) {
		c.QueueSize, c.BurstSize, c.WriteTimeout = 64<<10, 8<<10, 500*time.Millisecond
		c.Pushes = []PushConfig{{Mount: "/live", URL: "http://source:x@" + ln.Addr().String() + "/slow", Retry: time.Minute}}
	})
	src, _ := connectSource(t, oaddr, "PUT", "/live", "application/octet-stream")
	src.Send(make([]byte, 1000), 1000, 0)
	testkit.Eventually(t, 2*time.Second, "mount up", func() bool { return mountSnap(origin, "/live") != nil })
	l := testkit.Listen(t, oaddr, "/live")
	testkit.Eventually(t, 5*time.Second, "push connected", func() bool {
		ps := origin.Pushes()
		return len(ps) == 1 && ps[0].State == PushLive
	})
	data := make([]byte, 4<<20)
	for i := range data {
		data[i] = byte(i)
	}
	src.Send(data, 16<<10, 5*time.Millisecond) // faster than real time, slower than loopback
	src.Close()
	got := l.Wait(t, 10*time.Second)
	if len(got) < len(data) || !bytes.HasSuffix(got, data) {
		t.Fatalf("the listener got %d bytes, not all %d: the slow push held the mount back", len(got), len(data))
	}
	testkit.Eventually(t, 5*time.Second, "push dropped with a reason", func() bool {
		for _, e := range origin.Events(0) {
			if e.Type == EventPush && (e.Reason == ReasonTooSlow || e.Reason == ReasonWriteError) {
				return true
			}
		}
		return false
	})
}
