package frame

import "bytes"

// Raw FLAC: "fLaC", metadata blocks (the last one flagged), then frames.
// A frame header carries no length, so frames are found by their sync code:
// a 0xFFF8/0xFFF9 whose header is valid (reserved bits, block size, sample
// rate, channel and sample size codes, the UTF-8 coded frame or sample
// number, the CRC-8) is a candidate. A candidate is judged flacLook bytes
// after it begins (a frame header is at most that long), from a ring of the
// bytes since, so candidates are decided one by one in stream order however
// the stream is chunked, and nothing is buffered beyond the ring. Between
// candidates the bytes are only searched (bytes.IndexByte) and run through
// the frame's CRC-16 (slicing-by-8), which is checked where the next frame
// begins.
//
// Decisions, beyond the Stats doc:
//   - The first frame must begin right after the metadata. Later, while
//     synced, a candidate is the next frame if the bytes since the current
//     frame's start pass its CRC-16, or if it carries the number the current
//     frame predicts (frame number + 1, or sample number + block size). In
//     the second case the span failed its CRC: one CRCError. FLAC frames
//     have no length field, so junk inside or after a frame cannot be told
//     apart from the frame: it costs that one CRC error, no loss and no
//     skipped bytes.
//   - A candidate fitting neither is remembered; one that continues a
//     remembered candidate's numbering proves frames were lost (a gap, or a
//     stream spliced in without a "fLaC" marker): one SyncLoss and one
//     CRCError (the frame the gap cut), and both frames are counted.
//   - Without sync (at the start, or when the first frame is not right after
//     the metadata) frames are acquired the same way, by two candidates in
//     sequence; the bytes hunted over before the first of them, or before a
//     "fLaC" marker, are SkippedBytes.
//   - Frames are counted, and their samples added to Duration, when their
//     header is accepted: a frame's end is only known when the next one
//     begins.
//   - "fLaC" followed by a STREAMINFO block header starts a new stream (a
//     source that restarts its encoder): Streams++, new header generation,
//     the frame it interrupts is checked against its CRC-16 there.
//   - Candidates must agree with STREAMINFO (rate, channels, sample size,
//     block size at most the maximum) and with the current frame's blocking
//     strategy.

const (
	flacLook = 16 // longest frame header: judged this many bytes after its start
	flacRing = 32 // ring of recent bytes (a power of two > flacLook)
	noPos    = ^uint64(0)
)

// flacPend is a position awaiting judgement, with the CRC-16 of the
// current frame's bytes before it.
type flacPend struct {
	c   uint64
	crc uint16
}

const (
	flacScan     = iota // frames (or hunting)
	flacMetaHead        // gathering a metadata block header
	flacMetaBody        // inside a metadata block
)

type flacHdr struct {
	variable bool   // variable blocking strategy: num is a sample number
	num      uint64 // frame number, or sample number
	block    int    // samples
	rate     int    // Hz; 0: STREAMINFO's
	chans    int
	bps      int // 0: STREAMINFO's
}

// next is the number the following frame must carry.
func (h *flacHdr) next() uint64 {
	if h.variable {
		return h.num + uint64(h.block)
	}
	return h.num + 1
}

type flacCand struct {
	start uint64
	h     flacHdr
}

type flacParser struct {
	st Stats
	feeder

	mode int

	// metadata
	hb        [4]byte
	hn        int
	blockType byte
	blockLast bool
	blocks    int // metadata blocks of this stream so far
	bodyRem   int
	si        [34]byte
	sin       int
	cmt       []byte // VORBIS_COMMENT block being gathered
	build     []byte
	buildOver bool
	headers   []byte // published, never modified
	gen       uint64
	live      bool // the current stream's headers are published

	// current STREAMINFO (0: unknown)
	rate, chans, bps, maxBlock int

	// frames
	ring      [flacRing]byte // bytes from the oldest pending position on
	pq        [flacLook]flacPend
	pqh, pqn  int    // queue of pending positions (head, length)
	crc       uint16 // CRC-16 of the current frame's bytes so far
	expectAt  uint64 // where the first frame after the metadata must begin, or noPos
	synced    bool
	fstart    uint64 // current frame
	cur       flacHdr
	huntStart uint64
	cands     [8]flacCand
	nc        int
	dur       durAcc
}

