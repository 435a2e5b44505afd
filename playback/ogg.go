package playback

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync/atomic"

	"github.com/icedeck/icedeck/engine/frame"
	"github.com/jfreymuth/vorbis"
	flacframe "github.com/mewkiz/flac/frame"
	"github.com/pion/opus"
)

// Ogg page header flags (RFC 3533).
const (
	oggContinued = 0x01
	oggBOS       = 0x02
	oggEOS       = 0x04
)

// maxOggPage is the largest possible Ogg page: 27 + 255 + 255*255 bytes.
const maxOggPage = 27 + 255 + 255*255

type oggPage struct {
	flags  byte
	serial uint32
	lacing []byte
	body   []byte
}

// oggDemux reads Ogg pages from a non-seekable stream, resynchronising on
// junk (capture pattern + CRC), and assembles the packets of one logical
// stream at a time. A new BOS page ends the current logical stream so that
// chained streams (a new logical stream per track) get a fresh decoder.
type oggDemux struct {
	br      *bufio.Reader
	page    *oggPage // current page being split into packets
	seg     int      // next lacing index in page
	off     int      // byte offset of that segment in page.body
	serial  uint32
	active  bool   // a logical stream is selected
	partial []byte // packet spanning pages
	drop    bool   // partial packet's start was never seen (joined mid-packet)
	held    *oggPage
	skipped int64         // junk bytes skipped while resyncing
	in      *atomic.Int64 // bytes of valid pages read
}

func newOggDemux(r io.Reader, in *atomic.Int64) *oggDemux {
	return &oggDemux{br: bufio.NewReaderSize(r, maxOggPage+1024), in: in}
}

// readPage returns the next page with a valid CRC.
func (d *oggDemux) readPage() (*oggPage, error) {
	for {
		hdr, err := d.br.Peek(27)
		if len(hdr) < 27 {
			if err == nil || errors.Is(err, io.ErrUnexpectedEOF) {
				err = io.EOF
			}
			return nil, err
		}
		if !bytes.Equal(hdr[:4], []byte("OggS")) || hdr[4] != 0 {
			// Skip to the next possible capture pattern.
			buf, _ := d.br.Peek(d.br.Buffered())
			i := bytes.Index(buf[1:], []byte("OggS"))
			n := len(buf) - 3 // keep a possible partial "Ogg" at the end
			if i >= 0 {
				n = i + 1
			}
			if n < 1 {
				n = 1
			}
			d.skipped += int64(n)
			_, _ = d.br.Discard(n)
			continue
		}
		nseg := int(hdr[26])
		seghdr, err := d.br.Peek(27 + nseg)
		if len(seghdr) < 27+nseg {
			return nil, eofOr(err)
		}
		bodyLen := 0
		for _, l := range seghdr[27:] {
			bodyLen += int(l)
		}
		total := 27 + nseg + bodyLen
		raw, err := d.br.Peek(total)
		if len(raw) < total {
			if len(raw) > 27 && errors.Is(eofOr(err), io.EOF) {
				// A false capture pattern claiming more bytes than are
				// left: keep scanning what is there.
				d.skipped++
				_, _ = d.br.Discard(1)
				continue
			}
			return nil, eofOr(err)
		}
		if frame.OggPageCRC(raw) != binary.LittleEndian.Uint32(raw[22:26]) {
			d.skipped++
			_, _ = d.br.Discard(1)
			continue
		}
		p := &oggPage{
			flags:  raw[5],
			serial: binary.LittleEndian.Uint32(raw[14:18]),
			lacing: append([]byte(nil), raw[27:27+nseg]...),
			body:   append([]byte(nil), raw[27+nseg:total]...),
		}
		_, _ = d.br.Discard(total)
		d.in.Add(int64(total))
		return p, nil
	}
}

func eofOr(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return io.EOF
	}
	return err
}

// errNewStream is returned by nextPacket when a BOS page starts a new
// logical stream; the caller should start a new decoder with nextStream.
var errNewStream = errors.New("ogg: new logical stream")

// nextStream waits for a BOS page and returns its first packet (the codec
// identification header). Pages before it (a mid-stream join without header
// pages) are skipped and counted in skippedPages.
func (d *oggDemux) nextStream() (first []byte, skippedPages int, err error) {
	for {
		p := d.held
		d.held = nil
		if p == nil {
			if p, err = d.readPage(); err != nil {
				return nil, skippedPages, err
			}
		}
		if p.flags&oggBOS == 0 {
			skippedPages++
			continue
		}
		// The BOS page holds exactly the identification packet.
		n := 0
		for _, l := range p.lacing {
			n += int(l)
			if l < 255 {
				break
			}
		}
		if n > len(p.body) {
			continue
		}
		id := p.body[:n]
		if oggCodecName(id) == "" {
			// Another stream of a grouped file (e.g. Skeleton or video): ignore it.
			continue
		}
		d.serial = p.serial
		d.active = true
		d.page = p
		d.seg, d.off = 0, 0
		d.partial, d.drop = nil, false
		pkt, err := d.nextPacket()
		return pkt, 0, err
	}
}

