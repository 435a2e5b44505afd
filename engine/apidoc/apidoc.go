// Package apidoc holds the documents of icedeck's stable JSON API
// (/api/v1): the control plane writes them from the engine's state
// (the New functions) and a remote client reads them back into the
// engine's types (the methods), so both ends share one definition and a
// round trip gives what the server had.
//
// Times are RFC 3339 (ISO 8601) in UTC, durations are seconds as numbers,
// sizes are bytes.
package apidoc

import (
	"log/slog"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/engine/frame"
)

// Status is /api/v1/status.
type Status struct {
	ServerID      string    `json:"server_id"`
	Time          time.Time `json:"time"`
	Started       time.Time `json:"started"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	Addrs         []string  `json:"addrs"`
	Sources       int       `json:"sources"`
	Listeners     int       `json:"listeners"`
	Taps          int       `json:"taps"`
	BytesIn       uint64    `json:"bytes_in"`
	BytesOut      uint64    `json:"bytes_out"`
	Clients       int       `json:"clients"` // connections open now
	Totals        Totals    `json:"totals"`
	Endings       []Ending  `json:"endings"`
	Mounts        []Mount   `json:"mounts"`
}

// Totals count connections since the server started.
type Totals struct {
	Connections         uint64 `json:"connections"`
	ClientConnections   uint64 `json:"client_connections"`
	ListenerConnections uint64 `json:"listener_connections"`
	SourceConnections   uint64 `json:"source_connections"`
	RelayConnections    uint64 `json:"relay_connections"`
	SourceRejections    uint64 `json:"source_rejections"`
}

// Ending counts the connections of one kind that ended for one reason.
type Ending struct {
	Kind   string `json:"kind"` // request, source, listener
	Reason string `json:"reason"`
	Count  uint64 `json:"count"`
}

// Mount is one mount in the API.
type Mount struct {
	Name          string       `json:"name"`
	State         string       `json:"state"`
	ContentType   string       `json:"content_type"`
	Title         string       `json:"title"`
	Hidden        bool         `json:"hidden"`
	GraceUntil    *time.Time   `json:"grace_until"`
	SilentSince   *time.Time   `json:"silent_since"` // the analysis hears silence since then
	FallbackTo    string       `json:"fallback_to"`  // in state fallback: where its listeners are
	ListenerCount int          `json:"listener_count"`
	ListenerPeak  int          `json:"listener_peak"`
	MaxLagBytes   int64        `json:"max_lag_bytes"` // how far the furthest-behind listener lags live
	Taps          int          `json:"taps"`
	BytesOut      uint64       `json:"bytes_out"`
	SlowDrops     uint64       `json:"slow_drops"`
	Recording     string       `json:"recording"` // file being written, "" when not recording
	RecordedBytes uint64       `json:"recorded_bytes"`
	Source        *Source      `json:"source"`
	Relay         *Relay       `json:"relay"` // null unless the mount is pulled from another server
	Listeners     []Listener   `json:"listeners"`
	Disconnects   []Disconnect `json:"disconnects"`
	Audio         *Audio       `json:"audio"` // what the audio analysis measured; null without one
}

// Source is a mount's source.
type Source struct {
	ID                uint64            `json:"id"`
	Addr              string            `json:"addr"`
	UserAgent         string            `json:"user_agent"`
	Method            string            `json:"method"`
	Connected         time.Time         `json:"connected"`
	ContentType       string            `json:"content_type"`
	Known             bool              `json:"known"` // the frame analysis understands the content type
	Headers           map[string]string `json:"headers"`
	BytesIn           uint64            `json:"bytes_in"`
	SHA256            string            `json:"sha256"`
	LastData          time.Time         `json:"last_data"`
	Stalls            int               `json:"stalls"`
	Stalled           bool              `json:"stalled"`
	LongestGapSeconds float64           `json:"longest_gap_seconds"`
	Bitrate1s         int               `json:"bitrate_1s"`
	Bitrate10s        int               `json:"bitrate_10s"`
	History           []int             `json:"history"` // bits/s per second, oldest first
	RealtimeRatio     float64           `json:"realtime_ratio"`
	Ice               Ice               `json:"ice"`
	Frames            Frames            `json:"frames"`
}

// Ice is what the source declared, the mount's settings over it.
type Ice struct {
	Name          string `json:"name"`
	Description   string `json:"description"`
	URL           string `json:"url"`
	Genre         string `json:"genre"`
	Public        string `json:"public"`
	Bitrate       int    `json:"bitrate"`
	BitrateStated bool   `json:"bitrate_stated"` // from a bitrate header or setting, not only the audio info
	AudioInfo     string `json:"audio_info"`
	SampleRate    int    `json:"sample_rate"`
	Channels      int    `json:"channels"`
}

// Frames is the frame analysis of what the source sent.
type Frames struct {
	Container        string  `json:"container"`
	Codec            string  `json:"codec"`
	Version          string  `json:"version"`
	SampleRate       int     `json:"sample_rate"`
	Channels         int     `json:"channels"`
	Bitrate          int     `json:"bitrate"`
	MinBitrate       int     `json:"min_bitrate"`
	MaxBitrate       int     `json:"max_bitrate"`
	Frames           uint64  `json:"frames"`
	SyncLosses       uint64  `json:"sync_losses"`
	SkippedBytes     uint64  `json:"skipped_bytes"`
	TagBytes         uint64  `json:"tag_bytes"`
	CRCErrors        uint64  `json:"crc_errors"`
	DurationSeconds  float64 `json:"duration_seconds"`
	Streams          int     `json:"streams"`
	Title            string  `json:"title"`
	Artist           string  `json:"artist"`
	Song             string  `json:"song"`
	Bytes            uint64  `json:"bytes"`
	HeadersTruncated bool    `json:"headers_truncated"`
}

// Listener is one listener.
type Listener struct {
	ID               uint64    `json:"id"`
	Addr             string    `json:"addr"`
	UserAgent        string    `json:"user_agent"`
	Connected        time.Time `json:"connected"`
	ConnectedSeconds float64   `json:"connected_seconds"`
	BytesSent        uint64    `json:"bytes_sent"`
	LagBytes         int64     `json:"lag_bytes"`
	ICY              bool      `json:"icy"`
	Home             string    `json:"home,omitempty"` // the mount it fell back from
}

// Disconnect is how a listener or source ended.
type Disconnect struct {
	Time            time.Time `json:"time"`
	ID              uint64    `json:"id"`
	Addr            string    `json:"addr"`
	Source          bool      `json:"source"`
	Reason          string    `json:"reason"`
	DurationSeconds float64   `json:"duration_seconds"`
	Bytes           uint64    `json:"bytes"`
}

// Event is one event on /api/v1/events (the SSE data line).
type Event struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Type    string    `json:"type"`
	Level   string    `json:"level"`
	Mount   string    `json:"mount,omitempty"`
	ID      uint64    `json:"id,omitempty"`
	Addr    string    `json:"addr,omitempty"`
	Reason  string    `json:"reason,omitempty"`  // one of a closed set: switch on it
	Detail  string    `json:"detail,omitempty"`  // what varies: a user name tried, an error
	Subject string    `json:"subject,omitempty"` // the title set, the recording's file
	Message string    `json:"message"`
}

// Relay is a pull relay in the API. URLs have their passwords replaced
// by "xxxxx".
type Relay struct {
	Mount      string    `json:"mount"`
	State      string    `json:"state"`    // idle, connecting, live, retrying
	Upstream   string    `json:"upstream"` // in use, or last tried
	Upstreams  []string  `json:"upstreams"`
	Attempts   int       `json:"attempts"`   // failed attempts since the last success
	LastError  string    `json:"last_error"` // why the last attempt or session ended
	OnDemand   bool      `json:"on_demand"`
	FromMaster bool      `json:"from_master"` // mirrored from [master]'s stream list
	Since      time.Time `json:"since"`
}

// Push is a push in /api/v1/pushes.
type Push struct {
	Mount     string    `json:"mount"`
	Target    string    `json:"target"` // password hidden
	State     string    `json:"state"`  // waiting, connecting, live, retrying
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error"`
	BytesSent uint64    `json:"bytes_sent"` // in the current session
	Since     time.Time `json:"since"`
}

