// Package playback auditions streams on the sound card: it decodes an
// io.ReadCloser (an Icecast mount tap, an HTTP body, a file) according to
// its Content-Type, resamples it to one fixed-rate output and meters it.
//
// Design (see /work/shared/notes/audio-stack.md for the measurements):
//
//   - Each stream is decoded in a goroutine of its own into a small PCM ring.
//     The audio callback reads only that ring and never blocks, so a stalled
//     stream cannot stall the sound card, Stop, a switch or Status.
//   - One oto output per process (48 kHz stereo float32, ~100 ms buffer),
//     opened lazily on the first Play and never re-opened; streams are
//     resampled to it with beep. beep's speaker is not used: it hangs
//     silently without a device. When there is no device (or
//     Options.NoDevice), a clock consumes the ring in real time instead, so
//     meters still move at the right pace and Status.Output says why.
//   - Codecs: MP3 (go-mp3 behind a resync filter), Ogg Vorbis, Ogg Opus
//     (pion/opus, pure Go) and Ogg FLAC, including chained Ogg; AAC and
//     anything else through an ffmpeg subprocess when ffmpeg is installed.
//     When a stream cannot be played Status.Err says so.
//   - Levels are measured on the decoded audio before volume and mute.
//
// Call RedirectStderr before the first Play in a TUI so that libasound's
// diagnostics do not garble the screen.
package playback

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebitengine/oto/v3"
	"github.com/gopxl/beep/v2"
)

// Options configure a Player. The zero value is usable.
type Options struct {
	// SampleRate of the output; 0 means 48000.
	SampleRate int
	// Logger for diagnostics; nil discards them.
	Logger *slog.Logger
	// NoDevice never opens a sound device: audio is consumed by a clock
	// (for tests, headless use, or a machine without sound).
	NoDevice bool
	// SilenceAfter is how long the audio must stay under -60 dBFS before
	// Status.Silent is set; 0 means 12 s.
	SilenceAfter time.Duration
	// FFmpeg is the ffmpeg binary for AAC and unknown formats; "" looks up
	// "ffmpeg" in PATH; "-" disables it.
	FFmpeg string
}

// Status is a snapshot of the player, cheap enough to poll at 10 Hz.
type Status struct {
	Label      string // what Play was given as label
	Codec      string // "MP3", "Vorbis", "Opus", "FLAC", "AAC (ffmpeg)", ...
	SampleRate int    // of the stream (the output always runs at Options.SampleRate)
	Channels   int    // of the stream
	Bitrate    int    // bits/s, measured from the bytes read; 0 until known
	Title      string // in-band title (Ogg comments), if any

	// State is "stopped", "buffering", "playing", "ended" or "error".
	State string
	// Err says why nothing is heard from the stream (unsupported codec,
	// decode error, headers missing); "" when there is no such problem.
	Err string
	// Output describes the sound output, or why there is none (oto's error
	// text, naming what PulseAudio and ALSA said).
	Output string
	// OutputReady is true while audio goes to a real device.
	OutputReady bool

	Levels    Levels        // before volume; FloorDB when not playing
	SilentFor time.Duration // how long the audio has been under -60 dBFS
	Silent    bool          // SilentFor >= Options.SilenceAfter
	Clips     uint64        // samples at or over 0.999 full scale since Play
	Buffered  time.Duration // decoded audio waiting in the ring
	Underruns int           // times the ring ran dry while playing

	Volume float64
	Muted  bool
}

// Ring sizing: the ring may be "large" (for jitter) because a switch
// empties it; what lingers after a switch is only the device buffer.
const (
	ringTime     = 750 * time.Millisecond
	prebufTime   = 200 * time.Millisecond
	resampleQual = 4 // beep quality: ~2% of a core for 320 kb/s MP3 incl. decode
)

// Player plays one stream at a time. Create one per process (the sound
// output can be opened only once per process; a second Player's output
// reports oto's "context is already created" error and only meters).
// All methods are safe for concurrent use and return promptly.
type Player struct {
	opts   Options
	rate   int
	log    *slog.Logger
	ffmpeg string

	ring  *ring
	meter *meter

	volume atomic.Uint64 // math.Float64bits
	muted  atomic.Bool

	outputOnce    sync.Once
	outputStarted atomic.Bool
	outputDone    chan struct{} // closed when the output goroutine has let go of the device
	closeOnce     sync.Once
	closed        chan struct{}

	mu          sync.Mutex
	gen         uint64
	cancel      context.CancelFunc
	label       string
	info        streamInfo
	err         string
	output      string
	outputReady bool
	device      *oto.Player // kept reachable: oto closes unreachable players
	bytesIn     *atomic.Int64
	framesOut   *atomic.Int64
	// renderMu serialises render: the device and the clock may overlap
	// for a moment when the device takes over.
	renderMu sync.Mutex
}

