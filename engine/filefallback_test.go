package engine

import (
	"bytes"
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine/frame"
	"github.com/icedeck/icedeck/internal/testkit"
)

// A listener of a mount without a source gets its fallback file, looped;
// when a source connects it moves to the live stream, and back to the
// file when the source leaves, never reconnecting.
func TestFileFallbackLoopsUntilTheSourceComes(t *testing.T) {
	t.Parallel()
	file, live := testkit.Media(t, "tone440.mp3"), testkit.Media(t, "tone.mp3")
	// Without its ID3 tag, the same as the live stream's: where a run
	// starts is then never in doubt.
	file = file[10+(int(file[6])<<21|int(file[7])<<14|int(file[8])<<7|int(file[9])):]
	const fb = "/fb-[256].mp3" // 256 kbit/s: twice the file's own rate, to loop it sooner
	s, addr := startServer(t, func(c *Config) {
		c.Webroot, c.BurstSize = webroot(t, fb[1:], file), 16<<10
		c.Mounts = map[string]MountConfig{"/main.mp3": {Fallback: fb}}
	})
	l := testkit.Listen(t, addr, "/main.mp3")
	if !bytes.Contains([]byte(l.Head), []byte("Content-Type: audio/mpeg\r\n")) {
		t.Fatalf("head %q", l.Head)
	}
	testkit.Eventually(t, 5*time.Second, "the file looped", func() bool { return len(l.Bytes()) > len(file)+4000 })
	m, f := mountSnap(s, "/main.mp3"), mountSnap(s, fb)
	if m == nil || m.State != StateFallback || m.FallbackTo != fb || m.ListenerCount != 1 {
		t.Fatalf("main while on its file: %+v", m)
	}
	if f == nil || !f.Hidden || f.Source == nil || f.Source.Method != fileMethod || f.Listeners[0].Home != "/main.mp3" {
		t.Fatalf("the file's mount: %+v", f)
	}

	src, _ := connectSource(t, addr, "PUT", "/main.mp3", "audio/mpeg")
	src.Send(live[:30000], 1500, time.Millisecond)
	testkit.Eventually(t, 5*time.Second, "listener home", func() bool {
		m := mountSnap(s, "/main.mp3")
		return m != nil && m.State == StateLive && m.ListenerCount == 1 && m.Listeners[0].Home == ""
	})
	src.Send(live[30000:], 1500, time.Millisecond)
	src.Close()
	testkit.Eventually(t, 5*time.Second, "back on the file", func() bool {
		f := mountSnap(s, fb)
		return f != nil && f.ListenerCount == 1 && len(l.Bytes()) > 2*len(file)+len(live)
	})

	// The body: the file to its end and looped, then the live stream to
	// its last byte, then the file again.
	starts := []map[int]bool{mpegFrameStarts(t, live), mpegFrameStarts(t, file)}
	starts[0][0], starts[0][len(live)] = true, true // the source's first byte, and its end, where the listener leaves it
	starts[1][0], starts[1][len(file)] = true, true // where the loop turns
	runs := splitRuns(t, l.Bytes(), [][]byte{live, file}, starts)
	var order []int
	for _, r := range runs {
		if len(order) == 0 || order[len(order)-1] != r.stream {
			order = append(order, r.stream)
		}
	}
	if len(order) != 3 || order[0] != 1 || order[1] != 0 || order[2] != 1 || runs[0].to != len(file) || runs[1] != (run{1, 0, runs[1].to}) {
		t.Fatalf("want the file to its end, again from its start, then live, then the file; got %v", runs)
	}
	for i, r := range runs {
		if r.stream == 0 && r.to != len(live) {
			t.Fatalf("run %d: the live stream ends at %d, not at its last byte %d", i, r.to, len(live))
		}
	}
}

// No webroot, no file, or a file of another type: no file fallback, and
// a listener of the mount without a source is answered 404 as before.
func TestFileFallbackOnlyForAFileOfTheType(t *testing.T) {
	t.Parallel()
	s, addr := startServer(t, func(c *Config) {
		c.Webroot = webroot(t, "fb.ogg", testkit.Media(t, "tone.ogg"), "odd.xyz", []byte("data"))
		c.Mounts = map[string]MountConfig{"/a.mp3": {Fallback: "/none.mp3"}, "/b.mp3": {Fallback: "/odd.xyz"}, "/c.mp3": {Fallback: "/fb.ogg"}}
	})
	for _, mount := range []string{"/a.mp3", "/b.mp3"} {
		if r := testkit.RawRequest(t, addr, "GET "+mount+" HTTP/1.0\r\n\r\n"); r.Code != 404 {
			t.Fatalf("%s: %d", mount, r.Code)
		}
	}
	// A listener of a live MP3 mount whose fallback file is Ogg: when the
	// source leaves it is not moved to the file.
	src, _ := connectSource(t, addr, "PUT", "/c.mp3", "audio/mpeg")
	src.Send(testkit.Media(t, "tone.mp3")[:8000], 2000, time.Millisecond)
	testkit.Eventually(t, 2*time.Second, "mount up", func() bool { return mountSnap(s, "/c.mp3") != nil })
	l := testkit.Listen(t, addr, "/c.mp3")
	src.Close()
	l.Wait(t, 5*time.Second)
	if e := findEvent(s, EventWarning, "/fb.ogg"); e == nil {
		t.Fatal("no warning about the Ogg file behind an MP3 mount")
	}
}

func TestFileRate(t *testing.T) {
	st := frame.Stats{Bitrate: 128000, Bytes: 32000, Duration: time.Second}
	for _, tc := range []struct {
		name  string
		limit int
		st    frame.Stats
		want  int
	}{
		{"/file-[128].mp3", 0, st, 16000},
		{"/a[64]/b-[320].mp3", 256000, st, 40000}, // the last brackets; they beat the limit
		{"/file.mp3", 256000, st, 32000},          // a limit-rate for the file's name
		{"/file.mp3", 0, st, 16000},               // the frames' bitrate
		{"/file.ogg", 0, frame.Stats{Bytes: 48000, Duration: 2 * time.Second}, 24000},
		{"/file-[x].mp3", 0, frame.Stats{}, 0},
	} {
		if got := fileRate(tc.name, tc.limit, tc.st); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	for name, want := range map[string]string{"/a.mp3": "audio/mpeg", "/b.OGG": "application/ogg", "/c.aac": "audio/aac", "/d.txt": ""} {
		if got := frame.TypeOfFile(name); got != want {
			t.Errorf("TypeOfFile(%q) = %q, want %q", name, got, want)
		}
	}
}