func newFLACParser() *flacParser {
	f := &flacParser{expectAt: noPos}
	f.st.Container = "flac"
	f.st.Codec = "FLAC"
	return f
}

func (f *flacParser) Headers() ([]byte, uint64) { return f.headers, f.gen }

func (f *flacParser) Stats() Stats {
	st := f.st
	st.Duration = f.dur.total()
	return st
}

func (f *flacParser) Feed(p []byte) int {
	return f.feed(p, &f.st, f.step)
}

func (f *flacParser) step(p []byte) int {
	i := 0
	for i < len(p) {
		switch f.mode {
		case flacMetaHead:
			n := copy(f.hb[f.hn:], p[i:])
			f.hn += n
			i += n
			f.pos += uint64(n)
			if f.hn == len(f.hb) && !f.blockHeader() {
				return i
			}
		case flacMetaBody:
			n := min(len(p)-i, f.bodyRem)
			f.blockData(p[i : i+n])
			i += n
			f.pos += uint64(n)
			f.bodyRem -= n
			if f.bodyRem == 0 {
				f.endBlock()
			}
		default:
			n, stop := f.scan(p[i:])
			i += n
			if stop {
				return i
			}
		}
	}
	return i
}

// scan examines frame bytes. It stops (true) when a "fLaC" marker was
// accepted: the bytes after its first four were consumed by the look-ahead
// and have been scheduled for the metadata parser.
func (f *flacParser) scan(p []byte) (int, bool) {
	i := 0
	ff, lf := -1, -1 // next 0xFF and 'f' at or after i (-1: not searched)
	for i < len(p) {
		if f.pqn > 0 {
			// Positions await judgement: go byte by byte, keeping them in
			// the ring.
			if f.slow(p[i]) {
				return i + 1, true
			}
			i++
			continue
		}
		if ff < i {
			ff = indexFrom(p, i, 0xFF)
		}
		if lf < i {
			lf = indexFrom(p, i, 'f')
		}
		k := min(ff, lf)
		if e := f.expectAt; e >= f.pos && e-f.pos < uint64(k-i) {
			k = i + int(e-f.pos)
		}
		f.crc = crc16Update(f.crc, p[i:k])
		f.pos += uint64(k - i)
		i = k
		if k == len(p) {
			break
		}
		// A sync code or marker needs its second byte; lone 0xFF and 'f'
		// bytes are common in frame data.
		if b := p[k]; k+1 < len(p) && f.pos != f.expectAt && !(b == 0xFF && p[k+1]&0xFE == 0xF8 || b == 'f' && p[k+1] == 'L') {
			f.crc = crc16Update(f.crc, p[k:k+1])
			f.pos++
			i++
			continue
		}
		if f.slow(p[i]) {
			return i + 1, true
		}
		i++
	}
	return i, false
}

func indexFrom(p []byte, i int, b byte) int {
	if k := bytes.IndexByte(p[i:], b); k >= 0 {
		return i + k
	}
	return len(p)
}

// slow consumes one byte, queueing its position if a frame or marker may
// begin there, and judges the position whose look-ahead it completes. It
// returns true when a marker was accepted.
func (f *flacParser) slow(b byte) bool {
	x := f.pos
	f.ring[x%flacRing] = b
	if b == 0xFF || b == 'f' || x == f.expectAt {
		f.pq[(f.pqh+f.pqn)%flacLook] = flacPend{x, f.crc}
		f.pqn++
	}
	f.crc = f.crc<<8 ^ crc16Tables[0][byte(f.crc>>8)^b]
	f.pos++
	for f.pqn > 0 && f.pq[f.pqh].c+flacLook == f.pos {
		e := f.pq[f.pqh]
		f.pqh = (f.pqh + 1) % flacLook
		f.pqn--
		if f.judge(e.c, e.crc) {
			return true
		}
	}
	return false
}

