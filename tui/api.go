// Package tui is icedeck's terminal interface: a Bubble Tea v2 program over
// the relay engine, or over a remote icedeck or Icecast server (issue 15's
// clients implement the same Engine). It reads Summary and Pushes on a
// tick (never per frame), and one mount's listeners only while its
// Listeners tab is open; keeps a live event log from Subscribe; and sends
// the operator's commands (kick, move, set a title, add or remove a
// relay, audition, record) back through small interfaces.
//
// Screen, top to bottom: header (uptime, sources, listeners, how many
// mounts need attention, bandwidth, addresses), a ready ffmpeg command
// (and, with v, the passwords); the mounts table with its health flags;
// the tabs of the selected mount (Listeners, Source, Events, Graphs) or
// the server event log; the audition meter while a mount plays; a status
// or prompt line; the help line.
//
// Design: the root model keeps the one focus and passes it to the panes'
// View. Every pane owns its keys as values (common.Binding: keys, help,
// what they do, why they do nothing now); the root handles prompts, then
// its global keys, then the focused pane's, then the selected mount's,
// and builds the help line and ? from the same lists. A key that does
// nothing says why on the status line. Layout is computed in Update;
// View is a pure function of the model.
//
// Keys (? shows them all):
//
//	↑/k ↓/j pgup pgdn home/g end/G   move in the focused list
//	tab / shift+tab                  next / previous pane
//	1 2 3 4, →/l ←/h                 Listeners, Source, Events, Graphs tab (from any pane)
//	z                                zoom the focused pane (again: back)
//	/                                filter the focused list: mounts, or listeners by address and user agent
//	esc                              clear the focused list's filter
//	s / S                            cycle the focused list's sort column / reverse
//	enter (mounts) or p              audition the selected mount (again: stop); x stops from anywhere; + - volume, M mute
//	c                                copy the selected mount's listen URL (OSC 52: works over SSH)
//	T                                set the selected mount's title (as /admin/metadata does)
//	space / A                        mark a listener / mark all (Listeners tab)
//	d                                disconnect the selected (or marked) listeners, asks y/N
//	D                                disconnect the mount's source, asks y/N
//	m                                move the marked listeners (none marked: all) to a mount of the same type, asks y/N
//	r                                start/stop recording the mount (needs a Recorder)
//	L                                (Source tab) measure the mount's integrated loudness and peaks afresh
//	f                                (event views) show events of a level and up, or of one type
//	a                                add a pull relay: type its URL on the status line ("URL as /mount"
//	                                 for another local mount; enter adds, esc cancels, other keys are text)
//	R                                remove the selected mount's relay, asks y/N
//	e                                server event log on/off
//	enter (servers pane), 0          fleet console: only that server's mounts; all servers' again
//	t                                next theme
//	v                                show/hide the source and admin passwords
//	q                                quit (asks when sources are connected); ctrl+c quits at once
//
// With Options.ReadOnly, d, D, m, T, a and R are refused and marked off in the help.
// Mouse: click a mount, a tab, a listener or an event; the wheel scrolls the pane under it.
package tui

import (
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/remote"
	"github.com/icedeck/icedeck/tui/meter"
)

// Engine is what the interface reads and asks of a server: *engine.Server,
// or a client of a remote one. Reads must be cheap, as they happen on
// every tick: Summary carries no listener lists, Mount one mount's.
//
// What a remote server cannot tell is flagged in Snapshot.Unknown and
// MountSnapshot.Unknown (engine.Unknown): the interface shows it as "–" or
// says the server does not tell it, never as a made-up 0; a zero time
// shows as "–" too.
type Engine interface {
	Summary() engine.Snapshot                       // counts and mounts at the tick, no listener lists
	Mount(name string) (engine.MountSnapshot, bool) // one mount with its listeners (the open Listeners tab)
	// Pushes lists the pushes of local mounts to other servers, target
	// passwords hidden; read with Summary, once a tick.
	Pushes() []engine.PushStatus
	Subscribe(buffer int) (<-chan engine.Event, func())
	Events(n int) []engine.Event
	KickListener(mount string, id uint64) error
	KickSource(mount string) error
	MoveListeners(from, to string, ids []uint64) (int, error)
	SetTitle(mount, title, url string) error
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
	// Engine is the engine in this process; nil only with Remotes (icedeck
	// watch).
	Engine Engine
	// Remotes are other servers shown beside Engine: the fleet console.
	// With any, a servers pane is shown, every server's mounts are in one
	// table (a remote's named "SERVER/path"), and actions go to the
	// mount's server. The caller closes them after Run.
	Remotes    []*remote.Client
	Auditioner Auditioner // optional: nil says "audition not available"
	Recorder   Recorder   // optional: nil says "recording not available"
	Analyzer   Analyzer   // optional: nil leaves the loudness columns and the Source tab's meter out

	Theme    string // theme name; "" = themes.Default
	ThemeDir string // user theme directory ("" = embedded themes only)
	ReadOnly bool   // disconnect, move, title and relay keys are refused
	LogFile  string // where the process logs go, shown in the header
	Tick     time.Duration
	// NoColor forces colourless styles; Run also honours NO_COLOR.
	NoColor bool
	// Admin gives the admin user and password for v to show (in interface
	// mode they are otherwise only in the log); nil shows none. It is
	// called off the UI goroutine, at start and after a reload.
	Admin func() (user, password string)
}

// DefaultTick is how often Summary and Pushes are read when Options.Tick is zero.
const DefaultTick = 200 * time.Millisecond
