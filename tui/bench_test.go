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

// benchTick measures a whole tick of the station (42 mounts,
// 2,000 listeners) at 120×40 in colour: the engine read as the poll does
// it (the test engine copies what *engine.Server copies), the update and
// the render.
func benchTick(b *testing.B, keys ...string) {
	m, e := newTestModel(b, 0, func(o *Options) { o.NoColor = false })
	e.mu.Lock()
	e.snap = fixture42()
	e.mu.Unlock()
	refresh(m)
	selectMount(b, m, "/live.mp3")
	press(b, m, keys...)
	if v := m.View(); !strings.Contains(v.Content, "/live.mp3") {
		b.Fatalf("screen:\n%s", v.Content)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m.Update(m.poll()())
		_ = m.View()
	}
}

func BenchmarkTick42Listeners(b *testing.B) { benchTick(b, "tab") }
func BenchmarkTick42Source(b *testing.B)    { benchTick(b, "2") }
