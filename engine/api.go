package engine

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strconv"
	"time"

	"github.com/icedeck/icedeck/engine/frame"
)

// SlowPolicy says what happens to a listener that falls behind the oldest
// data still buffered for its mount.
type SlowPolicy string

const (
	SlowDrop SlowPolicy = "drop" // disconnect it (Icecast's behaviour)
	SlowSkip SlowPolicy = "skip" // jump it to live at the next frame boundary
)

// Config is everything the engine needs; zero fields take the defaults
// listed in Defaults.
type Config struct {
	Listen         []string // addresses for ListenAndServe, e.g. ":8000"
	SourceUser     string   // user name sources authenticate with ("source")
	SourcePassword string

	MaxClients   int // listeners + sources at once, all mounts
	MaxSources   int
	MaxListeners int // per mount; 0 = no per-mount limit

	BurstSize      int           // bytes sent on connect, from a frame boundary
	QueueSize      int           // bytes kept per mount; a listener further behind is too slow
	MetaInt        int           // ICY metadata interval in audio bytes
	SourceTimeout  time.Duration // a source silent this long is dropped
	HeaderTimeout  time.Duration // a request head must be complete within this
	WriteTimeout   time.Duration // a listener that accepts no byte for this long is dropped
	MaxHeaderBytes int           // request heads larger than this get 431
	// Latency is the longest a byte may wait in the server before it is
	// written to a listener: less costs more writes, so more CPU.
	Latency time.Duration

	// Grace and SlowListener are the defaults for mounts that set none.
	Grace        time.Duration
	SlowListener SlowPolicy

	// Headers are added to every listener response (CORS and the like).
	Headers map[string]string
	// Mounts holds per-mount settings; a mount not listed uses the globals.
	Mounts map[string]MountConfig
	// RecordDir is where recordings started at run time go when the mount
	// has no DumpFile ("" = the working directory).
	RecordDir string
	// AccessLog receives one line per finished request, source and listener
	// in the combined log format (nil: none).
	AccessLog io.Writer
	// Relays are mounts pulled from other servers; Master mirrors every
	// mount of one.
	Relays []RelayConfig
	Master *MasterConfig
	// Pushes send local mounts to other servers as their source.
	Pushes []PushConfig
	// Redirect sends listeners to the least loaded edge carrying their mount.
	Redirect *RedirectConfig
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix

	// TLSCert and TLSKey are the PEM files listeners served with ServeTLS
	// present (TLSKey "" when the key is in TLSCert, as Icecast's
	// <ssl-certificate>). Reconfigure reads them again.
	TLSCert, TLSKey string
	// Webroot resolves intro files and file fallbacks named relative to
	// it, as Icecast's <webroot> does.
	Webroot string
	// Listener policy: DenyIPs are refused; when AllowIPs is not empty
	// only they are admitted; DenyAgents are user agents refused, each
	// matched whole and case-insensitively, "*" standing for any run.
	DenyIPs, AllowIPs []netip.Prefix
	DenyAgents        []string
	// Aliases send a request for one path to another, as Icecast's
	// <alias source="/" destination="/status.xsl"/>.
	Aliases map[string]string

	// SourceFaults, when set, is asked once per authenticated source
	// request what misbehaviour to put on for it (fault.go): the test
	// bench's --fault. It is called from connection goroutines.
	SourceFaults func(mount string) SourceFault

	ServerID string // Server header and status documents
	Logger   *slog.Logger
}

// URLAuth is Icecast's <authentication type="url">: the server asks these
// URLs (POST, form-encoded) before admitting a listener and tells them
// when listeners and mounts come and go.
type URLAuth struct {
	ListenerAdd, ListenerRemove string // "" = not asked / not told
	MountAdd, MountRemove       string
	Username, Password          string // HTTP basic auth towards the hook
	// AuthHeader is the header line ("icecast-auth-user: 1", the default)
	// whose presence in listener_add's answer admits the listener.
	AuthHeader string
	// Accept2xx admits on any 2xx answer instead of the header.
	Accept2xx bool
	// TimelimitHeader names the answer header giving the longest the
	// listener may stay, in seconds ("icecast-auth-timelimit").
	TimelimitHeader string
	// Headers are the client's request headers passed on to the hook,
	// named HeaderPrefix+name ("ClientHeader." by default).
	Headers      []string
	HeaderPrefix string
	Timeout      time.Duration // per call; 0 = 5 s
}

