package frame

import (
	"bytes"
	"encoding/binary"
	"time"
)

// Ogg parsing. Page headers are gathered into a small buffer; page bodies are
// only run through the CRC, except for codec-header pages, which are copied
// (they are kept for Headers) and split into packets to read the codec's
// identification and comment headers.
//
// Decisions, beyond the Stats doc:
//   - Frames counts every page whose header is well-formed, when the header
//     has been read; a page whose CRC then fails is also counted in CRCErrors.
//     Only pages with a good CRC update the granule position (Duration).
//   - Sync is acquired at the first page with a good CRC. A SyncLoss is "OggS"
//     (or a well-formed page header) missing where the previous page ended.
//     Junk inserted into a page therefore gives one CRC error (that page) and
//     one loss, and SkippedBytes equal to the junk's length.
//   - A BOS page after the header pages of the current link (or for a serial
//     already seen, or after an EOS) starts a new chain link: Streams++, new
//     header generation, codec re-detected, Title reset. BOS pages before that
//     are further multiplexed streams of the same link.
//   - Feed reports pages of the current link's streams after its header
//     pages. When a link's headers complete inside a Feed, a page reported
//     earlier in that Feed (the previous link's) is dropped: the engine
//     pairs the result with the new generation. Liquidsoap sends the end of
//     one link and the whole next header in one write at each title change.
//   - Header packets expected: Vorbis 3, Opus 2, FLAC 1 + the mapping's count
//     (or up to the metadata block flagged last when the count is 0), Speex
//     2 + extra headers, Theora 3, Skeleton until its EOS page, anything else 1.

const maxOggStreams = 8 // concurrent logical streams tracked per chain link

const (
	needUntilEOS  = -1 // Skeleton: headers end with the stream's EOS page
	needUntilLast = -2 // FLAC without a header count: until the last metadata block
)

type oggStream struct {
	serial     uint32
	codec      string
	audio      bool
	need       int // header packets; or needUntilEOS / needUntilLast
	pkts       int // header packets completed
	done       bool
	pkt        []byte // header packet being assembled (capped at MaxHeaderBytes)
	rate       int    // granule rate
	inRate     int    // Opus input rate
	channels   int
	bitrate    int
	preskip    uint64
	granule    uint64
	hasGranule bool
	eos        bool
}

type oggParser struct {
	st Stats
	feeder

	mode     int
	acquired bool
	expected bool // the header being gathered is where the previous page ended

	hb [27 + 255]byte
	hn int

	huntStart uint64
	w         uint32
	wn        int

	// current page
	pageStart uint64
	flags     byte
	granule   uint64
	bodyRem   int
	crc       uint32
	pageCRC   uint32
	cur       int // stream index, or -1
	hdrPage   bool
	segIdx    int
	segRem    int
	segEnds   bool
	segOpen   bool

	// current chain link
	streams  [maxOggStreams]oggStream
	ns       int
	linkDone bool
	primary  int
	doneDur  time.Duration

	build     []byte // header pages of the link being collected
	buildOver bool
	headers   []byte // published, never modified
	gen       uint64
}

func newOggParser() *oggParser {
	o := &oggParser{primary: -1, cur: -1}
	o.st.Container = "ogg"
	return o
}

func (o *oggParser) Headers() ([]byte, uint64) { return o.headers, o.gen }

func (o *oggParser) Stats() Stats {
	st := o.st
	st.Duration = o.doneDur + o.linkDur()
	return st
}

func (o *oggParser) linkDur() time.Duration {
	if o.primary < 0 {
		return 0
	}
	s := &o.streams[o.primary]
	if !s.hasGranule {
		return 0
	}
	g := s.granule
	if s.codec == "Opus" {
		if g < s.preskip {
			return 0
		}
		return samplesToDur(g-s.preskip, 48000)
	}
	return samplesToDur(g, s.rate)
}

func (o *oggParser) Feed(p []byte) int {
	return o.feed(p, &o.st, o.step)
}

