package tui

import (
	"errors"
	"io"
	"sync"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/playback"
	"github.com/icedeck/icedeck/tui/common"
)

// Tapper opens an in-process reader on a mount (*engine.Server does).
type Tapper interface {
	Tap(mount string) (*engine.Tap, error)
}

// PlayerAuditioner plays mounts through a playback.Player: the Auditioner
// the interface uses in production.
type PlayerAuditioner struct {
	srv    Tapper
	player *playback.Player

	mu    sync.Mutex
	mount string
}

// NewAuditioner auditions srv's mounts on player; srv may be nil when no
// engine runs in this process (icedeck watch plays remote streams only).
func NewAuditioner(srv Tapper, player *playback.Player) *PlayerAuditioner {
	return &PlayerAuditioner{srv: srv, player: player}
}

// Audition switches to mount; the old one stops at once.
func (a *PlayerAuditioner) Audition(mount string) error {
	if a.srv == nil {
		return errors.New("no engine runs in this process")
	}
	t, err := a.srv.Tap(mount)
	if err != nil {
		return err
	}
	a.player.Play(t, t.ContentType(), mount)
	a.mu.Lock()
	a.mount = mount
	a.mu.Unlock()
	return nil
}

// PlayStream plays a stream opened elsewhere (a remote server's mount),
// shown as mount; the old one stops at once.
func (a *PlayerAuditioner) PlayStream(body io.ReadCloser, contentType, mount string) {
	a.player.Play(body, contentType, common.MountLabel(mount))
	a.mu.Lock()
	a.mount = mount
	a.mu.Unlock()
}

// StopAudition stops playing.
func (a *PlayerAuditioner) StopAudition() {
	a.player.Stop()
	a.mu.Lock()
	a.mount = ""
	a.mu.Unlock()
}

// SetVolume sets the output volume, 0..1.
func (a *PlayerAuditioner) SetVolume(v float64) { a.player.SetVolume(v) }

// SetMuted mutes the output; the meters keep reading.
func (a *PlayerAuditioner) SetMuted(m bool) { a.player.SetMuted(m) }

// AuditionStatus maps the player's status onto the panel's.
func (a *PlayerAuditioner) AuditionStatus() AuditionStatus {
	st := a.player.Status()
	a.mu.Lock()
	mount := a.mount
	a.mu.Unlock()
	return AuditionStatus{
		Mount: mount, Label: st.Label, Codec: st.Codec, State: st.State, Err: st.Err, Output: st.Output, OutputReady: st.OutputReady,
		SampleRate: st.SampleRate, Channels: st.Channels,
		Levels:    AuditionLevels{PeakDB: st.Levels.PeakDB, RMSDB: st.Levels.RMSDB, HoldDB: st.Levels.HoldDB},
		SilentFor: st.SilentFor, Clips: st.Clips, Volume: st.Volume, Muted: st.Muted,
	}
}
