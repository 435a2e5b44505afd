package analysis

import "math"

// biquad is a second-order IIR section (direct form I), normalised so
// a0 = 1.
type biquad struct {
	b0, b1, b2, a1, a2 float64
	x1, x2, y1, y2     float64
}

func (f *biquad) step(x float64) float64 {
	y := f.b0*x + f.b1*f.x1 + f.b2*f.x2 - f.a1*f.y1 - f.a2*f.y2
	f.x2, f.x1 = f.x1, x
	f.y2, f.y1 = f.y1, y
	return y
}

// kWeighting returns BS.1770-4's two filter stages for rate: the high
// shelf (head effects) and the RLB high-pass. The standard tabulates them
// for 48 kHz only; these are its analogue prototypes (the parameters
// libebur128 and ffmpeg derive them from) through the bilinear transform,
// which gives the tabulated coefficients at 48 kHz (TestKWeighting48k)
// and the same response at any other rate.
func kWeighting(rate int) (shelf, highpass biquad) {
	fs := float64(rate)
	{
		const f0, gainDB, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
		k := math.Tan(math.Pi * f0 / fs)
		vh := math.Pow(10, gainDB/20)
		vb := math.Pow(vh, 0.4996667741545416)
		a0 := 1 + k/q + k*k
		shelf = biquad{
			b0: (vh + vb*k/q + k*k) / a0, b1: 2 * (k*k - vh) / a0, b2: (vh - vb*k/q + k*k) / a0,
			a1: 2 * (k*k - 1) / a0, a2: (1 - k/q + k*k) / a0,
		}
	}
	{
		const f0, q = 38.13547087602444, 0.5003270373238773
		k := math.Tan(math.Pi * f0 / fs)
		a0 := 1 + k/q + k*k
		highpass = biquad{b0: 1, b1: -2, b2: 1, a1: 2 * (k*k - 1) / a0, a2: (1 - k/q + k*k) / a0}
	}
	return shelf, highpass
}

// True peak: 4x oversampling (BS.1770-4 Annex 2) with a polyphase FIR.
// Annex 2's 48-tap filter is given as an example, and it is not flat:
// two of its phases lose 0.24 dB at DC and gain 0.22 dB at a quarter of
// the rate, which put a -6 dBFS tone at fs/4 at -5.80 dBTP, past Tech
// 3341's +0.2 dB. This one is a Kaiser-windowed sinc (beta 6) of 16 taps
// a phase, flat within 0.02 dB up to 0.375 of the rate (18 kHz at 48 kHz;
// TestTruePeakFilterFlat), whose first phase is the sample itself: three
// phases of 16 taps cost what Annex 2's four of 12 do.
const (
	tpPhases = 4
	tpTaps   = 16
	tpBeta   = 6.0
)

// truePeakTaps are phases 1..3; phase 0 is the input sample, delayed.
var truePeakTaps = func() (ph [tpPhases - 1][tpTaps]float64) {
	const n = tpPhases*tpTaps + 1
	center := float64(n-1) / 2      // a multiple of 4: phase 0 is a unit impulse
	i0 := func(x float64) float64 { // modified Bessel function of the first kind, order 0
		s, term := 1.0, 1.0
		for k := 1; k < 40; k++ {
			term *= x / 2 / float64(k)
			s += term * term
		}
		return s
	}
	for p := 1; p < tpPhases; p++ {
		var sum float64
		for j := range tpTaps {
			k := float64(tpPhases*j + p)
			x := (k - center) / tpPhases
			r := (k - center) / center
			v := math.Sin(math.Pi*x) / (math.Pi * x) * i0(tpBeta*math.Sqrt(1-r*r)) / i0(tpBeta)
			ph[p-1][j] = v
			sum += v
		}
		for j := range tpTaps {
			ph[p-1][j] /= sum // unity gain at DC
		}
	}
	return ph
}()

// truePeak is one channel's 4x oversampling peak detector. The history
// is kept twice over, so the newest taps are always one contiguous slice
// and the inner loop has no wrap-around.
type truePeak struct {
	hist [2 * tpTaps]float64
	pos  int
	peak float64 // highest |oversampled| since reset
}

func (t *truePeak) add(x float64) {
	t.pos--
	if t.pos < 0 {
		t.pos = tpTaps - 1
	}
	t.hist[t.pos], t.hist[t.pos+tpTaps] = x, x
	h := (*[tpTaps]float64)(t.hist[t.pos : t.pos+tpTaps]) // h[j] is x[n-j]
	peak := max(t.peak, math.Abs(x))                      // phase 0
	for p := range truePeakTaps {
		c := &truePeakTaps[p]
		var y float64
		for j := range tpTaps {
			y += c[j] * h[j]
		}
		peak = max(peak, math.Abs(y))
	}
	t.peak = peak
}
