// Package common holds what every pane of the icedeck interface shares: the
// Component interface, the request messages panes send to the root model,
// and text helpers that keep every line inside its width.
package common

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/icedeck/icedeck/themes"
)

// Component is what every pane implements. View returns exactly the lines
// of the size last given to SetSize, each no wider than the width.
type Component interface {
	SetSize(width, height int)
	SetStyles(s *themes.Styles)
	SetFocused(bool)
	Update(msg tea.Msg) tea.Cmd
	View() string
	// ShortHelp lists the pane's own bindings for the help line.
	ShortHelp() []key.Binding
}

// KickListenersRequest asks the root model to confirm and disconnect
// listeners of a mount.
type KickListenersRequest struct {
	Mount string
	IDs   []uint64
	Label string // what to call them in the prompt, e.g. the address
}

// ResetLoudnessRequest asks the root model to start a mount's integrated
// loudness, loudness range, peaks and clipped count afresh.
type ResetLoudnessRequest struct{ Mount string }

// KickSourceRequest asks the root model to confirm and disconnect a mount's source.
type KickSourceRequest struct{ Mount, Addr string }

// MoveListenersRequest asks the root model to pick a destination mount and
// move listeners there. IDs nil means every listener of the mount.
type MoveListenersRequest struct {
	Mount string
	IDs   []uint64
}

// Send wraps a message in a command.
func Send(msg tea.Msg) tea.Cmd { return func() tea.Msg { return msg } }

// Fit truncates s (which may hold escape sequences) to width cells and pads
// it with spaces to exactly width cells.
func Fit(s string, width int) string {
	if width <= 0 {
		return ""
	}
	w := ansi.StringWidth(s)
	if w > width {
		s = ansi.Truncate(s, width, "…")
		w = ansi.StringWidth(s)
	}
	if w < width {
		s += strings.Repeat(" ", width-w)
	}
	return s
}

// Clip truncates s to at most width cells without padding.
func Clip(s string, width int) string {
	if width <= 0 {
		return ""
	}
	if ansi.StringWidth(s) > width {
		return ansi.Truncate(s, width, "…")
	}
	return s
}

// Lines joins exactly height lines, each clipped to width: missing lines are
// blank, extra lines are dropped. This is what keeps a pane from wrapping or
// pushing the rest of the screen down.
func Lines(lines []string, width, height int) string {
	if height <= 0 {
		return ""
	}
	var b strings.Builder
	for i := range height {
		if i > 0 {
			b.WriteByte('\n')
		}
		if i < len(lines) {
			b.WriteString(Clip(lines[i], width))
		}
	}
	return b.String()
}

// Scroll returns the first visible row so that cursor stays inside a window
// of height rows, moving the previous offset as little as possible.
func Scroll(offset, cursor, height, total int) int {
	if height <= 0 || total <= 0 {
		return 0
	}
	if cursor < offset {
		offset = cursor
	}
	if cursor >= offset+height {
		offset = cursor - height + 1
	}
	if maxOff := total - height; offset > maxOff {
		offset = maxOff
	}
	return max(offset, 0)
}

// Clamp limits v to [lo, hi]; with hi < lo it returns lo.
func Clamp(v, lo, hi int) int {
	if v > hi {
		v = hi
	}
	if v < lo {
		v = lo
	}
	return v
}
