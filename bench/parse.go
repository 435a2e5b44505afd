package bench

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Range is a closed interval; either end may be open.
type Range struct {
	Min, Max float64
	Text     string // as given, for reports; "" shows the numbers
}

// Has reports whether v is in the range.
func (r Range) Has(v float64) bool { return v >= r.Min && v <= r.Max }

func (r Range) String() string {
	if r.Text != "" {
		return r.Text
	}
	f := func(v float64) string {
		if math.IsInf(v, 0) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	if r.Min == r.Max {
		return f(r.Min)
	}
	return f(r.Min) + ".." + f(r.Max)
}

// Exactly is the range of one value.
func Exactly(v float64) Range { return Range{Min: v, Max: v} }

// ParseRange reads N, MIN..MAX, MIN.. or ..MAX, each number read by num.
func ParseRange(s string, num func(string) (float64, error)) (Range, error) {
	s = strings.TrimSpace(s)
	lo, hi, isRange := strings.Cut(s, "..")
	if !isRange {
		v, err := num(s)
		return Range{Min: v, Max: v, Text: s}, err
	}
	r := Range{Min: math.Inf(-1), Max: math.Inf(1), Text: s}
	var err error
	if lo != "" {
		if r.Min, err = num(lo); err != nil {
			return r, err
		}
	}
	if hi != "" {
		if r.Max, err = num(hi); err != nil {
			return r, err
		}
	}
	if lo == "" && hi == "" || r.Min > r.Max {
		return r, fmt.Errorf("%q is not a range (MIN..MAX, MIN.. or ..MAX, with MIN at most MAX)", s)
	}
	return r, nil
}

// Count reads a whole number of at least 0.
func Count(s string) (float64, error) {
	v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number", s)
	}
	return float64(v), nil
}

// Number reads a decimal number.
func Number(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return v, nil
}

// Bitrate reads bits a second, with k or M for thousands or millions
// (128k is 128000, as encoders count).
func Bitrate(s string) (float64, error) {
	t := strings.TrimSpace(s)
	mult := 1.0
	switch {
	case strings.HasSuffix(t, "k"), strings.HasSuffix(t, "K"):
		t, mult = t[:len(t)-1], 1e3
	case strings.HasSuffix(t, "M"), strings.HasSuffix(t, "m"):
		t, mult = t[:len(t)-1], 1e6
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v <= 0 || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a bitrate (bits a second, e.g. 128k)", s)
	}
	return v * mult, nil
}

// BitrateTolerance is how far a single --expect-bitrate value may be
// off: an average over a short stream wanders a little.
const BitrateTolerance = 0.05

// ParseBitrate reads --expect-bitrate: a range, or one value give or take
// BitrateTolerance.
func ParseBitrate(s string) (Range, error) {
	r, err := ParseRange(s, Bitrate)
	if err == nil && r.Min == r.Max {
		r.Min, r.Max = r.Min*(1-BitrateTolerance), r.Max*(1+BitrateTolerance)
		r.Text = fmt.Sprintf("%s ±%d%%", s, int(BitrateTolerance*100))
	}
	return r, err
}
