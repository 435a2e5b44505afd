package frame

// syncParser handles the two self-synchronising frame formats (MPEG audio
// and ADTS): a header with a length, then the next header. While synced it
// only looks at header bytes and skips frame bodies arithmetically; while
// hunting it examines every byte, following several candidate chains at once
// so that nothing has to be buffered or looked back at.

const (
	modeHunt = iota // looking for sync
	modeHead        // at an expected frame boundary, gathering header bytes
	modeSkip        // inside a frame body or a tag
)

const (
	afterFrame     = iota // skip ends a frame: add its duration, expect a header
	afterTagSynced        // skip ends a tag found where a frame was expected
	afterTagHunt          // skip ends a tag found while hunting: keep hunting
)

// confirmFrames is how many consecutive consistent headers establish sync.
const confirmFrames = 3

// maxCands bounds the chains followed while hunting; random data yields a
// valid-looking header about once per few thousand bytes, so a handful are
// pending at a time. When full, new candidates are ignored.
const maxCands = 32

// Header is a parsed MPEG audio or ADTS frame header (ParseMPEG,
// ParseADTS).
type Header struct {
	Length     int    // the whole frame in bytes, header included
	HeaderLen  int    // bytes before the payload: the header and its CRC-16 if present (MPEG 4 or 6, ADTS 7 or 9)
	Samples    int    // samples per channel
	SampleRate int    // Hz
	Channels   int    // MPEG 1 or 2; ADTS by channel configuration: 0 (set in-band) gives 0, 7 gives 8
	Bitrate    int    // bits/s of this frame
	Layer      int    // MPEG 1, 2 or 3; ADTS 0
	Codec      string // "MP3", "MP2", "MP1", "AAC-Main", "AAC-LC", "AAC-SSR", "AAC-LTP"
	Version    string // MPEG "1", "2", "2.5"; ADTS ""
	key        uint32 // the fields SameStream compares
}

// SameStream reports whether h and o agree in what may not change between
// consecutive frames of one stream (a bitrate or padding change may):
// MPEG version, layer, sample rate and mono-ness; ADTS MPEG version,
// profile, sample rate and channel configuration. A chain of frames that
// agree is how sync is told from a sync word occurring by chance.
func (h Header) SameStream(o Header) bool { return h.key == o.key }

// cand is a chain of consistent headers being followed while hunting.
type cand struct {
	start, expect uint64 // first header; where the next one must be
	n             int    // headers in the chain
	done          int    // samples of frames before the last one
	bytes         uint64
	minBR, maxBR  int
	firstBR       int
	last          Header
}

type syncParser struct {
	kind Kind
	hlen int // header bytes needed to parse a frame header (4 MPEG, 7 ADTS)
	st   Stats

	// The sync bits of a header's first two bytes: (b0<<8|b1)&syncMask ==
	// syncWant, checked while hunting before a full parse, which most 0xFF
	// bytes would fail.
	syncMask, syncWant uint16

	feeder

	mode     int
	acquired bool

	// modeHead / modeSkip
	hb         [10]byte
	hn         int
	skip       int
	after      int
	pendSample int // samples of the frame being skipped, added when it completes
	pendRate   int

	// modeHunt
	huntStart uint64
	w, wh     uint64 // last 16 bytes seen, most recent in the low byte of w
	wn        int    // bytes seen since hunting (re)started
	cands     [maxCands]cand
	nc        int

	dur        durAcc
	haveFirst  bool
	adtsBytes  uint64
	adtsSample uint64
}

func newSyncParser(kind Kind) *syncParser {
	s := &syncParser{kind: kind, hlen: 4, syncMask: 0xFFE0, syncWant: 0xFFE0}
	s.st.Container = "mpeg"
	if kind == KindADTS {
		s.hlen, s.syncMask, s.syncWant = 7, 0xFFF6, 0xFFF0
		s.st.Container = "adts"
	}
	s.startHunt(0)
	return s
}

func (s *syncParser) Headers() ([]byte, uint64) { return nil, 0 }

func (s *syncParser) Stats() Stats {
	st := s.st
	st.Duration = s.dur.total()
	// ADTS has no bitrate field, and a VBR MP3 opens with an Info frame at
	// an arbitrary rate: the average over what arrived is what a user means.
	switch {
	case s.kind == KindADTS && s.adtsSample > 0:
		st.Bitrate = int(s.adtsBytes * 8 * uint64(st.SampleRate) / s.adtsSample)
	case st.MinBitrate != st.MaxBitrate && st.Duration > 0:
		// The duration already accounts for sample-rate changes.
		st.Bitrate = int(float64(s.adtsBytes*8) / st.Duration.Seconds())
	}
	return st
}

