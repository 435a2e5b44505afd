// Package analysis measures every mount's audio, all the time: an engine
// tap per mount, decoded by playback's decoders, into a BS.1770-4 / EBU
// R128 meter with true peak, clipping, silence and phase (Meter). The
// Manager runs one analyser per mount with a source, up to max_mounts,
// tells the engine when a mount goes silent (its dead-air switch is the
// engine's) and emits the audio.* events.
//
// A tap skips to live when its reader falls behind, so a slow analyser
// loses audio, never slows the mount. A stream that cannot be decoded is
// shown as undecodable with the reason, and a decoder that panics is
// recovered per mount.
package analysis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/playback"
)

// Config is the analysis's settings; a reload replaces it whole.
type Config struct {
	Enabled   bool
	MaxMounts int      // mounts analysed at once; those past it read "over max_mounts"
	Silence   Settings // for mounts that set none
	Mounts    map[string]MountConfig
	FFmpeg    string // for AAC and the formats without a Go decoder ("" = from PATH, "-" = none)
}

// MountConfig overrides Config for one mount; zero fields keep its values.
type MountConfig struct {
	Analyze          *bool
	SilenceThreshold *float64 // dBFS
	SilenceAfter     time.Duration
}

// DefaultConfig is the issue's: on, 64 mounts, -50 dBFS for 10 s.
func DefaultConfig() Config {
	return Config{Enabled: true, MaxMounts: 64, Silence: Defaults}
}

// settingsFor is what mount is measured with, and whether it is at all.
func (c *Config) settingsFor(mount string) (Settings, bool) {
	s := c.Silence
	mc, ok := c.Mounts[mount]
	if !ok {
		return s, c.Enabled
	}
	if mc.SilenceThreshold != nil {
		s.SilenceThreshold = *mc.SilenceThreshold
	}
	if mc.SilenceAfter > 0 {
		s.SilenceAfter = mc.SilenceAfter
	}
	return s, c.Enabled && (mc.Analyze == nil || *mc.Analyze)
}

// Engine is what the manager uses of *engine.Server.
type Engine interface {
	Summary() engine.Snapshot
	Subscribe(buffer int) (<-chan engine.Event, func())
	MeterTap(mount string) (*engine.Tap, error)
	SetSilent(mount string, silent bool, detail string) error
	Emit(engine.Event)
}

// The states AudioStats.State takes besides the measuring ones.
const (
	StateOK          = "ok"
	StateSilent      = "silent"
	StateStarting    = "starting"
	StateUndecodable = "undecodable"
	StateOff         = "off"
	StateOverLimit   = "over max_mounts"
)

// HistoryLength is how much short-term loudness History keeps.
const HistoryLength = 5 * time.Minute

// Manager runs the analysers. Its methods are safe for concurrent use.
type Manager struct {
	eng Engine
	log *slog.Logger
	cfg atomic.Pointer[Config]

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan struct{}

	mu     sync.Mutex
	mounts map[string]*analyser
	idle   map[string]string // mounts with a source and no analyser: why
}

// NewManager returns a manager of eng's mounts; Start starts it.
func NewManager(eng Engine, cfg Config, log *slog.Logger) *Manager {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	mg := &Manager{eng: eng, log: log, ctx: ctx, cancel: cancel, kick: make(chan struct{}, 1),
		mounts: map[string]*analyser{}, idle: map[string]string{}}
	mg.cfg.Store(&cfg)
	return mg
}

// Start follows the engine's mounts until Stop.
func (mg *Manager) Start() {
	events, unsubscribe := mg.eng.Subscribe(256)
	mg.wg.Add(1)
	go func() {
		defer mg.wg.Done()
		defer unsubscribe()
		// Events start and end analysers at once; the tick catches what
		// a full event buffer dropped, and a reload.
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			mg.reconcile()
		wait:
			for {
				select {
				case <-mg.ctx.Done():
					return
				case <-tick.C:
					break wait
				case <-mg.kick:
					break wait
				case e, ok := <-events:
					if !ok {
						events = nil
					} else if mountChange(e.Type) {
						break wait
					}
				}
			}
		}
	}()
}

