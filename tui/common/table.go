package common

import (
	"slices"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// Column describes one table column.
type Column struct {
	Title string
	Width int  // minimum width
	Flex  int  // share of the spare width (0 = fixed)
	Max   int  // a flexing column grows to this width at most (0 = no limit); the rest goes to the others
	Right bool // right-aligned (numbers)
	Drop  int  // columns with a higher Drop are hidden first when space is short; 0 never
	// A column of Width 0 without Flex is not shown, and takes no
	// separator: a table whose data lacks it leaves it out this way.
}

// Widths lays columns out in total cells, one space between columns. Columns
// that do not fit get width 0 (hidden), highest Drop first.
func Widths(cols []Column, total int) []int {
	w := make([]int, len(cols))
	shown := make([]bool, len(cols))
	for i := range cols {
		shown[i] = true
	}
	need := func() int {
		n, k := 0, 0
		for i, c := range cols {
			if shown[i] && (c.Width > 0 || c.Flex > 0) {
				n += c.Width
				k++
			}
		}
		return n + max(k-1, 0)
	}
	for need() > total {
		drop, hi := -1, 0
		for i, c := range cols {
			if shown[i] && c.Drop > hi {
				drop, hi = i, c.Drop
			}
		}
		if drop < 0 {
			break // only undroppable columns left; the row is clipped
		}
		shown[drop] = false
	}
	spare := max(total-need(), 0)
	for i, c := range cols {
		if shown[i] {
			w[i] = c.Width
		}
	}
	// Share the spare width by Flex; a column that reaches its Max gives
	// its share back to the others, round after round.
	open := make([]bool, len(cols))
	for i, c := range cols {
		open[i] = shown[i] && c.Flex > 0 && (c.Max == 0 || c.Max > c.Width)
	}
	for spare > 0 {
		flex, last := 0, -1
		for i, c := range cols {
			if open[i] {
				flex += c.Flex
				last = i
			}
		}
		if flex == 0 {
			break
		}
		given := 0
		for i, c := range cols {
			if !open[i] {
				continue
			}
			extra := spare * c.Flex / flex
			if i == last {
				extra = spare - given // the rounding remainder
			}
			if c.Max > 0 && w[i]+extra >= c.Max {
				extra = c.Max - w[i]
				open[i] = false
			}
			w[i] += extra
			given += extra
		}
		spare -= given
		if given == 0 {
			break
		}
	}
	return w
}

// SortRows orders rows (indices into a table's data) by compare, reversed
// when asked; tie orders what compare finds equal, never reversed, so
// equal rows keep one order whichever way the table is sorted.
func SortRows(rows []int, compare, tie func(a, b int) int, reverse bool) {
	slices.SortStableFunc(rows, func(a, b int) int {
		c := compare(a, b)
		if reverse {
			c = -c
		}
		if c == 0 {
			c = tie(a, b)
		}
		return c
	})
}

// WriteRow writes cells fitted to widths (hidden columns skipped), separated
// by one space, into b. Cells are plain text; style the whole row afterwards,
// or give per-cell styles to WriteStyledRow.
func WriteRow(b *strings.Builder, cols []Column, widths []int, cells []string) {
	WriteStyledRow(b, cols, widths, cells, nil)
}

// WriteStyledRow is WriteRow with a paint per cell (nil slice or zero Paint:
// unstyled). The padding stays unstyled so columns line up.
func WriteStyledRow(b *strings.Builder, cols []Column, widths []int, cells []string, paints []Paint) {
	first := true
	for i, c := range cells {
		if i >= len(widths) || widths[i] == 0 {
			continue
		}
		if !first {
			b.WriteByte(' ')
		}
		first = false
		cw := widths[i]
		n := Width(c)
		if n > cw {
			c = ansi.Truncate(c, cw, "…")
			n = Width(c)
		}
		var p Paint
		if i < len(paints) {
			p = paints[i]
		}
		if i < len(cols) && cols[i].Right {
			writeSpaces(b, cw-n)
			p.Write(b, c)
		} else {
			p.Write(b, c)
			writeSpaces(b, cw-n)
		}
	}
}

// Row returns WriteRow's output as a string.
func Row(cols []Column, widths []int, cells []string) string {
	var b strings.Builder
	WriteRow(&b, cols, widths, cells)
	return b.String()
}

// HeaderCells returns the column titles, with mark appended to column
// marked (e.g. a sort arrow); marked < 0 for none.
func HeaderCells(cols []Column, marked int, mark string) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Title
		if i == marked {
			out[i] += mark
		}
	}
	return out
}

// Paint is a style reduced to the escape sequences around its text, so a
// table can colour thousands of cells without a lipgloss Render each. Only
// for single-line text without its own escapes; the zero Paint is unstyled.
type Paint struct{ pre, post string }

// paintMark is a private-use character a style leaves alone.
const paintMark = "\uE000"

// PaintOf reduces st to a Paint.
func PaintOf(st lipgloss.Style) Paint {
	out := st.Render(paintMark)
	pre, post, ok := strings.Cut(out, paintMark)
	if !ok {
		return Paint{}
	}
	return Paint{pre: pre, post: post}
}

// Write writes text painted into b.
func (p Paint) Write(b *strings.Builder, text string) {
	b.WriteString(p.pre)
	b.WriteString(text)
	b.WriteString(p.post)
}

// S returns text painted.
func (p Paint) S(text string) string {
	if p.pre == "" && p.post == "" {
		return text
	}
	return p.pre + text + p.post
}

const spaces = "                                                                "

func writeSpaces(b *strings.Builder, n int) {
	for n > 0 {
		k := min(n, len(spaces))
		b.WriteString(spaces[:k])
		n -= k
	}
}