// nextPacket returns the next complete packet of the selected logical
// stream, io.EOF at the end of input, or errNewStream at a chain boundary.
func (d *oggDemux) nextPacket() ([]byte, error) {
	for {
		if d.page != nil && d.seg < len(d.page.lacing) {
			l := int(d.page.lacing[d.seg])
			d.partial = append(d.partial, d.page.body[d.off:d.off+l]...)
			d.seg++
			d.off += l
			if l < 255 {
				pkt := d.partial
				drop := d.drop
				d.partial, d.drop = nil, false
				if drop {
					continue
				}
				return pkt, nil
			}
			continue
		}
		p, err := d.readPage()
		if err != nil {
			return nil, err
		}
		if p.flags&oggBOS != 0 {
			d.held = p
			d.active = false
			return nil, errNewStream
		}
		if p.serial != d.serial {
			continue
		}
		if p.flags&oggContinued == 0 && len(d.partial) > 0 {
			d.partial = nil // lost the rest of a packet (a page went missing)
		}
		if p.flags&oggContinued != 0 && len(d.partial) == 0 {
			d.drop = true // joined in the middle of a packet
		}
		d.page, d.seg, d.off = p, 0, 0
	}
}

func oggCodecName(id []byte) string {
	switch {
	case len(id) >= 30 && bytes.HasPrefix(id, []byte("\x01vorbis")):
		return "Vorbis"
	case len(id) >= 19 && bytes.HasPrefix(id, []byte("OpusHead")):
		return "Opus"
	case len(id) >= 51 && bytes.HasPrefix(id, []byte("\x7fFLAC")):
		return "FLAC"
	}
	return ""
}

// oggDecoder turns an Ogg stream into segments, one per logical stream.
type oggDecoder struct {
	d *oggDemux
}

func newOggDecoder(r io.Reader, in *atomic.Int64) *oggDecoder {
	return &oggDecoder{d: newOggDemux(r, in)}
}

func (o *oggDecoder) next() (*segment, error) {
	id, skipped, err := o.d.nextStream()
	if err != nil {
		if err == io.EOF && skipped > 0 {
			return nil, fmt.Errorf("ogg: no header pages in %d pages (joined mid-stream without headers?)", skipped)
		}
		return nil, err
	}
	switch oggCodecName(id) {
	case "Vorbis":
		return o.vorbis(id)
	case "Opus":
		return o.opus(id)
	case "FLAC":
		return o.flac(id)
	}
	return nil, errors.New("ogg: unknown codec")
}

// headers reads the n header packets after the identification packet.
func (o *oggDecoder) headers(n int, each func([]byte) error) error {
	for range n {
		p, err := o.d.nextPacket()
		if err != nil {
			if err == errNewStream || err == io.EOF {
				return errors.New("ogg: stream ended inside its headers")
			}
			return err
		}
		if err := each(p); err != nil {
			return err
		}
	}
	return nil
}

// packetSegment builds a segment whose fill decodes one packet at a time.
func (o *oggDecoder) packetSegment(info streamInfo, decode func(pkt []byte, out *[][2]float64) error) *segment {
	return &segment{info: info, fill: func(out *[][2]float64) error {
		pkt, err := o.d.nextPacket()
		if err == errNewStream {
			return io.EOF // this logical stream is over; next() starts the new one
		}
		if err != nil {
			return err
		}
		return decode(pkt, out)
	}}
}

func (o *oggDecoder) vorbis(id []byte) (*segment, error) {
	var dec vorbis.Decoder
	if err := dec.ReadHeader(id); err != nil {
		return nil, fmt.Errorf("vorbis: %w", err)
	}
	info := streamInfo{Codec: "Vorbis", SampleRate: dec.SampleRate(), Channels: dec.Channels()}
	err := o.headers(2, func(p []byte) error {
		if bytes.HasPrefix(p, []byte("\x03vorbis")) {
			info.Title = frame.CommentTitle(p[7:])
		}
		return dec.ReadHeader(p)
	})
	if err != nil {
		return nil, fmt.Errorf("vorbis: %w", err)
	}
	ch := dec.Channels()
	buf := make([]float32, dec.BufferSize())
	return o.packetSegment(info, func(pkt []byte, out *[][2]float64) error {
		pcm, err := dec.DecodeInto(pkt, buf)
		if err != nil {
			dec.Clear() // a damaged packet: carry on without overlap
			return nil
		}
		appendInterleaved(out, pcm, ch, vorbisRight(ch))
		return nil
	}), nil
}

// vorbisRight is the index of the front-right channel in Vorbis (and Opus
// family 1) channel order, used to fold multichannel audio to stereo.
func vorbisRight(ch int) int {
	switch {
	case ch <= 1:
		return 0
	case ch == 2 || ch == 4:
		return 1
	default:
		return 2
	}
}

