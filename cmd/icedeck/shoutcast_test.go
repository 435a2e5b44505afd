package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// portPair returns a loopback address whose port and the next are both
// free: the Shoutcast port is the listen port + 1.
func portPair(t *testing.T) (addr string, port int) {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port = ln.Addr().(*net.TCPAddr).Port
		next, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+1))
		ln.Close()
		if err == nil {
			next.Close()
			return ln.Addr().String(), port
		}
	}
	t.Fatal("no two free ports in a row")
	return "", 0
}

// GStreamer's shout2send in ICY mode (libshout's Shoutcast protocol, as
// butt, Mixxx and DarkIce speak it) streams to the binary's Shoutcast port
// (shoutcast_mount alone: the listen port + 1, as Icecast): a listener
// hears every byte it sent, and the MP3 decodes to its 440 Hz tone.
func TestShoutcastSourceFromGStreamer(t *testing.T) {
	t.Parallel()
	gst := testkit.NeedTool(t, "gst-launch-1.0")
	ff := testkit.NeedTool(t, "ffmpeg")
	if out, err := exec.Command("gst-inspect-1.0", "shout2send").CombinedOutput(); err != nil || !strings.Contains(string(out), "icy") {
		if os.Getenv("CI") == "true" {
			t.Fatalf("GStreamer's shout2send (gstreamer1.0-plugins-good) with ICY is required under CI=true: %v\n%s", err, out)
		}
		t.Skipf("no shout2send with ICY: %v", err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "icedeck.toml")
	if err := os.WriteFile(conf, []byte("[server]\nshoutcast_mount = \"/live.mp3\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, port := portPair(t)
	report := filepath.Join(dir, "report.json")
	deck := startHeadless(t, dir, "--config", conf, "--listen", addr, "--report", report)
	if want := "addr=127.0.0.1:" + strconv.Itoa(port+1) + " mount=/live.mp3"; !strings.Contains(deck.logs.String(), want) {
		t.Fatalf("no Shoutcast port with %s:\n%s", want, deck.logs.String())
	}

	// About 4 s of a 440 Hz tone, at the pace of the clock.
	src := exec.Command(gst, "-q", "audiotestsrc", "is-live=true", "freq=440", "num-buffers=172", "!", "audioconvert", "!",
		"lamemp3enc", "target=bitrate", "bitrate=128", "cbr=true", "!",
		"shout2send", "protocol=icy", "ip=127.0.0.1", "port="+strconv.Itoa(port), "password=pw", "mount=/live.mp3",
		"streamname=GStreamer ICY", "genre=Test")
	srcOut := startTool(t, src)
	var status statusSource
	testkit.Eventually(t, 10*time.Second, "the ICY source live", func() bool {
		var ok bool
		status, ok = oneSource([]byte(testkit.RawRequest(t, addr, "GET /status-json.xsl HTTP/1.0\r\n\r\n").Body))
		return ok
	})
	if status.ServerName != "GStreamer ICY" || status.Genre != "Test" || status.ServerType != "audio/mpeg" {
		t.Errorf("status of the ICY source: %+v", status)
	}
	l := testkit.Listen(t, addr, "/live.mp3")
	if err := src.Wait(); err != nil {
		t.Fatalf("gst-launch-1.0: %v\n%s", err, srcOut.String())
	}
	heard := l.Wait(t, 10*time.Second)
	deck.stop(t)

	sum := sha256.Sum256(heard)
	if se := onlySession(t, report); se.Mount != "/live.mp3" || se.Method != "SOURCE" || se.Bytes != uint64(len(heard)) ||
		se.SHA256 != hex.EncodeToString(sum[:]) || se.Reason != "client closed" || se.Frames.SyncLosses != 0 {
		t.Errorf("session %+v; the listener heard %d bytes, sha256 %x", se, len(heard), sum)
	}
	mp3 := filepath.Join(dir, "heard.mp3")
	if err := os.WriteFile(mp3, heard, 0o600); err != nil {
		t.Fatal(err)
	}
	pcm := runTool(t, ff, "-v", "error", "-i", mp3, "-f", "s16le", "-ac", "1", "-ar", "44100", "-")
	seconds := float64(len(pcm)/2) / 44100
	// Rising through zero, with hysteresis: coding noise near zero is not
	// a cycle.
	crossings, low := 0, false
	for i := 0; i+1 < len(pcm); i += 2 {
		switch v := int16(binary.LittleEndian.Uint16(pcm[i:])); {
		case v < -2000:
			low = true
		case v > 2000 && low:
			crossings, low = crossings+1, false
		}
	}
	hz := float64(crossings) / seconds
	t.Logf("the listener heard %d bytes: %.2f s of %.1f Hz", len(heard), seconds, hz)
	if seconds < 3.5 || hz < 430 || hz > 450 {
		t.Errorf("the listener's MP3 decodes to %.2f s of %.0f Hz; want about 4 s of 440 Hz", seconds, hz)
	}
}
