// Package keys names every key of icedeck's interface once: which keys
// and what the help calls them. What a key does, and whether it does
// anything now, belongs to the pane that binds it (common.Binding); one
// name per action keeps a key meaning the same thing in every pane.
package keys

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// KeyMap is every key. Build it with New.
type KeyMap struct {
	// Movement, shared by every list.
	Up, Down, PageUp, PageDown, Home, End key.Binding

	// Panes and tabs, from any pane.
	NextPane, PrevPane key.Binding // tab, shift+tab
	NextTab, PrevTab   key.Binding
	Tab1, Tab2, Tab3   key.Binding // Listeners, Source, Events
	Tab4               key.Binding // Graphs
	Zoom               key.Binding
	Log                key.Binding // the server event log

	// The fleet console's servers.
	Scope, AllServers key.Binding // enter (servers pane), 0

	// Lists.
	Filter, Sort, SortReverse, Clear key.Binding
	EventFilter                      key.Binding // the event views' level and type

	// The selected mount.
	Audition, Play, Stop              key.Binding // enter (mounts pane), p, x
	VolUp, VolDown, Mute              key.Binding
	Record, Title, Copy               key.Binding
	KickSource, Move                  key.Binding
	AddRelay, RemoveRelay             key.Binding
	ResetLoudness                     key.Binding // the analysis's integrated loudness and peaks
	Mark, MarkAll, Kick               key.Binding // listeners
	Theme, Reveal, Help, Quit         key.Binding
	ForceQuit                         key.Binding
	Yes, No, Accept, PickUp, PickDown key.Binding // prompts
}

// New returns the keys.
func New() KeyMap {
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return KeyMap{
		Up:       b("↑/k", "up", "up", "k"),
		Down:     b("↓/j", "down", "down", "j"),
		PageUp:   b("pgup", "page up", "pgup", "ctrl+u"),
		PageDown: b("pgdn", "page down", "pgdown", "ctrl+d"),
		Home:     b("home/g", "first", "home", "g"),
		End:      b("end/G", "last", "end", "G"),

		NextPane: b("tab", "next pane", "tab"),
		PrevPane: b("⇧tab", "prev pane", "shift+tab"),
		NextTab:  b("→/l", "next tab", "right", "l", "]"),
		PrevTab:  b("←/h", "prev tab", "left", "h", "["),
		Tab1:     b("1", "listeners", "1"),
		Tab2:     b("2", "source", "2"),
		Tab3:     b("3", "events", "3"),
		Tab4:     b("4", "graphs", "4"),
		Zoom:     b("z", "zoom", "z"),
		Log:      b("e", "event log", "e"),

		Scope:      b("enter", "this server's mounts", "enter"),
		AllServers: b("0", "all servers", "0"),

		Filter:      b("/", "filter", "/"),
		Sort:        b("s", "sort", "s"),
		SortReverse: b("S", "reverse", "S"),
		Clear:       b("esc", "unfilter", "esc"),
		EventFilter: b("f", "level/type", "f"),

		Audition: b("enter", "audition", "enter"),
		Play:     b("p", "audition", "p"),
		Stop:     b("x", "stop audio", "x"),
		VolUp:    b("+", "louder", "+", "="),
		VolDown:  b("-", "softer", "-"),
		Mute:     b("M", "mute", "M"),

		Record:        b("r", "record", "r"),
		Title:         b("T", "set title", "T"),
		Copy:          b("c", "copy URL", "c"),
		KickSource:    b("D", "kick source", "D"),
		Move:          b("m", "move", "m"),
		AddRelay:      b("a", "add relay", "a"),
		RemoveRelay:   b("R", "drop relay", "R"),
		ResetLoudness: b("L", "reset LUFS", "L"),

		Mark:    b("space", "mark", "space"),
		MarkAll: b("A", "mark all", "A"),
		Kick:    b("d", "disconnect", "d"),

		Theme:     b("t", "theme", "t"),
		Reveal:    b("v", "passwords", "v"),
		Help:      b("?", "help", "?"),
		Quit:      b("q", "quit", "q"),
		ForceQuit: b("ctrl+c", "quit now", "ctrl+c"),

		Yes:      b("y", "yes", "y", "Y"),
		No:       b("n/esc", "no", "n", "N", "esc"),
		Accept:   b("enter", "choose", "enter"),
		PickUp:   b("↑/k", "up", "up", "k"),
		PickDown: b("↓/j", "down", "down", "j"),
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