func mountChange(t engine.EventType) bool {
	switch t {
	case engine.EventSourceConnected, engine.EventSourceLeft, engine.EventMountRemoved, engine.EventMountResumed:
		return true
	}
	return false
}

// Stop ends every analyser and waits for them.
func (mg *Manager) Stop() {
	mg.cancel()
	mg.wg.Wait()
}

// Reconfigure puts cfg in force: analysers start or stop as it says, and
// running ones take the new silence settings without losing what they
// measured.
func (mg *Manager) Reconfigure(cfg Config) {
	mg.cfg.Store(&cfg)
	select {
	case mg.kick <- struct{}{}:
	default:
	}
}

// reconcile starts an analyser on each mount with a source that should
// have one and stops those that should not. Mounts analysed already keep
// their place under max_mounts; the others are taken in name order.
func (mg *Manager) reconcile() {
	cfg := mg.cfg.Load()
	snap := mg.eng.Summary()
	mg.mu.Lock()
	defer mg.mu.Unlock()
	present := map[string]bool{}
	var want []engine.MountSnapshot
	for _, ms := range snap.Mounts {
		present[ms.Name] = true
		if ms.Source != nil {
			want = append(want, ms)
		}
	}
	// Running ones first, so a new mount never displaces one analysed.
	slices.SortStableFunc(want, func(a, b engine.MountSnapshot) int {
		_, ra := mg.mounts[a.Name]
		_, rb := mg.mounts[b.Name]
		switch {
		case ra && !rb:
			return -1
		case rb && !ra:
			return 1
		}
		return 0
	})
	clear(mg.idle)
	keep := map[string]bool{}
	n := 0
	for _, ms := range want {
		set, on := cfg.settingsFor(ms.Name)
		switch {
		case !on:
			mg.idle[ms.Name] = StateOff
			continue
		case n >= cfg.MaxMounts:
			mg.idle[ms.Name] = StateOverLimit
			continue
		}
		n++
		keep[ms.Name] = true
		a := mg.mounts[ms.Name]
		if a == nil || a.finished() {
			a = mg.startLocked(ms.Name, cfg.FFmpeg)
		}
		a.configure(set, ms.Source.ID)
	}
	for name, a := range mg.mounts {
		switch {
		case a.finished():
			delete(mg.mounts, name)
		case keep[name]:
		case present[name] && snapHasNoSource(snap, name):
			// In grace: the tap waits for the source to come back.
		default:
			a.stop()
			delete(mg.mounts, name)
		}
	}
}

func snapHasNoSource(snap engine.Snapshot, name string) bool {
	for _, ms := range snap.Mounts {
		if ms.Name == name {
			return ms.Source == nil && ms.State == engine.StateGrace
		}
	}
	return false
}

func (mg *Manager) startLocked(name, ffmpeg string) *analyser {
	ctx, cancel := context.WithCancel(mg.ctx)
	a := &analyser{mg: mg, name: name, ffmpeg: ffmpeg, cancel: cancel, done: make(chan struct{})}
	a.publish(&engine.AudioStats{State: StateStarting})
	mg.mounts[name] = a
	mg.wg.Add(1)
	go a.run(ctx)
	return a
}

// Audio returns what the analysis measured on mount; false when the mount
// has no source (or no such mount).
func (mg *Manager) Audio(mount string) (engine.AudioStats, bool) {
	mg.mu.Lock()
	a := mg.mounts[mount]
	why, idle := mg.idle[mount]
	mg.mu.Unlock()
	switch {
	case a != nil:
		return *a.stats.Load(), true
	case idle:
		st := unmeasured()
		st.State = why
		return st, true
	}
	return engine.AudioStats{}, false
}