func (o *oggParser) step(p []byte) int {
	i := 0
	for {
		switch o.mode {
		case modeSkip:
			if o.bodyRem == 0 {
				o.endPage()
				continue
			}
			if i == len(p) {
				return i
			}
			n := min(len(p)-i, o.bodyRem)
			q := p[i : i+n]
			o.crc = UpdateOggCRC(o.crc, q)
			if o.hdrPage {
				o.appendBuild(q)
				o.walkSegments(q)
			}
			i += n
			o.pos += uint64(n)
			o.bodyRem -= n
		case modeHead:
			need := 4
			if o.hn >= 27 {
				need = 27 + int(o.hb[26])
			} else if o.hn >= 4 {
				need = 27
			}
			if o.hn < need {
				if i == len(p) {
					return i
				}
				n := copy(o.hb[o.hn:need], p[i:])
				o.hn += n
				i += n
				o.pos += uint64(n)
				continue
			}
			if string(o.hb[:4]) != "OggS" || (o.hn >= 27 && (o.hb[4] != 0 || o.hb[5]&^7 != 0)) {
				o.fail()
				return i
			}
			if o.hn >= 27 && o.hn == 27+int(o.hb[26]) {
				o.beginPage()
			}
		default:
			if i == len(p) {
				return i
			}
			i += o.hunt(p[i:])
		}
	}
}

// fail handles a page header that is not one; its bytes after the first are
// scheduled to be searched again.
func (o *oggParser) fail() {
	start := o.pos - uint64(o.hn)
	if o.expected {
		if o.acquired {
			o.st.SyncLosses++
		}
		o.huntStart = start
	}
	o.mode = modeHunt
	o.w, o.wn = 0, 0
	o.pos = start + 1
	o.rp.add(o.hb[1:o.hn])
	o.hn = 0
}

const capture = 'O'<<24 | 'g'<<16 | 'g'<<8 | 'S'

func (o *oggParser) hunt(p []byte) int {
	found := func(i int) int {
		copy(o.hb[:], "OggS")
		o.hn = 4
		o.mode = modeHead
		o.expected = false
		return i + 1
	}
	// Positions where "OggS" may straddle the previous chunk.
	i := 0
	for ; i < len(p) && (i < 3 || o.wn < 4); i++ {
		o.w = o.w<<8 | uint32(p[i])
		o.pos++
		o.wn++
		if o.wn >= 4 && o.w == capture {
			return found(i)
		}
	}
	if i == len(p) {
		return i
	}
	if k := bytes.Index(p[i-3:], []byte("OggS")); k >= 0 {
		end := i - 3 + k + 3 // index of the 'S'
		o.pos += uint64(end + 1 - i)
		o.wn += end + 1 - i
		o.w = capture
		return found(end)
	}
	o.pos += uint64(len(p) - i)
	o.wn += len(p) - i
	o.w = binary.BigEndian.Uint32(p[len(p)-4:])
	return len(p)
}

func (o *oggParser) beginPage() {
	hlen := o.hn
	h := o.hb[:hlen]
	body := 0
	for _, l := range h[27:] {
		body += int(l)
	}
	o.flags = h[5]
	o.granule = binary.LittleEndian.Uint64(h[6:14])
	serial := binary.LittleEndian.Uint32(h[14:18])
	o.pageCRC = binary.LittleEndian.Uint32(h[22:26])
	o.crc = OggPageCRC(h)
	o.pageStart = o.pos - uint64(hlen)
	if !o.expected {
		o.st.SkippedBytes += o.pageStart - o.huntStart
	}
	o.st.Frames++

	idx := -1
	for k := 0; k < o.ns; k++ {
		if o.streams[k].serial == serial {
			idx = k
			break
		}
	}
	if o.flags&2 != 0 { // BOS
		if o.ns == 0 || o.linkDone || idx >= 0 || o.anyEOS() {
			o.newLink()
		}
		idx = -1
		if o.ns < maxOggStreams {
			idx = o.ns
			o.ns++
			o.streams[idx] = oggStream{serial: serial, need: 1, pkt: o.streams[idx].pkt[:0]}
		}
	}
	o.cur = idx
	o.hdrPage = idx >= 0 && !o.streams[idx].done
	// A start point is a page of a stream of the current link (whose
	// headers are published), so a page with an unknown serial is not one.
	if o.linkDone && idx >= 0 && o.flags&1 == 0 && o.result < 0 && o.pageStart >= o.feedBase {
		o.result = int(o.pageStart - o.feedBase)
	}
	if o.hdrPage {
		o.appendBuild(h)
		s := &o.streams[idx]
		if o.flags&1 == 0 { // no continued packet: drop any unfinished one
			s.pkt = s.pkt[:0]
		}
		o.segIdx, o.segRem, o.segOpen = 0, 0, false
		o.walkSegments(nil) // zero-length packets at the page start
	}
	o.mode = modeSkip
	o.bodyRem = body
	o.hn = 0
}

func (o *oggParser) anyEOS() bool {
	for k := 0; k < o.ns; k++ {
		if o.streams[k].eos {
			return true
		}
	}
	return false
}

