// Package keys holds icedeck's one KeyMap: every key binding, grouped per
// view, implementing help.KeyMap for the help line and the full help.
package keys

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// Context says which view has the keyboard, so the help line lists the keys
// that work there.
type Context int

const (
	Mounts Context = iota
	Listeners
	Source
	Events
	Log
	Filter
	Confirm
	Picker
	Prompt // a one-line text prompt on the status line
)

// KeyMap is every binding. Build it with New; set Context before rendering help.
type KeyMap struct {
	Context  Context
	ReadOnly bool
	// Relayed says the selected mount is pulled from another server, so the
	// help line offers R; set it with Context.
	Relayed bool
	// Analysed says the audio analysis runs, so the Source tab offers L.
	Analysed bool

	// Movement, shared by every list.
	Up, Down, PageUp, PageDown, Home, End key.Binding
	NextPane, PrevPane                    key.Binding // tab, shift+tab
	NextTab, PrevTab                      key.Binding // detail tabs

	// Mounts table.
	Filter, Sort, SortReverse key.Binding
	Audition, VolUp, VolDown  key.Binding
	Mute, Record              key.Binding

	// Listeners / source.
	Mark, MarkAll, Kick, KickSource, Move key.Binding
	ResetLoudness                         key.Binding // the audio analysis's integrated loudness and peaks

	// Relays.
	AddRelay, RemoveRelay key.Binding

	// Global.
	Log, Theme, Reveal, Help, Quit, ForceQuit key.Binding

	// Prompts.
	Yes, No, Accept key.Binding
}

// New returns the bindings. With readOnly the bindings that change the
// server (disconnect, move, relays) stay bound (so pressing them can say why
// nothing happens) but their help says they are disabled.
func New(readOnly bool) KeyMap {
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	k := KeyMap{
		ReadOnly: readOnly,
		Up:       b("↑/k", "up", "up", "k"),
		Down:     b("↓/j", "down", "down", "j"),
		PageUp:   b("pgup", "page up", "pgup", "ctrl+u"),
		PageDown: b("pgdn", "page down", "pgdown", "ctrl+d"),
		Home:     b("home/g", "first", "home", "g"),
		End:      b("end/G", "last", "end", "G"),
		NextPane: b("tab", "next pane", "tab"),
		PrevPane: b("shift+tab", "prev pane", "shift+tab"),
		NextTab:  b("→/l/]", "next tab", "right", "l", "]"),
		PrevTab:  b("←/h/[", "prev tab", "left", "h", "["),

		Filter:      b("/", "filter", "/"),
		Sort:        b("s", "sort column", "s"),
		SortReverse: b("S", "reverse sort", "S"),
		Audition:    b("enter/p", "audition", "enter", "p"),
		VolUp:       b("+", "volume up", "+", "="),
		VolDown:     b("-", "volume down", "-"),
		Mute:        b("M", "mute", "M"),
		Record:      b("r", "record", "r"),

		Mark:       b("space", "mark", "space"),
		MarkAll:    b("A", "mark all", "A"),
		Kick:       b("d", "disconnect", "d"),
		KickSource: b("D", "kick source", "D"),
		Move:       b("m", "move", "m"),

		ResetLoudness: b("L", "reset loudness", "L"),

		AddRelay:    b("a", "add relay", "a"),
		RemoveRelay: b("R", "remove relay", "R"),

		Log:       b("e", "event log", "e"),
		Theme:     b("t", "theme", "t"),
		Reveal:    b("v", "show password", "v"),
		Help:      b("?", "help", "?"),
		Quit:      b("q", "quit", "q"),
		ForceQuit: b("ctrl+c", "quit now", "ctrl+c"),

		Yes:    b("y", "yes", "y", "Y"),
		No:     b("n/esc", "no", "n", "N", "esc"),
		Accept: b("enter", "choose", "enter"),
	}
	if readOnly {
		for _, d := range []*key.Binding{&k.Kick, &k.KickSource, &k.Move, &k.AddRelay, &k.RemoveRelay} {
			h := d.Help()
			d.SetHelp(h.Key, h.Desc+" (read-only: off)")
		}
	}
	return k
}

// Destructive reports whether the binding changes the server (and so needs
// confirmation, and is refused in read-only mode).
func (k KeyMap) Destructive() []key.Binding {
	return []key.Binding{k.Kick, k.KickSource, k.Move}
}

// ShortHelp implements help.KeyMap: the keys of the current context, then
// the global ones.
func (k KeyMap) ShortHelp() []key.Binding {
	switch k.Context {
	case Filter:
		return []key.Binding{
			key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "keep filter")),
			key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
		}
	case Prompt:
		return []key.Binding{
			key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "add relay")),
			key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
			// Not a key: the syntax, where the operator looks while typing.
			key.NewBinding(key.WithKeys("as"), key.WithHelp("URL as /mount", "choose the local mount")),
		}
	case Confirm:
		return []key.Binding{k.Yes, k.No}
	case Picker:
		return []key.Binding{k.Up, k.Down, k.Accept, k.No}
	case Listeners:
		return []key.Binding{k.Up, k.Down, k.Mark, k.Kick, k.Move, k.NextTab, k.NextPane, k.Log, k.Help, k.Quit}
	case Source:
		head := []key.Binding{k.Up, k.Down, k.KickSource}
		if k.Analysed {
			head = append(head, k.ResetLoudness)
		}
		return k.relayed(head, k.NextTab, k.NextPane, k.Log, k.Help, k.Quit)
	case Events, Log:
		return []key.Binding{k.Up, k.Down, k.End, k.NextPane, k.Log, k.Help, k.Quit}
	default:
		return k.relayed([]key.Binding{k.Up, k.Down, k.Filter, k.Sort, k.Audition, k.NextPane, k.Record, k.AddRelay},
			k.Log, k.Theme, k.Reveal, k.Help, k.Quit)
	}
}

// relayed joins head, R when the selected mount is relayed, and tail.
func (k KeyMap) relayed(head []key.Binding, tail ...key.Binding) []key.Binding {
	if k.Relayed {
		head = append(head, k.RemoveRelay)
	}
	return append(head, tail...)
}

// FullHelp implements help.KeyMap: one column per group.
func (k KeyMap) FullHelp() [][]key.Binding {
	mount := []key.Binding{k.Mark, k.MarkAll, k.Kick, k.KickSource, k.Move, k.Record, k.AddRelay, k.RemoveRelay}
	if k.Analysed {
		mount = append(mount, k.ResetLoudness)
	}
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Home, k.End},
		{k.NextPane, k.PrevPane, k.NextTab, k.PrevTab, k.Log},
		{k.Filter, k.Sort, k.SortReverse, k.Audition, k.VolUp, k.VolDown, k.Mute},
		mount,
		{k.Theme, k.Reveal, k.Help, k.Quit, k.ForceQuit},
	}
}

// Step maps the movement keys to a change of position in a list: page is
// the rows in view, all the length of the list (Home and End go that far).
// ok is false for every other key.
func (k *KeyMap) Step(msg tea.KeyPressMsg, page, all int) (delta int, ok bool) {
	page = max(page, 1)
	switch {
	case key.Matches(msg, k.Up):
		return -1, true
	case key.Matches(msg, k.Down):
		return 1, true
	case key.Matches(msg, k.PageUp):
		return -page, true
	case key.Matches(msg, k.PageDown):
		return page, true
	case key.Matches(msg, k.Home):
		return -all, true
	case key.Matches(msg, k.End):
		return all, true
	}
	return 0, false
}
