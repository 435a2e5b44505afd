package tui

import (
	"context"
	"errors"
	"fmt"

	tea "charm.land/bubbletea/v2"

	"github.com/icedeck/icedeck/themes"
)

// Run shows the interface on the terminal until the operator quits or ctx
// ends (then it returns nil). It uses the alternate screen and the mouse;
// Bubble Tea restores the terminal on exit and when a panic is caught, and
// Run turns such a panic into an error.
func Run(ctx context.Context, opts Options) (err error) {
	if themes.NoColorEnv() {
		opts.NoColor = true
	}
	m, err := NewModel(opts)
	if err != nil {
		return err
	}
	defer m.Close()
	m.altScreen = true
	// The screen changes at the tick (5 a second) and on keys: 20 frames a
	// second answers a key within 50 ms, and each frame of Bubble Tea's
	// default 60 wakes the process whether anything changed or not, which
	// was a third of an idle interface's CPU here.
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithFPS(20))
	defer func() {
		// A panic outside Bubble Tea's own recovery (e.g. while starting):
		// make sure the terminal is given back before reporting it.
		if r := recover(); r != nil {
			p.Kill()
			err = fmt.Errorf("tui: panic: %v", r)
		}
	}()
	_, err = p.Run()
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil && errors.Is(err, tea.ErrProgramKilled) && !errors.Is(err, tea.ErrProgramPanic):
		return nil // the caller is shutting down
	case errors.Is(err, tea.ErrProgramPanic):
		return fmt.Errorf("tui: the interface crashed (terminal restored): %w", err)
	}
	return fmt.Errorf("tui: %w", err)
}
