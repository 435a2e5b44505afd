// Package frame analyses a source's byte stream as it is relayed, to prove
// that the audio arrived intact: it finds MPEG audio / ADTS frames, Ogg
// pages, raw FLAC frames and WebM/Matroska clusters, counts them, notices
// lost sync, CRC errors and skipped bytes, and keeps the stream headers a
// late listener needs (Ogg codec-header pages, FLAC metadata, everything
// before a WebM segment's first Cluster).
//
// An Analyzer is fed the stream chunk by chunk, split anywhere. It never
// copies audio payload (only header bytes and stream headers), never
// allocates in steady state and never panics, whatever it is fed. The Ogg,
// FLAC and WebM parsers document their own rules (ogg.go, flac.go,
// ebml.go).
//
// Accounting rules shared by the MPEG and ADTS parsers:
//   - A frame is counted (Frames, bitrate range) when its header is checked;
//     its samples are added to Duration when its last byte has arrived.
//   - Sync is acquired only after three consecutive, consistent headers
//     (same version/layer/sample rate/mono-ness for MPEG; same
//     profile/rate/channel configuration for ADTS). Those frames are counted
//     retroactively; the bytes before the first of them are SkippedBytes.
//   - Once synced, any valid header exactly where the next frame must start is
//     accepted (a sample-rate change between tracks is not a loss). Anything
//     else there is one SyncLoss; hunting restarts at that position, and the
//     bytes from there to the re-acquired frame are SkippedBytes. So junk
//     inserted into a stream costs one loss and exactly the junk's length in
//     SkippedBytes; the frame the junk was inserted into ("the broken frame")
//     has already been counted and is not counted as skipped.
//   - ID3v2 tags (at the start or later) are TagBytes, not SkippedBytes and not
//     a loss. ID3v1 "TAG" blocks are recognised only where a frame was
//     expected while synced (that is where they occur: after the last frame);
//     a "TAG" found while hunting is junk, since three letters are too weak a
//     signature.
package frame

import "time"

// Analyzer is a streaming parser for one source. See the package comment.
type Analyzer interface {
	// Feed parses the next bytes of the stream. It returns the offset in p of
	// the first start point that begins inside p and is valid for the header
	// generation Headers returns right after this call, or -1. A start point
	// is where a player that was sent those headers (if any) can begin:
	//   - MPEG/ADTS: a frame;
	//   - Ogg: a page of a logical stream of the current chain link, after
	//     the link's codec-header pages, that does not begin with a
	//     continued packet;
	//   - raw FLAC: a frame after the metadata blocks;
	//   - WebM/Matroska: a Cluster of the current segment (with a video
	//     track, one whose first video block is a key frame);
	//   - unknown types: any byte (0 for a non-empty p).
	// When a new generation's headers complete inside p (a new Ogg chain
	// link, FLAC stream or WebM segment), only start points after them count:
	// a start point of an earlier generation is never returned, even if it
	// comes first in p; and from the start of a new link/stream/segment to
	// the end of its headers there is none. A boundary that can only be
	// confirmed after later bytes arrive may go unreported, but a returned
	// offset is never a false start. p is not modified or retained.
	Feed(p []byte) int
	// Stats returns a copy of the counters.
	Stats() Stats
	// Headers returns the stream headers a listener joining now must be
	// sent before any start point (Ogg: the current link's codec-header
	// pages; FLAC: "fLaC" and the metadata blocks; WebM: the EBML header and
	// the segment up to its first Cluster) and a generation number that
	// increases each time they are replaced. nil, 0 for MPEG/ADTS/unknown
	// types or before headers are complete. If a generation's headers exceed
	// MaxHeaderBytes they are not stored: Headers returns nil with that
	// generation's number and Stats.HeadersTruncated is set. The returned
	// slice is never modified.
	Headers() ([]byte, uint64)
}

// MaxHeaderBytes caps the stored headers of one generation (a Vorbis
// comment or FLAC picture with cover art can be large; a listener must not
// be sent megabytes before audio).
const MaxHeaderBytes = 1 << 20