// MountConfig overrides the global settings for one mount.
type MountConfig struct {
	Username     string // source user for this mount ("" = global)
	Password     string // source password for this mount ("" = global)
	MaxListeners int
	BurstSize    int
	SlowListener SlowPolicy
	Latency      time.Duration // 0: Config.Latency
	// Grace keeps listeners connected this long after the source leaves,
	// resuming them if a source with the same format comes back in time.
	Grace time.Duration
	// Hidden mounts are left out of public listings.
	Hidden bool
	// Fallback names the mount listeners move to when this one's source
	// leaves (it must carry the same content type); they come back when a
	// source returns, unless FallbackStay. Chains are followed; loops are
	// refused by New.
	Fallback     string
	FallbackStay bool
	// DumpFile records every source session of the mount, byte for byte,
	// to this path; strftime patterns (%Y %m %d %H %M %S) are expanded.
	DumpFile string
	// StreamName, StreamDescription and Public override what the source
	// declares (icy-name, icy-description, icy-pub).
	StreamName, StreamDescription, Public string
	// Charset is what metadata updates for this mount are in when they do
	// not say (the control plane converts them to UTF-8).
	Charset string
	// Genre, URL and Bitrate override icy-genre, icy-url and icy-br.
	Genre, URL, Bitrate string
	// MaxListenerDuration disconnects a listener after this long (0: never).
	MaxListenerDuration time.Duration
	// Intro is a file (same format as the stream) sent to each new
	// listener before the live stream; relative to Webroot.
	Intro string
	// LimitRate is the most a source may send, in bits per second (0: no
	// limit); a faster source is read no faster than this.
	LimitRate int
	// Auth asks URL hooks before admitting listeners (nil: no hook).
	Auth *URLAuth
	// OnConnect and OnDisconnect are programs run with the mount name as
	// their argument when a source connects and leaves, as Icecast's
	// <on-connect> and <on-disconnect>.
	OnConnect, OnDisconnect string
	// OnSilence is what happens while the audio analysis hears the mount
	// silent: "fallback" moves its listeners to Fallback until the audio
	// returns; "" or "none" leaves them.
	OnSilence string
}

// Defaults returns the built-in configuration, with no passwords set.
func Defaults() Config {
	return Config{
		Listen:         []string{":8000"},
		SourceUser:     "source",
		MaxClients:     20000,
		MaxSources:     32,
		BurstSize:      64 << 10,
		QueueSize:      512 << 10,
		MetaInt:        16000,
		SourceTimeout:  10 * time.Second,
		HeaderTimeout:  15 * time.Second,
		WriteTimeout:   10 * time.Second,
		MaxHeaderBytes: 8 << 10,
		Latency:        250 * time.Millisecond,
		Headers:        map[string]string{"Access-Control-Allow-Origin": "*"},
		ServerID:       "icedeck",
	}
}

// Reason says why a connection ended or was refused. The set is closed,
// so API consumers can switch on it and /metrics counts each; what varies
// (a user name, an error) goes in an event's Detail, never in the Reason.
type Reason uint8

const (
	ReasonNone Reason = iota
	// How connections end.
	ReasonClientClosed
	ReasonTooSlow
	ReasonKicked
	ReasonSourceEnded
	ReasonTimeout
	ReasonWriteError
	ReasonShutdown
	ReasonMoved
	ReasonReadError
	// Why requests are refused.
	ReasonBadRequest // malformed head, bad mount path, PUT without Content-Type
	ReasonHeadTooLarge
	ReasonHeadTimeout
	ReasonNoCredentials
	ReasonWrongCredentials
	ReasonLoginsBlocked // too many failed logins from the address
	ReasonMountBusy
	ReasonServerFull // the client limit
	ReasonTooManySources
	ReasonMountFull // the mount's listener limit
	ReasonNoMount
	ReasonShuttingDown
	// Recordings.
	ReasonStarted
	ReasonStopped
	ReasonIdle       // an on-demand relay with nobody listening
	ReasonRedirected // a listener sent to an edge
	// URL authentication (Icecast's <authentication type="url">).
	ReasonAuthRefused     // the hook answered without admitting the listener
	ReasonAuthUnavailable // the hook did not answer usably: down, slow, garbage
	ReasonTimeLimit       // the time the listener was allowed ran out (an auth hook's time limit, or the mount's max-listener-duration)
	// Listener policy.
	ReasonDenied // deny-ip, allow-ip or deny-agents
	// The test bench.
	ReasonFault // a fault put on by Config.SourceFaults
	reasonCount
)

