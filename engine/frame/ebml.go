package frame

import (
	"encoding/binary"
	"math"
	"math/bits"
	"time"
)

// WebM / Matroska (EBML). Element headers (ID and size, at most 12 bytes)
// are gathered into a small buffer; bodies are skipped by their size, except
// the few values read for the stats and the first bytes of each block. The
// levels entered (Segment, Info, Tracks, TrackEntry, Audio, Cluster,
// BlockGroup) are kept on a small stack with their end positions.
//
// Decisions, beyond the Stats doc:
//   - The header a late listener needs is every byte from the EBML header to
//     the first Cluster of its Segment: EBML header, the Segment header as
//     sent (its size is usually "unknown" for a live stream), SeekHead, Info,
//     Tracks, Tags, …. An EBML header starts a new segment (Streams++, stats
//     re-read from its Tracks); its header generation is published at its
//     first Cluster.
//   - A start point is a Cluster of the current segment. When the segment
//     has a video track, a Cluster counts only once its first video block is
//     seen and is a key frame (a SimpleBlock with the key flag; a Block in a
//     BlockGroup cannot tell, and counts, as in Icecast): WebM muxers start
//     clusters at key frames, but not all of them do.
//   - Frames counts blocks (SimpleBlock and BlockGroup), not the frames laced
//     inside a block. Duration is the span of block timestamps (cluster
//     Timecode + the block's offset, times TimecodeScale) of each segment,
//     summed over segments: it trails the audio received by one block.
//   - Where an element header is expected, an impossible one is a SyncLoss:
//     a malformed ID or size, an ID not allowed at that level in the parts of
//     the tree that are read (top level, Segment, Cluster), an unknown size
//     for anything but a Segment or Cluster, a size beyond its parent or
//     beyond maxEBMLElement. Parsing then hunts for the next Cluster ID (or
//     EBML header); the bytes from the bad header to it are SkippedBytes, so
//     junk costs one loss and the rest of the cluster it landed in. A Cluster
//     found by hunting must begin with a Timecode or CRC-32 element, or it
//     was a false hit and hunting goes on. Before the first EBML header only
//     an EBML header is hunted for (bytes before it are SkippedBytes, not a
//     loss); a loss inside a segment's header abandons that segment.

const (
	idEBML              = 0x1A45DFA3
	idSegment           = 0x18538067
	idCluster           = 0x1F43B675
	idSeekHead          = 0x114D9B74
	idInfo              = 0x1549A966
	idTracks            = 0x1654AE6B
	idCues              = 0x1C53BB6B
	idTags              = 0x1254C367
	idChapters          = 0x1043A770
	idAttachments       = 0x1941A469
	idVoid              = 0xEC
	idCRC32             = 0xBF
	idTimecodeScale     = 0x2AD7B1
	idTrackEntry        = 0xAE
	idTrackNumber       = 0xD7
	idTrackType         = 0x83
	idCodecID           = 0x86
	idAudio             = 0xE1
	idSamplingFrequency = 0xB5
	idChannels          = 0x9F
	idTimecode          = 0xE7
	idSimpleBlock       = 0xA3
	idBlockGroup        = 0xA0
	idBlock             = 0xA1
	idSilentTracks      = 0x5854
	idPosition          = 0xA7
	idPrevSize          = 0xAB
	idEncryptedBlock    = 0xAF
)

const (
	ebmlUnknown    = ^uint64(0) // element of unknown size: its end is not known
	maxEBMLDepth   = 8
	maxEBMLElement = 1 << 28 // larger sizes are junk (a Segment excepted)
	maxEBMLHeader  = 4096    // the EBML header element is a few dozen bytes
)

type ebmlLevel struct {
	id  uint32
	end uint64 // absolute end, or ebmlUnknown
}