// Stats are the counters of one analysed stream.
type Stats struct {
	Container    string        `json:"container"`     // "mpeg", "adts", "ogg", "flac", "webm" (WebM and Matroska), "" (opaque)
	Codec        string        `json:"codec"`         // "MP3", "MP2", "MP1", "AAC-LC", "AAC-Main", "AAC-SSR", "AAC-LTP", "AAC" (Matroska), "Vorbis", "Opus", "FLAC", "Speex", a Matroska CodecID, "" unknown
	Version      string        `json:"version"`       // MPEG: "1", "2", "2.5"; else ""
	SampleRate   int           `json:"sample_rate"`   // Hz of the latest frame / current Ogg stream (Opus: OpusHead input rate, else 48000) / STREAMINFO / first Matroska audio track
	Channels     int           `json:"channels"`      // likewise; ADTS channel config 0 gives 0
	Bitrate      int           `json:"bitrate"`       // bits/s: CBR MPEG its frames' rate, VBR MPEG and ADTS the average so far, Vorbis nominal, else 0
	MinBitrate   int           `json:"min_bitrate"`   // per-frame bitrate range seen (MPEG, ADTS); 0 if n/a
	MaxBitrate   int           `json:"max_bitrate"`   //
	Frames       uint64        `json:"frames"`        // MPEG/ADTS/FLAC frames, Ogg pages (including header pages and pages with a bad CRC), Matroska blocks
	SyncLosses   uint64        `json:"sync_losses"`   // times sync was lost after having been acquired
	SkippedBytes uint64        `json:"skipped_bytes"` // bytes not part of any valid frame/page/element (not counting tags)
	TagBytes     uint64        `json:"tag_bytes"`     // ID3v2 / ID3v1 tag bytes skipped knowingly
	CRCErrors    uint64        `json:"crc_errors"`    // Ogg pages whose CRC-32, FLAC frames whose CRC-16 did not match (still counted in Frames)
	Duration     time.Duration `json:"-"`             // audio received; reports give it in seconds
	Streams      int           `json:"streams"`       // Ogg: chain links seen (a link's multiplexed streams count once); FLAC: "fLaC" streams; WebM: segments; others: 1 once synced
	Title        string        `json:"title"`         // Ogg, FLAC: from the current stream's Vorbis comment (see CommentTitle)
	Artist, Song string        `json:"-"`             // the ARTIST and TITLE that Title is made of, for status documents that show them apart
	Bytes        uint64        `json:"bytes"`         // bytes fed

	// HeadersTruncated reports that the current header generation exceeded
	// MaxHeaderBytes and was not stored (Headers returns nil).
	HeadersTruncated bool `json:"headers_truncated"`
}

// Known reports whether NewAnalyzer parses the content type (rather than
// only counting its bytes).
func Known(contentType string) bool { return FormatOf(contentType).Kind != KindUnknown }

// NewAnalyzer picks a parser from the source's Content-Type (see FormatOf).
// Unknown types get an analyzer that only counts bytes.
func NewAnalyzer(contentType string) Analyzer {
	switch k := FormatOf(contentType).Kind; k {
	case KindMPEG, KindADTS:
		return newSyncParser(k)
	case KindOgg:
		return newOggParser()
	case KindFLAC:
		return newFLACParser()
	case KindWebM:
		return newEBMLParser()
	}
	return &opaque{}
}

// opaque relays an unknown type as Icecast does: any byte is as good a
// start as any other, so a listener may join at any piece.
type opaque struct{ bytes uint64 }

func (o *opaque) Feed(p []byte) int {
	o.bytes += uint64(len(p))
	if len(p) == 0 {
		return -1
	}
	return 0
}

func (o *opaque) Stats() Stats              { return Stats{Bytes: o.bytes} }
func (o *opaque) Headers() ([]byte, uint64) { return nil, 0 }

// samplesToDur converts a sample count at rate Hz to a duration without
// overflowing for streams that run for years.
func samplesToDur(samples uint64, rate int) time.Duration {
	if rate <= 0 {
		return 0
	}
	r := uint64(rate)
	return time.Duration(samples/r)*time.Second + time.Duration((samples%r)*uint64(time.Second)/r)
}

// durAcc sums samples per sample rate, so rate changes are accounted exactly.
type durAcc struct {
	base    time.Duration
	rate    int
	samples uint64
}

func (d *durAcc) add(samples, rate int) {
	if rate != d.rate {
		d.base = d.total()
		d.rate = rate
		d.samples = 0
	}
	d.samples += uint64(samples)
}

func (d *durAcc) total() time.Duration { return d.base + samplesToDur(d.samples, d.rate) }

// feeder is the bookkeeping every parser's Feed shares: bytes counted,
// start points taken relative to this call's p, and bytes a false start
// gave back parsed again first.
type feeder struct {
	pos      uint64 // stream offset of the next byte to parse
	feedBase uint64 // stream offset of this Feed's p[0]
	result   int    // start point found in this Feed, or -1
	rp       replay
}

func (f *feeder) feed(p []byte, st *Stats, step func([]byte) int) int {
	st.Bytes += uint64(len(p))
	f.feedBase = f.pos
	f.result = -1
	f.rp.drive(p, step)
	return f.result
}

// replay holds bytes already consumed that must be parsed again after a
// false start (a header that turned out invalid). Its content is never more
// than one Ogg page header, so the fixed array always suffices.
type replay struct {
	buf [2 * (27 + 255)]byte
	n   int
}

// add appends b to the pending replay bytes.
func (r *replay) add(b []byte) {
	r.n += copy(r.buf[r.n:], b)
}

// drive hands p to step until it is consumed, first re-parsing any bytes a
// false start gave back. step returns how many bytes it consumed.
func (r *replay) drive(p []byte, step func([]byte) int) {
	for len(p) > 0 || r.n > 0 {
		if r.n > 0 {
			var tmp [len(r.buf)]byte
			n := copy(tmp[:], r.buf[:r.n])
			r.n = 0
			c := step(tmp[:n])
			r.add(tmp[c:n])
			continue
		}
		c := step(p)
		p = p[c:]
	}
}