// window copies the flacLook bytes beginning at c out of the ring.
func (f *flacParser) window(c uint64) [flacLook]byte {
	var w [flacLook]byte
	for k := range w {
		w[k] = f.ring[(c+uint64(k))%flacRing]
	}
	return w
}

// judge decides the candidate position c; crc covers the current frame's
// bytes before c. It returns true when a marker was accepted there.
func (f *flacParser) judge(c uint64, crc uint16) bool {
	w := f.window(c)
	if string(w[:4]) == "fLaC" && w[4]&0x7F == 0 && w[5] == 0 && w[6] == 0 && w[7] == 34 {
		f.marker(c, crc)
		return true
	}
	expected := c == f.expectAt
	if expected {
		f.expectAt = noPos
	}
	h, ok := parseFLACHeader(w[:])
	ok = ok && f.agrees(&h)
	switch {
	case expected && ok:
		f.accept(c, h)
	case expected:
		f.huntStart = c
	case !ok:
	case f.synced && crc == 0 && h.variable == f.cur.variable:
		f.accept(c, h)
	case f.synced && h.num == f.cur.next() && h.variable == f.cur.variable:
		f.st.CRCErrors++
		f.accept(c, h)
	default:
		g := f.chained(&h)
		if g < 0 {
			f.remember(c, h)
			return false
		}
		if f.synced {
			f.st.SyncLosses++
			f.st.CRCErrors++
		} else {
			f.st.SkippedBytes += f.cands[g].start - f.huntStart
		}
		f.count(&f.cands[g].h)
		f.accept(c, h)
	}
	return false
}

// agrees checks a header against STREAMINFO.
func (f *flacParser) agrees(h *flacHdr) bool {
	switch {
	case f.rate > 0 && h.rate != 0 && h.rate != f.rate,
		f.chans > 0 && h.chans != f.chans,
		f.bps > 0 && h.bps != 0 && h.bps != f.bps,
		f.maxBlock > 0 && h.block > f.maxBlock:
		return false
	}
	return true
}

// chained returns the index of a remembered candidate h continues, or -1.
func (f *flacParser) chained(h *flacHdr) int {
	for k := f.nc - 1; k >= 0; k-- {
		g := &f.cands[k].h
		if g.variable == h.variable && g.chans == h.chans && g.rate == h.rate && g.bps == h.bps && g.next() == h.num {
			return k
		}
	}
	return -1
}

func (f *flacParser) remember(c uint64, h flacHdr) {
	if f.nc == len(f.cands) {
		copy(f.cands[:], f.cands[1:])
		f.nc--
	}
	f.cands[f.nc] = flacCand{c, h}
	f.nc++
}

func (f *flacParser) count(h *flacHdr) {
	f.st.Frames++
	rate := h.rate
	if f.rate > 0 {
		rate = f.rate
	}
	f.dur.add(h.block, rate)
	if f.rate == 0 { // no STREAMINFO: describe the stream by its frames
		f.st.SampleRate = h.rate
		f.st.Channels = h.chans
	}
	f.st.Streams = max(f.st.Streams, 1)
}

// accept makes the frame at c the current one.
func (f *flacParser) accept(c uint64, h flacHdr) {
	f.count(&h)
	f.synced = true
	f.fstart, f.cur = c, h
	f.nc = 0
	if f.live && f.result < 0 && c >= f.feedBase {
		f.result = int(c - f.feedBase)
	}
	// Restart the CRC-16 at the frame's first byte, for the pending
	// positions after it too.
	var crc uint16
	for x := c; x < f.pos; x++ {
		for k := range f.pqn {
			if e := &f.pq[(f.pqh+k)%flacLook]; e.c == x {
				e.crc = crc
			}
		}
		crc = crc<<8 ^ crc16Tables[0][byte(crc>>8)^f.ring[x%flacRing]]
	}
	f.crc = crc
}

