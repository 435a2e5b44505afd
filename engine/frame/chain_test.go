package frame

import (
	"bytes"
	"encoding/binary"
	"math/rand"
	"os/exec"
	"strconv"
	"testing"

	"github.com/icedeck/icedeck/internal/testkit"
)

// oggPg is a page of a clean (ffmpeg-made) chained Ogg file, found by a
// walker independent of the parser.
type oggPg struct {
	off, size int
	serial    uint32
	seq       uint32
	flags     byte
	link      int  // chain link, 0-based
	header    bool // a codec-header page (granule 0 at the start of its link)
}

// oggLink is one chain link: its BOS page offset and its first audio page.
type oggLink struct{ start, firstAudio int }

func walkOggChain(t testing.TB, d []byte) ([]oggPg, []oggLink) {
	t.Helper()
	var pages []oggPg
	var links []oggLink
	prevBOS := false
	for i := 0; i < len(d); {
		if string(d[i:i+4]) != "OggS" {
			t.Fatalf("walkOggChain: no page at %d", i)
		}
		ns := int(d[i+26])
		size := 27 + ns
		for _, l := range d[i+27 : i+27+ns] {
			size += int(l)
		}
		pg := oggPg{off: i, size: size, flags: d[i+5],
			serial: binary.LittleEndian.Uint32(d[i+14:]), seq: binary.LittleEndian.Uint32(d[i+18:])}
		bos := pg.flags&2 != 0
		if bos && !prevBOS {
			links = append(links, oggLink{start: i, firstAudio: -1})
		}
		prevBOS = bos
		pg.link = len(links) - 1
		l := &links[pg.link]
		pg.header = l.firstAudio < 0 && binary.LittleEndian.Uint64(d[i+6:]) == 0
		if !pg.header && l.firstAudio < 0 {
			l.firstAudio = i
		}
		pages = append(pages, pg)
		i += size
	}
	return pages, links
}

// checkOggStart asserts the Feed contract on real bytes: when sync >= 0,
// p[sync:] starts a whole Ogg page header whose serial is one of the streams
// in hdr, which is neither BOS nor a header page (its sequence number is past
// every header page of its stream) and does not begin with a continued packet.
func checkOggStart(t *testing.T, what string, p []byte, sync int, hdr []byte) {
	t.Helper()
	if sync < 0 {
		return
	}
	if sync >= len(p) || len(p)-sync < 27 || string(p[sync:sync+4]) != "OggS" || len(p)-sync < 27+int(p[sync+26]) {
		t.Fatalf("%s: sync %d of %d bytes is not a whole page header", what, sync, len(p))
	}
	if hdr == nil {
		t.Fatalf("%s: sync %d reported without headers", what, sync)
	}
	maxSeq := map[uint32]uint32{}
	for i := 0; i+27 <= len(hdr); {
		if string(hdr[i:i+4]) != "OggS" {
			t.Fatalf("%s: headers are not pages at %d", what, i)
		}
		s, q := binary.LittleEndian.Uint32(hdr[i+14:]), binary.LittleEndian.Uint32(hdr[i+18:])
		maxSeq[s] = max(maxSeq[s], q)
		ns := int(hdr[i+26])
		i += 27 + ns
		for _, l := range hdr[i-ns : i] {
			i += int(l)
		}
	}
	pg := p[sync:]
	serial, seq, flags := binary.LittleEndian.Uint32(pg[14:]), binary.LittleEndian.Uint32(pg[18:]), pg[5]
	hs, ok := maxSeq[serial]
	switch {
	case !ok:
		t.Fatalf("%s: page at sync %d has serial %d, not a stream of the current headers %v", what, sync, serial, maxSeq)
	case flags&2 != 0:
		t.Fatalf("%s: page at sync %d is a BOS page", what, sync)
	case seq <= hs:
		t.Fatalf("%s: page at sync %d (seq %d) is a header page (headers end at seq %d)", what, sync, seq, hs)
	case flags&1 != 0:
		t.Fatalf("%s: page at sync %d begins with a continued packet", what, sync)
	}
}

// chainChecker feeds an analyzer and checks every Feed's result against the
// walker: the reported page must be an audio page of the link whose headers
// Headers() returns, besides checkOggStart's checks on the bytes.
type chainChecker struct {
	t     *testing.T
	d     []byte
	pages []oggPg
	links []oggLink
	a     Analyzer
	at    int
	gen   uint64
}

func newChainChecker(t *testing.T, d []byte) *chainChecker {
	pages, links := walkOggChain(t, d)
	return &chainChecker{t: t, d: d, pages: pages, links: links, a: NewAnalyzer("audio/ogg")}
}

// feed feeds d[at:end] and returns the result as an absolute position.
func (c *chainChecker) feed(end int) int {
	t := c.t
	t.Helper()
	p := c.d[c.at:end]
	r := c.a.Feed(p)
	hdr, gen := c.a.Headers()
	if gen < c.gen {
		t.Fatalf("generation went back from %d to %d", c.gen, gen)
	}
	c.gen = gen
	what := "Feed [" + strconv.Itoa(c.at) + "," + strconv.Itoa(end) + ")"
	checkOggStart(t, what, p, r, hdr)
	abs := -1
	if r >= 0 {
		abs = c.at + r
		// Generation g is link g-1's headers (none is truncated here).
		link := int(gen) - 1
		if l := c.links[link]; !bytes.Equal(hdr, c.d[l.start:l.firstAudio]) {
			t.Fatalf("%s: gen %d headers are not link %d's", what, gen, link)
		}
		var pg *oggPg
		for i := range c.pages {
			if c.pages[i].off == abs {
				pg = &c.pages[i]
			}
		}
		if pg == nil || pg.link != link || pg.header {
			t.Fatalf("%s: reported %d, not an audio page of the link of the current headers (link %d, page %+v)", what, abs, link, pg)
		}
	}
	c.at = end
	return abs
}

