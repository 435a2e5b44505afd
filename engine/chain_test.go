package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// oggPage is one page of a test stream: where it starts, how long it is.
type oggPage struct {
	off, n  int
	granule uint64
	bos     bool
}

func oggPages(t *testing.T, b []byte) []oggPage {
	t.Helper()
	var pages []oggPage
	for off := 0; off < len(b); {
		if off+27 > len(b) || string(b[off:off+4]) != "OggS" {
			t.Fatalf("no Ogg page at %d", off)
		}
		nseg := int(b[off+26])
		n := 27 + nseg
		for _, l := range b[off+27 : off+27+nseg] {
			n += int(l)
		}
		pages = append(pages, oggPage{off: off, n: n, granule: binary.LittleEndian.Uint64(b[off+6:]), bos: b[off+5]&2 != 0})
		off += n
	}
	return pages
}

// Liquidsoap's Vorbis and Opus outputs send the last page of one chain
// link and the next link's header pages in one write at each title change.
// A listener joining then got the new link's headers, a page of the old
// link, then the headers again, and no player could open that.
func TestChainedOggLinkChangeInOneWrite(t *testing.T) {
	ffmpeg := testkit.NeedTool(t, "ffmpeg")
	for _, tc := range []struct{ name, codec string }{{"Vorbis", "libvorbis"}, {"Opus", "libopus"}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var links [][]byte
			for i, f := range []string{"440", "660"} {
				p := filepath.Join(dir, f+".ogg")
				if out, err := exec.Command(ffmpeg, "-v", "error", "-f", "lavfi", "-i", "sine=f="+f+":d=3", "-c:a", tc.codec,
					"-metadata", "title=link "+f, "-f", "ogg", p).CombinedOutput(); err != nil {
					t.Fatalf("ffmpeg link %d: %v\n%s", i, err, out)
				}
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				links = append(links, b)
			}
			a, b := links[0], links[1]
			pa, pb := oggPages(t, a), oggPages(t, b)
			firstAudio := 0 // index of b's first page after its headers
			for i, p := range pb {
				if p.granule != 0 && !p.bos {
					firstAudio = i
					break
				}
			}
			last := pa[len(pa)-1]
			joint := append(append([]byte{}, a[last.off:]...), b[:pb[firstAudio].off+pb[firstAudio].n]...)

			s, addr := startServer(t, func(c *Config) { c.BurstSize = 8192 })
			src, _ := connectSource(t, addr, "PUT", "/chain.ogg", "application/ogg")
			src.Send(a[:last.off], 4096, 2*time.Millisecond)
			time.Sleep(50 * time.Millisecond) // published before the joint
			src.Send(joint, len(joint), 0)
			time.Sleep(50 * time.Millisecond)
			l := testkit.Listen(t, addr, "/chain.ogg")
			dec := startDecoder(t, "http://"+addr+"/chain.ogg")
			testkit.Eventually(t, 20*time.Second, "two listeners", func() bool { return mountSnap(s, "/chain.ogg").ListenerCount == 2 })
			rest := b[pb[firstAudio].off+pb[firstAudio].n:]
			src.Send(rest, 4096, 2*time.Millisecond)
			src.Close()

			got := l.Wait(t, 10*time.Second)
			headers := b[:pb[firstAudio].off]
			if !bytes.HasPrefix(got, headers) {
				t.Fatalf("listener did not start with the new link's header pages")
			}
			tail := got[len(headers):]
			if !bytes.HasSuffix(b, tail) || len(tail) == 0 {
				t.Fatalf("after the headers, the listener got %d bytes that are not the new link's pages to its end", len(tail))
			}
			for _, p := range oggPages(t, tail) {
				if p.bos {
					t.Fatal("headers sent again mid-stream")
				}
			}
			if secs := dec.wait(t); secs < 1 {
				t.Fatalf("ffmpeg decoded only %.2f s", secs)
			}
		})
	}
}

// Types the analyser did not parse (WebM, raw FLAC, anything else): a
// listener joining after the first 64 KiB got no byte at all, ever.
func TestLateListenerOnEveryContainerDecodes(t *testing.T) {
	ffmpeg := testkit.NeedTool(t, "ffmpeg")
	for _, tc := range []struct{ name, ct, format string }{
		{"WebM", "audio/webm", "-c:a libopus -b:a 160k -f webm"},
		{"FLAC", "audio/flac", "-c:a flac -f flac"},
		{"opaque", "application/x-unknown", "-c:a pcm_s16le -f wav"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "x")
			args := append([]string{"-v", "error", "-f", "lavfi", "-i", "sine=f=440:d=16,aeval=val(0)*0.5+random(0)*0.1"}, strings.Fields(tc.format)...)
			if out, err := exec.Command(ffmpeg, append(args, file)...).CombinedOutput(); err != nil {
				t.Fatalf("ffmpeg: %v\n%s", err, out)
			}
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			s, addr := startServer(t, nil)
			src, _ := connectSource(t, addr, "PUT", "/late", tc.ct)
			third := len(data) / 3
			if third < 80<<10 {
				t.Fatalf("fixture of %d bytes is too short to join after the burst", len(data))
			}
			src.Send(data[:third], 4096, time.Millisecond)
			l := testkit.Listen(t, addr, "/late")
			testkit.Eventually(t, 2*time.Second, "listener placed", func() bool { return mountSnap(s, "/late").ListenerCount == 1 })
			src.Send(data[third:], 4096, time.Millisecond)
			src.Close()
			got := l.Wait(t, 10*time.Second)
			if len(got) < len(data)-third {
				t.Fatalf("late listener got %d bytes, want at least the %d sent after it joined", len(got), len(data)-third)
			}
			if tc.name == "opaque" {
				if !bytes.HasSuffix(data, got) {
					t.Fatal("opaque stream: not a contiguous run of what was sent")
				}
				return
			}
			// What a player opens: decode the bytes the listener got.
			rec := filepath.Join(t.TempDir(), "got")
			if err := os.WriteFile(rec, got, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(ffmpeg, "-v", "error", "-i", rec, "-f", "s16le", "-ac", "1", "-ar", "48000", "-").Output()
			var ee *exec.ExitError
			if errors.As(err, &ee) || len(decodeErrors(string(stderrOf(err)))) > 0 {
				t.Fatalf("ffmpeg cannot decode what a late listener got: %v %s", err, stderrOf(err))
			}
			if secs := float64(len(out)) / 96000; secs < 9 {
				t.Fatalf("decoded %.2f s from a listener that joined a third into 16 s", secs)
			}
		})
	}
}

func stderrOf(err error) []byte {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.Stderr
	}
	return nil
}
