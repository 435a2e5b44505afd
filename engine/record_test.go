package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

func TestDumpFileIsByteExact(t *testing.T) {
	dir := t.TempDir()
	s, addr := startServer(t, func(c *Config) {
		c.Mounts = map[string]MountConfig{"/rec.mp3": {DumpFile: filepath.Join(dir, "live-%Y%m%d-%H%M%S.mp3")}}
	})
	mp3 := testkit.Media(t, "tone.mp3")
	src, _ := connectSource(t, addr, "PUT", "/rec.mp3", "audio/mpeg")
	src.Send(mp3, 3001, time.Millisecond)
	testkit.Eventually(t, 2*time.Second, "recording shown", func() bool {
		m := mountSnap(s, "/rec.mp3")
		return m != nil && m.Recording != "" && m.RecordedBytes == uint64(len(mp3))
	})
	src.Close()
	testkit.Eventually(t, 2*time.Second, "recording stopped", func() bool {
		e := findEvent(s, EventRecording, "/rec.mp3")
		return e != nil && lastRecordingEvent(s).Reason == ReasonSourceEnded
	})
	files, _ := filepath.Glob(filepath.Join(dir, "live-2*.mp3"))
	if len(files) != 1 {
		t.Fatalf("want one dump file named from the pattern, got %v", files)
	}
	got, _ := os.ReadFile(files[0])
	if sha(got) != sha(mp3) {
		t.Fatalf("dump file: %d bytes sha %s, source sent %d bytes sha %s", len(got), sha(got), len(mp3), sha(mp3))
	}
}

func lastRecordingEvent(s *Server) Event {
	var last Event
	for _, e := range s.Events(0) {
		if e.Type == EventRecording {
			last = e
		}
	}
	return last
}

// A full disk stops the recording with an event; the stream goes on.
func TestRecordingWriteErrorSparesTheStream(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full on this system")
	}
	s, addr := startServer(t, func(c *Config) {
		c.Mounts = map[string]MountConfig{"/full.mp3": {DumpFile: "/dev/full"}}
	})
	mp3 := testkit.Media(t, "tone.mp3")
	src, _ := connectSource(t, addr, "PUT", "/full.mp3", "audio/mpeg")
	src.Send(mp3[:1000], 1000, 0)
	testkit.Eventually(t, 2*time.Second, "mount up", func() bool { return mountSnap(s, "/full.mp3") != nil })
	l := testkit.Listen(t, addr, "/full.mp3")
	src.Send(mp3[1000:], 2000, time.Millisecond)
	testkit.Eventually(t, 2*time.Second, "recording stopped with the error", func() bool {
		return strings.Contains(lastRecordingEvent(s).Detail, "no space left on device")
	})
	src.Close()
	if got := l.Wait(t, 5*time.Second); sha(got) != sha(mp3) {
		t.Fatalf("listener got %d of %d bytes while the recording failed", len(got), len(mp3))
	}
}

func TestRecordingStartStopAtRunTime(t *testing.T) {
	dir := t.TempDir()
	s, addr := startServer(t, func(c *Config) { c.RecordDir = dir })
	mp3 := testkit.Media(t, "tone.mp3")
	starts := mpegFrameStarts(t, mp3)
	src, _ := connectSource(t, addr, "PUT", "/run.mp3", "audio/mpeg")
	src.Send(mp3[:20000], 1000, time.Millisecond)
	path, err := s.StartRecording("/run.mp3")
	if err != nil {
		t.Fatal(err)
	}
	if !s.Recording("/run.mp3") || filepath.Dir(path) != dir || !strings.HasPrefix(filepath.Base(path), "run-mp3-") || filepath.Ext(path) != ".mp3" {
		t.Fatalf("recording to %q", path)
	}
	if _, err := s.StartRecording("/run.mp3"); err == nil {
		t.Fatal("a second recording of the same mount started")
	}
	src.Send(mp3[20000:50000], 1000, time.Millisecond)
	testkit.Eventually(t, 2*time.Second, "recorded up to 50000", func() bool {
		m := mountSnap(s, "/run.mp3")
		return m != nil && m.RecordedBytes > 0 && bytes.HasSuffix(readFile(t, path), mp3[49000:50000])
	})
	if err := s.StopRecording("/run.mp3"); err != nil {
		t.Fatal(err)
	}
	src.Send(mp3[50000:], 1000, 0)
	got := readFile(t, path)
	start := bytes.Index(mp3, got[:64])
	if start < 0 || !starts[start] || !bytes.Equal(got, mp3[start:50000]) {
		t.Fatalf("recording of %d bytes is not the stream from a frame boundary (%d) to the stop", len(got), start)
	}
	if s.Recording("/run.mp3") {
		t.Fatal("still recording after stop")
	}
}

func readFile(t *testing.T, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStrftime(t *testing.T) {
	at := time.Date(2026, 3, 7, 9, 5, 2, 0, time.UTC)
	if got := strftime("/rec/live-%Y%m%d-%H%M%S-%j-%%-%q.mp3", at); got != "/rec/live-20260307-090502-066-%-%q.mp3" {
		t.Fatal(got)
	}
}

// The recording's extension comes from the one content-type table: audio/mp3
// is analysed as MP3, so it is recorded as .mp3 (it was .bin).
func TestRecordingExtensionFromTheContentTypeTable(t *testing.T) {
	dir := t.TempDir()
	s, addr := startServer(t, func(c *Config) { c.RecordDir = dir })
	for _, tc := range []struct{ ct, ext string }{{"audio/mp3", ".mp3"}, {"audio/flac", ".flac"}, {"audio/aacp", ".aac"}, {"application/x-unknown", ".bin"}} {
		mount := "/x" + strings.ReplaceAll(tc.ct, "/", "-")
		src, _ := connectSource(t, addr, "PUT", mount, tc.ct)
		src.Send(make([]byte, 1000), 1000, 0)
		testkit.Eventually(t, 2*time.Second, "mount up", func() bool { return mountSnap(s, mount) != nil })
		path, err := s.StartRecording(mount)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Ext(path) != tc.ext {
			t.Errorf("%s recorded to %s, want %s", tc.ct, path, tc.ext)
		}
		src.Close()
	}
}
