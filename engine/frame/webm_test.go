package frame

import (
	"bytes"
	"math/rand"
	"os/exec"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// ebmlVint reads an EBML variable-size integer at d[i:]: its value (marker
// kept for IDs), its length, and whether it is the "unknown" size.
func ebmlVint(d []byte, i int, keepMarker bool) (v uint64, n int, unknown bool) {
	n = 1
	for m := byte(0x80); n <= 8 && d[i]&m == 0; m >>= 1 {
		n++
	}
	v = uint64(d[i])
	if !keepMarker {
		v &= 0xFF >> n
	}
	ones := v == 0xFF>>n
	for k := 1; k < n; k++ {
		v = v<<8 | uint64(d[i+k])
		ones = ones && d[i+k] == 0xFF
	}
	return v, n, ones && !keepMarker
}

// ebmlElem is an element found by walkEBML.
type ebmlElem struct {
	id              uint64
	off, hlen, size int // size -1: unknown
	depth           int
}

// walkEBML lists the elements of a clean file, descending into Segment,
// Cluster, Tracks, TrackEntry and BlockGroup. An unknown-size Cluster ends
// at the next element that is not a Cluster child.
func walkEBML(t testing.TB, d []byte) []ebmlElem {
	var out []ebmlElem
	masters := map[uint64]bool{idSegment: true, idCluster: true, idTracks: true, idTrackEntry: true, idBlockGroup: true}
	clusterKids := map[uint64]bool{idTimecode: true, idSimpleBlock: true, idBlockGroup: true, idVoid: true, idCRC32: true, idPosition: true, idPrevSize: true}
	var walk func(i, end, depth int, parent uint64) int
	walk = func(i, end, depth int, parent uint64) int {
		for i < end {
			id, il, _ := ebmlVint(d, i, true)
			if parent == idCluster && end == len(d) && !clusterKids[id] {
				return i // end of an unknown-size Cluster
			}
			if parent == idSegment && end == len(d) && id == idEBML {
				return i
			}
			sz, sl, unk := ebmlVint(d, i+il, false)
			e := ebmlElem{id: id, off: i, hlen: il + sl, size: int(sz), depth: depth}
			if unk {
				e.size = -1
			}
			out = append(out, e)
			body := i + il + sl
			switch {
			case masters[id] && unk:
				i = walk(body, len(d), depth+1, id)
			case masters[id]:
				walk(body, body+int(sz), depth+1, id)
				i = body + int(sz)
			default:
				i = body + int(sz)
			}
		}
		return i
	}
	if i := walk(0, len(d), 0, 0); i != len(d) {
		t.Fatalf("walkEBML stopped at %d of %d", i, len(d))
	}
	return out
}

// walkWebM returns the Clusters of a clean file as start points, for the
// generation of their segment. With a video track, a Cluster is one only if
// its first video block is a key frame, and it can be reported once the
// first bytes of that block (track, timestamp, flags: up to 11) are in.
func walkWebM(t testing.TB, d []byte) []boundary {
	var out []boundary
	var gen uint64
	video := uint64(0)
	var cur *boundary // the Cluster awaiting its first video block
	els := walkEBML(t, d)
	for k, e := range els {
		body := e.off + e.hlen
		switch e.id {
		case idEBML:
			gen++
			video = 0
		case idTrackEntry:
			var num, typ uint64
			for _, c := range els[k+1:] {
				if c.depth <= e.depth {
					break
				}
				if c.id == idTrackNumber {
					num = beUint(d[c.off+c.hlen : c.off+c.hlen+c.size])
				}
				if c.id == idTrackType {
					typ = beUint(d[c.off+c.hlen : c.off+c.hlen+c.size])
				}
			}
			if typ == 1 && video == 0 {
				video = num
			}
		case idCluster:
			out = append(out, boundary{off: e.off, hlen: e.hlen, audio: video == 0, gen: gen})
			cur = &out[len(out)-1]
			if video == 0 {
				cur = nil
			}
		case idSimpleBlock, idBlock:
			track, n, _ := ebmlVint(d, body, false)
			if cur != nil && track == video {
				cur.audio = e.id == idBlock || d[body+n+2]&0x80 != 0
				cur.hlen = body + min(e.size, 11) - cur.off
				cur = nil
			}
		}
	}
	return out
}

var webmFixtures = []struct{ name, ct string }{
	{"opus.webm", "audio/webm"}, {"vorbis.webm", "audio/webm"}, {"aac.mka", "audio/x-matroska"}, {"video.webm", "video/webm"},
}

// checkStartPoints feeds d at several chunkings and checks that each Feed
// reports exactly the first start point of the current generation whose
// deciding bytes are inside it, and that the stats do not depend on the
// chunking.
func checkStartPoints(t *testing.T, name, ct string, d []byte, bounds []boundary) Stats {
	t.Helper()
	var first Stats
	for ci, sizes := range [][]int{{1 << 30}, {1}, {4096}, randomSizes(11, 7), randomSizes(12, 300), randomSizes(13, 9000)} {
		st, reps := feedChunks(NewAnalyzer(ct), d, sizes)
		if ci == 0 {
			first = st
		} else if !reflect.DeepEqual(st, first) {
			t.Errorf("%s chunking %d: stats\n got %+v\nwant %+v", name, ci, st, first)
		}
		for _, c := range reps {
			want := -1
			for _, b := range bounds {
				if b.audio && b.gen == uint64(c[3]) && b.off >= c[0] && b.off+b.hlen <= c[1] {
					want = b.off
					break
				}
			}
			if c[2] != want {
				t.Fatalf("%s chunking %d: chunk [%d,%d) gen %d reported %d, want %d", name, ci, c[0], c[1], c[3], c[2], want)
			}
		}
	}
	return first
}

func TestWebMHeaders(t *testing.T) {
	for _, f := range webmFixtures {
		d := testkit.Testdata(t, f.name)
		var c1, hl int // the first Cluster and its element header's length
		for _, e := range walkEBML(t, d) {
			if e.id == idCluster {
				c1, hl = e.off, e.hlen
				break
			}
		}
		a := NewAnalyzer(f.ct)
		a.Feed(d[:c1+hl-1])
		if h, g := a.Headers(); h != nil || g != 0 {
			t.Fatalf("%s: headers before the first Cluster's header is complete", f.name)
		}
		a.Feed(d[c1+hl-1:])
		if h, g := a.Headers(); g != 1 || !bytes.Equal(h, d[:c1]) {
			t.Fatalf("%s: gen %d, %d header bytes, want the %d before the first Cluster", f.name, g, len(h), c1)
		}
	}
}

// unknownClusterSizes rewrites every Cluster's size as "unknown" (same
// length), as a live muxer that does not buffer clusters writes them.
func unknownClusterSizes(t testing.TB, d []byte) []byte {
	out := append([]byte(nil), d...)
	for _, e := range walkEBML(t, d) {
		if e.id == idCluster {
			_, il, _ := ebmlVint(d, e.off, true)
			sl := e.hlen - il
			out[e.off+il] = 0xFF >> (sl - 1)
			for k := 1; k < sl; k++ {
				out[e.off+il+k] = 0xFF
			}
		}
	}
	return out
}

func TestWebMUnknownClusterSizes(t *testing.T) {
	for _, f := range webmFixtures {
		d := testkit.Testdata(t, f.name)
		u := unknownClusterSizes(t, d)
		if bytes.Equal(u, d) {
			t.Fatal("nothing rewritten")
		}
		want, _ := feedChunks(NewAnalyzer(f.ct), d, []int{1 << 30})
		st := checkStartPoints(t, f.name+" unknown sizes", f.ct, u, walkWebM(t, u))
		if !reflect.DeepEqual(st, want) {
			t.Errorf("%s: unknown Cluster sizes change the stats\n got %+v\nwant %+v", f.name, st, want)
		}
	}
}

// TestWebMNewSegment: a source that restarts sends a new EBML header; the
// segment before it (live: unknown size) ends there. One Feed holding the
// end of the old segment, the new header and the first Cluster reports
// that Cluster, for the new generation.
func TestWebMNewSegment(t *testing.T) {
	a, b := testkit.Testdata(t, "opus.webm"), testkit.Testdata(t, "vorbis.webm")
	d := cat(a, b)
	bounds := walkWebM(t, d)
	st := checkStartPoints(t, "opus+vorbis", "audio/webm", d, bounds)
	want := Stats{Container: "webm", Codec: "Vorbis", SampleRate: 44100, Channels: 2, Frames: 126 + 77,
		Duration: 2501*time.Millisecond + 1501*time.Millisecond, Streams: 2, Bytes: uint64(len(d))}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("stats\n got %+v\nwant %+v", st, want)
	}
	an := NewAnalyzer("audio/webm")
	an.Feed(d[:len(a)-500])
	r := an.Feed(d[len(a)-500 : len(a)+4302+100])
	h, g := an.Headers()
	if r != 500+4302 || g != 2 || !bytes.Equal(h, b[:4302]) {
		t.Fatalf("Feed across the restart returned %d, gen %d, %d header bytes", r, g, len(h))
	}
	// The same with unknown-size clusters in both.
	checkStartPoints(t, "opus+vorbis unknown sizes", "audio/webm", unknownClusterSizes(t, d), walkWebM(t, unknownClusterSizes(t, d)))
}

