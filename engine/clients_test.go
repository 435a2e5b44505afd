package engine

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// End-to-end tests with the real clients operators use.

// decoder is ffmpeg listening to a mount and decoding it to PCM.
type decoder struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	pcm    countWriter
	done   chan error
}

type countWriter struct{ n int }

func (w *countWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

func startDecoder(t *testing.T, url string) *decoder {
	t.Helper()
	ff := testkit.NeedTool(t, "ffmpeg")
	d := &decoder{done: make(chan error, 1)}
	d.cmd = exec.Command(ff, "-nostdin", "-v", "error", "-i", url, "-f", "s16le", "-ac", "2", "-ar", "48000", "-")
	d.cmd.Stdout, d.cmd.Stderr = &d.pcm, &d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() { _ = d.cmd.Process.Kill() })
	return d
}

// wait returns the seconds of audio decoded once ffmpeg ends, failing on
// any error ffmpeg printed.
func (d *decoder) wait(t *testing.T) float64 {
	t.Helper()
	select {
	case err := <-d.done:
		if msgs := decodeErrors(d.stderr.String()); err != nil || len(msgs) > 0 {
			t.Fatalf("ffmpeg decoding the relayed stream: %v\n%s", err, strings.Join(msgs, "\n"))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("ffmpeg listener did not finish")
	}
	return float64(d.pcm.n) / (48000 * 4)
}

// decodeErrors drops the two lines ffmpeg 5.1's HTTP reader prints when
// any stream of unknown length ends (Icecast's too): "Stream ends
// prematurely at N, should be 18446744073709551615" and the I/O error
// after it. Everything else is a real complaint.
func decodeErrors(stderr string) []string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if line == "" || strings.Contains(line, "should be 18446744073709551615") || strings.HasSuffix(line, ": Input/output error") {
			continue
		}
		out = append(out, line)
	}
	return out
}

func ffmpegSource(t *testing.T, args ...string) chan string {
	t.Helper()
	return ffmpegSourceFrom(t, nil, args...)
}

// ffmpegSourceFrom runs ffmpeg reading its input from stdin.
func ffmpegSourceFrom(t *testing.T, stdin io.Reader, args ...string) chan string {
	t.Helper()
	ff := testkit.NeedTool(t, "ffmpeg")
	out := make(chan string, 1)
	pre := []string{"-nostdin", "-v", "error"}
	if stdin != nil {
		pre = pre[1:]
	}
	cmd := exec.Command(ff, append(pre, args...)...)
	cmd.Stdin = stdin
	go func() {
		b, err := cmd.CombinedOutput()
		if err != nil {
			out <- fmt.Sprintf("ffmpeg source failed: %v: %s", err, b)
			return
		}
		out <- string(b)
	}()
	return out
}

func waitSource(t *testing.T, out chan string) {
	t.Helper()
	select {
	case msg := <-out:
		if msg != "" {
			t.Fatal(msg)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ffmpeg source did not finish")
	}
}

func lastSession(t *testing.T, s *Server, mount string) Session {
	t.Helper()
	var found *Session
	testkit.Eventually(t, 3*time.Second, "session of "+mount+" ended", func() bool {
		for _, se := range s.Sessions() {
			if se.Mount == mount && !se.Ended.IsZero() {
				found = &se
			}
		}
		return found != nil
	})
	return *found
}

func TestFFmpegSources(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		name, method := "put", "PUT"
		if legacy {
			name, method = "legacy-source", "SOURCE"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, addr := startServer(t, nil)
			want := testkit.Media(t, "tone.mp3")
			// The source reads the file from a pipe: the second half is
			// written only once the listening ffmpeg is in, however long
			// a busy machine takes to start it.
			pr, pw := io.Pipe()
			args := []string{"-readrate", "4", "-f", "mp3", "-i", "-", "-c", "copy", "-f", "mp3", "-write_xing", "0", "-content_type", "audio/mpeg"}
			if legacy {
				args = append(args, "-legacy_icecast", "1")
			}
			out := ffmpegSourceFrom(t, pr, append(args, fmt.Sprintf("icecast://source:%s@%s/ff.mp3", testPassword, addr))...)
			half := len(want) / 2
			go func() { _, _ = pw.Write(want[:half]) }()
			testkit.Eventually(t, 10*time.Second, "ffmpeg connected", func() bool { return mountSnap(s, "/ff.mp3") != nil })
			dec := startDecoder(t, "http://"+addr+"/ff.mp3")
			testkit.Eventually(t, 20*time.Second, "ffmpeg listening", func() bool { return mountSnap(s, "/ff.mp3").ListenerCount == 1 })
			go func() { _, _ = pw.Write(want[half:]); pw.Close() }()
			waitSource(t, out)
			secs := dec.wait(t)
			se := lastSession(t, s, "/ff.mp3")
			if se.SHA256 != sha(want) || se.Bytes != uint64(len(want)) {
				t.Fatalf("received %d bytes sha %s; ffmpeg sent the fixture: %d bytes sha %s", se.Bytes, se.SHA256, len(want), sha(want))
			}
			if se.Method != method || !strings.HasPrefix(se.UserAgent, "Lavf") || se.Reason != ReasonClientClosed {
				t.Errorf("session %+v", se)
			}
			f := se.Frames
			if f.Codec != "MP3" || f.SampleRate != 44100 || f.Channels != 2 || f.SyncLosses != 0 || f.SkippedBytes != 0 {
				t.Errorf("frame stats %+v", f)
			}
			if d := f.Duration.Seconds(); d < 4.9 || d > 5.1 {
				t.Errorf("audio duration %.3fs, want 5 s", d)
			}
			if secs < 3 || secs > 5.1 {
				t.Errorf("ffmpeg listener decoded %.2f s of a 5 s stream", secs)
			}
		})
	}
}