type ebmlParser struct {
	st Stats
	feeder

	mode     int
	acquired bool
	expected bool // the element header being gathered is where the structure put one

	hb [12]byte
	hn int

	stack [maxEBMLDepth]ebmlLevel
	depth int

	// body being skipped; its first bytes may be captured
	bodyRem uint64
	bodyID  uint32
	capN    int // bytes to capture (0: none or done)
	val     [64]byte
	vn      int

	// hunting
	huntStart uint64
	w         uint32
	wn        int
	confirm   bool // a Cluster found by hunting awaits its first child
	pend      [12]byte
	pn        int
	pendStart uint64

	// current segment
	sawEBML   bool
	inHeader  bool // gathering the segment's header
	live      bool // its header is published
	build     []byte
	buildOver bool
	headers   []byte // published, never modified
	gen       uint64
	scale     uint64 // TimecodeScale, ns
	haveAudio bool
	video     uint64 // first video track number, 0: none

	// TrackEntry being read
	tNum, tType uint64
	tCodec      [32]byte
	tCodecN     int
	tRate       int
	tChans      int

	// cluster
	clusterStart uint64
	pendCluster  bool // its start point is undecided
	clusterTC    int64
	haveTC       bool

	// block timestamps of the segment, in TimecodeScale units
	tsMin, tsMax int64
	haveTS       bool
	doneDur      time.Duration
}

func newEBMLParser() *ebmlParser {
	e := &ebmlParser{scale: 1e6}
	e.st.Container = "webm"
	return e
}

func (e *ebmlParser) Headers() ([]byte, uint64) { return e.headers, e.gen }

func (e *ebmlParser) Stats() Stats {
	st := e.st
	st.Duration = satAdd(e.doneDur, e.segDur())
	return st
}