// History returns mount's short-term loudness once a second, oldest
// first, over the last HistoryLength (NaN where there was none).
func (mg *Manager) History(mount string) []float64 {
	mg.mu.Lock()
	a := mg.mounts[mount]
	mg.mu.Unlock()
	if a == nil {
		return nil
	}
	a.histMu.Lock()
	defer a.histMu.Unlock()
	return slices.Clone(a.history)
}

// Reset starts mount's integrated loudness, loudness range, peaks and
// clipped count afresh; false when it is not being analysed.
func (mg *Manager) Reset(mount string) bool {
	mg.mu.Lock()
	a := mg.mounts[mount]
	mg.mu.Unlock()
	if a == nil {
		return false
	}
	a.reset.Store(true)
	return true
}

func unmeasured() engine.AudioStats {
	nan := math.NaN()
	return engine.AudioStats{MomentaryLUFS: nan, ShortTermLUFS: nan, IntegratedLUFS: nan, LoudnessRangeLU: nan,
		SamplePeakDBFS: nan, TruePeakDBTP: nan, Correlation: nan, BalanceDB: nan,
		Levels: [2]float64{playback.FloorDB, playback.FloorDB}}
}

// analyser measures one mount in a goroutine of its own.
type analyser struct {
	mg     *Manager
	name   string
	ffmpeg string
	cancel context.CancelFunc
	done   chan struct{}

	set      atomic.Pointer[Settings]
	sourceID atomic.Uint64
	reset    atomic.Bool // start the meter afresh at the next block
	stats    atomic.Pointer[engine.AudioStats]

	histMu  sync.Mutex
	history []float64

	// owned by the goroutine
	reported   bool // the engine was told the mount is silent
	asserted   time.Time
	silentFor  time.Duration // how long the silence reported has lasted
	clipsSeen  uint64
	clipEvent  time.Time
	phaseWarn  bool
	phaseEvent time.Time
	lastErr    string
}

func (a *analyser) finished() bool {
	select {
	case <-a.done:
		return true
	default:
		return false
	}
}

func (a *analyser) stop() {
	a.cancel()
	<-a.done
}

// configure gives the analyser its silence settings and the source it is
// measuring: a new source starts the measurement afresh ("since the
// source connected").
func (a *analyser) configure(s Settings, sourceID uint64) {
	a.set.Store(&s)
	if old := a.sourceID.Swap(sourceID); old != 0 && old != sourceID {
		a.reset.Store(true)
	}
}

func (a *analyser) publish(st *engine.AudioStats) { a.stats.Store(st) }

func (a *analyser) run(ctx context.Context) {
	defer a.mg.wg.Done()
	defer close(a.done)
	defer func() {
		if a.reported {
			// Nobody measures the mount now: it must not stay silent.
			_ = a.mg.eng.SetSilent(a.name, false, "analysis stopped")
		}
	}()
	retry := time.Second
	for ctx.Err() == nil {
		err := a.session(ctx)
		if ctx.Err() != nil || errors.Is(err, io.EOF) || errors.Is(err, engine.ErrNoMount) || errors.Is(err, engine.ErrTapClosed) {
			return // stopped, or the mount ended
		}
		st := unmeasured()
		st.State, st.Error = StateUndecodable, err.Error()
		a.publish(&st)
		if err.Error() != a.lastErr {
			a.lastErr = err.Error()
			a.mg.log.Warn("analysis: cannot decode the mount; retrying", "mount", a.name, "err", err, "retry", retry)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
		retry = min(2*retry, 30*time.Second)
	}
}

// session decodes the mount from a new tap until it ends or fails. A
// panic in a decoder ends the session with its reason, never the process.
func (a *analyser) session(ctx context.Context) (err error) {
	tap, err := a.mg.eng.MeterTap(a.name)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		tap.Close() // ends a Read blocked on a quiet mount
	}()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoder failed: %v", r)
		}
	}()
	dec, err := playback.NewDecoder(ctx, tap, tap.ContentType(), playback.DecoderOptions{FFmpeg: a.ffmpeg, Logger: a.mg.log})
	if err != nil {
		return err
	}
	defer dec.Close()
	var (
		meter *Meter
		cur   playback.Format
		hops  int64
	)
	for {
		pcm, f, err := dec.Next()
		if err != nil {
			return err
		}
		set := *a.set.Load()
		if meter == nil || f != cur || a.reset.Swap(false) {
			// A new format (a codec change mid-stream) or a new source
			// starts the measurement over.
			meter, cur, hops = NewMeter(f.SampleRate, f.Channels, set), f, 0
		}
		meter.SetSettings(set)
		meter.Add(pcm)
		if h := meter.Hops(); h != hops {
			hops = h
			a.measured(meter, cur)
		}
	}
}