// Audio is a mount's "audio" object: what the audio analysis measured.
// Levels are dB as numbers, null until measurable; the peaks, the
// integrated loudness, its range and the clipped count run from when the
// source connected.
type Audio struct {
	State           string   `json:"state"` // ok, silent, starting, undecodable, off, over max_mounts
	Error           string   `json:"error"` // why it is undecodable
	Codec           string   `json:"codec"`
	SampleRate      int      `json:"sample_rate"`
	Channels        int      `json:"channels"`
	MomentaryLUFS   *float64 `json:"momentary_lufs"`
	ShortTermLUFS   *float64 `json:"short_term_lufs"`
	IntegratedLUFS  *float64 `json:"integrated_lufs"`
	LoudnessRangeLU *float64 `json:"loudness_range_lu"`
	SamplePeakDBFS  *float64 `json:"sample_peak_dbfs"`
	TruePeakDBTP    *float64 `json:"true_peak_dbtp"`
	ClippedSamples  uint64   `json:"clipped_samples"`
	Silent          bool     `json:"silent"`
	SilentSeconds   float64  `json:"silent_seconds"`
	DigitalSilence  bool     `json:"digital_silence"`
	Correlation     *float64 `json:"correlation"`
	BalanceDB       *float64 `json:"balance_db"`
	PhaseWarning    bool     `json:"phase_warning"`
	Mono            bool     `json:"mono"`
	MeasuredSeconds float64  `json:"measured_seconds"`
}

