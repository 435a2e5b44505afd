// Package meter draws the audition panel: what is playing, a stereo level
// meter with a peak-hold marker, and warnings (silence, clipping, mute).
// It renders from a Status value only, so it is tested with fixed numbers.
package meter

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/icedeck/icedeck/themes"
	"github.com/icedeck/icedeck/tui/common"
)

// Levels are per-channel levels in dBFS (0 is full scale; -Inf is silence).
type Levels struct {
	PeakDB, RMSDB, HoldDB [2]float64
}

// Status is the view model of the audition player. The playback package's
// status maps onto it field by field.
type Status struct {
	Mount  string // mount being auditioned ("" = none)
	Label  string
	Codec  string
	State  string // e.g. "playing", "buffering", "stopped", "error"
	Err    string
	Output string // audio output in use, or why there is none
	// OutputReady is true while audio reaches a sound device; false,
	// the panel says it meters only.
	OutputReady bool
	SampleRate  int
	Channels    int
	Levels      Levels
	SilentFor   time.Duration // how long the signal has been below the silence floor
	Clips       uint64        // samples at full scale so far
	Volume      float64       // 0..1 (1 = unity)
	Muted       bool
}

// Active reports whether there is anything to show.
func (s Status) Active() bool {
	return s.Mount != "" && s.State != "" && s.State != "stopped"
}

// SilentAfter is how long the signal must stay silent before it is called silent.
const SilentAfter = 2 * time.Second

// Silent reports whether the player says the signal has been silent long
// enough to warn about.
func (s Status) Silent() bool { return s.Active() && s.SilentFor >= SilentAfter }

const (
	floorDB  = -60.0 // left end of the bar
	yellowDB = -18.0 // bar turns yellow from here
	redDB    = -6.0  // and red from here
)

// Height is the number of lines View returns.
const Height = 3

// View renders the panel in exactly Height lines of at most width cells.
func View(st Status, width int, s *themes.Styles) string {
	lines := make([]string, 0, Height)
	lines = append(lines, titleLine(st, width, s))
	ch := st.Channels
	if ch != 1 {
		ch = 2
	}
	names := [2]string{"L", "R"}
	if ch == 1 {
		names[0] = "M"
	}
	for i := range ch {
		lines = append(lines, barLine(names[i], st.Levels.PeakDB[i], st.Levels.RMSDB[i], st.Levels.HoldDB[i], width, s))
	}
	return common.Lines(lines, width, Height)
}

// titleLine puts what the operator must not miss first, so a narrow
// terminal clips the details rather than the warnings: the mount, "no
// sound device — meter only", volume and mute, silence and clipping, then
// the codec, the state and the output.
func titleLine(st Status, width int, s *themes.Styles) string {
	state := st.State
	if state == "" {
		state = "stopped"
	}
	var b strings.Builder
	b.WriteString(s.Accent.Render("▶ " + st.Mount))
	if !st.OutputReady && st.State != "" && !strings.HasPrefix(st.Output, "opening") {
		b.WriteString("  " + s.Warn.Render("no sound device — meter only"))
	}
	vol := "vol " + strconv.Itoa(int(math.Round(st.Volume*100))) + "%"
	if st.Muted {
		b.WriteString("  " + s.Warn.Render(vol+" MUTED"))
	} else {
		b.WriteString("  " + s.Text.Render(vol))
	}
	if st.Silent() {
		b.WriteString("  " + s.Error.Render("SILENT "+common.Duration(st.SilentFor)))
	}
	if st.Clips > 0 {
		b.WriteString("  " + s.Error.Render("CLIP "+strconv.FormatUint(st.Clips, 10)))
	}
	info := common.Join(" ", st.Codec, common.SampleRate(st.SampleRate), common.Channels(st.Channels))
	if st.Label != "" && st.Label != st.Mount {
		info = common.Join(" ", st.Label, info)
	}
	b.WriteString("  " + s.Text.Render(common.Join("  ", info, state)))
	if st.Err != "" {
		b.WriteString("  " + s.Error.Render("error: "+st.Err))
	}
	if st.Output != "" {
		b.WriteString(s.Dim.Render(" → " + st.Output))
	}
	b.WriteString(s.Dim.Render("  (x stops)"))
	return common.Clip(b.String(), width)
}