// measured publishes the meter's readings after a hop and acts on them.
func (a *analyser) measured(m *Meter, f playback.Format) {
	st := unmeasured()
	m.Fill(&st)
	st.Codec = f.Codec
	st.State = StateOK
	if st.Silent {
		st.State = StateSilent
	}
	a.publish(&st)
	if m.Hops()%hopsPerSecond == 0 {
		a.histMu.Lock()
		a.history = append(a.history, st.ShortTermLUFS)
		if n := int(HistoryLength / time.Second); len(a.history) > n {
			a.history = slices.Delete(a.history, 0, len(a.history)-n)
		}
		a.histMu.Unlock()
	}
	now := time.Now()
	eng, set := a.mg.eng, m.set
	switch {
	case st.Silent && (!a.reported || now.Sub(a.asserted) >= time.Second):
		// Said again each second, so listeners who arrive during the
		// silence go to the fallback too; the event is emitted once.
		detail := fmt.Sprintf("every channel under %g dBFS for %s", set.SilenceThreshold, st.SilentFor.Round(100*time.Millisecond))
		if st.DigitalSilence {
			detail += ", digital silence"
		}
		_ = eng.SetSilent(a.name, true, detail)
		a.reported, a.asserted = true, now
	case a.reported && m.Audible():
		_ = eng.SetSilent(a.name, false, fmt.Sprintf("after %s of silence", a.silentFor.Round(100*time.Millisecond)))
		a.reported = false
	}
	if st.SilentFor > 0 {
		a.silentFor = st.SilentFor
	}
	if st.ClippedSamples < a.clipsSeen {
		a.clipsSeen = 0 // the meter started afresh
	}
	if st.ClippedSamples > a.clipsSeen && now.Sub(a.clipEvent) >= 10*time.Second {
		n := st.ClippedSamples - a.clipsSeen
		eng.Emit(engine.Event{Type: engine.EventAudioClipping, Level: slog.LevelWarn, Mount: a.name,
			Detail:  fmt.Sprintf("%d samples clipped, true peak %.1f dBTP", n, st.TruePeakDBTP),
			Message: fmt.Sprintf("%s clips: %d samples at full scale", a.name, n)})
		a.clipsSeen, a.clipEvent = st.ClippedSamples, now
	}
	if st.PhaseWarning != a.phaseWarn && now.Sub(a.phaseEvent) >= 5*time.Second {
		a.phaseWarn, a.phaseEvent = st.PhaseWarning, now
		e := engine.Event{Type: engine.EventAudioPhase, Level: slog.LevelInfo, Mount: a.name,
			Detail:  fmt.Sprintf("correlation %.2f", st.Correlation),
			Message: fmt.Sprintf("%s: the channels no longer cancel", a.name)}
		if st.PhaseWarning {
			e.Level = slog.LevelWarn
			e.Message = fmt.Sprintf("%s: the channels cancel (out of phase): mono listeners hear little", a.name)
		}
		eng.Emit(e)
	}
}