// marker starts a new stream at the "fLaC" at c.
func (f *flacParser) marker(c uint64, crc uint16) {
	if f.synced {
		if crc != 0 {
			f.st.CRCErrors++ // the interrupted frame
		}
	} else {
		f.st.SkippedBytes += c - f.huntStart
	}
	f.synced, f.live = false, false
	f.expectAt = noPos
	f.nc, f.pqn = 0, 0
	f.rate, f.chans, f.bps, f.maxBlock = 0, 0, 0, 0
	f.st.Streams++
	f.st.Title = ""
	f.build = append(make([]byte, 0, 8192), "fLaC"...)
	f.buildOver = false
	f.blocks = 0
	f.mode = flacMetaHead
	f.hn = 0
	// The metadata parser takes over after "fLaC"; the look-ahead bytes
	// beyond it are handed back.
	w := f.window(c)
	f.pos = c + 4
	f.rp.add(w[4:])
}

func (f *flacParser) blockHeader() bool {
	f.hn = 0
	t := f.hb[0] & 0x7F
	n := int(f.hb[1])<<16 | int(f.hb[2])<<8 | int(f.hb[3])
	if (f.blocks == 0) != (t == 0) || (t == 0 && n != 34) || t == 127 {
		f.metaFail()
		return false
	}
	f.blockType, f.blockLast = t, f.hb[0]&0x80 != 0
	f.appendBuild(f.hb[:])
	f.bodyRem = n
	f.sin = 0
	f.cmt = f.cmt[:0]
	f.mode = flacMetaBody
	if n == 0 {
		f.endBlock()
	}
	return true
}

// metaFail gives up on a stream whose metadata is broken: its header is
// never published, and the bytes from the bad block header on are hunted.
func (f *flacParser) metaFail() {
	start := f.pos - 4
	if f.st.Frames > 0 {
		f.st.SyncLosses++
	}
	f.build = nil
	f.huntStart = start
	f.pos = start
	f.crc = 0
	f.pqn = 0
	f.rp.add(f.hb[:])
	f.mode = flacScan
}

func (f *flacParser) blockData(q []byte) {
	f.appendBuild(q)
	switch f.blockType {
	case 0:
		f.sin += copy(f.si[f.sin:], q)
	case 4:
		if len(f.cmt) < MaxHeaderBytes {
			f.cmt = append(f.cmt, q[:min(len(q), MaxHeaderBytes-len(f.cmt))]...)
		}
	}
}

func (f *flacParser) endBlock() {
	f.blocks++
	switch f.blockType {
	case 0:
		si := f.si[:]
		f.maxBlock = int(si[2])<<8 | int(si[3])
		f.rate = int(si[10])<<12 | int(si[11])<<4 | int(si[12])>>4
		f.chans = int(si[12]>>1&7) + 1
		f.bps = int(si[12]&1)<<4 | int(si[13]>>4) + 1
		f.st.SampleRate, f.st.Channels = f.rate, f.chans
	case 4:
		f.st.Artist, f.st.Song = CommentFields(f.cmt)
		f.st.Title = JoinTitle(f.st.Artist, f.st.Song)
	}
	if !f.blockLast {
		f.mode = flacMetaHead
		return
	}
	f.gen++
	f.live = true
	f.st.HeadersTruncated = f.buildOver
	f.headers = f.build // nil when truncated
	f.build = nil
	// A frame reported earlier in this Feed belongs to the previous stream.
	f.result = -1
	f.mode = flacScan
	f.expectAt, f.huntStart = f.pos, f.pos
	f.crc = 0
	f.pqn = 0
}

func (f *flacParser) appendBuild(b []byte) {
	if f.buildOver {
		return
	}
	if len(f.build)+len(b) > MaxHeaderBytes {
		f.buildOver = true
		f.build = nil
		return
	}
	f.build = append(f.build, b...)
}

var flacRates = [12]int{0, 88200, 176400, 192000, 8000, 16000, 22050, 24000, 32000, 44100, 48000, 96000}
var flacBPS = [8]int{0, 8, 12, 0, 16, 20, 24, 32}

