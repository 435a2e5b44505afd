// Package tui is icedeck's terminal interface: a Bubble Tea v2 program over
// the relay engine. It reads Snapshot() and Pushes() on a tick (never per
// frame), keeps a live event log from Subscribe, and sends the operator's
// commands (kick, move, add or remove a relay, audition, record) back
// through small interfaces.
//
// Screen, top to bottom: header (uptime, sources, listeners, bandwidth,
// addresses) and a ready ffmpeg command; the mounts table; the tabs of the
// selected mount (Listeners, Source, Events) or the server event log; the
// audition meter while a mount plays; a status/prompt line; the help line.
//
// Keys (? shows them all):
//
//	↑/k ↓/j pgup pgdn home/g end/G   move in the focused list
//	tab / shift+tab                  next / previous pane
//	→/l/] ←/h/[                      next / previous detail tab
//	/                                filter mounts (enter keeps, esc clears; other keys are text meanwhile)
//	s / S                            cycle sort column / reverse
//	enter or p                       audition the selected mount (again: stop); + - volume, M mute
//	space / A                        mark a listener / mark all
//	d                                disconnect the selected (or marked) listeners, asks y/N
//	D                                disconnect the mount's source, asks y/N
//	m                                move the marked listeners (none marked: all) to another mount, asks y/N
//	r                                start/stop recording the mount (needs a Recorder)
//	L                                (Source tab) measure the mount's integrated loudness and peaks afresh
//	a                                add a pull relay: type its URL on the status line ("URL as /mount"
//	                                 for another local mount; enter adds, esc cancels, other keys are text)
//	R                                remove the selected mount's relay, asks y/N
//	e                                server event log on/off
//	t                                next theme
//	v                                show/hide the source password in the ffmpeg command
//	q                                quit (asks when sources are connected); ctrl+c quits at once
//
// With Options.ReadOnly, d, D, m, a and R are refused and marked off in the help.
// Mouse: click a mount, a tab or a listener; the wheel scrolls the pane under it.
package tui

import (
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/tui/meter"
)

// Engine is the part of *engine.Server the interface uses.
type Engine interface {
	Snapshot() engine.Snapshot
	// Pushes lists the pushes of local mounts to other servers, target
	// passwords hidden; read with Snapshot, once a tick.
	Pushes() []engine.PushStatus
	Subscribe(buffer int) (<-chan engine.Event, func())
	Events(n int) []engine.Event
	KickListener(mount string, id uint64) error
	KickSource(mount string) error
	MoveListeners(from, to string, ids []uint64) (int, error)
	AddRelay(rc engine.RelayConfig) error
	RemoveRelay(mount string) error
	Config() engine.Config
}

// AuditionStatus is what the audition panel shows; the playback package's
// status maps onto it field by field (Mount is the mount being played).
type AuditionStatus = meter.Status

// AuditionLevels are per-channel levels in dBFS.
type AuditionLevels = meter.Levels

// Auditioner plays a mount on the sound card. Audition may take a second or
// two (opening the output); it is called off the UI goroutine.
type Auditioner interface {
	Audition(mount string) error
	StopAudition()
	SetVolume(v float64) // 0..1
	SetMuted(muted bool)
	AuditionStatus() AuditionStatus
}

// Recorder writes a mount's stream to disk.
type Recorder interface {
	StartRecording(mount string) (path string, err error)
	StopRecording(mount string) error
	Recording(mount string) bool
}

// Analyzer is the audio analysis of every mount (*analysis.Manager is
// one): loudness, true peak, silence and phase, measured without
// auditioning.
type Analyzer interface {
	Audio(mount string) (engine.AudioStats, bool)
	// History is the mount's short-term loudness once a second, oldest
	// first (NaN where there was none).
	History(mount string) []float64
	// Reset starts the mount's integrated loudness, loudness range,
	// peaks and clipped count afresh; false when it is not measured.
	Reset(mount string) bool
}

// Options configure Run and NewModel.
type Options struct {
	Engine     Engine     // required
	Auditioner Auditioner // optional: nil says "audition not available"
	Recorder   Recorder   // optional: nil says "recording not available"
	Analyzer   Analyzer   // optional: nil leaves the loudness columns and the Source tab's meter out

	Theme    string // theme name; "" = themes.Default
	ThemeDir string // user theme directory ("" = embedded themes only)
	ReadOnly bool   // disconnect, move and relay keys are refused
	LogFile  string // where the process logs go, shown in the header
	Tick     time.Duration
	// NoColor forces colourless styles; Run also honours NO_COLOR.
	NoColor bool
}

// DefaultTick is how often Snapshot and Pushes are read when Options.Tick is zero.
const DefaultTick = 200 * time.Millisecond
