// Package graphs is the Graphs tab: listeners and outgoing bandwidth over
// the last hour, for the whole server and for the selected mount, drawn
// as braille area graphs. History records them from the snapshots the
// interface reads anyway, in ten-second buckets.
package graphs

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/themes"
	"github.com/icedeck/icedeck/tui/common"
)

// Bucket is the time one point of history covers; Span is how far back
// the graphs go.
const (
	Bucket  = 10 * time.Second
	Span    = time.Hour
	buckets = int(Span / Bucket)
)

// track is one subject's history: the most listeners seen in each
// bucket, and the bytes-sent counter at the bucket's last sample (with
// its time), from which the bandwidth follows.
type track struct {
	first     int64 // bucket number of index 0
	listeners []float64
	bytes     []float64
	at        []time.Time
}

func (t *track) observe(now time.Time, listeners int, bytesOut uint64, bytesKnown bool) {
	b := now.UnixNano() / int64(Bucket)
	if len(t.listeners) == 0 {
		t.first = b
	}
	last := t.first + int64(len(t.listeners)) - 1
	if b < last {
		return // an older snapshot than one seen
	}
	for ; last < b; last++ {
		t.listeners = append(t.listeners, math.NaN())
		t.bytes = append(t.bytes, math.NaN())
		t.at = append(t.at, time.Time{})
	}
	i := len(t.listeners) - 1
	if math.IsNaN(t.listeners[i]) || float64(listeners) > t.listeners[i] {
		t.listeners[i] = float64(listeners)
	}
	t.bytes[i], t.at[i] = float64(bytesOut), now
	if !bytesKnown {
		t.bytes[i] = math.NaN()
	}
	if n := len(t.listeners) - (buckets + 1); n > 0 {
		t.listeners, t.bytes, t.at = t.listeners[n:], t.bytes[n:], t.at[n:]
		t.first += int64(n)
	}
}

// series returns the last hour, oldest first, as many points as buckets
// (NaN where nothing is known), ending at the bucket of now.
func (t *track) series(now time.Time) (listeners, bps []float64) {
	listeners, bps = make([]float64, buckets), make([]float64, buckets)
	for i := range listeners {
		listeners[i], bps[i] = math.NaN(), math.NaN()
	}
	end := now.UnixNano() / int64(Bucket)
	for i := range t.listeners {
		j := int(t.first+int64(i)-end) + buckets - 1
		if j < 0 || j >= buckets {
			continue
		}
		listeners[j] = t.listeners[i]
		if i > 0 && !math.IsNaN(t.bytes[i]) && !math.IsNaN(t.bytes[i-1]) && t.bytes[i] >= t.bytes[i-1] {
			if dt := t.at[i].Sub(t.at[i-1]).Seconds(); dt > 0 {
				bps[j] = (t.bytes[i] - t.bytes[i-1]) * 8 / dt
			}
		}
	}
	return listeners, bps
}

// History is the last hour of the server and of every mount.
type History struct {
	now    time.Time
	server track
	mounts map[string]*track
}

// NewHistory returns an empty history.
func NewHistory() *History { return &History{mounts: map[string]*track{}} }

// Observe records a snapshot. Mounts that are gone are forgotten.
func (h *History) Observe(snap *engine.Snapshot) {
	h.now = snap.Time
	h.server.observe(snap.Time, snap.Listeners, snap.BytesOut, !snap.Unknown.Has(engine.UnknownBytes))
	seen := make(map[string]bool, len(snap.Mounts))
	for i := range snap.Mounts {
		ms := &snap.Mounts[i]
		seen[ms.Name] = true
		t := h.mounts[ms.Name]
		if t == nil {
			t = &track{}
			h.mounts[ms.Name] = t
		}
		t.observe(snap.Time, ms.ListenerCount, ms.BytesOut, !ms.Unknown.Has(engine.UnknownBytes))
	}
	for name := range h.mounts {
		if !seen[name] {
			delete(h.mounts, name)
		}
	}
}

// Server returns the server's last hour: listeners and bits/s out.
func (h *History) Server() (listeners, bps []float64) { return h.server.series(h.now) }