var reasonNames = [reasonCount]string{
	"", "client closed", "too slow", "kicked", "source ended", "timeout", "write error", "shutdown", "moved", "read error",
	"bad request", "request head too large", "request head timeout", "no credentials", "wrong credentials",
	"too many failed logins", "mount busy", "server full", "too many sources", "mount full", "no such mount",
	"shutting down", "started", "stopped", "no listeners", "redirected",
	"auth refused", "auth unavailable", "time limit", "denied",
	"fault",
}

func (r Reason) String() string {
	if r < reasonCount {
		return reasonNames[r]
	}
	return "reason " + strconv.Itoa(int(r))
}

// MarshalText gives the reason's name, as the JSON API and reports show it.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads a name MarshalText wrote.
func (r *Reason) UnmarshalText(b []byte) error {
	for i, n := range reasonNames {
		if n == string(b) {
			*r = Reason(i)
			return nil
		}
	}
	return fmt.Errorf("unknown reason %q", b)
}

// Reasons lists every reason but ReasonNone, in order.
func Reasons() []Reason {
	out := make([]Reason, 0, reasonCount-1)
	for r := ReasonNone + 1; r < reasonCount; r++ {
		out = append(out, r)
	}
	return out
}

// ConnKind is what a connection turned out to be.
type ConnKind uint8

const (
	KindRequest  ConnKind = iota // a request refused before it became a source or listener
	KindSource                   // a source client
	KindListener                 // a listener
	kindCount
)

func (k ConnKind) String() string { return [...]string{"request", "source", "listener"}[k] }

// Ending counts the connections of one kind that ended for one reason.
type Ending struct {
	Kind   ConnKind
	Reason Reason
	Count  uint64
}

// MountState is what a mount is doing right now.
type MountState string

const (
	StateLive    MountState = "live"    // a source is sending
	StateStalled MountState = "stalled" // a source is connected but has sent nothing for 2 s
	StateGrace   MountState = "grace"   // no source; listeners held for the grace period
	// StateFallback is a mount without a source whose listeners wait on its
	// fallback mount (FallbackTo) to come back. They are counted here and
	// listed under the fallback mount.
	StateFallback MountState = "fallback"
	// StateRelay is a relayed mount whose relay is not live: idle on
	// demand, connecting or retrying (see Relay).
	StateRelay MountState = "relay"
)

// Snapshot is an immutable copy of the server's state.
type Snapshot struct {
	Time      time.Time
	Started   time.Time
	Addrs     []string
	ServerID  string
	Sources   int
	Listeners int // network listeners, all mounts
	Taps      int
	BytesIn   uint64 // all sources, since start
	BytesOut  uint64 // all listeners, since start
	Clients   int    // connections open now: sources, listeners, requests in progress
	Totals    Totals
	Endings   []Ending // connections ended or refused since start, per kind and reason (counts above 0)
	Mounts    []MountSnapshot
	// Unknown is what this server's snapshot cannot tell (a remote
	// Icecast's); each mount says its own. The engine's own snapshots
	// know everything.
	Unknown Unknown
}

// Unknown marks fields of a snapshot that are zero because the server
// they come from does not tell them, not because they are zero: Icecast
// has no frame analysis, and without admin credentials not even its
// listeners. An interface shows them as unavailable ("–").
type Unknown uint16

const (
	UnknownFrames         Unknown = 1 << iota // Source.Frames and Source.Known
	UnknownSource                             // Source.ID, Method, Headers, SHA256, LastData, Stalls, Stalled, LongestGap, Realtime
	UnknownSourceClient                       // Source.Addr and Source.UserAgent
	UnknownBitrate                            // Source.Bitrate1s and History
	UnknownBytes                              // BytesIn, BytesOut, SlowDrops and Source.Bitrate10s (measured from the bytes)
	UnknownListeners                          // the listener list (ListenerCount is known)
	UnknownListenerDetail                     // each listener's BytesSent, Lag and ICY, and the mount's MaxLag
	UnknownHistory                            // Disconnects, Recording, Taps; the server's Clients, Totals and Endings
)

// Has reports whether every field f names is unknown.
func (u Unknown) Has(f Unknown) bool { return u&f == f }

// Totals count connections since the server started, as Icecast's global
// statistics do.
type Totals struct {
	Connections         uint64 // TCP connections accepted
	ClientConnections   uint64 // requests read, including kept-alive ones
	ListenerConnections uint64 // listeners admitted
	SourceConnections   uint64 // sources admitted, relays included
	RelayConnections    uint64 // relay sessions that went live
	SourceRejections    uint64 // source logins refused (wrong or missing credentials, busy, limits)
}