// NewStatus is the document of snap; with listeners when snap has them.
func NewStatus(snap engine.Snapshot) Status {
	t := snap.Totals
	d := Status{
		ServerID: snap.ServerID, Time: snap.Time.UTC(), Started: snap.Started.UTC(),
		UptimeSeconds: snap.Time.Sub(snap.Started).Seconds(), Addrs: append([]string{}, snap.Addrs...),
		Sources: snap.Sources, Listeners: snap.Listeners, Taps: snap.Taps, BytesIn: snap.BytesIn, BytesOut: snap.BytesOut,
		Clients: snap.Clients,
		Totals: Totals{Connections: t.Connections, ClientConnections: t.ClientConnections, ListenerConnections: t.ListenerConnections,
			SourceConnections: t.SourceConnections, RelayConnections: t.RelayConnections, SourceRejections: t.SourceRejections},
		Endings: make([]Ending, 0, len(snap.Endings)),
		Mounts:  make([]Mount, 0, len(snap.Mounts)),
	}
	for _, e := range snap.Endings {
		d.Endings = append(d.Endings, Ending{Kind: e.Kind.String(), Reason: e.Reason.String(), Count: e.Count})
	}
	for i := range snap.Mounts {
		d.Mounts = append(d.Mounts, NewMount(&snap.Mounts[i], snap.Time))
	}
	return d
}

// Snapshot is the engine's snapshot the document was made of.
func (d *Status) Snapshot() engine.Snapshot {
	t := d.Totals
	snap := engine.Snapshot{
		Time: d.Time, Started: d.Started, Addrs: d.Addrs, ServerID: d.ServerID, Sources: d.Sources,
		Listeners: d.Listeners, Taps: d.Taps, BytesIn: d.BytesIn, BytesOut: d.BytesOut, Clients: d.Clients,
		Totals: engine.Totals{Connections: t.Connections, ClientConnections: t.ClientConnections, ListenerConnections: t.ListenerConnections,
			SourceConnections: t.SourceConnections, RelayConnections: t.RelayConnections, SourceRejections: t.SourceRejections},
	}
	for _, e := range d.Endings {
		snap.Endings = append(snap.Endings, engine.Ending{Kind: connKind(e.Kind), Reason: reason(e.Reason), Count: e.Count})
	}
	for i := range d.Mounts {
		snap.Mounts = append(snap.Mounts, d.Mounts[i].MountSnapshot())
	}
	return snap
}

