package common

import (
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Bytes formats a byte count with a binary-ish unit: "512 B", "1.5 KB", "12 MB".
func Bytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + " B"
	}
	units := []string{"KB", "MB", "GB", "TB", "PB"}
	v := float64(n) / unit
	i := 0
	for v >= unit && i < len(units)-1 {
		v /= unit
		i++
	}
	if v < 10 {
		return strconv.FormatFloat(v, 'f', 1, 64) + " " + units[i]
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + " " + units[i]
}

// Rate formats bits per second: "0", "96k", "1.5M".
func Rate(bps float64) string {
	switch {
	case bps < 0:
		return "–"
	case bps < 1000:
		return strconv.FormatFloat(bps, 'f', 0, 64)
	case bps < 1e6:
		return strconv.FormatFloat(bps/1000, 'f', 0, 64) + "k"
	case bps < 1e9:
		return strconv.FormatFloat(bps/1e6, 'f', 1, 64) + "M"
	default:
		return strconv.FormatFloat(bps/1e9, 'f', 1, 64) + "G"
	}
}

// Kbps formats bits per second as whole kb/s, or "–" for zero/unknown.
func Kbps(bps int) string {
	if bps <= 0 {
		return "–"
	}
	return strconv.Itoa((bps + 500) / 1000)
}

// Duration formats an age compactly: "45s", "3m04s", "2h05m", "3d04h".
func Duration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return strconv.FormatInt(s, 10) + "s"
	case s < 3600:
		return strconv.FormatInt(s/60, 10) + "m" + pad2(s%60) + "s"
	case s < 86400:
		return strconv.FormatInt(s/3600, 10) + "h" + pad2(s/60%60) + "m"
	default:
		return strconv.FormatInt(s/86400, 10) + "d" + pad2(s/3600%24) + "h"
	}
}

// Since is Duration(now - t), or "–" when t is zero.
func Since(now, t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return Duration(now.Sub(t))
}

func pad2(v int64) string {
	if v < 10 {
		return "0" + strconv.FormatInt(v, 10)
	}
	return strconv.FormatInt(v, 10)
}

// SampleRate formats Hz as "44.1k", "48k", "8k".
func SampleRate(hz int) string {
	if hz <= 0 {
		return ""
	}
	if hz%1000 == 0 {
		return strconv.Itoa(hz/1000) + "k"
	}
	return strconv.FormatFloat(float64(hz)/1000, 'f', 1, 64) + "k"
}

// Channels formats a channel count: "mono", "st", "6ch".
func Channels(n int) string {
	switch n {
	case 0:
		return ""
	case 1:
		return "mono"
	case 2:
		return "st"
	default:
		return strconv.Itoa(n) + "ch"
	}
}

// Join joins the non-empty parts with sep.
func Join(sep string, parts ...string) string {
	out := parts[:0:0]
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// sparkBlocks holds eight 3-byte block characters, lowest first.
const sparkBlocks = "▁▂▃▄▅▆▇█"

// Sparkline draws the last width values (oldest first) as block characters
// scaled to the largest value shown. It returns "" for no values.
func Sparkline(values []int, width int) string {
	if len(values) > width {
		values = values[len(values)-max(width, 0):]
	}
	hi := 0
	f := make([]float64, len(values))
	for i, v := range values {
		hi = max(hi, v)
		f[i] = float64(v)
	}
	return SparklineRange(f, 0, float64(hi), width)
}

// SparklineRange draws the last width values (oldest first) as block
// characters on the fixed scale lo..hi (clamped); a NaN is a gap. It
// returns "" for no values.
func SparklineRange(values []float64, lo, hi float64, width int) string {
	if width <= 0 || len(values) == 0 {
		return ""
	}
	if len(values) > width {
		values = values[len(values)-width:]
	}
	var b strings.Builder
	b.Grow(len(values) * 3)
	for _, v := range values {
		if math.IsNaN(v) {
			b.WriteByte(' ')
			continue
		}
		i := 0
		if hi > lo && v > lo {
			i = int((v - lo) * 7 / (hi - lo))
		}
		i = Clamp(i, 0, 7)
		b.WriteString(sparkBlocks[i*3 : i*3+3])
	}
	return b.String()
}

// Redact hides the password of a URL, as the engine's events do: relay
// upstreams (a master mirror's always) may carry credentials.
func Redact(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return u
	}
	return pu.Redacted()
}

// Level formats a level in dB with one decimal ("-23.4"), "–" when it is
// not a number (nothing measurable yet) or -inf.
func Level(db float64) string {
	if math.IsNaN(db) || math.IsInf(db, 0) {
		return "–"
	}
	v := strconv.FormatFloat(db, 'f', 1, 64)
	if v == "-0.0" {
		v = "0.0"
	}
	return v
}

// Count formats a count; a negative one is unknown ("–"): a remote
// server may not tell, and 0 would be a claim.
func Count(n int) string {
	if n < 0 {
		return "–"
	}
	return strconv.Itoa(n)
}
