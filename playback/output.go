package playback

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/ebitengine/oto/v3"
)

// Output buffering. The device buffer is what still plays after a switch
// (500 ms left old audio audible for 0.4 s; 10 ms cost three times the
// CPU). oto's per-player buffer sits in front of it; it is flushed on every
// switch and stop, so it does not add to the switch time, but it must hold
// a whole device request: with 10 ms, PulseAudio asked for 80 ms at a time,
// got 20 ms plus silence, and a 3 s stream took over 10 s to play.
const (
	deviceBuffer = 80 * time.Millisecond
	playerBuffer = 100 * time.Millisecond
)

// deviceReader is the io.Reader oto pulls from. It only reads the ring and
// never blocks: missing audio is silence.
type deviceReader struct {
	p   *Player
	tmp []float32
}

// Seek lets oto's Player.Seek flush oto's buffer on a switch; the ring has
// no position, so it is a no-op here.
func (d *deviceReader) Seek(offset int64, whence int) (int64, error) { return 0, nil }

func (d *deviceReader) Read(b []byte) (int, error) {
	n := len(b) / 8 * 8
	if n == 0 {
		return 0, nil
	}
	if cap(d.tmp) < n/4 {
		d.tmp = make([]float32, n/4)
	}
	tmp := d.tmp[:n/4]
	d.p.render(tmp, false) // oto applies the volume: it then acts within the device buffer
	for i, v := range tmp {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return n, nil
}

// openDevice opens the process's one oto context. It blocks until the
// driver reports ready (1-2 s with PulseAudio) and returns oto's error text
// when there is no usable device.
func (p *Player) openDevice() (*oto.Context, *oto.Player, error) {
	ctx, ready, err := oto.NewContext(&oto.NewContextOptions{
		SampleRate:      p.rate,
		ChannelCount:    2,
		Format:          oto.FormatFloat32LE,
		BufferSize:      deviceBuffer,
		ApplicationName: "icedeck",
	})
	if err != nil {
		return nil, nil, err
	}
	select {
	case <-ready:
	case <-p.closed:
		return nil, nil, fmt.Errorf("player closed while opening the output")
	}
	// oto reports a missing device only here, after ready: NewContext
	// itself returns nil and a beep speaker would then hang silently.
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	pl := ctx.NewPlayer(&deviceReader{p: p})
	pl.SetBufferSize(p.rate * 8 * int(playerBuffer/time.Millisecond) / 1000)
	pl.SetVolume(p.effectiveVolume())
	pl.Play()
	return ctx, pl, nil
}

// openGrace is how long the ring waits for the device to open before the
// clock starts consuming it: opening takes 1-2 s with PulseAudio, and
// audio consumed by the clock in that time would never be heard.
const openGrace = 3 * time.Second

// runOutput opens the device (unless disabled) and falls back to the
// metering clock when there is none or it fails later.
func (p *Player) runOutput() {
	if p.opts.NoDevice {
		p.setOutput("no audio output (disabled); metering only", false)
		p.runClock(nil, make(chan struct{}))
		return
	}
	p.setOutput("opening audio output…", false)
	type opened struct {
		ctx *oto.Context
		pl  *oto.Player
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		ctx, pl, err := p.openDevice()
		ch <- opened{ctx, pl, err}
	}()
	var clockStop, clockDone chan struct{}
	var o opened
	select {
	case o = <-ch:
	case <-time.After(openGrace):
		// A slow or hung sound server: meter meanwhile.
		clockStop, clockDone = make(chan struct{}), make(chan struct{})
		go p.runClock(clockStop, clockDone)
		p.setOutput("opening audio output… (metering meanwhile)", false)
		o = <-ch
	}
	if o.err != nil {
		p.log.Warn("playback: no audio output", "err", o.err)
		p.setOutput("no audio output: "+o.err.Error()+" (metering only)", false)
		if clockStop == nil {
			p.runClock(nil, make(chan struct{}))
		}
		return
	}
	if clockStop != nil {
		close(clockStop)
		<-clockDone
	}
	ctx, pl := o.ctx, o.pl
	p.mu.Lock()
	p.device = pl
	p.mu.Unlock()
	pl.SetVolume(p.effectiveVolume())
	p.setOutput(fmt.Sprintf("audio output %d Hz stereo, %d ms buffer", p.rate, deviceBuffer/time.Millisecond), true)
	// Watch for the device going away (e.g. the sound server stopping).
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.closed:
			pl.Pause()
			_ = ctx.Suspend()
			return
		case <-t.C:
			err := ctx.Err()
			if err == nil {
				err = pl.Err()
			}
			if err != nil {
				p.log.Warn("playback: audio output failed", "err", err)
				p.setOutput("audio output failed: "+err.Error()+" (metering only)", false)
				pl.Pause()
				p.mu.Lock()
				p.device = nil
				p.mu.Unlock()
				p.runClock(nil, make(chan struct{}))
				return
			}
		}
	}
}

// runClock consumes the ring in real time when no device does, so the
// meters show the stream at its true pace.
func (p *Player) runClock(stop, done chan struct{}) {
	defer close(done)
	const tick = 10 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	start := time.Now()
	var consumed int64
	buf := make([]float32, 2*p.rate/10)
	for {
		select {
		case <-stop:
			return
		case <-p.closed:
			return
		case <-t.C:
		}
		due := int64(time.Since(start)) * int64(p.rate) / int64(time.Second)
		lag := due - consumed
		if lag > int64(p.rate/5) { // we were not scheduled for a while: do not burst
			consumed = due - int64(p.rate/5)
			lag = int64(p.rate / 5)
		}
		for lag > 0 {
			k := min(lag, int64(len(buf)/2))
			p.render(buf[:2*k], true)
			consumed += k
			lag -= k
		}
	}
}
