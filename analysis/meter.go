package analysis

import (
	"math"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/playback"
)

// Loudness per ITU-R BS.1770-4 and EBU Tech 3341/3342: audio is
// K-weighted per channel and its mean square taken over 100 ms hops;
// momentary loudness is the last 4 hops (400 ms), short-term the last 30
// (3 s). Integrated loudness gates the 400 ms blocks (one per hop, so 75 %
// overlap) at -70 LUFS, then 10 LU under their mean; the loudness range
// gates the short-term values at -70 LUFS and 20 LU under their mean and
// spans their 10th to 95th percentile.
//
// Gated values are kept as counts in 0.01 LU bins from -70 to +10 LUFS
// (as ffmpeg's ebur128 filter keeps them), so a mount measured for days
// costs the same memory as one measured for seconds, and every value is
// within 0.005 LU of the exact one.

const (
	hopsPerSecond = 10
	momentaryHops = 4  // 400 ms
	shortTermHops = 30 // 3 s
	absoluteGate  = -70.0
	histGrain     = 100 // bins per LU
	histTop       = 10.0
	histBins      = int((histTop-absoluteGate)*histGrain) + 1
	// phaseWarning is the 3 s correlation at or under which the channels
	// cancel enough that a mono listener loses much of the programme.
	phaseWarning = -0.5
	// monoCorrelation is the 3 s correlation at or over which two
	// channels carry the same signal.
	monoCorrelation = 0.999
	// phaseFloor is the mean square (about -80 dBFS) under which a
	// channel is too quiet for a correlation to mean anything.
	phaseFloor = 1e-8
)

// binEnergy is the mean square a histogram bin stands for (its middle).
var binEnergy = func() []float64 {
	e := make([]float64, histBins)
	for i := range e {
		e[i] = energyOf(absoluteGate + (float64(i)+0.5)/histGrain)
	}
	return e
}()

func loudnessOf(energy float64) float64 { return -0.691 + 10*math.Log10(energy) }
func energyOf(lufs float64) float64     { return math.Pow(10, (lufs+0.691)/10) }

func binOf(lufs float64) int {
	return min(int((lufs-absoluteGate)*histGrain), histBins-1)
}

// Settings are the silence rule: every channel's sample peak under
// Threshold (dBFS) for After.
type Settings struct {
	SilenceThreshold float64
	SilenceAfter     time.Duration
}

// Defaults are the issue's: -50 dBFS for 10 s.
var Defaults = Settings{SilenceThreshold: -50, SilenceAfter: 10 * time.Second}

// hop is what one 100 ms hop contributed.
type hop struct {
	energy     float64 // K-weighted mean square, channels summed
	ll, rr, lr float64 // raw sums of squares and products, for the phase
}

// Meter measures one stream's PCM at a fixed rate and channel count; a
// format change needs a new Meter. It is not safe for concurrent use:
// one goroutine adds audio and fills AudioStats from it.
type Meter struct {
	rate, ch int
	set      Settings
	thr      float64 // the silence threshold as a linear peak
	hopLen   int

	shelf, hp [2]biquad
	tp        [2]truePeak

	// the hop being filled
	n          int
	sq, pk     [2]float64
	ll, rr, lr float64
	nonzero    bool

	hops  [shortTermHops]hop // ring, newest at (nhops-1)%len
	nhops int64

	gate, lra [histBins]uint32

	samplePeak [2]float64
	clipped    uint64
	levels     [2]float64 // last hop's peaks
	silentHops int64      // consecutive hops under the threshold
	digital    bool       // and every sample in them was zero
	audible    bool       // the last hop was over the threshold
}

// NewMeter returns a meter for PCM at rate with channels (1 or 2) of
// meaning: with 1, only the first column of each frame is measured.
func NewMeter(rate, channels int, s Settings) *Meter {
	m := &Meter{rate: rate, ch: min(max(channels, 1), 2), set: s}
	m.thr = math.Pow(10, s.SilenceThreshold/20)
	m.hopLen = max(rate/hopsPerSecond, 1)
	shelf, hp := kWeighting(rate)
	m.shelf = [2]biquad{shelf, shelf}
	m.hp = [2]biquad{hp, hp}
	return m
}

