package playback

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	gomp3 "github.com/hajimehoshi/go-mp3"
)

// mp3Header is a parsed MPEG-1/2 Layer III frame header. MPEG 2.5 and
// other layers count as invalid because go-mp3 cannot decode them, so the
// resync filter skips them like junk.
type mp3Header struct {
	mpeg1   bool
	rate    int
	mono    bool
	bitrate int // kb/s
	size    int // whole frame in bytes
}

var (
	mp3Rates1    = [3]int{44100, 48000, 32000}
	mp3Rates2    = [3]int{22050, 24000, 16000}
	mp3Bitrates1 = [15]int{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320}
	mp3Bitrates2 = [15]int{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160}
)

func parseMP3Header(b []byte) (mp3Header, bool) {
	if len(b) < 4 || b[0] != 0xff || b[1]&0xe0 != 0xe0 {
		return mp3Header{}, false
	}
	version := b[1] >> 3 & 3 // 3 = MPEG1, 2 = MPEG2, 0 = 2.5, 1 reserved
	layer := b[1] >> 1 & 3   // 1 = Layer III
	bri := b[2] >> 4
	sri := b[2] >> 2 & 3
	if (version != 3 && version != 2) || layer != 1 || bri == 0 || bri == 15 || sri == 3 || b[3]&3 == 2 {
		return mp3Header{}, false
	}
	h := mp3Header{mpeg1: version == 3, mono: b[3]>>6 == 3}
	pad := int(b[2] >> 1 & 1)
	if h.mpeg1 {
		h.rate = mp3Rates1[sri]
		h.bitrate = mp3Bitrates1[bri]
		h.size = 144000*h.bitrate/h.rate + pad
	} else {
		h.rate = mp3Rates2[sri]
		h.bitrate = mp3Bitrates2[bri]
		h.size = 72000*h.bitrate/h.rate + pad
	}
	return h, h.size > 4
}

// sameStream reports whether two headers plausibly belong to one stream.
func (h mp3Header) sameStream(o mp3Header) bool {
	return h.mpeg1 == o.mpeg1 && h.rate == o.rate && h.mono == o.mono
}

// mp3Sync passes whole MP3 frames from a byte stream. It locks on only after
// three consecutive valid, consistent headers (go-mp3 alone latches onto
// false sync words in junk), drops sync when a frame is not followed where
// expected, and reports a sample-rate change at a relock.
type mp3Sync struct {
	br      *bufio.Reader
	in      *atomic.Int64 // bytes of frames passed on
	locked  bool
	cur     mp3Header
	skipped int64
	resyncs int
}

const mp3MaxFrame = 2881 // 320 kb/s at 16 kHz (MPEG-2) plus padding

func (s *mp3Sync) peekHeader(off int) (mp3Header, bool, error) {
	b, err := s.br.Peek(off + 4)
	if len(b) < off+4 {
		return mp3Header{}, false, eofOr(err)
	}
	h, ok := parseMP3Header(b[off:])
	return h, ok, nil
}

// nextFrame returns the next frame's bytes (valid until the next call) and
// whether the stream format changed from the previous locked frame.
func (s *mp3Sync) nextFrame() (frame []byte, h mp3Header, changed bool, err error) {
	for {
		h0, ok, err := s.peekHeader(0)
		if err != nil {
			return nil, h0, false, err
		}
		if ok && s.locked && h0.sameStream(s.cur) {
			return s.take(h0, false)
		}
		if ok {
			// Candidate: need two more consistent headers right behind it.
			h1, ok1, err1 := s.peekHeader(h0.size)
			if err1 == nil && ok1 && h1.sameStream(h0) {
				h2, ok2, err2 := s.peekHeader(h0.size + h1.size)
				if err2 == nil && ok2 && h2.sameStream(h0) {
					changed := s.locked || s.resyncs > 0
					changed = changed && (h0.rate != s.cur.rate || h0.mono != s.cur.mono)
					if s.locked {
						s.resyncs++
					}
					s.locked = true
					return s.take(h0, changed)
				}
			}
			if (err1 == io.EOF || err1 == nil && ok1 && h1.sameStream(h0)) && s.locked && h0.sameStream(s.cur) {
				return s.take(h0, false) // the last frames of a stream
			}
		}
		if s.locked {
			s.locked = false
			s.resyncs++
		}
		// Skip to the next 0xFF.
		buf, _ := s.br.Peek(s.br.Buffered())
		n := 1
		for n < len(buf) && buf[n] != 0xff {
			n++
		}
		s.skipped += int64(n)
		if _, err := s.br.Discard(n); err != nil {
			return nil, h0, false, eofOr(err)
		}
	}
}

func (s *mp3Sync) take(h mp3Header, changed bool) ([]byte, mp3Header, bool, error) {
	b, err := s.br.Peek(h.size)
	if len(b) < h.size {
		return nil, h, false, eofOr(err)
	}
	s.cur = h
	s.in.Add(int64(h.size))
	_, _ = s.br.Discard(h.size)
	return b, h, changed, nil
}