// TestWebMJunk: junk where an element header is expected is one loss, and
// the bytes to the next Cluster are skipped; blocks and duration there are
// unaffected when the junk is at a cluster boundary.
func TestWebMJunk(t *testing.T) {
	for _, f := range webmFixtures[:3] {
		d := testkit.Testdata(t, f.name)
		bounds := walkWebM(t, d)
		base, _ := feedChunks(NewAnalyzer(f.ct), d, []int{1 << 30})
		at := bounds[2].off
		for _, n := range []int{1, 5, 333, 3000} {
			j := junk(int64(n+7), n)
			if bytes.Contains(j, []byte{0x1F, 0x43, 0xB6, 0x75}) || bytes.Contains(j, []byte{0x1A, 0x45, 0xDF, 0xA3}) {
				t.Fatal("junk contains an ID hunted for")
			}
			in := cat(d[:at], j, d[at:])
			want := base
			want.SyncLosses, want.SkippedBytes, want.Bytes = 1, uint64(n), base.Bytes+uint64(n)
			for _, sizes := range [][]int{{1 << 30}, {1}, randomSizes(int64(n), 3000)} {
				st, reps := feedChunks(NewAnalyzer(f.ct), in, sizes)
				if !reflect.DeepEqual(st, want) {
					t.Errorf("%s junk %d at a cluster boundary, chunks %d: stats\n got %+v\nwant %+v", f.name, n, sizes[0], st, want)
				}
				var shifted []boundary
				for _, b := range bounds {
					if b.off >= at {
						b.off += n
					}
					shifted = append(shifted, b)
				}
				checkReported(t, f.name, reps, shifted, 0)
			}
		}
		// Junk inside a block: the block's size is wrong by n, so the next
		// element header is read inside audio data: one loss, and hunting
		// skips to the next Cluster. Blocks after the damaged one in that
		// cluster are lost to the count.
		els := walkEBML(t, d)
		var blk ebmlElem
		for _, e := range els {
			if e.id == idSimpleBlock && e.off > bounds[1].off+100 {
				blk = e
				break
			}
		}
		after := 0 // blocks of the damaged cluster after the damaged one
		for _, e := range els {
			if e.id == idSimpleBlock && e.off > blk.off && e.off < bounds[2].off {
				after++
			}
		}
		pos := blk.off + blk.hlen + 5
		for _, n := range []int{1, 5, 333} {
			in := cat(d[:pos], junk(int64(n), n), d[pos:])
			st, reps := feedChunks(NewAnalyzer(f.ct), in, []int{1000})
			// The parser expects the next element where the block's size
			// ends; audio bytes there may still pass for an element or two
			// (a SimpleBlock ID and a size that fits) before one fails.
			failAt := blk.off + blk.hlen + blk.size
			lost := base.Frames - uint64(after)
			if st.SyncLosses != 1 || st.Frames < lost || st.Frames > lost+2 ||
				st.SkippedBytes == 0 || st.SkippedBytes > uint64(bounds[2].off+n-failAt) {
				t.Errorf("%s junk %d inside a block: %+v (want ~%d frames, <= %d skipped)", f.name, n, st, lost, bounds[2].off+n-failAt)
			}
			for _, c := range reps {
				if c[2] >= 0 && c[2] < pos && c[2] != bounds[0].off && c[2] != bounds[1].off {
					t.Errorf("%s: reported %d before the junk", f.name, c[2])
				}
				if c[2] >= pos && (c[2]-n) != bounds[2].off && (c[2]-n) < bounds[3].off {
					t.Errorf("%s: reported %d after the junk, not a Cluster", f.name, c[2])
				}
			}
		}
	}
}