// NewPlayer returns a stopped Player. The output is opened on first Play.
func NewPlayer(opts Options) *Player {
	if opts.SampleRate <= 0 {
		opts.SampleRate = 48000
	}
	if opts.SilenceAfter <= 0 {
		opts.SilenceAfter = 12 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Player{
		opts:       opts,
		rate:       opts.SampleRate,
		log:        log,
		ring:       newRing(int(int64(opts.SampleRate)*int64(ringTime)/int64(time.Second)), int(int64(opts.SampleRate)*int64(prebufTime)/int64(time.Second))),
		meter:      newMeter(opts.SampleRate, opts.SilenceAfter),
		closed:     make(chan struct{}),
		outputDone: make(chan struct{}),
		bytesIn:    new(atomic.Int64),
		framesOut:  new(atomic.Int64),
	}
	switch opts.FFmpeg {
	case "-":
	case "":
		p.ffmpeg, _ = exec.LookPath("ffmpeg")
	default:
		p.ffmpeg = opts.FFmpeg
	}
	p.volume.Store(f64bits(1))
	return p
}

// closeOnceReader closes the source once, whoever gets there first.
type closeOnceReader struct {
	io.ReadCloser
	once sync.Once
}

func (c *closeOnceReader) Close() error {
	c.once.Do(func() { _ = c.ReadCloser.Close() })
	return nil
}

// countingReader counts bytes for the bitrate estimate (ffmpeg input).
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// Play stops the current stream and starts decoding src, whose format is
// taken from contentType (e.g. "audio/mpeg", "application/ogg",
// "audio/aac"; "" or unknown means sniff the first bytes). label is shown
// in Status. Play returns at once; the player owns src and closes it when
// the stream is stopped, replaced or ends. src should begin at a frame
// boundary (Ogg: header pages first); junk before the first frame is skipped.
func (p *Player) Play(src io.ReadCloser, contentType, label string) {
	select {
	case <-p.closed:
		_ = src.Close()
		return
	default:
	}
	p.startOutput()
	rc := &closeOnceReader{ReadCloser: src}
	ctx, cancel := context.WithCancel(context.Background())
	p.mu.Lock()
	p.stopLocked()
	p.gen++
	gen := p.gen
	p.cancel = func() {
		cancel()
		go rc.Close() // a Close that blocks must not block Stop
	}
	p.label = label
	p.info = streamInfo{}
	p.err = ""
	p.bytesIn = new(atomic.Int64)
	p.framesOut = new(atomic.Int64)
	bytesIn, framesOut := p.bytesIn, p.framesOut
	p.ring.reset(gen, true)
	p.mu.Unlock()
	p.flushDevice()
	p.meter.reset()
	go p.decode(ctx, gen, rc, contentType, bytesIn, framesOut)
}

// Stop stops the current stream at once (its source is closed in the
// background). Stopping a stopped player does nothing.
func (p *Player) Stop() {
	p.mu.Lock()
	p.stopLocked()
	p.gen++
	p.ring.reset(p.gen, false)
	p.info = streamInfo{}
	p.label, p.err = "", ""
	p.mu.Unlock()
	p.flushDevice()
	p.meter.reset()
}

func (p *Player) stopLocked() {
	if p.cancel != nil {
		p.cancel()
		p.cancel = nil
	}
}

// decode runs in the stream's own goroutine.
func (p *Player) decode(ctx context.Context, gen uint64, src io.ReadCloser, contentType string, bytesIn, framesOut *atomic.Int64) {
	defer src.Close()
	defer p.ring.finish(gen)
	dec, err := openDecoder(ctx, src, contentType, p.ffmpeg, p.log, bytesIn)
	if err != nil {
		p.fail(gen, err)
		return
	}
	err = pump(dec, p.rate,
		func(info streamInfo) bool { return p.setInfo(gen, info) },
		func(frames [][2]float64) bool {
			framesOut.Add(int64(len(frames)))
			return p.ring.write(gen, frames)
		})
	if err != nil && err != errStopped && ctx.Err() == nil {
		p.fail(gen, err)
	}
}

// pump decodes every segment of dec, resampled to rate, into write. It
// returns nil at the end of the stream, errStopped when info or write
// return false, or the decode error.
func pump(dec decoder, rate int, info func(streamInfo) bool, write func([][2]float64) bool) error {
	buf := make([][2]float64, 1024)
	decoded := false
	for {
		seg, err := dec.next()
		if err == io.EOF {
			if !decoded {
				return errNoData
			}
			return nil
		}
		if err != nil {
			return err
		}
		if !info(seg.info) {
			return errStopped
		}
		var s beep.Streamer = seg
		if r := seg.pcmRate(); r > 0 && r != rate {
			s = beep.Resample(resampleQual, beep.SampleRate(r), beep.SampleRate(rate), seg)
		}
		for {
			n, ok := s.Stream(buf)
			if n > 0 {
				decoded = true
				if !write(buf[:n]) {
					if seg.close != nil {
						seg.close()
					}
					return errStopped
				}
			}
			if !ok {
				break
			}
		}
		if seg.close != nil {
			seg.close()
		}
		if err := seg.Err(); err != nil {
			return err
		}
	}
}

var errStopped = errors.New("stopped")

func (p *Player) fail(gen uint64, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gen == gen {
		p.err = err.Error()
		p.log.Warn("playback: stream failed", "label", p.label, "err", err)
	}
}

func (p *Player) setInfo(gen uint64, info streamInfo) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gen != gen {
		return false
	}
	if info.Title == "" && p.info.Title != "" && info.Codec == p.info.Codec {
		info.Title = p.info.Title
	}
	p.info = info
	return true
}