// libshout probes without credentials, expects 401, then connects again.
func TestShoutOggVorbis(t *testing.T) {
	shout := testkit.NeedTool(t, "shout")
	s, addr := startServer(t, func(c *Config) { c.BurstSize = 1024 })
	ogg := testkit.Media(t, "tone.ogg")
	host, port, _ := strings.Cut(addr, ":")
	cmd := exec.Command(shout, "--format", "ogg", "-H", host, "-P", port, "--mount", "/shout.ogg",
		"--user", "source", "--pass", testPassword, "--station-name", "Shout FM", "--station-genre", "Test")
	// libshout sends in real time from a pipe: the listener joins after
	// two seconds or more, and the last two are written once it is in.
	pr, pw := io.Pipe()
	cmd.Stdin = pr
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// shout reads 4 KiB blocks and libshout sends whole pages: give it
	// four of the five seconds, wait until two are sent.
	cut := len(ogg) * 2 / 5
	ahead := len(ogg) * 4 / 5
	go func() { _, _ = pw.Write(ogg[:ahead]) }()
	testkit.Eventually(t, 10*time.Second, "shout connected", func() bool { return mountSnap(s, "/shout.ogg") != nil })
	testkit.Eventually(t, 10*time.Second, "two seconds sent", func() bool { return mountSnap(s, "/shout.ogg").Source.BytesIn >= uint64(cut) })
	dec := startDecoder(t, "http://"+addr+"/shout.ogg")
	testkit.Eventually(t, 20*time.Second, "ffmpeg listening", func() bool { return mountSnap(s, "/shout.ogg").ListenerCount == 1 })
	go func() { _, _ = pw.Write(ogg[ahead:]); pw.Close() }()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("shout: %v: %s", err, out.String())
	}
	secs := dec.wait(t)
	se := lastSession(t, s, "/shout.ogg")
	if se.SHA256 != sha(ogg) || se.Method != "SOURCE" || !strings.Contains(se.UserAgent, "libshout") {
		t.Fatalf("session %+v, want the file's sha %s", se, sha(ogg))
	}
	if f := se.Frames; f.Codec != "Vorbis" || f.CRCErrors != 0 || f.SyncLosses != 0 || f.SampleRate != 44100 {
		t.Errorf("frame stats %+v", f)
	}
	probe := findEvent(s, EventSourceRejected, "/shout.ogg")
	if probe == nil || probe.Reason != ReasonNoCredentials {
		t.Errorf("libshout's probe not seen: %+v", probe)
	}
	// It joined two seconds in or later, at the newest page: never the
	// whole stream from its start.
	if secs < 0.5 || secs > 4.5 {
		t.Errorf("mid-stream Vorbis listener decoded %.2f s of 5", secs)
	}
}

// Listeners joining mid-stream decode without a single error: Ogg needs
// its header pages replayed, AAC an ADTS frame boundary.
func TestMidStreamJoinDecodes(t *testing.T) {
	for _, tc := range []struct{ file, ct, codec string }{
		{"tone.ogg", "application/ogg", "Vorbis"},
		{"tone.opus", "audio/ogg", "Opus"},
		{"tone.aac", "audio/aac", "AAC-LC"},
		{"tone.mp3", "audio/mpeg", "MP3"},
	} {
		t.Run(tc.codec, func(t *testing.T) {
			s, addr := startServer(t, func(c *Config) { c.BurstSize = 2048 })
			data := testkit.Media(t, tc.file)
			src, _ := connectSource(t, addr, "PUT", "/mid", tc.ct)
			half := len(data) / 2
			src.Send(data[:half], 700, time.Millisecond)
			dec := startDecoder(t, "http://"+addr+"/mid")
			testkit.Eventually(t, 5*time.Second, "ffmpeg listening", func() bool {
				m := mountSnap(s, "/mid")
				return m != nil && m.ListenerCount == 1
			})
			src.Send(data[half:], 700, time.Millisecond)
			src.Close()
			secs := dec.wait(t)
			if secs < 1.5 || secs > 3.5 {
				t.Errorf("decoded %.2f s from the middle of a 5 s stream", secs)
			}
			if c := lastSession(t, s, "/mid").Frames.Codec; c != tc.codec {
				t.Errorf("codec %q, want %q", c, tc.codec)
			}
		})
	}
}

// ffmpeg pushing a file as fast as it goes closes right after its last
// write. Every byte must still arrive: an unread answer in ffmpeg's socket
// made its close a reset, and the reset dropped the stream's end.
func TestFFmpegFastSourceLosesNothing(t *testing.T) {
	s, addr := startServer(t, nil)
	mp3 := testkit.MediaPath(t, "tone.mp3")
	want := testkit.Media(t, "tone.mp3")
	for i := 0; i < 20; i++ {
		mount := fmt.Sprintf("/fast%d.mp3", i)
		args := []string{"-i", mp3, "-c", "copy", "-f", "mp3", "-write_xing", "0", "-content_type", "audio/mpeg"}
		if i%2 == 1 {
			args = append(args, "-legacy_icecast", "1") // SOURCE, streaming without reading any answer
		}
		waitSource(t, ffmpegSource(t, append(args, fmt.Sprintf("icecast://source:%s@%s%s", testPassword, addr, mount))...))
		if se := lastSession(t, s, mount); se.Bytes != uint64(len(want)) || se.SHA256 != sha(want) {
			t.Fatalf("run %d: received %d of %d bytes", i, se.Bytes, len(want))
		}
	}
}
