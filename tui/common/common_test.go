package common

import (
	"math"
	"strings"
	"testing"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

func TestPaintMatchesRender(t *testing.T) {
	st := lipgloss.NewStyle().Foreground(lipgloss.Color("#ff0000")).Bold(true)
	p := PaintOf(st)
	if got, want := p.S("hello"), st.Render("hello"); got != want {
		t.Fatalf("Paint %q, Render %q", got, want)
	}
	if !strings.Contains(p.S("x"), "\x1b[") {
		t.Fatal("no escape sequence in painted text")
	}
	if (Paint{}).S("plain") != "plain" {
		t.Fatal("zero Paint changes text")
	}
}

func TestWidthsAndRows(t *testing.T) {
	cols := []Column{{Title: "A", Width: 4}, {Title: "B", Width: 6, Flex: 1}, {Title: "C", Width: 5, Right: true, Drop: 1}}
	w := Widths(cols, 30)
	if w[0] != 4 || w[2] != 5 || w[0]+w[1]+w[2]+2 != 30 {
		t.Fatalf("widths %v", w)
	}
	row := Row(cols, w, []string{"abcdefg", "x", "42"})
	if ansi.StringWidth(row) != 30 || !strings.HasPrefix(row, "abc… x") || !strings.HasSuffix(row, "   42") {
		t.Fatalf("row %q", row)
	}
	// Too narrow: the droppable column goes, the rest is clipped by callers.
	w = Widths(cols, 11)
	if w[2] != 0 || w[0] != 4 || w[1] != 6 {
		t.Fatalf("narrow widths %v", w)
	}
}

func TestLinesExactSize(t *testing.T) {
	out := Lines([]string{"abcdef", "\x1b[1mbold text here\x1b[0m", "x", "extra"}, 4, 3)
	lines := strings.Split(out, "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		if ansi.StringWidth(l) > 4 {
			t.Fatalf("line %q wider than 4", l)
		}
	}
	if Lines(nil, 5, 0) != "" || strings.Count(Lines(nil, 5, 4), "\n") != 3 {
		t.Fatal("empty Lines")
	}
	if Fit("ab", 4) != "ab  " || Fit("abcdef", 4) != "abc…" || Fit("x", 0) != "" {
		t.Fatal("Fit")
	}
}

func TestFormats(t *testing.T) {
	cases := map[string]string{
		Bytes(512):                            "512 B",
		Bytes(1536):                           "1.5 KB",
		Bytes(59548160):                       "57 MB",
		Duration(45 * time.Second):            "45s",
		Duration(184 * time.Second):           "3m04s",
		Duration(2*time.Hour + 5*time.Minute): "2h05m",
		Duration(76 * time.Hour):              "3d04h",
		Duration(-time.Second):                "0s",
		SampleRate(44100):                     "44.1k",
		SampleRate(48000):                     "48k",
		Channels(2):                           "st",
		Kbps(127600):                          "128",
		Kbps(0):                               "–",
		Rate(1.3e6):                           "1.3M",
		Sparkline([]int{0, 4, 8}, 10):         "▁▄█",
		Sparkline([]int{1, 2, 3, 8}, 2):       "▃█",
	}
	for got, want := range cases {
		if got != want {
			t.Errorf("got %q want %q", got, want)
		}
	}
	if Scroll(0, 15, 10, 100) != 6 || Scroll(6, 2, 10, 100) != 2 || Scroll(50, 99, 10, 20) != 10 {
		t.Error("Scroll")
	}
}

// Flexing columns grow to their Max, and the rest of the room goes to
// the columns without one.
func TestWidthsMax(t *testing.T) {
	cols := []Column{{Title: "A", Width: 4, Flex: 2, Max: 6}, {Title: "B", Width: 4, Flex: 1}, {Title: "C", Width: 4, Flex: 2, Max: 5}}
	w := Widths(cols, 40)
	if w[0] != 6 || w[2] != 5 || w[1] != 40-6-5-2 {
		t.Fatalf("widths %v", w)
	}
	// All capped: the room is left over rather than given past a Max.
	cols[1].Max = 5
	if w := Widths(cols, 40); w[0] != 6 || w[1] != 5 || w[2] != 5 {
		t.Fatalf("all capped: %v", w)
	}
}

// The braille graph fills from the bottom, two values a cell, the newest
// at the right; a value above zero shows at least a dot; NaN is blank.
func TestGraph(t *testing.T) {
	nan := math.NaN()
	lines := Graph([]float64{nan, 0, 1, 8, 4, 8}, 8, 3, 2)
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	// Two rows of four dots: 8 fills both, 4 the lower, 1 one dot, 0
	// and NaN none.
	if lines[0] != " ⢸⢸" || lines[1] != " ⣸⣿" {
		t.Fatalf("graph %q", lines)
	}
	for _, l := range Graph(make([]float64, 500), 10, 7, 3) {
		if ansi.StringWidth(l) != 7 {
			t.Fatalf("line %q not 7 wide", l)
		}
	}
	if got := Squeeze([]float64{1, 3, nan, nan, 5, nan}, 3); got[0] != 2 || !math.IsNaN(got[1]) || got[2] != 5 {
		t.Fatalf("squeeze %v", got)
	}
}

func TestHistogram(t *testing.T) {
	got := Histogram([]string{"<1m", "1–5m", "5–15m"}, []int{3, 12, 1}, 20)
	if got[0] != "<1m   ██▊          3" || got[1] != "1–5m  ███████████ 12" || got[2] != "5–15m ▉            1" {
		t.Fatalf("histogram %q", got)
	}
}

// Width agrees with ansi.StringWidth on what it counts itself, and hands
// it the rest.
func TestWidth(t *testing.T) {
	for _, rg := range narrowRunes {
		for r := rg[0]; r <= rg[1]; r++ {
			if s := string(r); Width(s) != ansi.StringWidth(s) {
				t.Errorf("%U %q: Width %d, ansi %d", r, s, Width(s), ansi.StringWidth(s))
			}
		}
	}
	for _, s := range []string{"", "abc", "\x1b[1;38;2;1;2;3mbold\x1b[0m ▸ │ x", "日本語", "a\tb", "🎵 title", "e\u0301"} {
		if Width(s) != ansi.StringWidth(s) {
			t.Errorf("%q: Width %d, ansi %d", s, Width(s), ansi.StringWidth(s))
		}
	}
}
