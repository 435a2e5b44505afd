// Package common holds what every pane of the icedeck interface shares: the
// Pane interface, keys as Binding values, the request messages panes send
// to the root model, and text helpers that keep every line inside its
// width.
package common

import (
	"strings"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/icedeck/icedeck/tui/keys"
)

// Pane is what every pane implements. The root model keeps the one focus
// and passes it to View; a pane keeps no copy of it.
type Pane interface {
	// SetSize gives the pane its size; it is called from Update (layout),
	// never from View, and is where a pane fixes its scroll position.
	SetSize(width, height int)
	// Bindings are the pane's keys as they stand now, in help order.
	Bindings() []Binding
	// View returns exactly the lines of the size last given to SetSize,
	// each no wider than the width. It changes nothing.
	View(focused bool) string
}

// Binding is one key as a value: its keys and help, what it does, and,
// when it does nothing now, why. The help line, the full help and the
// key dispatch are all built from the same lists, so they cannot
// disagree.
type Binding struct {
	Key key.Binding
	Run func() tea.Cmd
	// Off says why the key does nothing now ("read-only mode: …", "no
	// listener selected"); "" when it acts. The root shows it on the
	// status line when the key is pressed.
	Off string
	// Short puts the binding on the one-line help.
	Short bool
}

// Bind makes a binding that runs run.
func Bind(k key.Binding, run func() tea.Cmd) Binding { return Binding{Key: k, Run: run} }

// Do makes a binding from an action that returns no command.
func Do(k key.Binding, act func()) Binding {
	return Binding{Key: k, Run: func() tea.Cmd { act(); return nil }}
}

// OnHelp puts the binding on the one-line help.
func (b Binding) OnHelp() Binding { b.Short = true; return b }

// OffIf turns the binding off with the reason why when cond holds (the
// first reason given stands).
func (b Binding) OffIf(cond bool, why string) Binding {
	if cond && b.Off == "" {
		b.Off = why
	}
	return b
}

// Match returns the first binding of bs that k matches.
func Match(bs []Binding, k tea.KeyPressMsg) (Binding, bool) {
	for _, b := range bs {
		if key.Matches(k, b.Key) {
			return b, true
		}
	}
	return Binding{}, false
}

// Movement binds the list keys to move(delta): page is the rows in view,
// all the length of the list (home and end go that far). Up and down go
// on the help line.
func Movement(k *keys.KeyMap, page, all int, move func(delta int)) []Binding {
	page = max(page, 1)
	step := func(kb key.Binding, d int) Binding {
		return Do(kb, func() { move(d) }).OffIf(all == 0, "the list is empty")
	}
	return []Binding{
		step(k.Up, -1).OnHelp(), step(k.Down, 1).OnHelp(),
		step(k.PageUp, -page), step(k.PageDown, page), step(k.Home, -all), step(k.End, all),
	}
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

// FilterRequest asks the root model to let the operator type a pane's
// filter on the status line: Set is called at every change (the list
// follows the typing), and with "" when esc drops it.
type FilterRequest struct {
	What string // what is filtered, and by what: "mounts (name, title, format, state)"
	Text string // the filter now
	Set  func(text string)
}

// PickRequest asks the root model to offer a choice in the lower pane:
// up and down move, enter calls Choose with the index, esc cancels.
type PickRequest struct {
	Title   string
	Options []string
	Cursor  int
	Choose  func(i int) tea.Cmd
}

// Send wraps a message in a command.
func Send(msg tea.Msg) tea.Cmd { return func() tea.Msg { return msg } }

// Fit truncates s (which may hold escape sequences) to width cells and pads
// it with spaces to exactly width cells.
func Fit(s string, width int) string {
	if width <= 0 {
		return ""
	}
	w := Width(s)
	if w > width {
		s = ansi.Truncate(s, width, "…")
		w = Width(s)
	}
	if w < width {
		s += strings.Repeat(" ", width-w)
	}
	return s
}

// Width is how many cells s takes on screen, escape sequences aside.
// What a table and its styles are made of (ASCII, SGR sequences, the
// box, block, braille and punctuation characters of narrowRunes) is
// counted without the grapheme walk ansi.StringWidth makes; anything else
// goes to it.
func Width(s string) int {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= 0x20 && c < 0x7f:
			n++
			i++
		case c == 0x1b && i+1 < len(s) && s[i+1] == '[':
			// A CSI sequence: parameters, then a final byte 0x40–0x7e.
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j + 1
		case c >= 0x80:
			r, size := utf8.DecodeRuneInString(s[i:])
			if !narrowRune(r) {
				return ansi.StringWidth(s)
			}
			n++
			i += size
		default:
			return ansi.StringWidth(s)
		}
	}
	return n
}

// narrowRunes are ranges of characters one cell wide that the interface
// draws with (TestWidth holds them to ansi.StringWidth).
var narrowRunes = [][2]rune{
	{0xa1, 0xac}, {0xae, 0xff}, // Latin-1: ·, ×, é…
	{0x2010, 0x2027}, // dashes, quotes, •, …
	{0x2190, 0x21ff}, // arrows: → ⇧
	{0x2500, 0x259f}, // box drawing and blocks: │ █ ▏
	{0x25a0, 0x25fc}, // geometric shapes: ▶ ▸ ● ▼ ▲
	{0x2717, 0x2717}, // ✗
	{0x2800, 0x28ff}, // braille
}

func narrowRune(r rune) bool {
	for _, rg := range narrowRunes {
		if r >= rg[0] && r <= rg[1] {
			return true
		}
	}
	return false
}

// Clip truncates s to at most width cells without padding.
func Clip(s string, width int) string {
	if width <= 0 {
		return ""
	}
	if Width(s) > width {
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

// SplitMount parts a mount's name as the fleet console keys it: a remote
// server's mount is "SERVER/path", a local one "/path" (server "").
func SplitMount(name string) (server, mount string) {
	if strings.HasPrefix(name, "/") {
		return "", name
	}
	if i := strings.IndexByte(name, '/'); i > 0 {
		return name[:i], name[i:]
	}
	return "", name
}

// MountLabel names a mount for prompts and messages: "/live", or
// "/live on edge-1" for a remote server's.
func MountLabel(name string) string {
	if server, mount := SplitMount(name); server != "" {
		return mount + " on " + server
	}
	return name
}