// NewMount is the document of one mount; now gives listeners' connected
// seconds.
func NewMount(m *engine.MountSnapshot, now time.Time) Mount {
	d := Mount{
		Name: m.Name, State: string(m.State), ContentType: m.ContentType, Title: m.Title, Hidden: m.Hidden,
		FallbackTo: m.FallbackTo, ListenerCount: m.ListenerCount, ListenerPeak: m.ListenerPeak, MaxLagBytes: m.MaxLag,
		Taps: m.Taps, BytesOut: m.BytesOut, SlowDrops: m.SlowDrops, Recording: m.Recording, RecordedBytes: m.RecordedBytes,
		Relay:       NewRelay(m.Relay),
		Listeners:   make([]Listener, 0, len(m.Listeners)),
		Disconnects: make([]Disconnect, 0, len(m.Disconnects)),
	}
	if !m.GraceUntil.IsZero() && m.State == engine.StateGrace {
		d.GraceUntil = utc(m.GraceUntil)
	}
	if !m.SilentSince.IsZero() {
		d.SilentSince = utc(m.SilentSince)
	}
	if s := m.Source; s != nil {
		f := s.Frames
		d.Source = &Source{
			ID: s.ID, Addr: s.Addr, UserAgent: s.UserAgent, Method: s.Method, Connected: s.Connected.UTC(),
			ContentType: s.ContentType, Known: s.Known, Headers: s.Headers, BytesIn: s.BytesIn, SHA256: s.SHA256,
			LastData: s.LastData.UTC(), Stalls: s.Stalls, Stalled: s.Stalled, LongestGapSeconds: s.LongestGap.Seconds(),
			Bitrate1s: s.Bitrate1s, Bitrate10s: s.Bitrate10s, History: s.History, RealtimeRatio: s.Realtime,
			Ice: Ice{Name: s.Ice.Name, Description: s.Ice.Description, URL: s.Ice.URL, Genre: s.Ice.Genre,
				Public: s.Ice.Public, Bitrate: s.Ice.Bitrate, BitrateStated: s.Ice.BitrateStated, AudioInfo: s.Ice.AudioInfo,
				SampleRate: s.Ice.SampleRate, Channels: s.Ice.Channels},
			Frames: Frames{Container: f.Container, Codec: f.Codec, Version: f.Version, SampleRate: f.SampleRate,
				Channels: f.Channels, Bitrate: f.Bitrate, MinBitrate: f.MinBitrate, MaxBitrate: f.MaxBitrate,
				Frames: f.Frames, SyncLosses: f.SyncLosses, SkippedBytes: f.SkippedBytes, TagBytes: f.TagBytes,
				CRCErrors: f.CRCErrors, DurationSeconds: f.Duration.Seconds(), Streams: f.Streams,
				Title: f.Title, Artist: f.Artist, Song: f.Song, Bytes: f.Bytes, HeadersTruncated: f.HeadersTruncated},
		}
	}
	for _, l := range m.Listeners {
		d.Listeners = append(d.Listeners, Listener{ID: l.ID, Addr: l.Addr, UserAgent: l.UserAgent,
			Connected: l.Connected.UTC(), ConnectedSeconds: now.Sub(l.Connected).Seconds(),
			BytesSent: l.BytesSent, LagBytes: l.Lag, ICY: l.ICY, Home: l.Home})
	}
	for _, x := range m.Disconnects {
		d.Disconnects = append(d.Disconnects, Disconnect{Time: x.Time.UTC(), ID: x.ID, Addr: x.Addr, Source: x.Source,
			Reason: x.Reason.String(), DurationSeconds: x.Duration.Seconds(), Bytes: x.Bytes})
	}
	return d
}