func (o *oggParser) endPage() {
	ok := o.crc == o.pageCRC
	if ok {
		o.acquired = true
	} else {
		o.st.CRCErrors++
	}
	if o.cur >= 0 {
		s := &o.streams[o.cur]
		if ok && o.granule != ^uint64(0) && int64(o.granule) >= 0 {
			s.granule = o.granule
			s.hasGranule = true
		}
		if o.flags&4 != 0 {
			s.eos = true
			if s.need == needUntilEOS {
				s.done = true
			}
		}
	}
	if !o.linkDone && o.ns > 0 {
		all := true
		for k := 0; k < o.ns; k++ {
			all = all && o.streams[k].done
		}
		if all {
			o.publish()
		}
	}
	o.mode = modeHead
	o.hn = 0
	o.expected = true
}

func (o *oggParser) newLink() {
	o.doneDur += o.linkDur()
	o.ns = 0
	o.linkDone = false
	o.primary = -1
	o.build = nil
	o.buildOver = false
	o.st.Streams++
	o.st.Title = ""
	o.st.Codec = ""
	o.st.SampleRate, o.st.Channels, o.st.Bitrate = 0, 0, 0
}

func (o *oggParser) publish() {
	o.linkDone = true
	o.gen++
	// A page reported earlier in this Feed belongs to the previous link: a
	// listener sent the new headers must not start there.
	o.result = -1
	o.st.HeadersTruncated = o.buildOver
	o.headers = o.build // nil when truncated
	o.build = nil
}

func (o *oggParser) appendBuild(b []byte) {
	if o.buildOver {
		return
	}
	if len(o.build)+len(b) > MaxHeaderBytes {
		o.buildOver = true
		o.build = nil
		return
	}
	if o.build == nil {
		o.build = make([]byte, 0, 8192)
	}
	o.build = append(o.build, b...)
}

// walkSegments splits header-page body bytes into packets using the
// segment table (a lacing value below 255 ends a packet).
func (o *oggParser) walkSegments(q []byte) {
	lacing := o.hb[27 : 27+int(o.hb[26])]
	for {
		if o.segRem == 0 {
			if o.segOpen {
				o.segOpen = false
				if o.segEnds {
					o.endPacket()
				}
			}
			if o.segIdx >= len(lacing) {
				return
			}
			l := int(lacing[o.segIdx])
			o.segIdx++
			o.segRem, o.segEnds, o.segOpen = l, l < 255, true
			continue
		}
		if len(q) == 0 {
			return
		}
		n := min(o.segRem, len(q))
		o.packetData(q[:n])
		q = q[n:]
		o.segRem -= n
	}
}

func (o *oggParser) packetData(b []byte) {
	s := &o.streams[o.cur]
	if s.done || len(s.pkt) >= MaxHeaderBytes {
		return
	}
	b = b[:min(len(b), MaxHeaderBytes-len(s.pkt))] // a truncated comment packet is still read
	if s.pkts > 0 && s.codec != "Vorbis" && s.codec != "Opus" && s.codec != "FLAC" && s.codec != "Speex" {
		return // only identification and comment packets are read
	}
	s.pkt = append(s.pkt, b...)
}

func (o *oggParser) endPacket() {
	s := &o.streams[o.cur]
	if s.done {
		return
	}
	if s.pkts == 0 {
		o.parseID(s)
	} else {
		o.parseHeader(s)
	}
	s.pkts++
	s.pkt = s.pkt[:0]
	if s.need > 0 && s.pkts >= s.need {
		s.done = true
	}
}

