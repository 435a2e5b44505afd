package meter

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/icedeck/icedeck/themes"
)

func styles(t *testing.T, noColor bool) *themes.Styles {
	th, err := themes.Load("default", "")
	if err != nil {
		t.Fatal(err)
	}
	s := themes.NewStyles(th, noColor)
	return &s
}

func TestMeterStereo(t *testing.T) {
	st := Status{
		Mount: "/live.mp3", Codec: "MP3", State: "playing", Output: "pulse", SampleRate: 44100, Channels: 2,
		Levels:    Levels{PeakDB: [2]float64{-30, 0}, RMSDB: [2]float64{-36, -3}, HoldDB: [2]float64{-15, 0}},
		SilentFor: 12 * time.Second, Clips: 7, Volume: 0.5, Muted: true,
	}
	// The warnings come first, so a narrow terminal clips the details.
	st.OutputReady = true
	wide := ansi.Strip(View(st, 200, styles(t, false)))
	if title, _, _ := strings.Cut(wide, "\n"); title != "▶ /live.mp3  vol 50% MUTED  SILENT 12s  CLIP 7  MP3 44.1k st  playing → pulse  (x stops)" {
		t.Errorf("title %q", title)
	}
	st.OutputReady, st.Output = false, "no audio output: alsa: no such device (metering only)"
	if title, _, _ := strings.Cut(ansi.Strip(View(st, 60, styles(t, false))), "\n"); title != "▶ /live.mp3  no sound device — meter only  vol 50% MUTED  S…" {
		t.Errorf("without a device: %q", title)
	}
	out := View(st, 80, styles(t, false))
	lines := strings.Split(ansi.Strip(out), "\n")
	if len(lines) != Height {
		t.Fatalf("%d lines", len(lines))
	}
	// Bar geometry: 80 - "L " - " -30.0 dB  rms -36.0" (20) = 58 cells; the
	// left channel is at -30 dB of a 60 dB scale: half filled.
	left, right := []rune(lines[1]), []rune(lines[2])
	barW := 80 - 2 - 20
	if got := strings.Count(string(left[2:2+barW]), "█"); got != barW/2 {
		t.Errorf("left fill %d cells, want %d: %q", got, barW/2, lines[1])
	}
	// Hold at -15 dB: the marker sits at cell round(45/60*58)-1 = 43.
	if i := strings.IndexRune(string(left[2:]), '│'); i < 0 || []rune(string(left[2:]))[43] != '│' {
		t.Errorf("hold marker not at 43: %q", lines[1])
	}
	if !strings.HasSuffix(lines[1], "-30.0 dB  rms -36.0") || !strings.HasSuffix(lines[2], "  0.0 dB  rms  -3.0") {
		t.Errorf("numbers: %q / %q", lines[1], lines[2])
	}
	// Right channel at 0 dB: full, ends in the hold marker.
	if strings.Contains(string(right[2:2+barW]), "·") {
		t.Errorf("right bar not full: %q", lines[2])
	}
	// Red zone is rendered in the red style.
	red := themes.NewStyles(mustTheme(t), false).MeterRed.Render("█")
	redPrefix, _, _ := strings.Cut(red, "█")
	if !strings.Contains(out, redPrefix) {
		t.Error("no red segment in a 0 dB bar")
	}
}

func mustTheme(t *testing.T) themes.Theme {
	th, err := themes.Load("default", "")
	if err != nil {
		t.Fatal(err)
	}
	return th
}

func TestMeterEdgeCases(t *testing.T) {
	inf := math.Inf(-1)
	st := Status{Mount: "/m", State: "playing", Channels: 1, Volume: 1,
		Levels: Levels{PeakDB: [2]float64{inf, inf}, RMSDB: [2]float64{math.NaN(), 0}, HoldDB: [2]float64{inf, 0}}, SilentFor: time.Second}
	out := ansi.Strip(View(st, 60, styles(t, true)))
	lines := strings.Split(out, "\n")
	if len(lines) != Height || !strings.HasPrefix(lines[1], "M ") || !strings.Contains(lines[1], " -inf dB  rms  -inf") {
		t.Fatalf("mono silence:\n%s", out)
	}
	if strings.Contains(lines[0], "SILENT") {
		t.Error("SILENT shown before SilentAfter")
	}
	if lines[2] != "" {
		t.Errorf("mono shows a second bar: %q", lines[2])
	}
	// Any width, no panic, never wider than asked.
	for w := range 100 {
		for _, l := range strings.Split(View(st, w, styles(t, false)), "\n") {
			if ansi.StringWidth(l) > w {
				t.Fatalf("width %d: line %q", w, l)
			}
		}
	}
	if (Status{Mount: "/m", State: "stopped"}).Active() || (Status{State: "playing"}).Active() {
		t.Error("Active")
	}
}