// MountSnapshot is the engine's mount the document was made of (its
// audio object aside: see Audio.AudioStats).
func (d *Mount) MountSnapshot() engine.MountSnapshot {
	m := engine.MountSnapshot{
		Name: d.Name, State: engine.MountState(d.State), ContentType: d.ContentType, Title: d.Title, Hidden: d.Hidden,
		FallbackTo: d.FallbackTo, ListenerCount: d.ListenerCount, ListenerPeak: d.ListenerPeak, MaxLag: d.MaxLagBytes,
		Taps: d.Taps, BytesOut: d.BytesOut, SlowDrops: d.SlowDrops, Recording: d.Recording, RecordedBytes: d.RecordedBytes,
	}
	if d.GraceUntil != nil {
		m.GraceUntil = *d.GraceUntil
	}
	if d.SilentSince != nil {
		m.SilentSince = *d.SilentSince
	}
	if d.Relay != nil {
		rs := d.Relay.RelayStatus()
		m.Relay = &rs
	}
	if s := d.Source; s != nil {
		f := s.Frames
		m.Source = &engine.SourceSnapshot{
			ID: s.ID, Addr: s.Addr, UserAgent: s.UserAgent, Method: s.Method, Connected: s.Connected,
			ContentType: s.ContentType, Known: s.Known, Headers: s.Headers, BytesIn: s.BytesIn, SHA256: s.SHA256,
			LastData: s.LastData, Stalls: s.Stalls, Stalled: s.Stalled, LongestGap: seconds(s.LongestGapSeconds),
			Bitrate1s: s.Bitrate1s, Bitrate10s: s.Bitrate10s, History: s.History, Realtime: s.RealtimeRatio,
			Ice: engine.IceInfo{Name: s.Ice.Name, Description: s.Ice.Description, URL: s.Ice.URL, Genre: s.Ice.Genre,
				Public: s.Ice.Public, Bitrate: s.Ice.Bitrate, BitrateStated: s.Ice.BitrateStated, AudioInfo: s.Ice.AudioInfo,
				SampleRate: s.Ice.SampleRate, Channels: s.Ice.Channels},
			Frames: frame.Stats{Container: f.Container, Codec: f.Codec, Version: f.Version, SampleRate: f.SampleRate,
				Channels: f.Channels, Bitrate: f.Bitrate, MinBitrate: f.MinBitrate, MaxBitrate: f.MaxBitrate,
				Frames: f.Frames, SyncLosses: f.SyncLosses, SkippedBytes: f.SkippedBytes, TagBytes: f.TagBytes,
				CRCErrors: f.CRCErrors, Duration: seconds(f.DurationSeconds), Streams: f.Streams,
				Title: f.Title, Artist: f.Artist, Song: f.Song, Bytes: f.Bytes, HeadersTruncated: f.HeadersTruncated},
		}
	}
	for _, l := range d.Listeners {
		m.Listeners = append(m.Listeners, engine.ListenerSnapshot{ID: l.ID, Addr: l.Addr, UserAgent: l.UserAgent,
			Connected: l.Connected, BytesSent: l.BytesSent, Lag: l.LagBytes, ICY: l.ICY, Home: l.Home})
	}
	for _, x := range d.Disconnects {
		m.Disconnects = append(m.Disconnects, engine.Disconnect{Time: x.Time, ID: x.ID, Addr: x.Addr, Source: x.Source,
			Reason: reason(x.Reason), Duration: seconds(x.DurationSeconds), Bytes: x.Bytes})
	}
	return m
}

// NewEvent is the document of e.
func NewEvent(e engine.Event) Event {
	return Event{Seq: e.Seq, Time: e.Time.UTC(), Type: string(e.Type), Level: e.Level.String(), Mount: e.Mount,
		ID: e.ID, Addr: e.Addr, Reason: e.Reason.String(), Detail: e.Detail, Subject: e.Subject, Message: e.Message}
}

// Event is the engine's event the document was made of. A level or
// reason this build does not know (a newer server's) reads as INFO and
// no reason.
func (d *Event) Event() engine.Event {
	var lvl slog.Level
	if lvl.UnmarshalText([]byte(d.Level)) != nil {
		lvl = slog.LevelInfo
	}
	return engine.Event{Seq: d.Seq, Time: d.Time, Type: engine.EventType(d.Type), Level: lvl, Mount: d.Mount,
		ID: d.ID, Addr: d.Addr, Reason: reason(d.Reason), Detail: d.Detail, Subject: d.Subject, Message: d.Message}
}

// NewRelay is the document of a relay (nil for none), passwords hidden
// in its URLs and in its error, which may quote one.
func NewRelay(rs *engine.RelayStatus) *Relay {
	if rs == nil {
		return nil
	}
	d := &Relay{
		Mount: rs.Mount, State: string(rs.State), Upstream: RedactURL(rs.Upstream), Upstreams: make([]string, 0, len(rs.Upstreams)),
		Attempts: rs.Attempts, LastError: rs.LastError, OnDemand: rs.OnDemand, FromMaster: rs.FromMaster, Since: rs.Since.UTC(),
	}
	for _, u := range rs.Upstreams {
		d.Upstreams = append(d.Upstreams, RedactURL(u))
		if pu, err := url.Parse(u); err == nil && pu.User != nil {
			if p, ok := pu.User.Password(); ok && p != "" {
				d.LastError = strings.ReplaceAll(d.LastError, u, pu.Redacted())
				d.LastError = strings.ReplaceAll(d.LastError, p, "xxxxx")
			}
		}
	}
	return d
}

