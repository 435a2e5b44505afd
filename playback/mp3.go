package playback

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	gomp3 "github.com/hajimehoshi/go-mp3"
	"github.com/icedeck/icedeck/engine/frame"
)

// mp3At parses the frame header at the start of b. Only Layer III of
// MPEG-1 and MPEG-2 counts: go-mp3 decodes nothing else, so the resync
// filter skips other frames like junk.
func mp3At(b []byte) (frame.Header, bool) {
	if len(b) < 4 {
		return frame.Header{}, false
	}
	h, ok := frame.ParseMPEG(binary.BigEndian.Uint32(b))
	return h, ok && h.Layer == 3 && h.Version != "2.5"
}

// mp3Sync passes whole MP3 frames from a byte stream. It locks on only after
// three consecutive valid, consistent headers (go-mp3 alone latches onto
// false sync words in junk), drops sync when a frame is not followed where
// expected, and reports a sample-rate change at a relock.
type mp3Sync struct {
	br      *bufio.Reader
	in      *atomic.Int64 // bytes of frames passed on
	locked  bool
	cur     frame.Header
	skipped int64
	resyncs int
}

const mp3MaxFrame = 2881 // 320 kb/s at 16 kHz (MPEG-2) plus padding

func (s *mp3Sync) peekHeader(off int) (frame.Header, bool, error) {
	b, err := s.br.Peek(off + 4)
	if len(b) < off+4 {
		return frame.Header{}, false, eofOr(err)
	}
	h, ok := mp3At(b[off:])
	return h, ok, nil
}

// nextFrame returns the next frame's bytes (valid until the next call) and
// whether the stream format changed from the previous locked frame.
func (s *mp3Sync) nextFrame() (fr []byte, h frame.Header, changed bool, err error) {
	for {
		h0, ok, err := s.peekHeader(0)
		if err != nil {
			return nil, h0, false, err
		}
		if ok && s.locked && h0.SameStream(s.cur) {
			return s.take(h0, false)
		}
		if ok {
			// Candidate: need two more consistent headers right behind it.
			h1, ok1, err1 := s.peekHeader(h0.Length)
			if err1 == nil && ok1 && h1.SameStream(h0) {
				h2, ok2, err2 := s.peekHeader(h0.Length + h1.Length)
				if err2 == nil && ok2 && h2.SameStream(h0) {
					changed := s.locked || s.resyncs > 0
					changed = changed && !h0.SameStream(s.cur)
					if s.locked {
						s.resyncs++
					}
					s.locked = true
					return s.take(h0, changed)
				}
			}
			if (err1 == io.EOF || err1 == nil && ok1 && h1.SameStream(h0)) && s.locked && h0.SameStream(s.cur) {
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

func (s *mp3Sync) take(h frame.Header, changed bool) ([]byte, frame.Header, bool, error) {
	b, err := s.br.Peek(h.Length)
	if len(b) < h.Length {
		return nil, h, false, eofOr(err)
	}
	s.cur = h
	s.in.Add(int64(h.Length))
	_, _ = s.br.Discard(h.Length)
	return b, h, changed, nil
}

// mp3Frames feeds filtered frames to one go-mp3 decoder and ends (io.EOF)
// at a format change, keeping that frame for the next decoder.
type mp3Frames struct {
	sync    *mp3Sync
	held    []byte
	heldH   frame.Header
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

// reservoirOK reports whether fr's main data start is available and
// accounts for its own main data.
func (f *mp3Frames) reservoirOK(fr []byte) bool {
	h, ok := mp3At(fr)
	if !ok {
		return false
	}
	off := h.HeaderLen
	mpeg1, mono := h.Version == "1", h.Channels == 1
	var begin, side int
	switch {
	case mpeg1 && mono:
		side = 17
	case mpeg1:
		side = 32
	case mono:
		side = 9
	default:
		side = 17
	}
	if len(fr) < off+side {
		return false
	}
	if mpeg1 {
		begin = int(fr[off])<<1 | int(fr[off+1]>>7)
	} else {
		begin = int(fr[off])
	}
	ok = begin <= f.avail
	f.avail += len(fr) - off - side
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
		info := streamInfo{Codec: "MP3", SampleRate: dec.SampleRate(), Channels: d.sync.cur.Channels}
		// go-mp3 emits one frame of PCM (1152 samples, 576 for MPEG-2) per
		// input frame, so reading a frame at a time keeps the bad flags
		// aligned with the output.
		spf := d.sync.cur.Samples
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