// Add measures frames; with one channel, the second column is ignored.
func (m *Meter) Add(pcm [][2]float64) {
	for _, f := range pcm {
		for c := range m.ch {
			x := f[c]
			a := math.Abs(x)
			if a > m.pk[c] {
				m.pk[c] = a
			}
			if a >= playback.ClipLevel {
				m.clipped++
			}
			if x != 0 {
				m.nonzero = true
			}
			y := m.hp[c].step(m.shelf[c].step(x))
			m.sq[c] += y * y
			m.tp[c].add(x)
		}
		if m.ch == 2 {
			m.ll += f[0] * f[0]
			m.rr += f[1] * f[1]
			m.lr += f[0] * f[1]
		}
		m.n++
		if m.n == m.hopLen {
			m.endHop()
		}
	}
}

func (m *Meter) endHop() {
	var e float64
	silent := true
	for c := range m.ch {
		e += m.sq[c] / float64(m.n) // every channel weighs 1: mono, left, right
		m.samplePeak[c] = max(m.samplePeak[c], m.pk[c])
		m.levels[c] = m.pk[c]
		if m.pk[c] >= m.thr {
			silent = false
		}
		flushDenormals(&m.shelf[c])
		flushDenormals(&m.hp[c])
	}
	if m.ch == 1 {
		m.levels[1] = m.levels[0]
	}
	m.hops[m.nhops%shortTermHops] = hop{energy: e, ll: m.ll, rr: m.rr, lr: m.lr}
	m.nhops++
	if silent {
		if m.silentHops == 0 {
			m.digital = true
		}
		m.silentHops++
		m.digital = m.digital && !m.nonzero
	} else {
		m.silentHops, m.digital = 0, false
	}
	m.audible = !silent
	if e := m.windowEnergy(momentaryHops); e > 0 {
		if l := loudnessOf(e); l >= absoluteGate {
			m.gate[binOf(l)]++
		}
	}
	if e := m.windowEnergy(shortTermHops); e > 0 {
		if l := loudnessOf(e); l >= absoluteGate {
			m.lra[binOf(l)]++
		}
	}
	m.n, m.sq, m.pk, m.ll, m.rr, m.lr, m.nonzero = 0, [2]float64{}, [2]float64{}, 0, 0, 0, false
}

// flushDenormals zeroes a filter's state once it has decayed to nothing:
// in digital silence it would otherwise sink into denormal numbers, which
// are many times slower to compute with.
func flushDenormals(f *biquad) {
	if math.Abs(f.y1) < 1e-30 && math.Abs(f.y2) < 1e-30 && math.Abs(f.x1) < 1e-30 && math.Abs(f.x2) < 1e-30 {
		f.x1, f.x2, f.y1, f.y2 = 0, 0, 0, 0
	}
}

// windowEnergy is the mean energy of the last n hops; 0 until there are n.
func (m *Meter) windowEnergy(n int) float64 {
	if m.nhops < int64(n) {
		return 0
	}
	var e float64
	for i := range n {
		e += m.hops[(m.nhops-1-int64(i))%shortTermHops].energy
	}
	return e / float64(n)
}

// SetSettings changes the silence rule without losing what was measured.
func (m *Meter) SetSettings(s Settings) {
	if s != m.set {
		m.set, m.thr = s, math.Pow(10, s.SilenceThreshold/20)
	}
}

// Hops is how many 100 ms hops were measured: it moves when a reading does.
func (m *Meter) Hops() int64 { return m.nhops }

// Audible reports whether the last 100 ms went over the silence
// threshold: audio is back, not merely not yet silent for long.
func (m *Meter) Audible() bool { return m.audible }

// Silent reports whether every channel has been under the threshold for
// the settings' After.
func (m *Meter) Silent() bool { return m.silentFor() >= m.set.SilenceAfter }

func (m *Meter) silentFor() time.Duration {
	return time.Duration(m.silentHops) * time.Duration(m.hopLen) * time.Second / time.Duration(m.rate)
}

