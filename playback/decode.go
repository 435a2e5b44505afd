package playback

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"strings"
	"sync/atomic"
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

// Codec kinds recognised from a Content-Type or sniffed bytes.
const (
	kindUnknown = ""
	kindMP3     = "MP3"
	kindOgg     = "Ogg"
	kindAAC     = "AAC"
)

// kindFromContentType maps a Content-Type (parameters ignored) to a kind.
func kindFromContentType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(ct))
	}
	switch mt {
	case "audio/mpeg", "audio/mp3", "audio/mpeg3", "audio/x-mpeg", "audio/x-mp3":
		return kindMP3
	case "application/ogg", "audio/ogg", "audio/opus", "audio/vorbis", "audio/x-vorbis", "audio/flac+ogg",
		"audio/ogg; codecs=opus", "video/ogg", "audio/x-ogg", "application/x-ogg":
		return kindOgg
	case "audio/aac", "audio/aacp", "audio/x-aac", "audio/adts", "audio/mp4a-latm":
		return kindAAC
	}
	return kindUnknown
}

// sniff guesses the kind from the first bytes of a stream.
func sniff(b []byte) string {
	if bytes.Contains(b, []byte("OggS")) {
		return kindOgg
	}
	if len(b) >= 3 && string(b[:3]) == "ID3" {
		return kindMP3
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
		return kindMP3
	case aacHits > 0:
		return kindAAC
	}
	return kindUnknown
}

// mp3Chain reports whether b starts with three consistent MP3 frames.
func mp3Chain(b []byte) bool {
	h0, ok := parseMP3Header(b)
	if !ok {
		return false
	}
	off := 0
	for range 2 {
		off += h0.size
		if off+4 > len(b) {
			return false
		}
		h, ok := parseMP3Header(b[off:])
		if !ok || !h.sameStream(h0) {
			return false
		}
		h0 = h
	}
	return true
}

// adtsChain reports whether b starts with three consistent ADTS frames.
func adtsChain(b []byte) bool {
	off := 0
	for k := range 3 {
		if off+7 > len(b) {
			return false
		}
		l, ok := adtsFrameLen(b[off:])
		if !ok || (k > 0 && (b[off+2]&0xfd != b[2]&0xfd || b[off+3]>>6 != b[3]>>6)) {
			return false
		}
		off += l
	}
	return true
}

// adtsFrameLen validates an ADTS header at b and returns the frame length.
func adtsFrameLen(b []byte) (int, bool) {
	if len(b) < 7 || b[0] != 0xff || b[1]&0xf6 != 0xf0 {
		return 0, false
	}
	if (b[2]>>2)&0xf >= 13 { // sampling frequency index
		return 0, false
	}
	l := int(b[3]&3)<<11 | int(b[4])<<3 | int(b[5])>>5
	if l < 7 {
		return 0, false
	}
	return l, true
}

var adtsRates = [...]int{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}

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

// adtsInfo returns the sample rate and channel count of the ADTS frame at b.
func adtsInfo(b []byte) (rate, ch int) {
	if _, ok := adtsFrameLen(b); !ok {
		return 0, 0
	}
	return adtsRates[(b[2]>>2)&0xf], int(b[2]&1)<<2 | int(b[3]>>6)
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
	kind := kindFromContentType(contentType)
	if kind == kindUnknown {
		head, err := br.Peek(8 << 10)
		if len(head) == 0 && err != nil {
			return nil, fmt.Errorf("no data: %w", err)
		}
		kind = sniff(head)
		log.Debug("playback: sniffed stream", "content_type", contentType, "kind", kind)
	}
	switch kind {
	case kindMP3:
		return newMP3Decoder(br, in), nil
	case kindOgg:
		return newOggDecoder(br, in), nil
	case kindAAC:
		if ffmpeg == "" {
			return nil, errUnsupported{"AAC needs ffmpeg, which is not installed (no pure-Go HE-AAC decoder)"}
		}
		// Skip junk up to the first real frame (blocks until 3 frames or
		// 12 KB have arrived).
		var rate, ch int
		head, _ := br.Peek(12 << 10)
		if i := adtsSync(head); i >= 0 {
			_, _ = br.Discard(i)
			head, _ = br.Peek(7)
			rate, ch = adtsInfo(head)
		}
		return newFFmpegDecoder(ctx, &countingReader{r: br, n: in}, ffmpeg, []string{"-f", "aac"}, streamInfo{Codec: "AAC", SampleRate: rate, Channels: ch}, log), nil
	}
	if ffmpeg != "" {
		return newFFmpegDecoder(ctx, &countingReader{r: br, n: in}, ffmpeg, nil, streamInfo{Codec: "ffmpeg"}, log), nil
	}
	if contentType == "" {
		contentType = "no Content-Type"
	}
	return nil, errUnsupported{fmt.Sprintf("cannot play %s: not MP3, Ogg (Vorbis/Opus/FLAC) or AAC, and ffmpeg is not installed", contentType)}
}

var errNoData = errors.New("stream ended before any audio")