func (o *oggParser) parseID(s *oggStream) {
	p := s.pkt
	le32 := func(b []byte) int { return int(binary.LittleEndian.Uint32(b)) }
	switch {
	case len(p) >= 30 && p[0] == 1 && string(p[1:7]) == "vorbis":
		s.codec, s.audio, s.need = "Vorbis", true, 3
		s.channels = int(p[11])
		s.rate = le32(p[12:])
		if br := int32(binary.LittleEndian.Uint32(p[20:])); br > 0 {
			s.bitrate = int(br)
		}
	case len(p) >= 19 && string(p[:8]) == "OpusHead":
		s.codec, s.audio, s.need = "Opus", true, 2
		s.channels = int(p[9])
		s.preskip = uint64(binary.LittleEndian.Uint16(p[10:]))
		s.rate = 48000
		s.inRate = le32(p[12:])
	case len(p) >= 51 && p[0] == 0x7F && string(p[1:5]) == "FLAC":
		s.codec, s.audio = "FLAC", true
		if n := int(binary.BigEndian.Uint16(p[7:])); n > 0 {
			s.need = 1 + n
		} else if p[13]&0x80 != 0 { // STREAMINFO is the last metadata block
			s.need = 1
		} else {
			s.need = needUntilLast
		}
		si := p[17:]
		s.rate = int(si[10])<<12 | int(si[11])<<4 | int(si[12])>>4
		s.channels = int(si[12]>>1&7) + 1
	case len(p) >= 80 && string(p[:8]) == "Speex   ":
		s.codec, s.audio = "Speex", true
		s.rate = le32(p[36:])
		s.channels = le32(p[48:])
		s.need = 2 + min(max(le32(p[68:]), 0), 64)
	case len(p) >= 7 && p[0] == 0x80 && string(p[1:7]) == "theora":
		s.codec, s.need = "Theora", 3
	case len(p) >= 8 && string(p[:8]) == "fishead\x00":
		s.codec, s.need = "Skeleton", needUntilEOS
	}
	if s.audio && o.primary < 0 {
		o.primary = o.cur
		o.st.Codec = s.codec
		o.st.SampleRate = s.rate
		if s.codec == "Opus" && s.inRate > 0 {
			o.st.SampleRate = s.inRate
		}
		o.st.Channels = s.channels
		o.st.Bitrate = s.bitrate
	}
}

// parseHeader reads the header packets after the identification packet.
func (o *oggParser) parseHeader(s *oggStream) {
	p := s.pkt
	var comments []byte
	found := false
	switch s.codec {
	case "Vorbis":
		if len(p) >= 7 && p[0] == 3 && string(p[1:7]) == "vorbis" {
			comments, found = p[7:], true
		}
	case "Opus":
		if len(p) >= 8 && string(p[:8]) == "OpusTags" {
			comments, found = p[8:], true
		}
	case "FLAC":
		if len(p) >= 4 {
			if p[0]&0x7F == 4 {
				comments, found = p[4:], true
			}
			if p[0]&0x80 != 0 && s.need == needUntilLast {
				s.done = true
			}
		}
	case "Speex":
		if s.pkts == 1 {
			comments, found = p, true
		}
	}
	if found && o.cur == o.primary {
		o.st.Artist, o.st.Song = CommentFields(comments)
		o.st.Title = JoinTitle(o.st.Artist, o.st.Song)
	}
}

// CommentTitle returns the title a listener is shown for a Vorbis comment
// structure (Vorbis, Opus, Speex and FLAC use the same one: vendor string,
// count, then length-prefixed KEY=value entries, all little-endian), with
// any codec framing before it removed: JoinTitle of CommentFields.
func CommentTitle(comment []byte) string { return JoinTitle(CommentFields(comment)) }

// JoinTitle is the title shown for an artist and a song: "ARTIST - TITLE",
// TITLE alone, ARTIST alone (better than nothing on a stream that sends
// only a name, and what Icecast shows), or "".
func JoinTitle(artist, song string) string {
	switch {
	case song == "":
		return artist
	case artist == "":
		return song
	}
	return artist + " - " + song
}

// CommentFields returns a Vorbis comment structure's ARTIST and TITLE.
// Keys match without regard to case; a key given more than once counts by
// its first non-empty value. A truncated structure gives what its complete
// entries say.
func CommentFields(comment []byte) (artist, title string) {
	p := comment
	next := func() ([]byte, bool) {
		if len(p) < 4 {
			return nil, false
		}
		n := binary.LittleEndian.Uint32(p)
		if uint64(n) > uint64(len(p)-4) {
			return nil, false
		}
		v := p[4 : 4+n]
		p = p[4+n:]
		return v, true
	}
	if _, ok := next(); !ok { // vendor
		return "", ""
	}
	if len(p) < 4 {
		return "", ""
	}
	count := binary.LittleEndian.Uint32(p)
	p = p[4:]
	var a, t []byte
	for ; count > 0; count-- {
		c, ok := next()
		if !ok {
			break
		}
		k := bytes.IndexByte(c, '=')
		if k < 0 {
			continue
		}
		key, v := c[:k], c[k+1:]
		switch {
		case len(t) == 0 && bytes.EqualFold(key, []byte("TITLE")):
			t = v
		case len(a) == 0 && bytes.EqualFold(key, []byte("ARTIST")):
			a = v
		}
	}
	return string(a), string(t)
}
