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

// webroot writes files (name, contents pairs) into a new directory.
func webroot(t *testing.T, files ...any) string {
	t.Helper()
	dir := t.TempDir()
	for i := 0; i+1 < len(files); i += 2 {
		if err := os.WriteFile(filepath.Join(dir, files[i].(string)), files[i+1].([]byte), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// liveFrom checks that got is the end of sent from a frame boundary on,
// and returns where in sent it starts.
func liveFrom(t *testing.T, what string, got, sent []byte) int {
	t.Helper()
	k := len(sent) - len(got)
	if k < 0 || !bytes.Equal(got, sent[k:]) {
		t.Fatalf("%s: the %d bytes after the intro are not the end of the live stream", what, len(got))
	}
	if !mpegFrameStarts(t, sent)[k] {
		t.Fatalf("%s: the live stream starts at byte %d, not a frame boundary", what, k)
	}
	return k
}

// An intro's bytes come first, exactly, then the live stream from a frame
// boundary; for an ICY listener the intro counts in the metadata interval.
func TestIntroThenLive(t *testing.T) {
	t.Parallel()
	intro, live := testkit.Media(t, "tone440.mp3"), testkit.Media(t, "tone.mp3")
	root := webroot(t, "intro.mp3", intro)
	s, addr := startServer(t, func(c *Config) {
		c.Webroot, c.MetaInt, c.BurstSize = root, 1000, 8<<10
		c.Mounts = map[string]MountConfig{"/i.mp3": {Intro: "/intro.mp3"}}
	})
	src, _ := connectSource(t, addr, "PUT", "/i.mp3", "audio/mpeg", "Ice-Title", "Live now")
	src.Send(live[:20000], 2000, time.Millisecond)
	testkit.Eventually(t, 2*time.Second, "first part in", func() bool {
		m := mountSnap(s, "/i.mp3")
		return m != nil && m.Source.BytesIn == 20000
	})
	plain := testkit.Listen(t, addr, "/i.mp3")
	icy := testkit.Listen(t, addr, "/i.mp3", "Icy-MetaData", "1")
	src.Send(live[20000:], 2000, time.Millisecond)
	src.Close()

	got := plain.Wait(t, 5*time.Second)
	if len(got) < len(intro) || !bytes.Equal(got[:len(intro)], intro) {
		t.Fatalf("the listener's first bytes are not the intro's %d", len(intro))
	}
	k := liveFrom(t, "plain listener", got[len(intro):], live)
	if burst := 20000 - k; burst <= 0 || burst > 8<<10 {
		t.Fatalf("live from %d: a burst of %d bytes, want (0, 8 KiB]", k, burst)
	}

	body := icy.Wait(t, 5*time.Second)
	audio, metas := testkit.SplitICY(t, body, 1000) // a block after every 1000 bytes, intro included
	if len(audio) < len(intro) || !bytes.Equal(audio[:len(intro)], intro) {
		t.Fatal("the ICY listener's first audio bytes are not the intro")
	}
	liveFrom(t, "ICY listener", audio[len(intro):], live)
	if len(metas) != 1 || metas[0] != "StreamTitle='Live now';" {
		t.Fatalf("metadata %q: the title once, in the first block", metas)
	}
}

// An intro that is not the stream's format is not sent (a warning says
// so, once); a missing one is reported when the configuration is loaded.
func TestIntroMismatchedOrMissing(t *testing.T) {
	t.Parallel()
	live := testkit.Media(t, "tone.mp3")
	root := webroot(t, "intro.ogg", testkit.Media(t, "tone.ogg"))
	s, addr := startServer(t, func(c *Config) {
		c.Webroot, c.BurstSize = root, 8<<10
		c.Mounts = map[string]MountConfig{"/x.mp3": {Intro: "intro.ogg"}, "/gone.mp3": {Intro: "/nowhere.mp3"}}
	})
	if e := findEvent(s, EventWarning, "/gone.mp3"); e == nil || !strings.Contains(e.Message, "nowhere.mp3 not sent") {
		t.Fatalf("missing intro not reported at load: %+v", e)
	}
	src, _ := connectSource(t, addr, "PUT", "/x.mp3", "audio/mpeg")
	src.Send(live[:20000], 2000, time.Millisecond)
	testkit.Eventually(t, 2*time.Second, "first part in", func() bool {
		m := mountSnap(s, "/x.mp3")
		return m != nil && m.Source.BytesIn == 20000
	})
	a := testkit.Listen(t, addr, "/x.mp3")
	b := testkit.Listen(t, addr, "/x.mp3")
	src.Send(live[20000:], 2000, time.Millisecond)
	src.Close()
	liveFrom(t, "first listener", a.Wait(t, 5*time.Second), live)
	liveFrom(t, "second listener", b.Wait(t, 5*time.Second), live)
	n := 0
	for _, e := range s.Events(0) {
		if e.Type == EventWarning && e.Mount == "/x.mp3" && strings.Contains(e.Message, "is not audio/mpeg") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d warnings about the Ogg intro, want 1", n)
	}
}

func TestIntroPath(t *testing.T) {
	abs := filepath.Join(t.TempDir(), "a.mp3")
	if err := os.WriteFile(abs, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ webroot, name, want string }{
		{"/srv/web", "/intro.mp3", "/srv/web/intro.mp3"}, // Icecast: under the webroot, slash or not
		{"/srv/web", "intro.mp3", "/srv/web/intro.mp3"},
		{"/srv/web", abs, abs}, // an absolute path that exists
		{"", "/intro.mp3", "/intro.mp3"},
		{"", "intro.mp3", "intro.mp3"},
	} {
		if got := introPath(&Config{Webroot: tc.webroot}, tc.name); got != tc.want {
			t.Errorf("webroot %q, intro %q: %q, want %q", tc.webroot, tc.name, got, tc.want)
		}
	}
}
