package themes

import (
	"charm.land/lipgloss/v2"
)

// Styles is every lipgloss style the interface uses, built from one Theme.
// It is a plain value: build it once per theme change and pass it down.
type Styles struct {
	Theme   string // name of the theme it was built from
	NoColor bool   // built without colours (NO_COLOR)

	Text   lipgloss.Style // ordinary text
	Dim    lipgloss.Style // secondary text, units, placeholders
	Accent lipgloss.Style // titles, highlights
	Header lipgloss.Style // the top bar
	Border lipgloss.Style // separator lines

	TableHeader lipgloss.Style
	Row         lipgloss.Style
	Selected    lipgloss.Style // cursor row in the focused pane
	SelectedDim lipgloss.Style // cursor row in a pane without focus
	Marked      lipgloss.Style // rows marked for a bulk action

	TabActive   lipgloss.Style
	TabInactive lipgloss.Style

	Live    lipgloss.Style
	Stalled lipgloss.Style
	Grace   lipgloss.Style
	Error   lipgloss.Style
	Warn    lipgloss.Style
	Info    lipgloss.Style

	MeterGreen  lipgloss.Style
	MeterYellow lipgloss.Style
	MeterRed    lipgloss.Style

	HelpKey  lipgloss.Style
	HelpDesc lipgloss.Style
	HelpSep  lipgloss.Style
}

// NewStyles turns a theme into Styles. With noColor set (see NoColorEnv) the
// result uses no colours at all, only bold and reverse video, so the
// interface stays readable on a monochrome terminal.
func NewStyles(t Theme, noColor bool) Styles {
	n := lipgloss.NewStyle
	if noColor {
		return Styles{
			Theme:       t.Name,
			NoColor:     true,
			Text:        n(),
			Dim:         n(),
			Accent:      n().Bold(true),
			Header:      n().Bold(true).Reverse(true),
			Border:      n(),
			TableHeader: n().Bold(true),
			Row:         n(),
			Selected:    n().Reverse(true),
			SelectedDim: n().Bold(true),
			Marked:      n().Bold(true),
			TabActive:   n().Bold(true).Reverse(true),
			TabInactive: n(),
			Live:        n().Bold(true),
			Stalled:     n().Bold(true),
			Grace:       n(),
			Error:       n().Bold(true).Reverse(true),
			Warn:        n().Bold(true),
			Info:        n(),
			MeterGreen:  n(),
			MeterYellow: n().Bold(true),
			MeterRed:    n().Bold(true).Reverse(true),
			HelpKey:     n().Bold(true),
			HelpDesc:    n(),
			HelpSep:     n(),
		}
	}
	c := func(key string) lipgloss.Style {
		if v := t.Colors[key]; v != "" {
			return n().Foreground(lipgloss.Color(v))
		}
		return n()
	}
	bg := func(s lipgloss.Style, key string) lipgloss.Style {
		if v := t.Colors[key]; v != "" {
			return s.Background(lipgloss.Color(v))
		}
		return s.Reverse(true)
	}
	return Styles{
		Theme:       t.Name,
		Text:        c("fg"),
		Dim:         c("dim"),
		Accent:      c("accent").Bold(true),
		Header:      bg(c("header_fg").Bold(true), "header_bg"),
		Border:      c("border"),
		TableHeader: c("table_header").Bold(true),
		Row:         c("row"),
		Selected:    bg(c("selected_fg"), "selected_bg"),
		SelectedDim: c("accent").Bold(true),
		Marked:      c("marked").Bold(true),
		TabActive:   bg(c("tab_active_fg").Bold(true), "tab_active_bg"),
		TabInactive: c("tab_inactive"),
		Live:        c("live").Bold(true),
		Stalled:     c("stalled").Bold(true),
		Grace:       c("grace"),
		Error:       c("error").Bold(true),
		Warn:        c("warn"),
		Info:        c("info"),
		MeterGreen:  c("meter_green"),
		MeterYellow: c("meter_yellow"),
		MeterRed:    c("meter_red"),
		HelpKey:     c("help_key"),
		HelpDesc:    c("help_desc"),
		HelpSep:     c("border"),
	}
}