// MountSnapshot is one mount. Mounts are sorted by name.
type MountSnapshot struct {
	Name          string
	State         MountState
	ContentType   string
	Title         string
	Source        *SourceSnapshot // nil while held in grace
	GraceUntil    time.Time       // set in StateGrace
	Listeners     []ListenerSnapshot
	ListenerCount int
	MaxLag        int64 // bytes the furthest-behind listener lags live
	ListenerPeak  int
	Taps          int
	BytesOut      uint64
	SlowDrops     uint64
	Hidden        bool
	Disconnects   []Disconnect // recent, newest last
	FallbackTo    string       // in StateFallback: where the listeners are
	Relay         *RelayStatus // set when the mount is pulled from another server
	Recording     string       // file being written, "" when not recording
	RecordedBytes uint64
	SilentSince   time.Time // set in StateSilent
	Unknown       Unknown   // what the server this comes from does not tell
}

// SourceSnapshot is the source feeding a mount and what has arrived from it.
type SourceSnapshot struct {
	ID          uint64
	Addr        string
	UserAgent   string
	Method      string // SOURCE or PUT
	Connected   time.Time
	ContentType string
	Known       bool              // the content type is one the frame analysis understands
	Headers     map[string]string // every request header, canonical names
	Ice         IceInfo

	BytesIn    uint64
	SHA256     string // of every byte received so far, hex
	LastData   time.Time
	Stalls     int           // times the source fell 500 ms or more behind real time
	Stalled    bool          // behind real time now: listeners are waiting for audio
	LongestGap time.Duration // longest gap between reads
	Bitrate1s  int           // measured bits/s over the last second
	Bitrate10s int           // over the last ten seconds
	History    []int         // measured bits/s per second, oldest first (up to 10 min)
	Realtime   float64       // audio duration received / wall time; 1.0 is real time
	Frames     frame.Stats
}

// IceInfo holds what the source declared about its stream.
type IceInfo struct {
	Name, Description, URL, Genre string
	Public                        string
	Bitrate                       int // bits/s, from ice-bitrate or ice-audio-info
	// BitrateStated is true when Bitrate came from a bitrate header or
	// the mount's setting, which Icecast's status lists, not only from
	// the audio info, which it does not.
	BitrateStated        bool
	AudioInfo            string
	SampleRate, Channels int // from ice-audio-info
}

// ListenerSnapshot is one network listener.
type ListenerSnapshot struct {
	ID        uint64
	Addr      string
	UserAgent string
	Connected time.Time
	BytesSent uint64
	Lag       int64 // bytes between what it has been sent and live
	ICY       bool
	Home      string // the mount it fell back from and returns to, if any
}

// Disconnect records how a listener or source ended.
type Disconnect struct {
	Time     time.Time
	ID       uint64
	Addr     string
	Source   bool // the source, not a listener
	Reason   Reason
	Duration time.Duration
	Bytes    uint64
}

// EventType names a kind of Event.
type EventType string

const (
	EventSourceConnected EventType = "source.connected"
	EventSourceLeft      EventType = "source.left"
	EventSourceRejected  EventType = "source.rejected" // bad credentials, busy mount, limits, bad request
	EventListenerJoined  EventType = "listener.joined"
	EventListenerLeft    EventType = "listener.left"
	EventListenerRefused EventType = "listener.refused" // no such mount, limits
	EventListenerMoved   EventType = "listener.moved"
	EventMetadata        EventType = "metadata.changed"
	EventMountGrace      EventType = "mount.grace"   // source left, listeners held
	EventMountResumed    EventType = "mount.resumed" // a source came back during grace
	EventMountRemoved    EventType = "mount.removed"
	EventMountFallback   EventType = "mount.fallback"   // listeners moved to the fallback mount
	EventRecording       EventType = "recording"        // started or stopped, with the reason"
	EventRequestRejected EventType = "request.rejected" // malformed or oversized head, header timeout
	EventAdminRejected   EventType = "admin.rejected"   // wrong admin credentials, or an address blocked for them
	EventWarning         EventType = "warning"
	EventRelay           EventType = "relay" // a relay added, removed, or failing to reach an upstream
	EventPush            EventType = "push"  // a push connected to its target, or lost it
)

// Event is something that happened, for logs and live views. Seq increases
// by one per event, so a subscriber can tell it missed some.
type Event struct {
	Seq    uint64
	Time   time.Time
	Type   EventType
	Level  slog.Level
	Mount  string
	ID     uint64 // listener or source id, 0 if none
	Addr   string
	Reason Reason
	Detail string // what varies: a user name tried, an error, how a title came
	// Subject is the one thing the event names, exactly, for programs:
	// the title set, the recording's file.
	Subject string
	Message string // one line, for people
}
