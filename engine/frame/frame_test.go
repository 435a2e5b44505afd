package frame

import (
	"bytes"
	"encoding/binary"
	"math/rand"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

func frames(n, samples, rate int) time.Duration {
	return time.Duration(int64(n) * int64(samples) * int64(time.Second) / int64(rate))
}

// Expected values come from ffprobe (see testdata/README.md): frame/packet
// counts, rates, channels, granule-derived durations, and page counts from
// an independent Python walker.
type fixtureCase struct {
	name, ctype string
	want        Stats
	hlen        int // header bytes needed before a boundary can be reported
}

func fixtureCases() []fixtureCase {
	return []fixtureCase{
		// ffprobe: 97 audio packets + the LAME "Info" frame, which ffprobe
		// consumes as a header but which is a valid frame on the wire.
		{"cbr.mp3", "audio/mpeg", Stats{Container: "mpeg", Codec: "MP3", Version: "1", SampleRate: 44100, Channels: 2,
			Bitrate: 128000, MinBitrate: 128000, MaxBitrate: 128000, Frames: 98, TagBytes: 35 + 128,
			Duration: frames(98, 1152, 44100), Streams: 1, Bytes: 41122}, 4},
		{"vbr.mp3", "audio/mpeg", Stats{Container: "mpeg", Codec: "MP3", Version: "1", SampleRate: 44100, Channels: 2,
			// VBR: the average over the frames (audio bytes * 8 / duration), not the Info frame's 64k.
			Bitrate: int(float64((40130-20)*8) / frames(98, 1152, 44100).Seconds()), MinBitrate: 64000, MaxBitrate: 320000, Frames: 98, TagBytes: 20,
			Duration: frames(98, 1152, 44100), Streams: 1, Bytes: 40130}, 4},
		// ffprobe: 98 packets + Info frame; 576 samples per MPEG-2 layer III frame.
		{"mpeg2.mp3", "audio/mpeg", Stats{Container: "mpeg", Codec: "MP3", Version: "2", SampleRate: 22050, Channels: 2,
			Bitrate: 64000, MinBitrate: 64000, MaxBitrate: 64000, Frames: 99, TagBytes: 20,
			Duration: frames(99, 576, 22050), Streams: 1, Bytes: 20708}, 4},
		{"layer2.mp2", "audio/mpeg", Stats{Container: "mpeg", Codec: "MP2", Version: "1", SampleRate: 48000, Channels: 2,
			Bitrate: 192000, MinBitrate: 192000, MaxBitrate: 192000, Frames: 105,
			Duration: frames(105, 1152, 48000), Streams: 1, Bytes: 60480}, 4},
		// ffprobe: 109 packets of 1024 samples; its 97715 b/s bit_rate is
		// computed over its own (estimated) duration, ours over the samples.
		{"aac.aac", "audio/aac", Stats{Container: "adts", Codec: "AAC-LC", SampleRate: 44100, Channels: 2,
			Bitrate: 97720, MinBitrate: 72007, MaxBitrate: 139535, Frames: 109,
			Duration: frames(109, 1024, 44100), Streams: 1, Bytes: 30916}, 7},
		// ffprobe duration_ts 110250 at 44100 Hz.
		{"vorbis.ogg", "audio/ogg", Stats{Container: "ogg", Codec: "Vorbis", SampleRate: 44100, Channels: 2,
			Bitrate: 96000, Frames: 25, Duration: 2500 * time.Millisecond, Streams: 1,
			Title: "Test Artist - Vorbis Song", Artist: "Test Artist", Song: "Vorbis Song", Bytes: 32823}, 27},
		// Last granule 120312 (ffprobe duration_ts), minus the 312-sample
		// pre-skip (ffprobe does not subtract it): 120000 / 48000 = 2.5 s.
		{"opus.opus", "audio/opus", Stats{Container: "ogg", Codec: "Opus", SampleRate: 48000, Channels: 2,
			Frames: 28, Duration: 2500 * time.Millisecond, Streams: 1, Title: "Opus Song", Song: "Opus Song", Bytes: 27729}, 27},
		{"flac.oga", "audio/flac+ogg", Stats{Container: "ogg", Codec: "FLAC", SampleRate: 22050, Channels: 1,
			Frames: 22, Duration: 2 * time.Second, Streams: 1, Title: "Flac Artist - Flac Song", Artist: "Flac Artist", Song: "Flac Song", Bytes: 14654}, 27},
		// 16 + 16 pages; 66150 samples at 44100 + 33075 at 22050. Stats
		// describe the current (second) link.
		{"chained.ogg", "application/ogg", Stats{Container: "ogg", Codec: "Vorbis", SampleRate: 22050, Channels: 1,
			Bitrate: 24000, Frames: 32, Duration: 3 * time.Second, Streams: 2, Title: "Second - Part Two", Artist: "Second", Song: "Part Two", Bytes: 21180}, 27},
		// 15 + 15 pages; granules 57912 - 312 pre-skip, twice.
		{"chained_opus.opus", "audio/ogg", Stats{Container: "ogg", Codec: "Opus", SampleRate: 48000, Channels: 1,
			Frames: 30, Duration: 2400 * time.Millisecond, Streams: 2, Title: "Second - Opus Two", Artist: "Second", Song: "Opus Two", Bytes: 12100}, 27},
		// WebM/Matroska: ffprobe packet counts (one block each, no lacing)
		// and first/last packet pts in ms (TimecodeScale 1 ms): Duration is
		// the span of block timestamps.
		{"opus.webm", "audio/webm", Stats{Container: "webm", Codec: "Opus", SampleRate: 48000, Channels: 2,
			Frames: 126, Duration: (2494 + 7) * time.Millisecond, Streams: 1, Bytes: 22270}, 0},
		{"vorbis.webm", "audio/webm", Stats{Container: "webm", Codec: "Vorbis", SampleRate: 44100, Channels: 2,
			Frames: 77, Duration: 1501 * time.Millisecond, Streams: 1, Bytes: 16573}, 0},
		{"aac.mka", "audio/x-matroska", Stats{Container: "webm", Codec: "AAC", SampleRate: 44100, Channels: 2,
			Frames: 66, Duration: 1509 * time.Millisecond, Streams: 1, Bytes: 12685}, 0},
		// ffprobe: 32 packets, 31 x 512 + 128 samples at 16 kHz.
		{"flac.flac", "audio/flac", Stats{Container: "flac", Codec: "FLAC", SampleRate: 16000, Channels: 1,
			Frames: 32, Duration: time.Second, Streams: 1, Title: "Flac Artist - Raw Flac", Artist: "Flac Artist", Song: "Raw Flac", Bytes: 32506}, flacLook},
	}
}

// boundary is a frame/page start found by the independent walkers below.
type boundary struct {
	off, hlen int
	audio     bool   // a player may start here (Ogg: audio page without continued packet)
	gen       uint64 // the header generation it is a start point for (0: none needed)
}

// walkMPEG walks a clean MPEG audio file (tags allowed between frames).
func walkMPEG(t testing.TB, d []byte) []boundary {
	kbps := map[[2]int][]int{
		{1, 1}: {0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448},
		{1, 2}: {0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384},
		{1, 3}: {0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320},
		{2, 1}: {0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256},
		{2, 2}: {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
		{2, 3}: {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
	}
	rates := map[int][]int{3: {44100, 48000, 32000}, 2: {22050, 24000, 16000}, 0: {11025, 12000, 8000}}
	var out []boundary
	for i := 0; i < len(d); {
		switch {
		case bytes.HasPrefix(d[i:], []byte("ID3")):
			i += 10 + (int(d[i+6])<<21 | int(d[i+7])<<14 | int(d[i+8])<<7 | int(d[i+9]))
			continue
		case bytes.HasPrefix(d[i:], []byte("TAG")):
			i += 128
			continue
		}
		h := binary.BigEndian.Uint32(d[i:])
		if h>>21 != 0x7FF {
			t.Fatalf("walkMPEG: no frame at %d", i)
		}
		ver, layer := int(h>>19&3), 4-int(h>>17&3)
		v := 2
		if ver == 3 {
			v = 1
		}
		br := kbps[[2]int{v, layer}][h>>12&15] * 1000
		sr := rates[ver][h>>10&3]
		pad := int(h >> 9 & 1)
		n := 144*br/sr + pad
		if layer == 1 {
			n = (12*br/sr + pad) * 4
		} else if layer == 3 && v == 2 {
			n = 72*br/sr + pad
		}
		out = append(out, boundary{off: i, hlen: 4, audio: true})
		i += n
	}
	return out
}

func walkADTS(t testing.TB, d []byte) []boundary {
	var out []boundary
	for i := 0; i < len(d); {
		if d[i] != 0xFF || d[i+1]&0xF0 != 0xF0 {
			t.Fatalf("walkADTS: no frame at %d", i)
		}
		out = append(out, boundary{off: i, hlen: 7, audio: true})
		i += int(d[i+3]&3)<<11 | int(d[i+4])<<3 | int(d[i+5]>>5)
	}
	return out
}

// walkOgg walks a clean Ogg file. A page is a header page iff its granule
// position is 0: true of these ffmpeg-made fixtures, where every audio page
// ends a packet. A BOS page after a non-BOS page starts the next chain link
// (the next header generation).
func walkOgg(t testing.TB, d []byte) []boundary {
	var out []boundary
	var gen uint64
	prevBOS := false
	for i := 0; i < len(d); {
		if string(d[i:i+4]) != "OggS" {
			t.Fatalf("walkOgg: no page at %d", i)
		}
		ns := int(d[i+26])
		size := 27 + ns
		for _, l := range d[i+27 : i+27+ns] {
			size += int(l)
		}
		g := binary.LittleEndian.Uint64(d[i+6:])
		bos := d[i+5]&2 != 0
		if bos && !prevBOS {
			gen++
		}
		prevBOS = bos
		out = append(out, boundary{off: i, hlen: 27 + ns, audio: g != 0 && d[i+5]&1 == 0, gen: gen})
		i += size
	}
	return out
}

func walk(t testing.TB, container string, d []byte) []boundary {
	switch container {
	case "mpeg":
		return walkMPEG(t, d)
	case "adts":
		return walkADTS(t, d)
	case "webm":
		return walkWebM(t, d)
	case "flac":
		return walkFLAC(t, d)
	}
	return walkOgg(t, d)
}

// feedChunks feeds d cut at the given sizes (cycled) and returns the stats
// and the absolute positions Feed reported, one entry per chunk (-1: none),
// with the header generation after that Feed.
func feedChunks(a Analyzer, d []byte, sizes []int) (Stats, [][4]int) {
	var reps [][4]int // chunk start, chunk end, absolute report or -1, generation
	for i, k := 0, 0; i < len(d); k++ {
		n := min(sizes[k%len(sizes)], len(d)-i)
		r := a.Feed(d[i : i+n])
		if r >= 0 {
			r += i
		}
		_, gen := a.Headers()
		reps = append(reps, [4]int{i, i + n, r, int(gen)})
		i += n
	}
	return a.Stats(), reps
}

func randomSizes(seed int64, max int) []int {
	r := rand.New(rand.NewSource(seed))
	s := make([]int, 500)
	for i := range s {
		s[i] = 1 + r.Intn(max)
	}
	return s
}

func chunkings() map[string][]int {
	return map[string][]int{
		"whole":   {1 << 30},
		"1byte":   {1},
		"4KiB":    {4096},
		"rand7":   randomSizes(1, 7),
		"rand300": randomSizes(2, 300),
		"rand64K": randomSizes(3, 65536),
	}
}

func TestFixtures(t *testing.T) {
	for _, fc := range fixtureCases() {
		t.Run(fc.name, func(t *testing.T) {
			d := testkit.Testdata(t, fc.name)
			bounds := walk(t, fc.want.Container, d)
			// Sync (MPEG/ADTS) is confirmed at the third frame; boundaries
			// before it cannot be reported.
			if fc.want.Container == "mpeg" || fc.want.Container == "adts" {
				bounds = bounds[2:]
			}
			for cname, sizes := range chunkings() {
				st, reps := feedChunks(NewAnalyzer(fc.ctype), d, sizes)
				if !reflect.DeepEqual(st, fc.want) {
					t.Errorf("%s: stats\n got %+v\nwant %+v", cname, st, fc.want)
				}
				// Each chunk must report exactly the first playable boundary
				// of the generation current after it whose header is
				// complete inside it.
				reported := 0
				for _, c := range reps {
					want := -1
					for _, b := range bounds {
						if b.audio && b.gen == uint64(c[3]) && b.off >= c[0] && b.off+b.hlen <= c[1] {
							want = b.off
							break
						}
					}
					if c[2] != want {
						t.Errorf("%s: chunk [%d,%d) reported %d, want %d", cname, c[0], c[1], c[2], want)
					}
					if c[2] >= 0 {
						reported++
					}
				}
				if cname == "4KiB" && reported == 0 {
					t.Errorf("%s: no boundary reported", cname)
				}
			}
		})
	}
}

func TestContentTypes(t *testing.T) {
	cases := map[string]string{
		"audio/mpeg": "mpeg", "Audio/MPEG; charset=utf-8": "mpeg", "audio/mp3": "mpeg", "audio/mpeg3": "mpeg",
		"audio/aac": "adts", "audio/aacp": "adts", " audio/x-aac ": "adts",
		"application/ogg": "ogg", "audio/ogg": "ogg", "audio/opus": "ogg", "audio/vorbis": "ogg",
		"audio/flac+ogg": "ogg", "video/ogg; codecs=theora": "ogg",
		"audio/flac": "flac", "Audio/X-FLAC": "flac",
		"audio/webm": "webm", "video/webm; codecs=\"vp8, opus\"": "webm", "audio/x-matroska": "webm", "video/x-matroska": "webm",
		"audio/matroska": "webm", "video/matroska": "webm",
		"": "", "text/plain": "", "application/octet-stream": "", "audio/x-unknown": "",
	}
	for ct, want := range cases {
		a := NewAnalyzer(ct)
		a.Feed([]byte("x"))
		if got := a.Stats().Container; got != want {
			t.Errorf("%q: container %q, want %q", ct, got, want)
		}
		if Known(ct) != (want != "") {
			t.Errorf("Known(%q) = %v", ct, Known(ct))
		}
	}
	// An unknown type can be joined at any piece: Feed reports offset 0.
	a := NewAnalyzer("application/octet-stream")
	d := testkit.Testdata(t, "vorbis.ogg")
	if r := a.Feed(d); r != 0 {
		t.Errorf("opaque Feed returned %d", r)
	}
	if r := a.Feed(d[:1]); r != 0 {
		t.Errorf("opaque Feed of one byte returned %d", r)
	}
	if r := a.Feed(nil); r != -1 {
		t.Errorf("opaque Feed of nothing returned %d", r)
	}
	d = cat(d, d[:1])
	if st := a.Stats(); st != (Stats{Bytes: uint64(len(d))}) {
		t.Errorf("opaque stats %+v", st)
	}
	if h, g := a.Headers(); h != nil || g != 0 {
		t.Error("opaque has headers")
	}
}

func TestCRC(t *testing.T) {
	bitwise := func(p []byte) uint32 {
		var crc uint32
		for _, b := range p {
			crc ^= uint32(b) << 24
			for range 8 {
				if crc&0x80000000 != 0 {
					crc = crc<<1 ^ 0x04C11DB7
				} else {
					crc <<= 1
				}
			}
		}
		return crc
	}
	r := rand.New(rand.NewSource(9))
	for n := 0; n < 100; n++ {
		p := make([]byte, n)
		r.Read(p)
		if got, want := UpdateOggCRC(0, p), bitwise(p); got != want {
			t.Fatalf("len %d: %08x want %08x", n, got, want)
		}
		// Split computation must agree (streaming across chunks).
		k := r.Intn(n + 1)
		if got := UpdateOggCRC(UpdateOggCRC(0, p[:k]), p[k:]); got != bitwise(p) {
			t.Fatalf("split %d/%d differs", k, n)
		}
	}
	// A real page: ffmpeg's CRC must match with the field zeroed.
	d := testkit.Testdata(t, "vorbis.ogg")
	pg := walkOgg(t, d)
	page := append([]byte(nil), d[pg[2].off:pg[3].off]...)
	want := binary.LittleEndian.Uint32(page[22:])
	if got := OggPageCRC(page); got != want {
		t.Fatalf("OggPageCRC %08x, stored %08x", got, want)
	}
	if got := UpdateOggCRC(OggPageCRC(page[:40]), page[40:]); got != want {
		t.Fatalf("OggPageCRC of the header continued over the body: %08x, stored %08x", got, want)
	}
	copy(page[22:26], []byte{0, 0, 0, 0})
	if got := bitwise(page); got != want {
		t.Fatalf("page CRC %08x, stored %08x", got, want)
	}
}

func junk(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestLeadingJunk: random bytes before the stream are SkippedBytes, not a
// loss, and sync is found at the true first frame (same frame count).
func TestLeadingJunk(t *testing.T) {
	for _, fc := range fixtureCases() {
		d := testkit.Testdata(t, fc.name)
		bounds := walk(t, fc.want.Container, d)
		for seed, n := range []int{0, 1, 3, 17, 417, 1000, 2999, 5000} {
			j := junk(int64(seed+100), n)
			in := cat(j, d)
			want := fc.want
			want.SkippedBytes = uint64(n)
			want.Bytes += uint64(n)
			for _, sizes := range [][]int{{1 << 30}, {1}, randomSizes(int64(seed), 2000)} {
				st, reps := feedChunks(NewAnalyzer(fc.ctype), in, sizes)
				if !reflect.DeepEqual(st, want) {
					t.Errorf("%s junk %d chunks %d: stats\n got %+v\nwant %+v", fc.name, n, sizes[0], st, want)
				}
				checkReported(t, fc.name, reps, bounds, n)
			}
		}
	}
}

// checkReported checks that every reported position is a playable
// boundary of the original file, shifted by off, for the generation current
// after that Feed.
func checkReported(t *testing.T, name string, reps [][4]int, bounds []boundary, off int) {
	t.Helper()
	ok := map[int]uint64{}
	for _, b := range bounds {
		if b.audio {
			ok[b.off+off] = b.gen
		}
	}
	for _, c := range reps {
		if g, found := ok[c[2]]; c[2] >= 0 && (!found || g != uint64(c[3])) {
			t.Errorf("%s: reported %d (gen %d), not a playable boundary of that generation", name, c[2], c[3])
		}
	}
}

// TestMidJunk: junk inserted mid-stream costs exactly one sync loss and its
// own length in SkippedBytes, at a frame boundary or inside a frame (the
// broken frame stays counted); frames and duration are unchanged. In Ogg the
// broken page is also one CRC error.
func TestMidJunk(t *testing.T) {
	for _, fc := range fixtureCases() {
		if fc.want.Container == "webm" || fc.want.Container == "flac" {
			continue // their own rules: TestWebMJunk, TestFLACJunk
		}
		d := testkit.Testdata(t, fc.name)
		bounds := walk(t, fc.want.Container, d)
		k := len(bounds) / 2
		for !bounds[k].audio || bounds[k+1].off-bounds[k].off < bounds[k].hlen+100 { // an audio frame/page with a body to break
			k++
		}
		mb := bounds[k]
		mid := mb.off
		for _, at := range []struct {
			name string
			pos  int
			crc  uint64
		}{{"boundary", mid, 0}, {"inside", mid + mb.hlen + 30, 1}} {
			for _, n := range []int{1, 5, 333, 3000} {
				j := junk(int64(n), n)
				if fc.want.Container == "ogg" {
					// Keep the junk from being mistaken for a page (it is random
					// anyway; this just states the assumption).
					if bytes.Contains(j, []byte("OggS")) {
						t.Fatal("junk contains OggS")
					}
				}
				in := cat(d[:at.pos], j, d[at.pos:])
				want := fc.want
				want.SkippedBytes = uint64(n)
				want.SyncLosses = 1
				want.Bytes += uint64(n)
				if fc.want.Container == "ogg" {
					want.CRCErrors = at.crc
				}
				for _, sizes := range [][]int{{1 << 30}, {1}, randomSizes(int64(n), 3000)} {
					st, reps := feedChunks(NewAnalyzer(fc.ctype), in, sizes)
					if !reflect.DeepEqual(st, want) {
						t.Errorf("%s %s junk %d chunks %d: stats\n got %+v\nwant %+v", fc.name, at.name, n, sizes[0], st, want)
					}
					// Reported positions before the junk are file positions;
					// after it they are shifted by n.
					var before, after [][4]int
					for _, c := range reps {
						if c[2] >= 0 && c[2] < at.pos {
							before = append(before, c)
						} else if c[2] >= at.pos+n {
							after = append(after, c)
						} else if c[2] >= 0 {
							t.Errorf("%s: reported %d inside the junk", fc.name, c[2])
						}
					}
					checkReported(t, fc.name, before, bounds, 0)
					checkReported(t, fc.name, after, bounds, n)
				}
			}
		}
	}
}

// TestFalseHeadersInJunk: junk full of valid-looking MPEG headers at wrong
// spacings must not be taken for frames.
func TestFalseHeadersInJunk(t *testing.T) {
	d := testkit.Testdata(t, "layer2.mp2")
	r := rand.New(rand.NewSource(5))
	var j []byte
	for range 60 {
		j = append(j, 0xFF, 0xFD, 0xA4, 0x00) // MPEG-1 layer II 192k 48 kHz, 576 bytes
		j = append(j, junk(r.Int63(), 1+r.Intn(500))...)
	}
	st, _ := feedChunks(NewAnalyzer("audio/mpeg"), cat(j, d), []int{1000})
	if st.Frames != 105 || st.SkippedBytes != uint64(len(j)) || st.SyncLosses != 0 {
		t.Fatalf("false sync: %+v (junk %d)", st, len(j))
	}
}

// TestTracksConcatenated: two MP3 files back to back (as a source sending one
// ID3v2 tag per track does): the second file's ID3v2 and the first's ID3v1
// are tags, the sample-rate change is not a loss, and durations add up.
func TestTracksConcatenated(t *testing.T) {
	in := cat(testkit.Testdata(t, "cbr.mp3"), testkit.Testdata(t, "mpeg2.mp3"))
	dur := frames(98, 1152, 44100) + frames(99, 576, 22050)
	avg := int(float64((len(in)-163-20)*8) / dur.Seconds()) // audio bytes over both tracks' time
	for _, sizes := range [][]int{{1 << 30}, {1}, randomSizes(8, 500)} {
		st, _ := feedChunks(NewAnalyzer("audio/mpeg"), in, sizes)
		if st.Frames != 98+99 || st.TagBytes != 163+20 || st.SyncLosses != 0 || st.SkippedBytes != 0 ||
			st.Duration != dur || st.SampleRate != 22050 ||
			st.Version != "2" || st.Bitrate != avg || st.MinBitrate != 64000 {
			t.Fatalf("%+v", st)
		}
	}
	// A mid-stream ID3v2 tag whose payload contains sync-like bytes.
	d := testkit.Testdata(t, "cbr.mp3")
	bounds := walkMPEG(t, d)
	payload := bytes.Repeat([]byte{0xFF, 0xFB, 0x90, 0x00, 'x'}, 100)
	tag := cat([]byte{'I', 'D', '3', 3, 0, 0, 0, 0, byte(len(payload) >> 7), byte(len(payload) & 0x7F)}, payload)
	at := bounds[50].off
	st, _ := feedChunks(NewAnalyzer("audio/mpeg"), cat(d[:at], tag, d[at:]), []int{3})
	if st.Frames != 98 || st.TagBytes != 163+uint64(len(tag)) || st.SyncLosses != 0 || st.SkippedBytes != 0 {
		t.Fatalf("mid-stream tag: %+v", st)
	}
}

func TestOggCRCError(t *testing.T) {
	for _, name := range []string{"vorbis.ogg", "opus.opus", "flac.oga"} {
		d := testkit.Testdata(t, name)
		pages := walkOgg(t, d)
		pg := pages[len(pages)/2]
		for _, off := range []int{pg.off + pg.hlen + 10, pg.off + 8 /* granule */} {
			c := append([]byte(nil), d...)
			c[off] ^= 0x40
			st, _ := feedChunks(NewAnalyzer("audio/ogg"), c, []int{777})
			if st.CRCErrors != 1 || st.SyncLosses != 0 || st.SkippedBytes != 0 || st.Frames != uint64(len(pages)) {
				t.Errorf("%s flip at %d: %+v", name, off, st)
			}
		}
	}
}

func TestOggHeaders(t *testing.T) {
	for _, name := range []string{"vorbis.ogg", "opus.opus", "flac.oga"} {
		d := testkit.Testdata(t, name)
		pages := walkOgg(t, d)
		first := 0 // first audio page
		for !pages[first].audio {
			first++
		}
		a := NewAnalyzer("audio/ogg")
		if h, g := a.Headers(); h != nil || g != 0 {
			t.Fatal("headers before any data")
		}
		a.Feed(d[:pages[first].off-1])
		if h, g := a.Headers(); h != nil || g != 0 {
			t.Fatalf("%s: headers before they are complete", name)
		}
		a.Feed(d[pages[first].off-1:])
		h, g := a.Headers()
		if g != 1 || !bytes.Equal(h, d[:pages[first].off]) {
			t.Fatalf("%s: Headers() gen %d, %d bytes; want the %d bytes before page %d", name, g, len(h), pages[first].off, first)
		}
	}
}

func TestOggChained(t *testing.T) {
	d := testkit.Testdata(t, "chained.ogg")
	pages := walkOgg(t, d)
	// Link 2 starts at the second BOS page.
	second := 0
	for i, p := range pages {
		if i > 0 && d[p.off+5]&2 != 0 {
			second = i
		}
	}
	if second != 16 {
		t.Fatalf("second BOS at page %d", second)
	}
	a := NewAnalyzer("audio/ogg")
	a.Feed(d[:pages[second].off])
	h1, g1 := a.Headers()
	st := a.Stats()
	if g1 != 1 || !bytes.Equal(h1, d[:pages[2].off]) || st.Streams != 1 || st.Title != "Part One" ||
		st.SampleRate != 44100 || st.Duration != 1500*time.Millisecond {
		t.Fatalf("link 1: gen %d, %+v", g1, st)
	}
	a.Feed(d[pages[second].off:])
	h2, g2 := a.Headers()
	if g2 != 2 || !bytes.Equal(h2, d[pages[second].off:pages[second+2].off]) {
		t.Fatalf("link 2: gen %d, %d header bytes", g2, len(h2))
	}
	if !bytes.Equal(h1, d[:pages[2].off]) {
		t.Fatal("generation 1 headers were modified")
	}
}

// TestHeadersDecode: stored headers + the stream from a reported mid-stream
// page decode with ffmpeg without error, as a late listener's player would.
func TestHeadersDecode(t *testing.T) {
	ffmpeg := testkit.NeedTool(t, "ffmpeg")
	for _, name := range []string{"vorbis.ogg", "opus.opus", "flac.oga"} {
		d := testkit.Testdata(t, name)
		a := NewAnalyzer("audio/ogg")
		_, reps := feedChunks(a, d, []int{4096})
		start := -1
		for _, c := range reps {
			if c[2] > len(d)/3 {
				start = c[2]
				break
			}
		}
		if start < 0 {
			t.Fatalf("%s: no mid-stream boundary reported", name)
		}
		h, _ := a.Headers()
		cmd := exec.Command(ffmpeg, "-v", "error", "-i", "-", "-f", "null", "-")
		cmd.Stdin = bytes.NewReader(cat(h, d[start:]))
		out, err := cmd.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) != 0 {
			t.Errorf("%s from %d: err %v, output %q", name, start, err, out)
		}
		// Control: without the headers the same bytes do not decode, so
		// the check above is not vacuous.
		cmd = exec.Command(ffmpeg, "-v", "error", "-i", "-", "-f", "null", "-")
		cmd.Stdin = bytes.NewReader(d[start:])
		if out, err := cmd.CombinedOutput(); err == nil && len(out) == 0 {
			t.Errorf("%s: decodes without headers too", name)
		}
	}
}

func TestHeadersCap(t *testing.T) {
	// A Vorbis comment page chain over 1 MiB: build one by inflating the
	// comment packet with a big field, re-paged with correct CRCs.
	d := testkit.Testdata(t, "vorbis.ogg")
	pages := walkOgg(t, d)
	bos := d[:pages[1].off]
	// Comment packet: vendor "v", TITLE, then a huge comment (only the
	// first MaxHeaderBytes of a comment packet are read).
	big := strings.Repeat("x", MaxHeaderBytes+1000)
	var cp []byte
	cp = append(cp, 3, 'v', 'o', 'r', 'b', 'i', 's', 1, 0, 0, 0, 'v')
	cp = binary.LittleEndian.AppendUint32(cp, 2)
	cp = binary.LittleEndian.AppendUint32(cp, 9)
	cp = append(cp, "TITLE=Big"...)
	cp = binary.LittleEndian.AppendUint32(cp, uint32(len(big)+4))
	cp = append(cp, "BIG="+big...)
	cp = append(cp, 1)
	// Setup packet: take it from the original page 1 (comment + setup).
	orig := d[pages[1].off:pages[2].off]
	ns := int(orig[26])
	lace := orig[27 : 27+ns]
	body := orig[27+ns:]
	clen := 0
	k := 0
	for ; lace[k] == 255; k++ {
		clen += 255
	}
	clen += int(lace[k])
	setup := body[clen:]
	var out []byte
	out = append(out, bos...)
	seq := uint32(1)
	out = appendPackets(out, 0, &seq, [][]byte{cp, setup})
	out = append(out, d[pages[2].off:]...)
	// Sequence numbers of later pages are now off; Ogg parsing here does not
	// check them.
	a := NewAnalyzer("audio/ogg")
	st, _ := feedChunks(a, out, []int{65536})
	h, g := a.Headers()
	if h != nil || g != 1 || !st.HeadersTruncated || st.Title != "Big" || st.CRCErrors != 0 || st.Duration != 2500*time.Millisecond {
		t.Fatalf("headers %d bytes gen %d, %+v", len(h), g, st)
	}
}

// appendPackets writes packets as Ogg pages (serial, granule 0, no flags
// except continuation), 255 segments max per page, with correct CRCs.
func appendPackets(out []byte, serial uint32, seq *uint32, pkts [][]byte) []byte {
	var lace []int
	var data []byte
	for _, p := range pkts {
		n := len(p)
		for ; n >= 255; n -= 255 {
			lace = append(lace, 255)
		}
		lace = append(lace, n)
		data = append(data, p...)
	}
	cont := false
	for len(lace) > 0 {
		n := min(len(lace), 255)
		size := 0
		for _, l := range lace[:n] {
			size += l
		}
		var flags byte
		if cont {
			flags = 1
		}
		pg := []byte{'O', 'g', 'g', 'S', 0, flags}
		pg = binary.LittleEndian.AppendUint64(pg, 0)
		pg = binary.LittleEndian.AppendUint32(pg, serial)
		pg = binary.LittleEndian.AppendUint32(pg, *seq)
		*seq++
		pg = append(pg, 0, 0, 0, 0, byte(n))
		for _, l := range lace[:n] {
			pg = append(pg, byte(l))
		}
		pg = append(pg, data[:size]...)
		binary.LittleEndian.PutUint32(pg[22:], OggPageCRC(pg))
		out = append(out, pg...)
		cont = lace[n-1] == 255
		lace, data = lace[n:], data[size:]
	}
	return out
}

func TestSteadyStateAllocs(t *testing.T) {
	for _, fc := range []struct{ name, ct string }{{"cbr.mp3", "audio/mpeg"}, {"aac.aac", "audio/aac"}, {"vorbis.ogg", "audio/ogg"},
		{"flac.flac", "audio/flac"}, {"opus.webm", "audio/webm"}, {"video.webm", "video/webm"}} {
		a, body := steadyState(t, fc.name, fc.ct)
		allocs := testing.AllocsPerRun(5, func() {
			for i := 0; i < len(body); i += 4096 {
				a.Feed(body[i:min(i+4096, len(body))])
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs per pass", fc.name, allocs)
		}
		if st := a.Stats(); st.SyncLosses != 0 || st.CRCErrors != 0 {
			t.Errorf("%s: replaying the body broke sync: %+v", fc.name, st)
		}
	}
}

// steadyState returns an analyzer past the stream's start and the part of
// the fixture that can be fed again and again (frames only / audio pages
// only) without restarting anything.
func steadyState(t testing.TB, name, ct string) (Analyzer, []byte) {
	d := testkit.Testdata(t, name)
	a := NewAnalyzer(ct)
	var bounds []boundary
	switch ct {
	case "audio/mpeg":
		bounds = walkMPEG(t, d)
		d = d[:len(d)-128] // no ID3v1 in the loop
	case "audio/aac":
		bounds = walkADTS(t, d)
	case "audio/flac":
		bounds = walkFLAC(t, d)
	case "audio/webm", "video/webm":
		bounds = walkWebM(t, d) // the file ends with a Cluster
	default:
		bounds = walkOgg(t, d)
		d = d[:bounds[len(bounds)-1].off] // no EOS page in the loop
	}
	start := bounds[3].off
	a.Feed(d)
	return a, d[start:]
}

func benchFeed(b *testing.B, name, ct string) {
	a, body := steadyState(b, name, ct)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for i := 0; i < len(body); i += 4096 {
			a.Feed(body[i:min(i+4096, len(body))])
		}
	}
}

func BenchmarkMPEGFeed(b *testing.B) { benchFeed(b, "cbr.mp3", "audio/mpeg") }
func BenchmarkADTSFeed(b *testing.B) { benchFeed(b, "aac.aac", "audio/aac") }
func BenchmarkOggFeed(b *testing.B)  { benchFeed(b, "vorbis.ogg", "audio/ogg") }
func BenchmarkFLACFeed(b *testing.B) { benchFeed(b, "flac.flac", "audio/flac") }
func BenchmarkWebMFeed(b *testing.B) { benchFeed(b, "opus.webm", "audio/webm") }

// benchHunt feeds junk dense in 0xFF bytes, so that the time goes to the
// hunter: a header parse at every 0xFF and the candidate chains.
func benchHunt(b *testing.B, ct string) {
	junk := make([]byte, 64<<10)
	r := rand.New(rand.NewSource(1))
	r.Read(junk)
	for i := range junk {
		if r.Intn(4) == 0 {
			junk[i] = 0xFF
		}
	}
	a := NewAnalyzer(ct)
	b.SetBytes(int64(len(junk)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for i := 0; i < len(junk); i += 4096 {
			a.Feed(junk[i : i+4096])
		}
	}
}

func BenchmarkMPEGHunt(b *testing.B) { benchHunt(b, "audio/mpeg") }
func BenchmarkADTSHunt(b *testing.B) { benchHunt(b, "audio/aac") }

// fuzzTypes are the content types FuzzFeed picks from (by kind).
var fuzzTypes = []string{"audio/mpeg", "audio/aac", "audio/ogg", "audio/webm", "audio/flac", "application/octet-stream"}

func fuzzKind(ct string) uint8 {
	for k, t := range fuzzTypes {
		if FormatOf(t).Kind == FormatOf(ct).Kind {
			return uint8(k)
		}
	}
	return 0
}

// FuzzFeed: no panic on any input, Bytes equals the input length, the stats
// and headers do not depend on how the input is chunked, the generation
// never goes back, and every offset Feed returns is a start point by the
// bytes there (a frame sync, "OggS", a valid FLAC frame header, a Cluster ID;
// 0 for unknown types) after headers, where the format has them.
func FuzzFeed(f *testing.F) {
	for _, fc := range fixtureCases() {
		d := testkit.Testdata(f, fc.name)
		n := 3000
		if fc.want.Container == "flac" {
			n = 12000 // past its 8 KiB of metadata padding
		}
		f.Add(d[:min(len(d), n)], fuzzKind(fc.ctype), uint16(7))
	}
	for _, s := range []struct{ name, ct string }{{"video.webm", "video/webm"}, {"chained.ogg", "audio/ogg"}, {"chained_opus.opus", "audio/ogg"}} {
		d := testkit.Testdata(f, s.name)
		f.Add(d[:min(len(d), 3000)], fuzzKind(s.ct), uint16(100))
	}
	co := testkit.Testdata(f, "chained_opus.opus")
	f.Add(co[6000:8000], fuzzKind("audio/ogg"), uint16(300)) // the end of link 1 and link 2's headers
	fl := testkit.Testdata(f, "flac.flac")
	f.Add(cat(fl[:100], []byte{0x81, 0, 0, 0}, fl[8296:9500], fl[:100], []byte{0x81, 0, 0, 0}, fl[8296:9500]), fuzzKind("audio/flac"), uint16(50))
	f.Add([]byte("OggS\x00\x02"), uint8(2), uint16(1))
	f.Add([]byte("\x1a\x45\xdf\xa3\x80\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff\x1f\x43\xb6\x75\xff\xe7\x81\x00"), uint8(3), uint16(3))
	f.Add([]byte("ID3\x04\x00\x10\x00\x00\x00\x05TAG"), uint8(1), uint16(2))
	f.Fuzz(func(t *testing.T, data []byte, kind uint8, chunk uint16) {
		ct := fuzzTypes[int(kind)%len(fuzzTypes)]
		whole := NewAnalyzer(ct)
		r := whole.Feed(data)
		if r < -1 || r >= max(len(data), 1) {
			t.Fatalf("Feed returned %d for %d bytes", r, len(data))
		}
		checkFuzzStart(t, ct, data, r, whole)
		sw := whole.Stats()
		if sw.Bytes != uint64(len(data)) {
			t.Fatalf("Bytes %d, fed %d", sw.Bytes, len(data))
		}
		n := int(chunk%512) + 1
		parts := NewAnalyzer(ct)
		var gen uint64
		for i := 0; i < len(data); i += n {
			p := data[i:min(i+n, len(data))]
			r := parts.Feed(p)
			if r < -1 || r >= len(p) {
				t.Fatalf("Feed returned %d for %d bytes", r, len(p))
			}
			checkFuzzStart(t, ct, p, r, parts)
			if _, g := parts.Headers(); g < gen {
				t.Fatalf("generation went back from %d to %d", gen, g)
			} else {
				gen = g
			}
		}
		if sp := parts.Stats(); !reflect.DeepEqual(sp, sw) {
			t.Fatalf("chunk %d changes stats:\n%+v\n%+v", n, sp, sw)
		}
		h1, g1 := whole.Headers()
		h2, g2 := parts.Headers()
		if g1 != g2 || !bytes.Equal(h1, h2) {
			t.Fatal("chunking changes headers")
		}
	})
}

func checkFuzzStart(t *testing.T, ct string, p []byte, r int, a Analyzer) {
	t.Helper()
	if r < 0 {
		return
	}
	q := p[r:]
	_, gen := a.Headers()
	var ok bool
	switch FormatOf(ct).Kind {
	case KindMPEG, KindADTS:
		ok = q[0] == 0xFF
	case KindOgg:
		ok = gen > 0 && bytes.HasPrefix(q, []byte("OggS"))
	case KindFLAC:
		if ok = gen > 0 && len(q) >= flacLook; ok {
			_, ok = parseFLACHeader(q[:flacLook])
		}
	case KindWebM:
		ok = gen > 0 && bytes.HasPrefix(q, []byte{0x1F, 0x43, 0xB6, 0x75})
	default:
		ok = r == 0
	}
	if !ok {
		t.Fatalf("%s: Feed returned %d (gen %d), not a start point: % x", ct, r, gen, q[:min(len(q), 16)])
	}
}

// TestTruncated: a stream cut anywhere (there is no end-of-stream call) has
// no sync loss; the cut frame is counted in Frames (its header was checked)
// but only complete frames are in Duration.
func TestTruncated(t *testing.T) {
	d := testkit.Testdata(t, "layer2.mp2") // no tags; 576-byte frames of 1152 samples
	bounds := walkMPEG(t, d)
	for _, cut := range []int{bounds[10].off + 1, bounds[10].off + 3, bounds[10].off + 4, bounds[40].off + 300, bounds[41].off} {
		st, _ := feedChunks(NewAnalyzer("audio/mpeg"), d[:cut], []int{100})
		complete, started := 0, 0
		for _, b := range bounds {
			if b.off+576 <= cut {
				complete++
			}
			if b.off+4 <= cut {
				started++
			}
		}
		if st.SyncLosses != 0 || st.SkippedBytes != 0 || st.Frames != uint64(started) || st.Duration != frames(complete, 1152, 48000) {
			t.Errorf("cut %d: %+v (want %d frames, %d complete)", cut, st, started, complete)
		}
	}
	o := testkit.Testdata(t, "vorbis.ogg")
	pages := walkOgg(t, o)
	for _, cut := range []int{pages[5].off + 2, pages[5].off + 30, pages[6].off - 1} {
		st, _ := feedChunks(NewAnalyzer("audio/ogg"), o[:cut], []int{100})
		if st.SyncLosses != 0 || st.SkippedBytes != 0 || st.CRCErrors != 0 {
			t.Errorf("ogg cut %d: %+v", cut, st)
		}
	}
}