// Fill writes the meter's readings into st.
func (m *Meter) Fill(st *engine.AudioStats) {
	nan := math.NaN()
	st.SampleRate, st.Channels = m.rate, m.ch
	st.MomentaryLUFS, st.ShortTermLUFS = lufs(m.windowEnergy(momentaryHops)), lufs(m.windowEnergy(shortTermHops))
	st.IntegratedLUFS, st.LoudnessRangeLU = m.integrated(), m.loudnessRange()
	var sp, tp float64
	for c := range m.ch {
		sp = max(sp, m.samplePeak[c])
		// The interpolation filter is not exact at the sample instants:
		// a true peak is never under the sample peak.
		tp = max(tp, m.tp[c].peak, m.samplePeak[c])
	}
	st.SamplePeakDBFS, st.TruePeakDBTP = decibels(sp), decibels(tp)
	if m.nhops == 0 {
		st.SamplePeakDBFS, st.TruePeakDBTP = nan, nan
	}
	st.ClippedSamples = m.clipped
	st.Levels = [2]float64{max(decibels(m.levels[0]), playback.FloorDB), max(decibels(m.levels[1]), playback.FloorDB)}
	st.SilentFor = m.silentFor()
	st.Silent = m.Silent()
	st.DigitalSilence = m.silentHops > 0 && m.digital
	st.Measured = time.Duration(m.nhops) * time.Duration(m.hopLen) * time.Second / time.Duration(m.rate)
	st.Correlation, st.BalanceDB, st.Mono, st.PhaseWarning = nan, nan, m.ch == 1, false
	if m.ch == 2 && m.nhops > 0 {
		var ll, rr, lr float64
		for i := range min(m.nhops, shortTermHops) {
			h := &m.hops[i]
			ll, rr, lr = ll+h.ll, rr+h.rr, lr+h.lr
		}
		n := float64(min(m.nhops, shortTermHops) * int64(m.hopLen))
		if ll/n > phaseFloor && rr/n > phaseFloor {
			st.Correlation = lr / math.Sqrt(ll*rr)
			st.BalanceDB = 10 * math.Log10(ll/rr)
			st.Mono = st.Correlation >= monoCorrelation && math.Abs(st.BalanceDB) < 0.1
			st.PhaseWarning = st.Correlation <= phaseWarning
		}
	}
}

func lufs(energy float64) float64 {
	if energy <= 0 {
		return math.NaN()
	}
	return loudnessOf(energy)
}

func decibels(v float64) float64 {
	if v <= 0 {
		return math.Inf(-1)
	}
	return 20 * math.Log10(v)
}

// gated returns the first bin at or over the relative gate, rel LU under
// the mean energy of every bin, and the count of values from it on.
func gated(h *[histBins]uint32, rel float64) (first int, n uint64) {
	var sum float64
	var all uint64
	for i, c := range h {
		if c > 0 {
			sum += float64(c) * binEnergy[i]
			all += uint64(c)
		}
	}
	if all == 0 {
		return histBins, 0
	}
	first = max(binOf(loudnessOf(sum/float64(all))+rel), 0)
	for _, c := range h[first:] {
		n += uint64(c)
	}
	return first, n
}

func (m *Meter) integrated() float64 {
	first, n := gated(&m.gate, -10)
	if n == 0 {
		return math.NaN()
	}
	var sum float64
	for i, c := range m.gate[first:] {
		sum += float64(c) * binEnergy[first+i]
	}
	return loudnessOf(sum / float64(n))
}

func (m *Meter) loudnessRange() float64 {
	first, n := gated(&m.lra, -20)
	if n == 0 {
		return math.NaN()
	}
	lo, hi := 0.10*float64(n), 0.95*float64(n)
	var cum uint64
	low := math.NaN()
	for i, c := range m.lra[first:] {
		cum += uint64(c)
		if math.IsNaN(low) && float64(cum) > lo {
			low = absoluteGate + float64(first+i)/histGrain
		}
		if float64(cum) > hi || first+i == histBins-1 {
			return absoluteGate + float64(first+i)/histGrain - low
		}
	}
	return math.NaN()
}
