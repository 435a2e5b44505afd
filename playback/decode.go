package playback

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"

	"github.com/icedeck/icedeck/engine/frame"
)

// streamInfo describes the audio of one segment as the source carries it.
type streamInfo struct {
	Codec      string
	SampleRate int
	Channels   int
	Title      string
}

// segment is a run of decoded audio with one format; a stream is a
// sequence of segments (chained Ogg tracks, MP3 sample-rate changes).
// It implements beep.Streamer so beep can resample it.
type segment struct {
	info streamInfo
	// rate of the PCM fill produces when it differs from info.SampleRate
	// (ffmpeg already resamples to 48 kHz).
	rate int
	// fill appends decoded stereo frames at info.SampleRate to *out. It may
	// append nothing (header or damaged packet). io.EOF ends the segment.
	fill  func(out *[][2]float64) error
	buf   [][2]float64
	pos   int
	err   error
	close func()
}

// Stream implements beep.Streamer.
func (s *segment) Stream(dst [][2]float64) (n int, ok bool) {
	for n < len(dst) {
		if s.pos == len(s.buf) {
			if s.err != nil {
				break
			}
			s.buf, s.pos = s.buf[:0], 0
			if err := s.fill(&s.buf); err != nil {
				s.err = err
			}
			continue
		}
		k := copy(dst[n:], s.buf[s.pos:])
		n += k
		s.pos += k
	}
	return n, n > 0
}

func (s *segment) pcmRate() int {
	if s.rate > 0 {
		return s.rate
	}
	return s.info.SampleRate
}

// Err implements beep.Streamer; the end of the segment is not an error.
func (s *segment) Err() error {
	if s.err == io.EOF {
		return nil
	}
	return s.err
}

// decoder yields the segments of one stream; io.EOF after the last.
type decoder interface {
	next() (*segment, error)
}

// sniff guesses the content type of a stream from its first bytes, for a
// stream whose type is not known; "" if none of the decoders here fits.
func sniff(b []byte) string {
	if bytes.Contains(b, []byte("OggS")) {
		return "audio/ogg"
	}
	if len(b) >= 3 && string(b[:3]) == "ID3" {
		return "audio/mpeg"
	}
	mp3Hits, aacHits := 0, 0
	for i := 0; i+7 <= len(b); i++ {
		if b[i] != 0xff {
			continue
		}
		if mp3Chain(b[i:]) {
			mp3Hits++
		}
		if adtsChain(b[i:]) {
			aacHits++
		}
	}
	switch {
	case mp3Hits > aacHits && mp3Hits > 0:
		return "audio/mpeg"
	case aacHits > 0:
		return "audio/aac"
	}
	return ""
}

// mp3Chain reports whether b starts with three consistent MP3 frames.
func mp3Chain(b []byte) bool {
	h0, ok := mp3At(b)
	if !ok {
		return false
	}
	off := 0
	for range 2 {
		off += h0.Length
		if off+4 > len(b) {
			return false
		}
		h, ok := mp3At(b[off:])
		if !ok || !h.SameStream(h0) {
			return false
		}
		h0 = h
	}
	return true
}

// adtsAt parses the ADTS header at the start of b.
func adtsAt(b []byte) (frame.Header, bool) {
	if len(b) < 7 {
		return frame.Header{}, false
	}
	return frame.ParseADTS(uint64(binary.BigEndian.Uint32(b))<<24 | uint64(b[4])<<16 | uint64(b[5])<<8 | uint64(b[6]))
}

// adtsChain reports whether b starts with three consistent ADTS frames.
func adtsChain(b []byte) bool {
	var h0 frame.Header
	off := 0
	for k := range 3 {
		if off+7 > len(b) {
			return false
		}
		h, ok := adtsAt(b[off:])
		if !ok || (k > 0 && !h.SameStream(h0)) {
			return false
		}
		h0 = h
		off += h.Length
	}
	return true
}

// adtsSync returns the offset of the first run of three consistent ADTS
// frames in b (ffmpeg alone locks onto false sync words in junk: a 1 kHz
// test tone came out at 460 Hz), or -1.
func adtsSync(b []byte) int {
	for i := 0; i+7 <= len(b); i++ {
		if b[i] == 0xff && adtsChain(b[i:]) {
			return i
		}
	}
	return -1
}

// errUnsupported marks a stream the player cannot decode; the message is
// shown to the user as the reason for silence.
type errUnsupported struct{ msg string }

func (e errUnsupported) Error() string { return e.msg }

// openDecoder picks a decoder from the content type, falling back to
// sniffing the first bytes. It blocks until enough bytes arrive to sniff
// (only when the content type is not recognised, or for AAC details).
//
// in counts the compressed bytes the decoders have consumed (not merely
// buffered), for the bitrate estimate; it may be nil.
func openDecoder(ctx context.Context, r io.Reader, contentType, ffmpeg string, log *slog.Logger, in *atomic.Int64) (decoder, error) {
	if in == nil {
		in = new(atomic.Int64)
	}
	br := bufio.NewReaderSize(r, 16<<10)
	f := frame.FormatOf(contentType)
	if f.Kind == frame.KindUnknown {
		head, err := br.Peek(8 << 10)
		if len(head) == 0 && err != nil {
			return nil, fmt.Errorf("no data: %w", err)
		}
		sniffed := sniff(head)
		log.Debug("playback: sniffed stream", "content_type", contentType, "as", sniffed)
		f = frame.FormatOf(sniffed)
	}
	switch f.Kind {
	case frame.KindMPEG:
		return newMP3Decoder(br, in), nil
	case frame.KindOgg:
		return newOggDecoder(br, in), nil
	case frame.KindADTS:
		if ffmpeg == "" {
			return nil, errUnsupported{"AAC needs ffmpeg, which is not installed (no pure-Go HE-AAC decoder)"}
		}
		// Skip junk up to the first real frame (blocks until 3 frames or
		// 12 KB have arrived).
		var rate, ch int
		head, _ := br.Peek(12 << 10)
		if i := adtsSync(head); i >= 0 {
			h, _ := adtsAt(head[i:])
			rate, ch = h.SampleRate, h.Channels
			_, _ = br.Discard(i)
		}
		return newFFmpegDecoder(ctx, &countingReader{r: br, n: in}, ffmpeg, []string{"-f", "aac"}, streamInfo{Codec: "AAC", SampleRate: rate, Channels: ch}, log), nil
	}
	if ffmpeg != "" {
		// Raw FLAC, WebM and Matroska have no decoder here either; their
		// name still says what is playing.
		codec := f.Name
		if codec == "" {
			codec = "ffmpeg"
		}
		return newFFmpegDecoder(ctx, &countingReader{r: br, n: in}, ffmpeg, nil, streamInfo{Codec: codec}, log), nil
	}
	if contentType == "" {
		contentType = "no Content-Type"
	}
	return nil, errUnsupported{fmt.Sprintf("cannot play %s: not MP3, Ogg (Vorbis/Opus/FLAC) or AAC, and ffmpeg is not installed", contentType)}
}

var errNoData = errors.New("stream ended before any audio")