// TestWebMRandomJunk: random garbage anywhere in a stream never makes Feed
// report anything but a real Cluster of the current generation.
func TestWebMRandomJunk(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for _, f := range webmFixtures {
		d := testkit.Testdata(t, f.name)
		bounds := walkWebM(t, d)
		for iter := range 200 {
			at := r.Intn(len(d))
			n := 1 + r.Intn(2000)
			in := cat(d[:at], junk(int64(iter), n), d[at:])
			st, reps := feedChunks(NewAnalyzer(f.ct), in, randomSizes(int64(iter), 5000))
			for _, c := range reps {
				if c[2] < 0 {
					continue
				}
				o := c[2]
				if o >= at+n {
					o -= n
				} else if o >= at {
					t.Fatalf("%s: reported %d inside junk [%d,%d)", f.name, c[2], at, at+n)
				}
				ok := false
				for _, b := range bounds {
					ok = ok || (b.off == o && b.audio)
				}
				if !ok || !bytes.HasPrefix(in[c[2]:], []byte{0x1F, 0x43, 0xB6, 0x75}) {
					t.Fatalf("%s junk [%d,%d): reported %d, not a start point", f.name, at, at+n, c[2])
				}
			}
			if st.Bytes != uint64(len(in)) {
				t.Fatal("bytes")
			}
		}
	}
}