// barLine draws "L ██████▆───│────  -12.3 dB rms -18.0".
func barLine(name string, peak, rms, hold float64, width int, s *themes.Styles) string {
	return Bar(name, peak, hold, "rms "+fmtDB(rms), width, s)
}

// Bar draws one channel's level on the meter's scale (-60..0 dBFS, green,
// yellow from -18, red from -6) with its hold marker (NaN: none), the
// level in dB and note after it: "L ██████▆───│────  -12.3 dB  note".
func Bar(name string, peak, hold float64, note string, width int, s *themes.Styles) string {
	nums := " " + fmtDB(peak) + " dB"
	if note != "" {
		nums += "  " + note
	}
	barW := width - 2 - len(nums)
	if barW < 8 {
		// Too narrow for a bar: numbers only.
		return common.Clip(name+nums, width)
	}
	filled := cells(peak, barW)
	holdAt := -1
	if !math.IsInf(hold, -1) && !math.IsNaN(hold) && hold > floorDB {
		holdAt = min(cells(hold, barW), barW) - 1
	}
	var b strings.Builder
	b.WriteString(s.Dim.Render(name) + " ")
	// Group runs of cells of the same zone so each run is styled once.
	runStart := 0
	zone := func(i int) int {
		switch {
		case i == holdAt:
			return 4
		case i >= filled:
			return 3
		}
		db := floorDB + (float64(i)+0.5)*(-floorDB)/float64(barW)
		switch {
		case db >= redDB:
			return 2
		case db >= yellowDB:
			return 1
		}
		return 0
	}
	emit := func(z, n int) {
		if n <= 0 {
			return
		}
		switch z {
		case 0:
			b.WriteString(s.MeterGreen.Render(strings.Repeat("█", n)))
		case 1:
			b.WriteString(s.MeterYellow.Render(strings.Repeat("█", n)))
		case 2:
			b.WriteString(s.MeterRed.Render(strings.Repeat("█", n)))
		case 3:
			b.WriteString(s.Dim.Render(strings.Repeat("·", n)))
		case 4:
			st := s.MeterGreen
			if hold >= redDB {
				st = s.MeterRed
			} else if hold >= yellowDB {
				st = s.MeterYellow
			}
			b.WriteString(st.Render(strings.Repeat("│", n)))
		}
	}
	cur := zone(0)
	for i := 1; i <= barW; i++ {
		z := -1
		if i < barW {
			z = zone(i)
		}
		if z != cur {
			emit(cur, i-runStart)
			runStart, cur = i, z
		}
	}
	numStyle := s.Text
	if peak >= redDB {
		numStyle = s.MeterRed
	}
	b.WriteString(numStyle.Render(nums))
	return b.String()
}

// cells is how many of width cells a level fills.
func cells(db float64, width int) int {
	if math.IsNaN(db) || math.IsInf(db, -1) || db <= floorDB {
		return 0
	}
	if db >= 0 {
		return width
	}
	return int(math.Round((db - floorDB) / -floorDB * float64(width)))
}

// fmtDB formats a level in a fixed 5-cell field: "-12.3", " -inf", "  0.0".
func fmtDB(db float64) string {
	if math.IsNaN(db) || math.IsInf(db, -1) || db < -99.9 {
		return " -inf"
	}
	if db > 99.9 {
		db = 99.9
	}
	v := strconv.FormatFloat(db, 'f', 1, 64)
	if v == "-0.0" {
		v = "0.0"
	}
	return strings.Repeat(" ", max(5-len(v), 0)) + v
}