func (p *Player) setOutput(s string, ready bool) {
	p.mu.Lock()
	p.output, p.outputReady = s, ready
	p.mu.Unlock()
}

// render fills out (interleaved stereo) from the ring: meter first, then
// volume (when applyVolume; the device applies it in oto instead). Called
// by the device reader or the clock, never blocks long.
func (p *Player) render(out []float32, applyVolume bool) {
	p.renderMu.Lock()
	defer p.renderMu.Unlock()
	n := p.ring.read(out)
	clear(out[2*n:])
	if n == 0 {
		return
	}
	p.meter.add(out[:2*n])
	vol := float32(p.effectiveVolume())
	if applyVolume && vol != 1 {
		for i := range out[:2*n] {
			out[i] *= vol
		}
	}
}

// SetVolume sets the output gain, clamped to 0..1 (linear). Meters are not
// affected.
func (p *Player) SetVolume(v float64) {
	if v != v { // NaN
		v = 0
	}
	p.volume.Store(f64bits(min(max(v, 0), 1)))
	p.applyVolume()
}

func (p *Player) effectiveVolume() float64 {
	if p.muted.Load() {
		return 0
	}
	return f64frombits(p.volume.Load())
}

func (p *Player) applyVolume() {
	p.mu.Lock()
	dev := p.device
	p.mu.Unlock()
	if dev != nil {
		dev.SetVolume(p.effectiveVolume())
	}
}

// flushDevice drops the audio queued in oto's player buffer (after a
// switch or stop) so only the device buffer's ~80 ms of old audio remain.
// Must not be called with p.mu held.
func (p *Player) flushDevice() {
	p.mu.Lock()
	dev := p.device
	p.mu.Unlock()
	if dev != nil {
		_, _ = dev.Seek(0, io.SeekCurrent)
	}
}

// Volume returns the output gain (0..1).
func (p *Player) Volume() float64 { return f64frombits(p.volume.Load()) }

// SetMuted mutes or unmutes the output; meters keep running.
func (p *Player) SetMuted(m bool) {
	p.muted.Store(m)
	p.applyVolume()
}

// Muted reports whether the output is muted.
func (p *Player) Muted() bool { return p.muted.Load() }

// Status returns a snapshot; it never waits for the stream or the device.
func (p *Player) Status() Status {
	p.mu.Lock()
	st := Status{
		Label:       p.label,
		Codec:       p.info.Codec,
		SampleRate:  p.info.SampleRate,
		Channels:    p.info.Channels,
		Title:       p.info.Title,
		Err:         p.err,
		Output:      p.output,
		OutputReady: p.outputReady,
	}
	bytesIn, framesOut := p.bytesIn.Load(), p.framesOut.Load()
	p.mu.Unlock()
	if st.Output == "" {
		st.Output = "audio output not opened yet"
	}
	rs := p.ring.state()
	switch {
	case !rs.active:
		st.State = "stopped"
	case rs.eos && rs.fill == 0:
		st.State = "ended"
		if st.Err != "" {
			st.State = "error"
		}
	case rs.buffering:
		st.State = "buffering"
	default:
		st.State = "playing"
	}
	if framesOut > int64(p.rate)/2 {
		st.Bitrate = int(bytesIn * 8 * int64(p.rate) / framesOut)
	}
	m := p.meter.read()
	st.Levels = m.levels
	if st.State != "playing" {
		for c := range 2 {
			st.Levels.PeakDB[c], st.Levels.RMSDB[c], st.Levels.HoldDB[c] = FloorDB, FloorDB, FloorDB
		}
	}
	st.SilentFor, st.Silent, st.Clips = m.silentFor, m.silent, m.clips
	st.Buffered = time.Duration(rs.fill) * time.Second / time.Duration(p.rate)
	st.Underruns = rs.underruns
	st.Volume = p.Volume()
	st.Muted = p.Muted()
	return st
}

// Close stops playback and suspends the output, waiting up to 2 s for the
// output goroutine to let go of the device. The process's sound output
// cannot be opened again afterwards (an oto limitation).
func (p *Player) Close() error {
	p.Stop()
	p.closeOnce.Do(func() { close(p.closed) })
	if p.outputStarted.Load() {
		select {
		case <-p.outputDone:
		case <-time.After(2 * time.Second):
		}
	}
	return nil
}

func f64bits(v float64) uint64     { return math.Float64bits(v) }
func f64frombits(b uint64) float64 { return math.Float64frombits(b) }

// startOutput opens the output (device or clock) once, in the background.
func (p *Player) startOutput() {
	p.outputOnce.Do(func() {
		p.outputStarted.Store(true)
		go func() {
			defer close(p.outputDone)
			p.runOutput()
		}()
	})
}