// TestWebMDecode: stored headers + the stream from a reported Cluster
// decode with ffmpeg without error; for the video fixture, from a Cluster
// that does not start with a key frame they do not (which is why such a
// Cluster is not a start point).
func TestWebMDecode(t *testing.T) {
	ffmpeg := testkit.NeedTool(t, "ffmpeg")
	decode := func(in []byte) string {
		cmd := exec.Command(ffmpeg, "-v", "error", "-i", "-", "-f", "null", "-")
		cmd.Stdin = bytes.NewReader(in)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return err.Error() + ": " + string(out)
		}
		// vorbis.webm was written to a file: its Segment has a known size,
		// which the stored header keeps (as Icecast does), so a listener
		// joining later gets fewer bytes than it announces.
		out = regexp.MustCompile(`\[matroska,webm @ 0x[0-9a-f]+\] File ended prematurely at pos\. \d+ \(0x[0-9a-f]+\)\n?`).ReplaceAll(out, nil)
		return string(bytes.TrimSpace(out))
	}
	for _, f := range webmFixtures {
		d := testkit.Testdata(t, f.name)
		a := NewAnalyzer(f.ct)
		_, reps := feedChunks(a, d, []int{1500})
		h, _ := a.Headers()
		var starts []int
		for _, c := range reps {
			if c[2] > len(h) { // mid-stream: not the first Cluster
				starts = append(starts, c[2])
			}
		}
		if len(starts) < 2 && !(f.name == "video.webm" && len(starts) == 1) { // video.webm has two key-frame Clusters
			t.Errorf("%s: %d mid-stream start points", f.name, len(starts))
		}
		for _, s := range spread(starts) {
			if out := decode(cat(h, d[s:])); out != "" {
				t.Errorf("%s from %d: %s", f.name, s, out)
			}
		}
		if f.name == "video.webm" {
			for _, b := range walkWebM(t, d)[1:3] {
				if b.audio {
					t.Fatal("video.webm: expected Clusters 2 and 3 not to start with a key frame")
				}
				if out := decode(cat(h, d[b.off:])); out == "" {
					t.Errorf("video.webm from the non-key Cluster at %d decodes cleanly", b.off)
				}
			}
		}
	}
}

// spread picks at most three of xs: the first, the middle and the last.
func spread(xs []int) []int {
	if len(xs) <= 3 {
		return xs
	}
	return []int{xs[0], xs[len(xs)/2], xs[len(xs)-1]}
}

// TestWebMHeadersCap: a segment header over MaxHeaderBytes (here a huge Void
// before the first Cluster) is not stored; the stream is still parsed.
func TestWebMHeadersCap(t *testing.T) {
	d := testkit.Testdata(t, "opus.webm")
	c1 := walkWebM(t, d)[0].off
	n := MaxHeaderBytes + 1000
	void := cat([]byte{idVoid, 0x01, 0, 0, 0, 0, byte(n >> 16), byte(n >> 8), byte(n)}, make([]byte, n))
	in := cat(d[:c1], void, d[c1:])
	a := NewAnalyzer("audio/webm")
	st, _ := feedChunks(a, in, []int{65536})
	want, _ := feedChunks(NewAnalyzer("audio/webm"), d, []int{65536})
	want.HeadersTruncated, want.Bytes = true, uint64(len(in))
	if h, g := a.Headers(); h != nil || g != 1 || !reflect.DeepEqual(st, want) {
		t.Fatalf("headers %d bytes gen %d\n got %+v\nwant %+v", len(h), g, st, want)
	}
}