// mp3Frames feeds filtered frames to one go-mp3 decoder and ends (io.EOF)
// at a format change, keeping that frame for the next decoder.
type mp3Frames struct {
	sync    *mp3Sync
	held    []byte
	heldH   mp3Header
	pending []byte
	first   bool
	err     error // why the segment ended (io.EOF = real end of input)
	format  bool  // segment ended because the format changed
	// Bit reservoir bookkeeping: a frame whose main_data_begin reaches
	// back further than the data this decoder has seen decodes to noise
	// (go-mp3 does not notice), so its output is dropped. One flag per
	// frame handed to go-mp3, in order.
	avail int
	bad   []bool
}

// reservoirOK reports whether frame's main data start is available and
// accounts for its own main data.
func (f *mp3Frames) reservoirOK(frame []byte) bool {
	h, ok := parseMP3Header(frame)
	if !ok {
		return false
	}
	off := 4
	if frame[1]&1 == 0 { // protected: 16-bit CRC follows the header
		off += 2
	}
	var begin, side int
	switch {
	case h.mpeg1 && h.mono:
		side = 17
	case h.mpeg1:
		side = 32
	case h.mono:
		side = 9
	default:
		side = 17
	}
	if len(frame) < off+side {
		return false
	}
	if h.mpeg1 {
		begin = int(frame[off])<<1 | int(frame[off+1]>>7)
	} else {
		begin = int(frame[off])
	}
	ok = begin <= f.avail
	f.avail += len(frame) - off - side
	return ok
}

func (f *mp3Frames) Read(p []byte) (int, error) {
	for len(f.pending) == 0 {
		if f.err != nil || f.format {
			return 0, io.EOF
		}
		if f.held != nil {
			f.pending, f.held = f.held, nil
			f.first = false
			f.bad = append(f.bad, !f.reservoirOK(f.pending))
			break
		}
		fr, h, changed, err := f.sync.nextFrame()
		if err != nil {
			f.err = err
			return 0, io.EOF
		}
		if changed && !f.first {
			f.held = append([]byte(nil), fr...)
			f.heldH = h
			f.format = true
			return 0, io.EOF
		}
		f.first = false
		f.pending = append(f.pending[:0], fr...)
		f.bad = append(f.bad, !f.reservoirOK(f.pending))
	}
	n := copy(p, f.pending)
	f.pending = f.pending[n:]
	return n, nil
}

type mp3Decoder struct {
	sync *mp3Sync
	held []byte
	done error
}

func newMP3Decoder(br *bufio.Reader, in *atomic.Int64) *mp3Decoder {
	return &mp3Decoder{sync: &mp3Sync{br: bufio.NewReaderSize(br, 4*mp3MaxFrame+64), in: in}}
}

// next builds a go-mp3 decoder for the frames up to the next format change.
func (d *mp3Decoder) next() (*segment, error) {
	if d.done != nil {
		return nil, d.done
	}
	for attempt := 0; ; attempt++ {
		frames := &mp3Frames{sync: d.sync, held: d.held, first: true}
		d.held = nil
		dec, err := gomp3.NewDecoder(frames)
		if err != nil {
			if frames.err != nil {
				d.done = frames.err
				return nil, frames.err
			}
			if frames.format {
				d.held = frames.held
				continue
			}
			if attempt < 50 {
				continue // a frame go-mp3 rejects: try from the next one
			}
			return nil, fmt.Errorf("mp3: %w", err)
		}
		mono := d.sync.cur.mono
		info := streamInfo{Codec: "MP3", SampleRate: dec.SampleRate(), Channels: 2}
		if mono {
			info.Channels = 1
		}
		// go-mp3 emits one frame of PCM (1152 samples, 576 for MPEG-2) per
		// input frame, so reading a frame at a time keeps the bad flags
		// aligned with the output.
		spf := 1152
		if !d.sync.cur.mpeg1 {
			spf = 576
		}
		pcm := make([]byte, spf*4)
		seg := &segment{info: info}
		seg.fill = func(out *[][2]float64) error {
			n, err := io.ReadFull(dec, pcm)
			n &^= 3
			if len(frames.bad) > 0 {
				drop := frames.bad[0]
				frames.bad = frames.bad[1:]
				if drop {
					n = 0
				}
			}
			for i := 0; i < n; i += 4 {
				l := int16(uint16(pcm[i]) | uint16(pcm[i+1])<<8)
				r := int16(uint16(pcm[i+2]) | uint16(pcm[i+3])<<8)
				*out = append(*out, [2]float64{float64(l) / 32768, float64(r) / 32768})
			}
			if err == nil {
				return nil
			}
			if frames.format {
				d.held = frames.held
				return io.EOF
			}
			if frames.err != nil {
				if !errors.Is(frames.err, io.EOF) {
					d.done = frames.err
				} else {
					d.done = io.EOF
				}
				return io.EOF
			}
			if n > 0 {
				return nil
			}
			// go-mp3 failed on a frame the filter passed (damaged data):
			// end this segment; next() builds a fresh decoder.
			return io.EOF
		}
		return seg, nil
	}
}