// RelayStatus is the relay the document was made of, passwords hidden.
func (d *Relay) RelayStatus() engine.RelayStatus {
	return engine.RelayStatus{Mount: d.Mount, Upstreams: d.Upstreams, Upstream: d.Upstream, State: engine.RelayState(d.State),
		Attempts: d.Attempts, LastError: d.LastError, OnDemand: d.OnDemand, FromMaster: d.FromMaster, Since: d.Since}
}

// RedactURL hides a URL's password.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// NewPush is the document of a push (its target's password is already
// hidden by the engine).
func NewPush(p engine.PushStatus) Push {
	return Push{Mount: p.Mount, Target: p.Target, State: string(p.State), Attempts: p.Attempts,
		LastError: p.LastError, BytesSent: p.BytesSent, Since: p.Since.UTC()}
}

// PushStatus is the push the document was made of.
func (d *Push) PushStatus() engine.PushStatus {
	return engine.PushStatus{Mount: d.Mount, Target: d.Target, State: engine.PushState(d.State), Attempts: d.Attempts,
		LastError: d.LastError, BytesSent: d.BytesSent, Since: d.Since}
}

// NewAudio is the document of what the analysis measured.
func NewAudio(st engine.AudioStats) *Audio {
	return &Audio{
		State: st.State, Error: st.Error, Codec: st.Codec, SampleRate: st.SampleRate, Channels: st.Channels,
		MomentaryLUFS: number(st.MomentaryLUFS), ShortTermLUFS: number(st.ShortTermLUFS),
		IntegratedLUFS: number(st.IntegratedLUFS), LoudnessRangeLU: number(st.LoudnessRangeLU),
		SamplePeakDBFS: number(st.SamplePeakDBFS), TruePeakDBTP: number(st.TruePeakDBTP),
		ClippedSamples: st.ClippedSamples, Silent: st.Silent, SilentSeconds: st.SilentFor.Seconds(),
		DigitalSilence: st.DigitalSilence, Correlation: number(st.Correlation), BalanceDB: number(st.BalanceDB),
		PhaseWarning: st.PhaseWarning, Mono: st.Mono, MeasuredSeconds: st.Measured.Seconds(),
	}
}

// AudioStats is what the analysis measured, levels to a thousandth of a
// dB, NaN where the document has null. The meter's levels (Levels) are
// not in the document.
func (d *Audio) AudioStats() engine.AudioStats {
	return engine.AudioStats{
		State: d.State, Error: d.Error, Codec: d.Codec, SampleRate: d.SampleRate, Channels: d.Channels,
		MomentaryLUFS: orNaN(d.MomentaryLUFS), ShortTermLUFS: orNaN(d.ShortTermLUFS),
		IntegratedLUFS: orNaN(d.IntegratedLUFS), LoudnessRangeLU: orNaN(d.LoudnessRangeLU),
		SamplePeakDBFS: orNaN(d.SamplePeakDBFS), TruePeakDBTP: orNaN(d.TruePeakDBTP),
		ClippedSamples: d.ClippedSamples, Silent: d.Silent, SilentFor: seconds(d.SilentSeconds),
		DigitalSilence: d.DigitalSilence, Correlation: orNaN(d.Correlation), BalanceDB: orNaN(d.BalanceDB),
		PhaseWarning: d.PhaseWarning, Mono: d.Mono, Measured: seconds(d.MeasuredSeconds),
		Levels: [2]float64{math.NaN(), math.NaN()},
	}
}

// number is v for JSON: rounded to a thousandth, nil when it is not a
// finite number (JSON has no NaN or infinity).
func number(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	r := math.Round(v*1000) / 1000
	return &r
}

func orNaN(v *float64) float64 {
	if v == nil {
		return math.NaN()
	}
	return *v
}

func utc(t time.Time) *time.Time {
	t = t.UTC()
	return &t
}

// seconds is a duration the documents give in seconds, to the
// nanosecond they were written from.
func seconds(s float64) time.Duration { return time.Duration(math.Round(s * float64(time.Second))) }

// reason reads a reason's name; one this build does not know is none.
func reason(name string) engine.Reason {
	var r engine.Reason
	if r.UnmarshalText([]byte(name)) != nil {
		return engine.ReasonNone
	}
	return r
}

func connKind(name string) engine.ConnKind {
	for _, k := range []engine.ConnKind{engine.KindRequest, engine.KindSource, engine.KindListener} {
		if k.String() == name {
			return k
		}
	}
	return engine.KindRequest
}