// parseFLACHeader checks a frame header at the start of b (flacLook bytes).
func parseFLACHeader(b []byte) (flacHdr, bool) {
	var h flacHdr
	if b[0] != 0xFF || b[1]&0xFE != 0xF8 {
		return h, false
	}
	h.variable = b[1]&1 != 0
	bsc, src := b[2]>>4, b[2]&15
	chc, ssc := b[3]>>4, b[3]>>1&7
	if bsc == 0 || src == 15 || chc > 10 || ssc == 3 || b[3]&1 != 0 {
		return h, false
	}
	i := 4
	c := b[i]
	i++
	var v uint64
	var n int // continuation bytes
	switch {
	case c < 0x80:
		v = uint64(c)
	case c&0xE0 == 0xC0:
		n, v = 1, uint64(c&0x1F)
	case c&0xF0 == 0xE0:
		n, v = 2, uint64(c&0x0F)
	case c&0xF8 == 0xF0:
		n, v = 3, uint64(c&0x07)
	case c&0xFC == 0xF8:
		n, v = 4, uint64(c&0x03)
	case c&0xFE == 0xFC:
		n, v = 5, uint64(c&0x01)
	case c == 0xFE && h.variable: // 36-bit sample numbers only
		n = 6
	default:
		return h, false
	}
	for ; n > 0; n-- {
		c = b[i]
		i++
		if c&0xC0 != 0x80 {
			return h, false
		}
		v = v<<6 | uint64(c&0x3F)
	}
	h.num = v
	switch {
	case bsc == 1:
		h.block = 192
	case bsc <= 5:
		h.block = 576 << (bsc - 2)
	case bsc == 6:
		h.block = int(b[i]) + 1
		i++
	case bsc == 7:
		h.block = (int(b[i])<<8 | int(b[i+1])) + 1
		i += 2
	default:
		h.block = 256 << (bsc - 8)
	}
	switch src {
	case 12:
		h.rate = int(b[i]) * 1000
		i++
	case 13:
		h.rate = int(b[i])<<8 | int(b[i+1])
		i += 2
	case 14:
		h.rate = (int(b[i])<<8 | int(b[i+1])) * 10
		i += 2
	default:
		h.rate = flacRates[src]
	}
	if src >= 12 && h.rate == 0 {
		return h, false
	}
	h.chans = int(chc) + 1
	if chc >= 8 {
		h.chans = 2 // left/side, side/right, mid/side
	}
	h.bps = flacBPS[ssc]
	var crc byte
	for _, x := range b[:i] {
		crc = crc8Table[crc^x]
	}
	return h, crc == b[i]
}

// FLAC's CRC-8 (polynomial 0x07) and CRC-16 (0x8005), MSB first, initial
// value 0, no final XOR. The CRC-16 runs over every frame byte, so it is
// computed slicing-by-8 like the Ogg CRC: crc16Tables[k][b] is the CRC of
// byte b followed by k zero bytes.
var crc8Table, crc16Tables = makeFLACTables()

func makeFLACTables() (t8 [256]byte, t16 *[8][256]uint16) {
	t16 = new([8][256]uint16)
	for i := range 256 {
		c8 := byte(i)
		c16 := uint16(i) << 8
		for range 8 {
			if c8&0x80 != 0 {
				c8 = c8<<1 ^ 0x07
			} else {
				c8 <<= 1
			}
			if c16&0x8000 != 0 {
				c16 = c16<<1 ^ 0x8005
			} else {
				c16 <<= 1
			}
		}
		t8[i], t16[0][i] = c8, c16
	}
	for k := 1; k < 8; k++ {
		for i := range 256 {
			c := t16[k-1][i]
			t16[k][i] = c<<8 ^ t16[0][c>>8]
		}
	}
	return t8, t16
}

func crc16Update(crc uint16, p []byte) uint16 {
	t := crc16Tables
	for len(p) >= 8 {
		crc = t[7][p[0]^byte(crc>>8)] ^ t[6][p[1]^byte(crc)] ^ t[5][p[2]] ^ t[4][p[3]] ^
			t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]]
		p = p[8:]
	}
	for _, b := range p {
		crc = crc<<8 ^ t[0][byte(crc>>8)^b]
	}
	return crc
}