func (o *oggDecoder) opus(id []byte) (*segment, error) {
	ch := int(id[9])
	preSkip := int(binary.LittleEndian.Uint16(id[10:12]))
	gainQ8 := int16(binary.LittleEndian.Uint16(id[16:18]))
	family := id[18]
	if family != 0 || ch < 1 || ch > 2 {
		return nil, fmt.Errorf("opus: channel mapping family %d with %d channels is not supported (only mono/stereo)", family, ch)
	}
	info := streamInfo{Codec: "Opus", SampleRate: 48000, Channels: ch}
	err := o.headers(1, func(p []byte) error {
		if bytes.HasPrefix(p, []byte("OpusTags")) {
			info.Title = frame.CommentTitle(p[8:])
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("opus: %w", err)
	}
	dec, err := opus.NewDecoderWithOutput(48000, 2)
	if err != nil {
		return nil, fmt.Errorf("opus: %w", err)
	}
	gain := float32(math.Pow(10, float64(gainQ8)/(20*256)))
	buf := make([]float32, 5760*2) // 120 ms, the longest Opus packet
	skip := preSkip
	return o.packetSegment(info, func(pkt []byte, out *[][2]float64) error {
		n, err := dec.DecodeToFloat32(pkt, buf)
		if err != nil {
			return nil // one bad packet is a gap, not the end
		}
		pcm := buf[:2*n]
		if skip > 0 {
			k := min(skip, n)
			pcm = pcm[2*k:]
			skip -= k
		}
		if gain != 1 {
			for i := range pcm {
				pcm[i] *= gain
			}
		}
		appendInterleaved(out, pcm, 2, 1)
		return nil
	}), nil
}

func (o *oggDecoder) flac(id []byte) (*segment, error) {
	// 0x7F "FLAC" major minor nheaders(2) "fLaC" STREAMINFO(4+34)
	if !bytes.Equal(id[9:13], []byte("fLaC")) {
		return nil, errors.New("flac: bad Ogg FLAC mapping header")
	}
	nhdr := int(binary.BigEndian.Uint16(id[7:9]))
	si := id[17:]
	rate := int(si[10])<<12 | int(si[11])<<4 | int(si[12])>>4
	ch := int(si[12]>>1&7) + 1
	bps := int(si[12]&1)<<4 | int(si[13]>>4) + 1
	info := streamInfo{Codec: "FLAC", SampleRate: rate, Channels: ch}
	if rate == 0 {
		return nil, errors.New("flac: invalid sample rate 0")
	}
	var first []byte
	if nhdr > 0 {
		err := o.headers(nhdr, func(p []byte) error {
			if len(p) > 4 && p[0]&0x7f == 4 {
				info.Title = frame.CommentTitle(p[4:])
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("flac: %w", err)
		}
	} else {
		// Unknown header count: metadata packets until the first frame.
		for {
			p, err := o.d.nextPacket()
			if err != nil {
				return nil, fmt.Errorf("flac: %w", eofHeaders(err))
			}
			if len(p) >= 2 && p[0] == 0xff && p[1]&0xfe == 0xf8 {
				first = p
				break
			}
		}
	}
	decode := func(pkt []byte, out *[][2]float64) error {
		f, err := flacframe.Parse(bytes.NewReader(pkt))
		if err != nil || len(f.Subframes) == 0 {
			return nil // skip a damaged or non-frame packet
		}
		fbps := int(f.BitsPerSample)
		if fbps == 0 {
			fbps = bps
		}
		scale := 1 / float64(int64(1)<<(fbps-1))
		l := f.Subframes[0].Samples
		r := l
		if len(f.Subframes) > 1 {
			r = f.Subframes[1].Samples
		}
		for i := range l {
			if i >= len(r) {
				break
			}
			*out = append(*out, [2]float64{float64(l[i]) * scale, float64(r[i]) * scale})
		}
		return nil
	}
	seg := o.packetSegment(info, decode)
	if first != nil {
		inner := seg.fill
		seg.fill = func(out *[][2]float64) error {
			if first != nil {
				p := first
				first = nil
				return decode(p, out)
			}
			return inner(out)
		}
	}
	return seg, nil
}

func eofHeaders(err error) error {
	if err == errNewStream || err == io.EOF {
		return errors.New("stream ended inside its headers")
	}
	return err
}

// appendInterleaved appends interleaved float32 frames with ch channels as
// stereo, taking channel 0 as left and channel right as right (mono is
// duplicated).
func appendInterleaved(out *[][2]float64, pcm []float32, ch, right int) {
	if ch < 1 {
		return
	}
	for i := 0; i+ch <= len(pcm); i += ch {
		*out = append(*out, [2]float64{float64(pcm[i]), float64(pcm[i+right])})
	}
}