// satAdd adds durations without wrapping (garbage timestamps can be huge).
func satAdd(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func (e *ebmlParser) segDur() time.Duration {
	if !e.haveTS {
		return 0
	}
	hi, lo := bits.Mul64(uint64(e.tsMax-e.tsMin), e.scale)
	if hi != 0 || lo > math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(lo)
}

func (e *ebmlParser) Feed(p []byte) int {
	return e.feed(p, &e.st, e.step)
}

func (e *ebmlParser) step(p []byte) int {
	i := 0
	for {
		switch e.mode {
		case modeSkip:
			if e.bodyRem == 0 {
				e.endBody()
				continue
			}
			if i == len(p) {
				return i
			}
			n := int(min(uint64(len(p)-i), e.bodyRem))
			q := p[i : i+n]
			if e.capN > 0 {
				k := copy(e.val[e.vn:e.capN], q)
				e.vn += k
				if e.vn == e.capN {
					e.capN = 0
					e.value()
				}
			}
			if e.inHeader {
				e.appendBuild(q)
			}
			i += n
			e.pos += uint64(n)
			e.bodyRem -= uint64(n)
		case modeHead:
			if e.hn == 0 {
				e.closeEnded()
			}
			need, ok := e.headNeed()
			if !ok {
				e.fail()
				return i
			}
			if e.hn < need {
				if i == len(p) {
					return i
				}
				n := copy(e.hb[e.hn:need], p[i:])
				e.hn += n
				i += n
				e.pos += uint64(n)
				continue
			}
			if !e.element() {
				return i
			}
		default:
			if i == len(p) {
				return i
			}
			i += e.hunt(p[i:])
		}
	}
}

// vintLen is the length of a variable-size integer from its first byte
// (0 if longer than 8 bytes).
func vintLen(b byte) int { return bits.LeadingZeros8(b) + 1 }

// headNeed returns the element header bytes needed so far, and false if
// the bytes gathered cannot begin an element header.
func (e *ebmlParser) headNeed() (int, bool) {
	if e.hn == 0 {
		return 1, true
	}
	il := vintLen(e.hb[0])
	if il > 4 {
		return 0, false
	}
	if e.hn <= il {
		return il + 1, true
	}
	sl := vintLen(e.hb[il])
	if sl > 8 {
		return 0, false
	}
	return il + sl, true
}

// closeEnded leaves the levels whose (known) end has been reached.
func (e *ebmlParser) closeEnded() {
	for e.depth > 0 && e.stack[e.depth-1].end <= e.pos {
		e.pop()
	}
}

func (e *ebmlParser) pop() {
	e.depth--
	switch e.stack[e.depth].id {
	case idTrackEntry:
		e.endTrack()
	case idCluster:
		e.pendCluster = false
	}
}

func (e *ebmlParser) parent() uint32 {
	if e.depth == 0 {
		return 0
	}
	return e.stack[e.depth-1].id
}

func segmentChild(id uint32) bool {
	switch id {
	case idCluster, idInfo, idTracks, idSeekHead, idCues, idTags, idChapters, idAttachments, idVoid, idCRC32:
		return true
	}
	return false
}

func clusterChild(id uint32) bool {
	switch id {
	case idTimecode, idSimpleBlock, idBlockGroup, idSilentTracks, idPosition, idPrevSize, idEncryptedBlock, idVoid, idCRC32:
		return true
	}
	return false
}

const (
	actFail = iota
	actSkip
	actValue
	actEnter
)

// element handles a complete element header. It returns false when it
// failed (a replay is then scheduled).
func (e *ebmlParser) element() bool {
	h := e.hb[:e.hn]
	il := vintLen(h[0])
	start := e.pos - uint64(e.hn)
	id := uint32(beUint(h[:il]))
	if v := uint64(id) &^ (1 << (7 * il)); v == 0 || v == 1<<(7*il)-1 {
		e.fail() // all-zero or reserved (all-ones) ID
		return false
	}
	sl := e.hn - il
	size := beUint(h[il:]) &^ (1 << (7 * sl))
	if size == 1<<(7*sl)-1 {
		size = ebmlUnknown
	}

	if !e.expected {
		// Found by hunting: an EBML header starts a new segment at the top
		// level; a Cluster continues the current one.
		if id == idEBML {
			e.depth = 0
		} else {
			e.depth = 0
			e.push(idSegment, ebmlUnknown)
		}
	}
	// An element that cannot be inside a level of unknown size ends it.
	for e.depth > 0 && e.stack[e.depth-1].end == ebmlUnknown {
		top := e.stack[e.depth-1].id
		if (top == idCluster && !clusterChild(id) && (segmentChild(id) || id == idEBML || id == idSegment)) ||
			(top == idSegment && (id == idEBML || id == idSegment)) {
			e.pop()
			continue
		}
		break
	}

	if e.confirm {
		// The first child of a Cluster found by hunting decides whether it
		// was one.
		if !(id == idTimecode && size <= 8) && !(id == idCRC32 && size == 4) {
			e.fail()
			return false
		}
		e.confirm = false
		e.acquired = true
		e.st.SkippedBytes += e.pendStart - e.huntStart
		e.startPoint()
	}

	act := actSkip
	capN := 0
	var isEBML, isSegment, isCluster bool
	switch e.parent() {
	case 0:
		switch id {
		case idEBML:
			isEBML = true
			if size > maxEBMLHeader {
				act = actFail
			}
		case idSegment:
			isSegment = true
			act = actFail
			if e.sawEBML {
				act = actEnter
			}
		case idVoid, idCRC32:
		default:
			act = actFail
		}
	case idSegment:
		switch {
		case id == idCluster:
			act, isCluster = actEnter, true
		case id == idInfo, id == idTracks:
			act = actEnter
		case !segmentChild(id):
			act = actFail
		}
	case idCluster:
		switch {
		case id == idTimecode:
			act, capN = actValue, 8
			if size > 8 {
				act = actFail
			}
		case id == idSimpleBlock:
			act, capN = actValue, 11
		case id == idBlockGroup:
			act = actEnter
		case !clusterChild(id):
			act = actFail
		}
	case idBlockGroup:
		if id == idBlock {
			act, capN = actValue, 11
		}
	case idInfo:
		if id == idTimecodeScale {
			act, capN = actValue, 8
		}
	case idTracks:
		if id == idTrackEntry {
			act = actEnter
		}
	case idTrackEntry:
		switch id {
		case idTrackNumber, idTrackType, idCodecID:
			act, capN = actValue, len(e.tCodec)
		case idAudio:
			act = actEnter
		}
	case idAudio:
		switch id {
		case idSamplingFrequency, idChannels:
			act, capN = actValue, 8
		}
	}

	if act != actFail {
		switch {
		case size == ebmlUnknown:
			if id != idSegment && id != idCluster {
				act = actFail
			}
		case id != idSegment && size > maxEBMLElement:
			act = actFail
		case e.depth > 0 && e.stack[e.depth-1].end != ebmlUnknown && size > e.stack[e.depth-1].end-e.pos:
			act = actFail // does not fit its parent
		case act == actEnter && e.depth == len(e.stack):
			act = actFail
		}
	}
	if act == actFail {
		e.fail()
		return false
	}
	if !e.expected {
		e.expected = true
		if isEBML {
			e.st.SkippedBytes += start - e.huntStart
		} else {
			// A Cluster: confirmed (and its skipped bytes counted) by its
			// first child.
			e.confirm = true
			e.pn = copy(e.pend[:], h)
			e.pendStart = start
		}
	}

	switch {
	case isEBML:
		e.newSegment()
	case isSegment:
		e.sawEBML = false
	case isCluster:
		if e.inHeader {
			e.publish()
		}
		e.clusterStart = start
		e.pendCluster = true
		e.haveTC = false
		if !e.confirm {
			e.startPoint()
		}
	}
	if e.inHeader {
		e.appendBuild(h)
	}
	switch p := e.parent(); {
	case p == idCluster && (id == idSimpleBlock || id == idBlockGroup):
		e.st.Frames++
	case p == idTracks && id == idTrackEntry:
		e.tNum, e.tType, e.tCodecN, e.tRate, e.tChans = 0, 0, 0, 0, 0
	}
	e.hn = 0
	if act == actEnter {
		end := ebmlUnknown
		if size != ebmlUnknown {
			end = e.pos + size
		}
		e.push(id, end)
		e.mode = modeHead
		return true
	}
	e.mode = modeSkip
	e.bodyRem = size
	e.bodyID = id
	e.vn = 0
	e.capN = 0
	if act == actValue {
		e.capN = int(min(size, uint64(capN)))
		if e.capN == 0 {
			e.value()
		}
	}
	return true
}

func (e *ebmlParser) push(id uint32, end uint64) {
	e.stack[e.depth] = ebmlLevel{id, end}
	e.depth++
}

func (e *ebmlParser) endBody() {
	e.capN = 0
	e.mode = modeHead
	e.hn = 0
}

// fail handles an impossible element header. Where one was expected, that
// is a loss, and hunting re-examines the bytes from its first one (it may
// itself be a Cluster or EBML header misplaced); a header found by hunting
// (or a hunted Cluster whose first child is wrong) was a false hit, and
// hunting resumes one byte after it.
func (e *ebmlParser) fail() {
	start := e.pos - uint64(e.hn)
	switch {
	case e.confirm:
		e.confirm = false
		e.pos = e.pendStart + 1
		e.rp.add(e.pend[1:e.pn])
		e.rp.add(e.hb[:e.hn])
	case e.expected:
		if e.acquired {
			e.st.SyncLosses++
		}
		e.huntStart = start
		e.pos = start
		e.rp.add(e.hb[:e.hn])
	default:
		e.pos = start + 1
		e.rp.add(e.hb[1:e.hn])
	}
	e.expected = false
	e.mode = modeHunt
	e.w, e.wn = 0, 0
	e.hn = 0
	e.depth = 0
	e.pendCluster = false
	if e.inHeader {
		e.inHeader = false
		e.build = nil
	}
}

func (e *ebmlParser) hunt(p []byte) int {
	for i, b := range p {
		e.w = e.w<<8 | uint32(b)
		e.pos++
		e.wn++
		if e.wn >= 4 && (e.w == idEBML || (e.w == idCluster && e.live)) {
			binary.BigEndian.PutUint32(e.hb[:], e.w)
			e.hn = 4
			e.mode = modeHead
			return i + 1
		}
	}
	return len(p)
}

// newSegment starts a segment at an EBML header.
func (e *ebmlParser) newSegment() {
	e.acquired = true
	e.sawEBML = true
	e.inHeader, e.live = true, false
	e.build = make([]byte, 0, 4096)
	e.buildOver = false
	e.doneDur = satAdd(e.doneDur, e.segDur())
	e.haveTS = false
	e.scale = 1e6
	e.haveAudio, e.video = false, 0
	e.st.Streams++
	e.st.Codec = ""
	e.st.SampleRate, e.st.Channels = 0, 0
}

func (e *ebmlParser) publish() {
	e.inHeader, e.live = false, true
	e.gen++
	e.st.HeadersTruncated = e.buildOver
	e.headers = e.build // nil when truncated
	e.build = nil
	// A Cluster reported earlier in this Feed belongs to the previous
	// segment.
	e.result = -1
}

func (e *ebmlParser) appendBuild(b []byte) {
	if e.buildOver {
		return
	}
	if len(e.build)+len(b) > MaxHeaderBytes {
		e.buildOver = true
		e.build = nil
		return
	}
	e.build = append(e.build, b...)
}

// startPoint reports the current Cluster once it is known to be one a
// player can start at.
func (e *ebmlParser) startPoint() {
	if !e.pendCluster || e.confirm || e.video != 0 {
		return
	}
	e.report()
}

func (e *ebmlParser) report() {
	e.pendCluster = false
	if e.live && e.result < 0 && e.clusterStart >= e.feedBase {
		e.result = int(e.clusterStart - e.feedBase)
	}
}

// value handles the captured first bytes of an element's body.
func (e *ebmlParser) value() {
	v := e.val[:e.vn]
	u := beUint(v[:min(len(v), 8)])
	switch e.bodyID {
	case idTimecode:
		e.clusterTC = int64(u & math.MaxInt64)
		e.haveTC = true
	case idTimecodeScale:
		if u > 0 {
			e.scale = u
		}
	case idTrackNumber:
		e.tNum = u
	case idTrackType:
		e.tType = u
	case idCodecID:
		e.tCodecN = copy(e.tCodec[:], v)
	case idChannels:
		if u < 1<<16 {
			e.tChans = int(u)
		}
	case idSamplingFrequency:
		var f float64
		switch len(v) {
		case 4:
			f = float64(math.Float32frombits(uint32(u)))
		case 8:
			f = math.Float64frombits(u)
		}
		if f >= 1 && f < 1e7 {
			e.tRate = int(f + 0.5)
		}
	case idSimpleBlock, idBlock:
		e.block(v)
	}
}

// block reads a block's track number, timestamp and flags.
func (e *ebmlParser) block(v []byte) {
	if len(v) == 0 {
		return
	}
	n := vintLen(v[0])
	if n > 8 || len(v) < n+3 {
		return
	}
	track := beUint(v[:n]) &^ (1 << (7 * n))
	if e.haveTC {
		ts := e.clusterTC + int64(int16(binary.BigEndian.Uint16(v[n:])))
		switch {
		case !e.haveTS:
			e.tsMin, e.tsMax, e.haveTS = ts, ts, true
		case ts > e.tsMax:
			e.tsMax = ts
		case ts < e.tsMin:
			e.tsMin = ts
		}
	}
	if e.pendCluster && !e.confirm && e.video != 0 && track == e.video {
		if e.bodyID == idBlock || v[n+2]&0x80 != 0 {
			e.report()
		}
		e.pendCluster = false
	}
}

func (e *ebmlParser) endTrack() {
	codec := e.tCodec[:e.tCodecN]
	for len(codec) > 0 && codec[len(codec)-1] == 0 { // EBML strings may be NUL-padded
		codec = codec[:len(codec)-1]
	}
	isAudio := e.tType == 2 || (e.tType == 0 && len(codec) > 2 && string(codec[:2]) == "A_")
	if isAudio && !e.haveAudio {
		e.haveAudio = true
		e.st.Codec = codecName(codec)
		e.st.SampleRate, e.st.Channels = e.tRate, e.tChans
	}
	if e.tType == 1 && e.video == 0 && e.tNum != 0 {
		e.video = e.tNum
	}
}

func codecName(id []byte) string {
	s := string(id)
	switch {
	case s == "A_OPUS":
		return "Opus"
	case s == "A_VORBIS":
		return "Vorbis"
	case s == "A_FLAC":
		return "FLAC"
	case s == "A_AAC" || len(s) > 6 && s[:6] == "A_AAC/":
		return "AAC"
	}
	return s
}