// Mount returns a mount's last hour (all NaN for a mount not seen).
func (h *History) Mount(name string) (listeners, bps []float64) {
	if t := h.mounts[name]; t != nil {
		return t.series(h.now)
	}
	return (&track{}).series(h.now)
}

// Model is the Graphs tab.
type Model struct {
	styles *themes.Styles
	hist   *History
	mount  string
	width  int
	height int
	text   []string
}

// New returns the tab over hist.
func New(s *themes.Styles, hist *History) *Model {
	return &Model{styles: s, hist: hist}
}

// SetSize implements common.Pane.
func (m *Model) SetSize(w, h int) { m.width, m.height = w, h }

// SetMount chooses the mount graphed under the server.
func (m *Model) SetMount(name string) { m.mount = name }

// Refresh draws the graphs again; the root calls it from Update.
func (m *Model) Refresh() {
	w, h := m.width, m.height
	if w <= 0 || h <= 0 {
		m.text = nil
		return
	}
	sl, sb := m.hist.Server()
	ml, mb := m.hist.Mount(m.mount)
	name := m.mount
	if name == "" {
		name = "(no mount)"
	}
	// Two graphs side by side from 80 columns, else one under the other;
	// the server above the selected mount, a time axis below.
	type graph struct {
		title  string
		values []float64
		rate   bool
	}
	gs := []graph{
		{"listeners · server", sl, false}, {"bandwidth out · server", sb, true},
		{"listeners · " + name, ml, false}, {"bandwidth out · " + name, mb, true},
	}
	cols := 1
	if w >= 80 {
		cols = 2
	}
	gw := (w - (cols - 1)) / cols
	rows := len(gs) / cols
	gh := max((h-1)/rows-1, 1) // each graph: a title line and gh lines
	var out []string
	for r := range rows {
		blocks := make([][]string, cols)
		for c := range cols {
			g := gs[r*cols+c]
			blocks[c] = m.graph(g.title, g.values, g.rate, gw, gh)
		}
		for i := range gh + 1 {
			parts := make([]string, cols)
			for c := range cols {
				parts[c] = blocks[c][i]
			}
			out = append(out, strings.Join(parts, " "))
		}
	}
	axis := axisLine(gw)
	if cols == 2 {
		axis += " " + axisLine(gw)
	}
	out = append(out, m.styles.Dim.Render(axis))
	m.text = out
}

// graph is a title line ("listeners · server  now 812  top 900") and the
// braille graph, each exactly w cells.
func (m *Model) graph(title string, values []float64, rate bool, w, h int) []string {
	s := m.styles
	top, last := 0.0, math.NaN()
	for _, v := range values {
		if !math.IsNaN(v) {
			top = max(top, v)
			last = v
		}
	}
	format := func(v float64) string {
		if math.IsNaN(v) {
			return "–"
		}
		if rate {
			return common.Rate(v) + "b/s"
		}
		return strconv.Itoa(int(v))
	}
	head := s.Accent.Render(title) + s.Text.Render("  now "+format(last)) + s.Dim.Render("  top "+format(top))
	lines := []string{common.Fit(head, w)}
	style := s.MeterGreen
	if rate {
		style = s.Accent
	}
	for _, l := range common.Graph(resample(values, w*2), top, w, h) {
		lines = append(lines, style.Render(l))
	}
	return lines
}

// resample stretches or squeezes values to n points: the hour always
// spans the width, whatever the width.
func resample(v []float64, n int) []float64 {
	if len(v) >= n {
		return common.Squeeze(v, n)
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = v[i*len(v)/n]
	}
	return out
}

// axisLine marks the hour under a graph w cells wide.
func axisLine(w int) string {
	left, mid, right := "−60m", "−30m", "now"
	if w < 20 {
		return common.Fit(left+strings.Repeat(" ", max(w-len([]rune(left))-len(right), 1))+right, w)
	}
	b := []rune(strings.Repeat(" ", w))
	copy(b, []rune(left))
	copy(b[w/2-2:], []rune(mid))
	copy(b[w-len([]rune(right)):], []rune(right))
	return string(b)
}

// Bindings implements common.Pane: the graphs have no keys of their own.
func (m *Model) Bindings() []common.Binding { return nil }

// View implements common.Pane.
func (m *Model) View(bool) string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	return common.Lines(m.text, m.width, m.height)
}
