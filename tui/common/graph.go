package common

import (
	"math"
	"strings"
)

// Braille dots of one cell, bottom row first: left column, right column.
var brailleDots = [2][4]rune{{0x40, 0x04, 0x02, 0x01}, {0x80, 0x20, 0x10, 0x08}}

// Graph draws values (oldest first; NaN: nothing known) as a filled
// area of braille dots, as btop draws its graphs: two values per cell
// across, four dot rows per cell up, scaled so that top fills the height.
// It returns height lines of exactly width cells; the newest value is at
// the right edge and missing history leaves the left blank. A value above
// zero shows at least one dot, so "a few" never reads as "none".
func Graph(values []float64, top float64, width, height int) []string {
	if width <= 0 || height <= 0 {
		return nil
	}
	values = Squeeze(values, width*2)
	levels := make([]int, width*2)
	off := width*2 - len(values)
	for i := range levels {
		levels[i] = -1
	}
	dots := height * 4
	for i, v := range values {
		switch {
		case math.IsNaN(v):
		case top <= 0 || v <= 0:
			levels[off+i] = 0
		default:
			levels[off+i] = Clamp(int(math.Round(v/top*float64(dots))), 1, dots)
		}
	}
	lines := make([]string, height)
	var b strings.Builder
	for r := range height {
		b.Reset()
		bottom := (height - 1 - r) * 4 // dot rows below this cell row
		for c := range width {
			cell := rune(0x2800)
			for side := range 2 {
				n := Clamp(levels[c*2+side]-bottom, 0, 4)
				for d := range n {
					cell |= brailleDots[side][d]
				}
			}
			if cell == 0x2800 {
				b.WriteByte(' ')
			} else {
				b.WriteRune(cell)
			}
		}
		lines[r] = b.String()
	}
	return lines
}

// Squeeze averages v into at most n values so a whole history fits a
// width; NaN (nothing measured) counts for nothing, and a span of NaN
// only stays NaN.
func Squeeze(v []float64, n int) []float64 {
	if len(v) <= n || n <= 0 {
		return v
	}
	out := make([]float64, n)
	for i := range out {
		var sum float64
		k := 0
		for _, x := range v[i*len(v)/n : (i+1)*len(v)/n] {
			if !math.IsNaN(x) {
				sum += x
				k++
			}
		}
		out[i] = math.NaN()
		if k > 0 {
			out[i] = sum / float64(k)
		}
	}
	return out
}

// Histogram draws counts as horizontal bars, one line per bin:
// "label ████▌      12", the longest bar width cells wide at most.
func Histogram(labels []string, counts []int, width int) []string {
	lw, nw, top := 0, 1, 0
	for i, l := range labels {
		lw = max(lw, len([]rune(l)))
		nw = max(nw, len(Count(counts[i])))
		top = max(top, counts[i])
	}
	barW := width - lw - nw - 2
	out := make([]string, len(labels))
	for i, l := range labels {
		bar := ""
		if barW > 0 && top > 0 && counts[i] > 0 {
			eighths := max(counts[i]*barW*8/top, 1)
			bar = strings.Repeat("█", eighths/8)
			if r := eighths % 8; r > 0 {
				bar += string([]rune("▏▎▍▌▋▊▉")[r-1])
			}
		}
		n := Count(counts[i])
		out[i] = Clip(Fit(l, lw)+" "+Fit(bar, max(barW, 0))+" "+strings.Repeat(" ", nw-len(n))+n, width)
	}
	return out
}
