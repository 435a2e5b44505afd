package playback

import "sync"

// ring is the PCM buffer between the decode goroutine (writer) and the
// output (reader: the audio device callback or the metering clock). The
// reader never blocks; the writer blocks while the ring is full, which
// backpressures the network stream. A generation number tags the current
// stream: reset (on Play/Stop) empties the ring at once and makes writes of
// the old stream's goroutine fail, so it exits.
type ring struct {
	mu   sync.Mutex
	cond *sync.Cond
	buf  []float32 // interleaved stereo
	size int       // capacity in frames
	r, n int       // read position and fill, in frames
	gen  uint64

	prebuf    int  // frames to collect before (re)starting output
	buffering bool // collecting prebuf frames
	eos       bool // writer finished this generation
	active    bool // a stream is loaded
	underruns int
	played    int64 // frames handed to the output for this generation
}

func newRing(frames, prebuf int) *ring {
	r := &ring{buf: make([]float32, 2*frames), size: frames, prebuf: min(prebuf, frames)}
	r.cond = sync.NewCond(&r.mu)
	return r
}

// reset drops all audio and starts generation gen (active=false for Stop).
func (r *ring) reset(gen uint64, active bool) {
	r.mu.Lock()
	r.gen, r.r, r.n = gen, 0, 0
	r.buffering, r.eos, r.active = true, false, active
	r.underruns, r.played = 0, 0
	r.mu.Unlock()
	r.cond.Broadcast()
}

// write appends frames for generation gen, blocking while full. It returns
// false when gen is no longer current (the stream was stopped or replaced).
func (r *ring) write(gen uint64, frames [][2]float64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(frames) > 0 {
		for r.gen == gen && r.n == r.size {
			r.cond.Wait()
		}
		if r.gen != gen {
			return false
		}
		w := (r.r + r.n) % r.size
		k := min(len(frames), r.size-r.n, r.size-w)
		dst := r.buf[2*w : 2*(w+k)]
		for i, f := range frames[:k] {
			dst[2*i] = float32(f[0])
			dst[2*i+1] = float32(f[1])
		}
		r.n += k
		frames = frames[k:]
	}
	return true
}

// finish marks the end of generation gen's audio.
func (r *ring) finish(gen uint64) {
	r.mu.Lock()
	if r.gen == gen {
		r.eos = true
	}
	r.mu.Unlock()
}

// read copies up to len(dst)/2 frames into dst without blocking and returns
// the number of frames copied (0 while buffering).
func (r *ring) read(dst []float32) int {
	r.mu.Lock()
	if r.buffering {
		if r.n < r.prebuf && !r.eos {
			r.mu.Unlock()
			return 0
		}
		r.buffering = false
	}
	want := len(dst) / 2
	got := 0
	for got < want && r.n > 0 {
		k := min(want-got, r.n, r.size-r.r)
		copy(dst[2*got:2*(got+k)], r.buf[2*r.r:2*(r.r+k)])
		r.r = (r.r + k) % r.size
		r.n -= k
		got += k
	}
	if got < want && r.active && !r.eos {
		r.buffering = true // underrun: collect a prebuffer again
		r.underruns++
	}
	r.played += int64(got)
	r.mu.Unlock()
	if got > 0 {
		r.cond.Signal()
	}
	return got
}

type ringState struct {
	active, buffering, eos bool
	fill, underruns        int
	played                 int64
}

func (r *ring) state() ringState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return ringState{active: r.active, buffering: r.buffering, eos: r.eos, fill: r.n, underruns: r.underruns, played: r.played}
}