func (s *syncParser) Feed(p []byte) int {
	return s.feed(p, &s.st, s.step)
}

// step parses p until it is consumed or a false start schedules a replay;
// it returns the bytes consumed.
func (s *syncParser) step(p []byte) int {
	i := 0
	for {
		switch s.mode {
		case modeSkip:
			if s.skip == 0 {
				s.endSkip()
				continue
			}
			if i == len(p) {
				return i
			}
			n := len(p) - i
			if n > s.skip {
				n = s.skip
			}
			i += n
			s.pos += uint64(n)
			s.skip -= n
		case modeHead:
			need := s.hlen
			if s.hn >= 3 && s.hb[0] == 'I' && s.hb[1] == 'D' && s.hb[2] == '3' {
				need = 10
			}
			if s.hn < need {
				if i == len(p) {
					return i
				}
				n := copy(s.hb[s.hn:need], p[i:])
				s.hn += n
				i += n
				s.pos += uint64(n)
				continue
			}
			if !s.decide() {
				return i
			}
		default:
			if i == len(p) {
				return i
			}
			i += s.hunt(p[i:])
		}
	}
}

func beUint(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

func (s *syncParser) parse(w uint64) (Header, bool) {
	if s.kind == KindMPEG {
		return ParseMPEG(uint32(w))
	}
	return ParseADTS(w & (1<<56 - 1))
}

// decide classifies the header bytes gathered at an expected boundary. It
// returns false when sync is lost (a replay of the bytes is then scheduled).
func (s *syncParser) decide() bool {
	h := s.hb[:s.hn]
	start := s.pos - uint64(s.hn)
	switch {
	case h[0] == 'I' && h[1] == 'D' && h[2] == '3':
		if size, ok := id3Size(h); ok {
			s.st.TagBytes += uint64(size)
			s.beginSkip(size-s.hn, afterTagSynced)
			return true
		}
	case h[0] == 'T' && h[1] == 'A' && h[2] == 'G':
		s.st.TagBytes += 128
		s.beginSkip(128-s.hn, afterTagSynced)
		return true
	default:
		if fi, ok := s.parse(beUint(h[:s.hlen])); ok {
			s.countFrame(fi)
			s.report(start)
			s.pendSample, s.pendRate = fi.Samples, fi.SampleRate
			s.beginSkip(fi.Length-s.hn, afterFrame)
			return true
		}
	}
	s.st.SyncLosses++
	s.startHunt(start)
	// The byte at start cannot begin a frame or tag; everything after it must
	// be examined again by the hunter.
	s.pos = start + 1
	s.rp.add(h[1:])
	s.hn = 0
	return false
}

func (s *syncParser) beginSkip(n, after int) {
	s.mode = modeSkip
	s.skip = n
	s.after = after
	s.hn = 0
}

func (s *syncParser) endSkip() {
	switch s.after {
	case afterFrame:
		s.dur.add(s.pendSample, s.pendRate)
		s.mode = modeHead
	case afterTagSynced:
		s.mode = modeHead
	default:
		s.startHunt(s.pos)
	}
	s.hn = 0
}

func (s *syncParser) startHunt(at uint64) {
	s.mode = modeHunt
	s.huntStart = at
	s.w, s.wh, s.wn = 0, 0, 0
	s.nc = 0
}

func (s *syncParser) report(start uint64) {
	if s.result < 0 && start >= s.feedBase {
		s.result = int(start - s.feedBase)
	}
}

func (s *syncParser) setInfo(fi Header) {
	s.st.Codec = fi.Codec
	s.st.Version = fi.Version
	s.st.SampleRate = fi.SampleRate
	s.st.Channels = fi.Channels
}

func (s *syncParser) countFrame(fi Header) {
	s.st.Frames++
	s.setInfo(fi)
	s.rangeBR(fi.Bitrate, fi.Bitrate)
	if !s.haveFirst {
		s.haveFirst = true
		s.st.Bitrate = fi.Bitrate
	}
	s.adtsBytes += uint64(fi.Length)
	s.adtsSample += uint64(fi.Samples)
}

func (s *syncParser) rangeBR(lo, hi int) {
	if s.st.MinBitrate == 0 || lo < s.st.MinBitrate {
		s.st.MinBitrate = lo
	}
	if hi > s.st.MaxBitrate {
		s.st.MaxBitrate = hi
	}
}

// hunt examines bytes one at a time until sync is confirmed or a tag starts;
// it returns the bytes consumed.
func (s *syncParser) hunt(p []byte) int {
	hl := s.hlen
	sh := uint(8 * (hl - 2)) // to the header's first two bytes
	for i, b := range p {
		s.wh = s.wh<<8 | s.w>>56
		s.w = s.w<<8 | uint64(b)
		s.pos++
		s.wn++
		if s.wn >= hl && uint16(s.w>>sh)&s.syncMask == s.syncWant {
			if fi, ok := s.parse(s.w); ok && s.candidate(s.pos-uint64(hl), fi) {
				return i + 1
			}
		}
		if s.wn >= 10 && byte(s.wh>>8) == 'I' && byte(s.wh) == 'D' && byte(s.w>>56) == '3' {
			var t [10]byte
			t[0], t[1] = byte(s.wh>>8), byte(s.wh)
			for k := 0; k < 8; k++ {
				t[2+k] = byte(s.w >> (56 - 8*k))
			}
			if size, ok := id3Size(t[:]); ok {
				start := s.pos - 10
				s.st.SkippedBytes += start - s.huntStart
				s.st.TagBytes += uint64(size)
				s.nc = 0
				s.beginSkip(size-10, afterTagHunt)
				return i + 1
			}
		}
	}
	return len(p)
}

// candidate records a valid header seen at start while hunting, extending
// the chains that expected it. It returns true when a chain is confirmed
// (the parser is then synced, inside the confirming frame).
func (s *syncParser) candidate(start uint64, fi Header) bool {
	matched := false
	for k := 0; k < s.nc; {
		c := &s.cands[k]
		if c.expect < start || (c.expect == start && c.last.key != fi.key) {
			s.nc--
			s.cands[k] = s.cands[s.nc]
			continue
		}
		if c.expect == start {
			matched = true
			c.n++
			c.done += c.last.Samples
			c.last = fi
			c.bytes += uint64(fi.Length)
			c.minBR = min(c.minBR, fi.Bitrate)
			c.maxBR = max(c.maxBR, fi.Bitrate)
			c.expect = start + uint64(fi.Length)
			if c.n >= confirmFrames {
				s.confirm(c, start)
				return true
			}
		}
		k++
	}
	if !matched && s.nc < len(s.cands) {
		s.cands[s.nc] = cand{
			start: start, expect: start + uint64(fi.Length), n: 1,
			bytes: uint64(fi.Length), minBR: fi.Bitrate, maxBR: fi.Bitrate, firstBR: fi.Bitrate, last: fi,
		}
		s.nc++
	}
	return false
}

func (s *syncParser) confirm(c *cand, start uint64) {
	fi := c.last
	s.st.SkippedBytes += c.start - s.huntStart
	s.st.Frames += uint64(c.n)
	s.rangeBR(c.minBR, c.maxBR)
	if !s.haveFirst {
		s.haveFirst = true
		s.st.Bitrate = c.firstBR
	}
	s.setInfo(fi)
	s.dur.add(c.done, fi.SampleRate)
	s.adtsBytes += c.bytes
	s.adtsSample += uint64(c.done + fi.Samples)
	s.acquired = true
	s.st.Streams = 1
	s.report(start)
	s.nc = 0
	s.pendSample, s.pendRate = fi.Samples, fi.SampleRate
	s.beginSkip(fi.Length-s.hlen, afterFrame)
}

// id3Size validates a 10-byte ID3v2 header and returns the whole tag's size.
func id3Size(b []byte) (int, bool) {
	if len(b) < 10 || b[0] != 'I' || b[1] != 'D' || b[2] != '3' {
		return 0, false
	}
	if b[3] < 2 || b[3] > 4 || b[4] == 0xFF || b[5]&0x0F != 0 {
		return 0, false
	}
	if b[6]|b[7]|b[8]|b[9] >= 0x80 {
		return 0, false
	}
	size := 10 + (int(b[6])<<21 | int(b[7])<<14 | int(b[8])<<7 | int(b[9]))
	if b[3] == 4 && b[5]&0x10 != 0 { // footer
		size += 10
	}
	return size, true
}

// Bit rates in kbit/s, [MPEG-1 ? 0 : 1][layer-1][index].
var mpegBitrates = [2][3][16]int16{
	{
		{0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448, 0},
		{0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 0},
		{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0},
	},
	{
		{0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256, 0},
		{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0},
		{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0},
	},
}

// Sample rates by version bits (0 = 2.5, 2 = 2, 3 = 1) and index.
var mpegRates = [4][3]int32{
	{11025, 12000, 8000},
	{},
	{22050, 24000, 16000},
	{44100, 48000, 32000},
}

var mpegCodecs = [4]string{"", "MP3", "MP2", "MP1"} // by layer bits
var mpegVersions = [4]string{"2.5", "", "2", "1"}

// ParseMPEG parses an MPEG audio frame header: h holds its 4 bytes, the
// first in the high byte (binary.BigEndian.Uint32). It reports false for
// anything that cannot begin a frame: no 11-bit sync, a reserved version,
// layer, sample rate or emphasis, or a free-format or invalid bitrate. It
// does not allocate.
func ParseMPEG(h uint32) (Header, bool) {
	ver := h >> 19 & 3
	layerBits := h >> 17 & 3
	bri := h >> 12 & 15
	sri := h >> 10 & 3
	if h>>21 != 0x7FF || ver == 1 || layerBits == 0 || bri == 0 || bri == 15 || sri == 3 || h&3 == 2 {
		return Header{}, false
	}
	layer := 4 - int(layerBits)
	v := 1
	if ver == 3 {
		v = 0
	}
	rate := int(mpegRates[ver][sri])
	br := int(mpegBitrates[v][layer-1][bri]) * 1000
	pad := int(h >> 9 & 1)
	fi := Header{SampleRate: rate, Bitrate: br, Layer: layer, Codec: mpegCodecs[layerBits], Version: mpegVersions[ver], Channels: 2, HeaderLen: 4}
	if h>>16&1 == 0 { // protected: a CRC-16 follows
		fi.HeaderLen = 6
	}
	switch {
	case layer == 1:
		fi.Length = (12*br/rate + pad) * 4
		fi.Samples = 384
	case layer == 2 || v == 0:
		fi.Length = 144*br/rate + pad
		fi.Samples = 1152
	default:
		fi.Length = 72*br/rate + pad
		fi.Samples = 576
	}
	mono := uint32(0)
	if h>>6&3 == 3 {
		fi.Channels = 1
		mono = 1
	}
	fi.key = (h>>17&15)<<3 | sri<<1 | mono
	return fi, true
}

var adtsRates = [13]int32{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}
var adtsCodecs = [4]string{"AAC-Main", "AAC-LC", "AAC-SSR", "AAC-LTP"}

// ParseADTS parses an ADTS frame header: w holds its 7 bytes in the low 56
// bits, the first in the highest of them. It reports false for anything
// that cannot begin a frame: no sync, a non-zero layer, a reserved sample
// rate, or a length shorter than the header. It does not allocate.
func ParseADTS(w uint64) (Header, bool) {
	b0, b1, b2, b3 := byte(w>>48), byte(w>>40), byte(w>>32), byte(w>>24)
	b4, b5, b6 := byte(w>>16), byte(w>>8), byte(w)
	if b0 != 0xFF || b1&0xF6 != 0xF0 { // sync, layer 0
		return Header{}, false
	}
	sfi := b2 >> 2 & 15
	if sfi >= 13 {
		return Header{}, false
	}
	hdr := 7
	if b1&1 == 0 {
		hdr = 9 // CRC follows
	}
	length := int(b3&3)<<11 | int(b4)<<3 | int(b5>>5)
	if length < hdr {
		return Header{}, false
	}
	profile := b2 >> 6
	chcfg := (b2&1)<<2 | b3>>6
	channels := int(chcfg)
	if chcfg == 7 {
		channels = 8
	}
	rate := int(adtsRates[sfi])
	samples := 1024 * (int(b6&3) + 1)
	fi := Header{
		Length: length, HeaderLen: hdr, Samples: samples, SampleRate: rate, Channels: channels,
		Bitrate: int(int64(length) * 8 * int64(rate) / int64(samples)),
		key:     uint32(b1>>3&1)<<9 | uint32(profile)<<7 | uint32(sfi)<<3 | uint32(chcfg),
		Codec:   adtsCodecs[profile],
	}
	return fi, true
}
