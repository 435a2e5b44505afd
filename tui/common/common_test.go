package common

import (
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
