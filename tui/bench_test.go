package tui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
)

// benchRender measures one tick's work: apply a snapshot with n listeners on
// the selected mount, then render the screen (120×40, colour theme).
func benchRender(b *testing.B, n int) {
	m, e := newTestModel(b, n, func(o *Options) { o.NoColor = false })
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	press(b, m, "j", "tab") // /live.mp3, listeners pane focused
	snap := e.Snapshot()
	msg := snapshotMsg{snap: snap}
	if v := m.View(); !strings.Contains(v.Content, "192.0.2.10:40000") {
		b.Fatalf("listener not on screen:\n%s", v.Content)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m.Update(msg)
		_ = m.View()
	}
}

func BenchmarkRender10(b *testing.B)    { benchRender(b, 10) }
func BenchmarkRender10000(b *testing.B) { benchRender(b, 10000) }
