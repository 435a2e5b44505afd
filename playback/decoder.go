package playback

import (
	"context"
	"io"
	"log/slog"
	"os/exec"
)

// Format is what a Decoder's PCM is: the codec, the sample rate of the
// PCM it yields, and the stream's own channel count (1 or 2; a
// multichannel stream comes as its front pair). The PCM is always two
// columns: a mono stream's two are the same, and only the first counts.
type Format struct {
	Codec      string
	SampleRate int
	Channels   int
}

// DecoderOptions configure NewDecoder. The zero value is usable.
type DecoderOptions struct {
	// FFmpeg is the ffmpeg binary for AAC and the formats without a Go
	// decoder; "" looks up "ffmpeg" in PATH; "-" disables it.
	FFmpeg string
	Logger *slog.Logger
}

// Decoder turns a stream into PCM at the stream's own rate, for measuring
// it rather than playing it: the audition's decoders (MP3, Ogg Vorbis,
// Opus and FLAC in Go; AAC and the rest through ffmpeg), without the
// resampling to the sound card. Not safe for concurrent use.
type Decoder struct {
	dec    decoder
	seg    *segment
	format Format
	buf    [][2]float64
	segErr error // the error the last fill returned with audio: ends the segment after it
	any    bool  // some audio was decoded
}

// NewDecoder opens a decoder for r, whose format is taken from contentType
// ("" or unknown: sniffed from the first bytes, which waits for them).
// ctx ends an ffmpeg decoder's process. An error says why the stream
// cannot be decoded here.
func NewDecoder(ctx context.Context, r io.Reader, contentType string, opts DecoderOptions) (*Decoder, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ffmpeg := opts.FFmpeg
	switch ffmpeg {
	case "-":
		ffmpeg = ""
	case "":
		ffmpeg, _ = exec.LookPath("ffmpeg")
	}
	dec, err := openDecoder(ctx, r, contentType, ffmpeg, log, nil)
	if err != nil {
		return nil, err
	}
	return &Decoder{dec: dec}, nil
}

// Next returns the next block of PCM (valid until the next call) and its
// format, which changes where the stream does (a chained Ogg stream with
// another codec, an MP3 sample-rate change). It returns io.EOF at the end
// of the stream, or the decode error that ended it.
func (d *Decoder) Next() ([][2]float64, Format, error) {
	for {
		if d.seg == nil {
			seg, err := d.dec.next()
			if err == io.EOF && !d.any {
				return nil, d.format, errNoData
			}
			if err != nil {
				return nil, d.format, err
			}
			d.seg, d.segErr = seg, nil
			ch := seg.info.Channels
			if ch < 1 || ch > 2 {
				ch = 2 // unknown (ffmpeg) or folded to the front pair
			}
			d.format = Format{Codec: seg.info.Codec, SampleRate: seg.pcmRate(), Channels: ch}
		}
		err := d.segErr
		d.buf = d.buf[:0]
		if err == nil {
			err = d.seg.fill(&d.buf)
		}
		if len(d.buf) > 0 {
			d.any = true
			d.segErr = err
			return d.buf, d.format, nil
		}
		if err == nil {
			continue // a header or a damaged packet
		}
		d.closeSegment()
		if err != io.EOF {
			return nil, d.format, err
		}
	}
}

func (d *Decoder) closeSegment() {
	if d.seg != nil && d.seg.close != nil {
		d.seg.close()
	}
	d.seg = nil
}

// Close ends the current segment (waiting for an ffmpeg process, which
// the context given to NewDecoder ends). It does not close the reader.
func (d *Decoder) Close() error {
	d.closeSegment()
	return nil
}