var chainedFixtures = []string{"chained.ogg", "chained_opus.opus"}

// TestOggChainedFeedSplits: the end of one link, the next link's header
// pages and its first audio page arrive in one Feed (as Liquidsoap sends
// them at a title change). Feed must report the new link's first audio
// page, never an old-link page, for every page-boundary (and mid-page)
// combination of where that Feed starts and ends.
func TestOggChainedFeedSplits(t *testing.T) {
	for _, name := range chainedFixtures {
		d := testkit.Testdata(t, name)
		pages, links := walkOggChain(t, d)
		if len(links) != 2 {
			t.Fatalf("%s: %d links", name, len(links))
		}
		bos, fa := -1, -1 // page indexes: link 2's BOS and first audio page
		for i, pg := range pages {
			if pg.off == links[1].start {
				bos = i
			}
			if pg.off == links[1].firstAudio {
				fa = i
			}
		}
		var starts []int // Feed starts: inside link 1's audio pages, at or before link 2's BOS
		for i := 0; i <= bos; i++ {
			if !pages[i].header {
				starts = append(starts, pages[i].off)
				if i < bos {
					starts = append(starts, pages[i].off+13)
				}
			}
		}
		var ends []int // Feed ends: after link 2's first audio page header
		for i := fa; i < len(pages) && i <= fa+3; i++ {
			ends = append(ends, pages[i].off+pages[i].size, pages[i].off+27+int(d[pages[i].off+26]))
		}
		ends = append(ends, len(d))
		n := 0
		for _, s := range starts {
			for _, e := range ends {
				c := newChainChecker(t, d)
				c.feed(s)
				if got := c.feed(e); got != links[1].firstAudio {
					t.Fatalf("%s: Feed [%d,%d) reported %d, want link 2's first audio page %d", name, s, e, got, links[1].firstAudio)
				}
				if h, g := c.a.Headers(); g != 2 || !bytes.Equal(h, d[links[1].start:links[1].firstAudio]) {
					t.Fatalf("%s: after [%d,%d): gen %d, %d header bytes", name, s, e, g, len(h))
				}
				c.feed(len(d))
				n++
			}
		}
		// The new link's BOS (and maybe some header pages) arrived in an
		// earlier Feed; its headers complete in this one.
		for s := links[1].start + 1; s <= links[1].firstAudio; s += 7 {
			for _, e := range ends {
				c := newChainChecker(t, d)
				c.feed(s)
				if got := c.feed(e); got != links[1].firstAudio {
					t.Fatalf("%s: Feed [%d,%d) reported %d, want %d", name, s, e, got, links[1].firstAudio)
				}
				c.feed(len(d))
				n++
			}
		}
		t.Logf("%s: %d split combinations", name, n)
	}
}

// TestOggChainedRandomSplits: for random split points over a chain of six
// links (Vorbis and Opus, serials reused across links), every Feed's result
// satisfies the contract, and every link's headers are published.
func TestOggChainedRandomSplits(t *testing.T) {
	d := cat(testkit.Testdata(t, "chained.ogg"), testkit.Testdata(t, "chained_opus.opus"), testkit.Testdata(t, "chained.ogg"))
	_, links := walkOggChain(t, d)
	r := rand.New(rand.NewSource(42))
	reported := 0
	for iter := range 400 {
		c := newChainChecker(t, d)
		for c.at < len(d) {
			var n int
			switch r.Intn(4) {
			case 0:
				n = 1 + r.Intn(64)
			case 1:
				n = 1 + r.Intn(1500)
			case 2:
				n = 1 + r.Intn(8000)
			default:
				n = 1 + r.Intn(len(d)/2)
			}
			if c.feed(min(c.at+n, len(d))) >= 0 {
				reported++
			}
		}
		if h, g := c.a.Headers(); g != uint64(len(links)) || !bytes.Equal(h, d[links[len(links)-1].start:links[len(links)-1].firstAudio]) {
			t.Fatalf("iteration %d: final gen %d, want %d", iter, g, len(links))
		}
	}
	if reported == 0 {
		t.Fatal("nothing reported")
	}
}

// TestOggChainedJoinDecodes: a listener joining right after a title change
// (stored headers, then the chunk from its sync offset) gets a stream ffmpeg
// decodes without error.
func TestOggChainedJoinDecodes(t *testing.T) {
	ffmpeg := testkit.NeedTool(t, "ffmpeg")
	for _, name := range chainedFixtures {
		d := testkit.Testdata(t, name)
		pages, links := walkOggChain(t, d)
		// The chunk holds link 1's last two pages, link 2's headers and
		// its first two audio pages.
		var s, e int
		for i, pg := range pages {
			if pg.off == links[1].start {
				s = pages[i-2].off
			}
			if pg.off == links[1].firstAudio {
				e = pages[i+2].off
			}
		}
		a := NewAnalyzer("audio/ogg")
		a.Feed(d[:s])
		sync := a.Feed(d[s:e])
		hdr, _ := a.Headers()
		if sync < 0 {
			t.Fatalf("%s: no start point in the chunk", name)
		}
		cmd := exec.Command(ffmpeg, "-v", "error", "-i", "-", "-f", "null", "-")
		cmd.Stdin = bytes.NewReader(cat(hdr, d[s+sync:]))
		out, err := cmd.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) != 0 {
			t.Errorf("%s: joining at %d: err %v, output %q", name, s+sync, err, out)
		}
	}
}
