package frame

import (
	"bytes"
	"math/rand"
	"os/exec"
	"reflect"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// crc16Bitwise is FLAC's frame CRC-16, computed bit by bit (independent of
// the parser's table).
func crc16Bitwise(p []byte) uint16 {
	var crc uint16
	for _, b := range p {
		crc ^= uint16(b) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x8005
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

func crc8Bitwise(p []byte) byte {
	var crc byte
	for _, b := range p {
		crc ^= b
		for range 8 {
			if crc&0x80 != 0 {
				crc = crc<<1 ^ 0x07
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// flacMeta returns the length of "fLaC" + metadata blocks at d[i:].
func flacMeta(t testing.TB, d []byte, i int) int {
	if string(d[i:i+4]) != "fLaC" {
		t.Fatalf("no fLaC at %d", i)
	}
	j := i + 4
	for {
		last := d[j]&0x80 != 0
		j += 4 + (int(d[j+1])<<16 | int(d[j+2])<<8 | int(d[j+3]))
		if last {
			return j - i
		}
	}
}

// walkFLAC walks clean raw FLAC stream(s): after the metadata, a frame ends
// where the next sync code begins and the frame's CRC-16 checks (the CRC
// over a whole frame including its CRC is 0), or where a "fLaC" marker
// begins (a stream may be cut short there).
func walkFLAC(t testing.TB, d []byte) []boundary {
	var out []boundary
	var gen uint64
	i := 0
	for i < len(d) {
		if bytes.HasPrefix(d[i:], []byte("fLaC")) {
			gen++
			i += flacMeta(t, d, i)
			continue
		}
		if d[i] != 0xFF || d[i+1]&0xFE != 0xF8 {
			t.Fatalf("walkFLAC: no frame at %d", i)
		}
		out = append(out, boundary{off: i, hlen: flacLook, audio: true, gen: gen})
		j := i + 2
		for ; j < len(d); j++ {
			if d[j] == 0xFF && j+1 < len(d) && d[j+1]&0xFE == 0xF8 && crc16Bitwise(d[i:j]) == 0 || bytes.HasPrefix(d[j:], []byte("fLaC")) {
				break
			}
		}
		if j == len(d) && crc16Bitwise(d[i:]) != 0 {
			t.Fatalf("walkFLAC: frame at %d does not check", i)
		}
		i = j
	}
	return out
}

func TestFLACHeaders(t *testing.T) {
	d := testkit.Testdata(t, "flac.flac")
	m := flacMeta(t, d, 0)
	a := NewAnalyzer("audio/flac")
	a.Feed(d[:m-1])
	if h, g := a.Headers(); h != nil || g != 0 {
		t.Fatal("headers before the last metadata block is complete")
	}
	if r := a.Feed(d[m-1 : m+flacLook+1]); r != 1 {
		t.Fatalf("first frame reported at %d, want 1", r)
	}
	if h, g := a.Headers(); g != 1 || !bytes.Equal(h, d[:m]) {
		t.Fatalf("gen %d, %d header bytes, want %d", g, len(h), m)
	}
}

func TestFLACCRC16(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	for n := range 100 {
		p := make([]byte, n)
		r.Read(p)
		k := r.Intn(n + 1)
		if got, want := crc16Update(crc16Update(0, p[:k]), p[k:]), crc16Bitwise(p); got != want {
			t.Fatalf("len %d split %d: %04x want %04x", n, k, got, want)
		}
	}
}

func TestParseFLACHeader(t *testing.T) {
	d := testkit.Testdata(t, "flac.flac")
	bounds := walkFLAC(t, d)
	for k, b := range bounds {
		h, ok := parseFLACHeader(d[b.off : b.off+flacLook])
		block := 512
		if k == len(bounds)-1 {
			block = 128
		}
		if !ok || h.variable || h.num != uint64(k) || h.block != block || h.rate != 16000 || h.chans != 1 || h.bps != 16 {
			t.Fatalf("frame %d: %+v %v", k, h, ok)
		}
	}
	hdr := append([]byte(nil), d[bounds[3].off:bounds[3].off+flacLook]...)
	for _, m := range []struct {
		name string
		i    int
		xor  byte
	}{
		{"reserved sync bit", 1, 0x02}, {"block size code 0", 2, 0x50}, {"sample rate 15", 2, 0x0A},
		{"channels 11", 3, 0xB0}, {"sample size 3", 3, 0x0E ^ 0x08}, {"reserved bit", 3, 0x01},
		{"coded number", 4, 0x80}, {"CRC-8", 5, 0x01}, // 6-byte header: the CRC-8 is byte 5
	} {
		b := append([]byte(nil), hdr...)
		b[m.i] ^= m.xor
		if _, ok := parseFLACHeader(b); ok {
			t.Errorf("%s: accepted % x", m.name, b[:8])
		}
	}
	// Variable block size: a 36-bit sample number in 7 bytes, a 16-bit block
	// size and a rate in Hz.
	v := []byte{0xFF, 0xF9, 0x7D, 0x08, 0xFE, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10, 0x00, 0xAC, 0x44}
	v = append(v, crc8Bitwise(v))
	h, ok := parseFLACHeader(append(v, 0))
	if !ok || !h.variable || h.num != 1<<30 || h.block != 4097 || h.rate != 44100 || h.chans != 1 || h.bps != 16 {
		t.Fatalf("variable: %+v %v", h, ok)
	}
	if h.next() != 1<<30+4097 {
		t.Fatal("next")
	}
	v[1] = 0xF8 // fixed: a 7-byte number is too long for a frame number
	v[15] = crc8Bitwise(v[:15])
	if _, ok := parseFLACHeader(append(v, 0)); ok {
		t.Fatal("fixed strategy with a 36-bit number accepted")
	}
}

// TestFLACJunk: junk inside a frame or between two frames cannot be told
// apart from the frame (FLAC frames have no length): one CRC error, no
// loss, nothing skipped, every frame counted.
func TestFLACJunk(t *testing.T) {
	d := testkit.Testdata(t, "flac.flac")
	bounds := walkFLAC(t, d)
	base, _ := feedChunks(NewAnalyzer("audio/flac"), d, []int{1 << 30})
	for _, at := range []int{bounds[10].off, bounds[10].off + 40} {
		for _, n := range []int{1, 5, 333, 3000} {
			in := cat(d[:at], junk(int64(n), n), d[at:])
			want := base
			want.CRCErrors, want.Bytes = 1, base.Bytes+uint64(n)
			for _, sizes := range [][]int{{1 << 30}, {1}, randomSizes(int64(n), 3000)} {
				st, reps := feedChunks(NewAnalyzer("audio/flac"), in, sizes)
				if !reflect.DeepEqual(st, want) {
					t.Errorf("junk %d at %d chunks %d: stats\n got %+v\nwant %+v", n, at, sizes[0], st, want)
				}
				var shifted []boundary
				for _, b := range bounds {
					if b.off >= at {
						b.off += n
					}
					shifted = append(shifted, b)
				}
				checkReported(t, "flac.flac", reps, shifted, 0)
			}
		}
	}
}

// TestFLACGap: bytes lost from the middle of frame 10 to the middle of
// frame 13: the numbering jumps, which is one loss, and the cut frame is
// one CRC error; the frames that arrived are counted.
func TestFLACGap(t *testing.T) {
	d := testkit.Testdata(t, "flac.flac")
	bounds := walkFLAC(t, d)
	in := cat(d[:bounds[10].off+100], d[bounds[13].off+100:])
	st, reps := feedChunks(NewAnalyzer("audio/flac"), in, []int{700})
	if st.SyncLosses != 1 || st.CRCErrors != 1 || st.SkippedBytes != 0 || st.Frames != 32-3 ||
		st.Duration != time.Duration(16000-3*512)*time.Second/16000 {
		t.Fatalf("%+v", st)
	}
	// Frames 14 and 15 establish the new sync: 14 is not reported (it is
	// only known once 15 arrives), 15 and later are.
	var shifted []boundary
	cut := bounds[13].off + 100 - (bounds[10].off + 100)
	for k, b := range bounds {
		if k > 10 && k <= 14 {
			continue
		}
		if k > 14 {
			b.off -= cut
		}
		shifted = append(shifted, b)
	}
	checkReported(t, "gap", reps, shifted, 0)
}

// TestFLACFakeHeaders: valid-looking frame headers (right sync, codes and
// CRC-8, wrong numbers) written over frame payloads are never taken for
// frames; each damaged frame is one CRC error.
func TestFLACFakeHeaders(t *testing.T) {
	d := append([]byte(nil), testkit.Testdata(t, "flac.flac")...)
	bounds := walkFLAC(t, d)
	r := rand.New(rand.NewSource(1))
	for k := 5; k < 25; k++ {
		fake := append([]byte(nil), d[bounds[k].off:bounds[k].off+6]...) // FF F8 xx xx num crc
		fake[4] = byte(40 + r.Intn(80))
		fake[5] = crc8Bitwise(fake[:5])
		copy(d[bounds[k].off+20+r.Intn(300):], fake)
	}
	st, reps := feedChunks(NewAnalyzer("audio/flac"), d, []int{333})
	if st.Frames != 32 || st.CRCErrors != 20 || st.SyncLosses != 0 || st.SkippedBytes != 0 || st.Duration != time.Second {
		t.Fatalf("%+v", st)
	}
	checkReported(t, "fake headers", reps, bounds, 0)
	for _, sizes := range [][]int{{1}, {97}, {4096}} {
		_, reps := feedChunks(NewAnalyzer("audio/flac"), d, sizes)
		checkReported(t, "fake headers", reps, bounds, 0)
	}
}

// TestFLACRestart: a source restarting its encoder sends "fLaC" and new
// metadata: a new stream and header generation. The frame it cuts short is
// a CRC error. A Feed holding the end of the old stream, the new metadata
// and a new frame reports the new frame.
func TestFLACRestart(t *testing.T) {
	d := testkit.Testdata(t, "flac.flac")
	bounds := walkFLAC(t, d)
	m := flacMeta(t, d, 0)
	for _, cut := range []int{len(d), bounds[10].off + 100} {
		in := cat(d[:cut], d)
		wantCRC, frames := uint64(0), 64
		if cut < len(d) {
			wantCRC, frames = 1, 11+32
		}
		st := checkStartPoints(t, "restart", "audio/flac", in, walkFLAC(t, in))
		want := Stats{Container: "flac", Codec: "FLAC", SampleRate: 16000, Channels: 1, Frames: uint64(frames),
			CRCErrors: wantCRC, Streams: 2, Title: "Flac Artist - Raw Flac", Artist: "Flac Artist", Song: "Raw Flac", Bytes: uint64(len(in)),
			Duration: 2 * time.Second}
		if cut < len(d) {
			want.Duration = time.Duration(11*512+16000) * time.Second / 16000
		}
		if !reflect.DeepEqual(st, want) {
			t.Errorf("cut %d: stats\n got %+v\nwant %+v", cut, st, want)
		}
		a := NewAnalyzer("audio/flac")
		a.Feed(in[:cut-50])
		r := a.Feed(in[cut-50 : cut+m+flacLook])
		if h, g := a.Headers(); r != 50+m || g != 2 || !bytes.Equal(h, d[:m]) {
			t.Fatalf("cut %d: Feed across the restart returned %d, gen %d", cut, r, g)
		}
	}
}

// TestFLACDecode: stored headers + the stream from a reported frame decode
// with ffmpeg without error, and the decoded samples are the original's.
func TestFLACDecode(t *testing.T) {
	ffmpeg := testkit.NeedTool(t, "ffmpeg")
	d := testkit.Testdata(t, "flac.flac")
	a := NewAnalyzer("audio/flac")
	_, reps := feedChunks(a, d, []int{4096})
	h, _ := a.Headers()
	pcm := func(in []byte) []byte {
		cmd := exec.Command(ffmpeg, "-v", "error", "-i", "-", "-f", "s16le", "-")
		cmd.Stdin = bytes.NewReader(in)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil || errb.Len() != 0 {
			t.Fatalf("ffmpeg: %v %s", err, errb.Bytes())
		}
		return out.Bytes()
	}
	whole := pcm(d)
	var starts []int
	for _, c := range reps {
		if c[2] > len(h) {
			starts = append(starts, c[2])
		}
	}
	if len(starts) < 3 {
		t.Fatalf("%d mid-stream start points", len(starts))
	}
	for _, s := range spread(starts) {
		got := pcm(cat(h, d[s:]))
		// Frame k holds samples k*512...; 2 bytes each.
		k, _ := parseFLACHeader(d[s:])
		if !bytes.Equal(got, whole[int(k.num)*512*2:]) {
			t.Errorf("from %d (frame %d): %d PCM bytes differ from the original's tail", s, k.num, len(got))
		}
	}
}

// TestFLACHeadersCap: metadata over MaxHeaderBytes (a big PADDING or
// PICTURE block) is not stored, but still parsed: the title is read and
// frames are found right after it.
func TestFLACHeadersCap(t *testing.T) {
	d := testkit.Testdata(t, "flac.flac")
	m := flacMeta(t, d, 0)
	// fLaC, STREAMINFO (4+34), VORBIS_COMMENT, then the fixture's PADDING
	// (flagged last) is replaced by one over the cap.
	si := d[4 : 4+38]
	vc := d[4+38 : m-4-8192]
	if vc[0]&0x7F != 4 || d[m-4-8192] != 0x81 {
		t.Fatalf("unexpected metadata layout % x", d[:8])
	}
	n := MaxHeaderBytes + 1000
	pad := cat([]byte{0x81, byte(n >> 16), byte(n >> 8), byte(n)}, make([]byte, n))
	in := cat([]byte("fLaC"), si, vc, pad, d[m:])
	a := NewAnalyzer("audio/flac")
	st, reps := feedChunks(a, in, []int{65536})
	h, g := a.Headers()
	if h != nil || g != 1 || !st.HeadersTruncated || st.Title != "Flac Artist - Raw Flac" || st.Frames != 32 || st.CRCErrors != 0 || st.Duration != time.Second {
		t.Fatalf("headers %d bytes gen %d, %+v", len(h), g, st)
	}
	first := len(in) - (len(d) - m)
	if reps[first/65536][2] != first {
		t.Fatalf("first frame at %d not reported: %v", first, reps[first/65536])
	}
}
