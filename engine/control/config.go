package control

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/engine/apidoc"
)

// File is an icedeck.toml, decoded and checked. access_log is parsed but
// left to the caller (the engine takes an io.Writer, not a path).
type File struct {
	Path     string            `toml:"-"`
	lines    *keyLines         // where each key is, for errors found after decoding
	Server   ServerSection     `toml:"server"`
	Auth     AuthSection       `toml:"auth"`
	Limits   LimitsSection     `toml:"limits"`
	Headers  map[string]string `toml:"headers"`
	Mounts   []MountSection    `toml:"mount"`
	Relays   []RelaySection    `toml:"relay"`
	Master   *MasterSection    `toml:"master"`
	Pushes   []PushSection     `toml:"push"`
	Redirect *RedirectSection  `toml:"redirect"`
	TLS      *TLSSection       `toml:"tls"`
	Access   AccessSection     `toml:"access"`
	Analysis AnalysisSection   `toml:"analysis"` // analysisconfig.go
	Remotes  []RemoteSection   `toml:"remote"`   // remoteconfig.go

	// Format is "toml" or "icecast" (an icecast.xml); Warnings are what
	// the file asks for that icedeck does not honour, each with its line.
	Format   string          `toml:"-"`
	Warnings []ConfigWarning `toml:"-"`
}

// ConfigWarning is a setting accepted but not (fully) honoured.
type ConfigWarning struct {
	File string
	Line int
	Msg  string
}

func (w ConfigWarning) String() string {
	if w.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Msg)
	}
	return w.File + ": " + w.Msg
}

// TLSSection is [tls]: the addresses that speak TLS and the certificate
// they present (reread on reload).
type TLSSection struct {
	Listen []string `toml:"listen"`
	Cert   string   `toml:"cert"` // PEM; may hold the key too, as Icecast's <ssl-certificate>
	Key    string   `toml:"key"`  // PEM; "" when Cert holds it
}

// AccessSection is [access]: listener policy from files, one entry a
// line, reread on reload (Icecast's <deny-ip>, <allow-ip>, <deny-agents>).
type AccessSection struct {
	DenyIPFile     string `toml:"deny_ip_file"`     // addresses or CIDR ranges refused
	AllowIPFile    string `toml:"allow_ip_file"`    // when set, only these are admitted
	DenyAgentsFile string `toml:"deny_agents_file"` // user agents refused; "*" patterns
}

// URLAuthSection is [mount.auth]: Icecast's <authentication type="url">.
type URLAuthSection struct {
	ListenerAdd     string   `toml:"listener_add"`
	ListenerRemove  string   `toml:"listener_remove"`
	MountAdd        string   `toml:"mount_add"`
	MountRemove     string   `toml:"mount_remove"`
	Username        string   `toml:"username"`
	Password        string   `toml:"password"`
	AuthHeader      string   `toml:"auth_header"`      // default "icecast-auth-user: 1"
	Accept2xx       bool     `toml:"accept_2xx"`       // admit on any 2xx instead
	TimelimitHeader string   `toml:"timelimit_header"` // default "icecast-auth-timelimit"
	Headers         []string `toml:"headers"`          // client headers passed on
	HeaderPrefix    string   `toml:"header_prefix"`    // default "ClientHeader."
	Timeout         Duration `toml:"timeout"`          // default 5 s
}

// ServerSection is [server].
type ServerSection struct {
	Listen         []string       `toml:"listen"`
	AdminAllow     []netip.Prefix `toml:"admin_allow"`
	TrustedProxies []netip.Prefix `toml:"trusted_proxies"`
	AccessLog      string         `toml:"access_log"` // a path: the caller opens it
	ServerID       string         `toml:"server_id"`
	Hostname       string         `toml:"hostname"` // for listen URLs in status documents
	Location       string         `toml:"location"`
	Admin          string         `toml:"admin"`     // contact shown in status documents
	ErrorLog       string         `toml:"error_log"` // a path ("/dev/stderr" too): the caller opens it
	LogLevel       string         `toml:"log_level"` // debug, info, warn or error
	Webroot        string         `toml:"webroot"`   // intro files and file fallbacks are found here
	// Aliases map request paths to others ("/" = "/status.xsl").
	Aliases map[string]string `toml:"aliases"`
	// ShoutcastMount takes Shoutcast (ICY) sources on the port after the
	// first listen address's, as Icecast's <shoutcast-mount>;
	// ShoutcastListen names the addresses instead.
	ShoutcastMount  MountName `toml:"shoutcast_mount"`
	ShoutcastListen []string  `toml:"shoutcast_listen"`
	// APICORS are the origins allowed to call /api/v1 from a browser.
	APICORS []string `toml:"api_cors"`
	// User and Group are taken when started as root, after the sockets
	// are open (Icecast's <changeowner>).
	User  string `toml:"user"`
	Group string `toml:"group"`
}

// AuthSection is [auth].
type AuthSection struct {
	SourceUser     string `toml:"source_user"`
	SourcePassword string `toml:"source_password"`
	AdminUser      string `toml:"admin_user"`
	AdminPassword  string `toml:"admin_password"`
	// Edge servers read the stream list with these (Icecast's
	// <relay-user>, default "relay", and <relay-password>).
	RelayUser     string `toml:"relay_user"`
	RelayPassword string `toml:"relay_password"`
}

// LimitsSection is [limits].
type LimitsSection struct {
	Clients       int          `toml:"clients"`
	Sources       int          `toml:"sources"`
	MaxListeners  int          `toml:"max_listeners"`
	QueueSize     Size         `toml:"queue_size"`
	BurstSize     Size         `toml:"burst_size"`
	SourceTimeout Duration     `toml:"source_timeout"`
	HeaderTimeout Duration     `toml:"header_timeout"`
	WriteTimeout  Duration     `toml:"write_timeout"`
	MetaInt       int          `toml:"metaint"`
	Grace         Duration     `toml:"grace"`
	SlowListener  SlowListener `toml:"slow_listener"`
	Latency       Duration     `toml:"latency"` // longest a byte waits before listeners get it
}

// MountSection is one [[mount]].
type MountSection struct {
	Name             MountName    `toml:"name"`
	Username         string       `toml:"username"`
	Password         string       `toml:"password"`
	MaxListeners     int          `toml:"max_listeners"`
	BurstSize        Size         `toml:"burst_size"`
	SlowListener     SlowListener `toml:"slow_listener"`
	Latency          Duration     `toml:"latency"`
	Grace            Duration     `toml:"grace"`
	Hidden           bool         `toml:"hidden"`
	Fallback         MountName    `toml:"fallback"`
	FallbackOverride *bool        `toml:"fallback_override"` // default true: come back when the source returns
	DumpFile         string       `toml:"dump_file"`
	Public           *bool        `toml:"public"`
	Charset          Charset      `toml:"charset"`
	StreamName       string       `toml:"stream_name"`
	StreamDesc       string       `toml:"stream_description"`
	Genre            string       `toml:"genre"`
	URL              string       `toml:"url"`
	Bitrate          string       `toml:"bitrate"`
	// MaxListenerDuration disconnects a listener after this long.
	MaxListenerDuration Duration        `toml:"max_listener_duration"`
	Intro               string          `toml:"intro"`      // sent to each new listener first; relative to webroot
	LimitRate           Size            `toml:"limit_rate"` // most a source may send, bits per second
	OnConnect           string          `toml:"on_connect"` // program run with the mount as argument
	OnDisconnect        string          `toml:"on_disconnect"`
	Auth                *URLAuthSection `toml:"auth"`
	MountAnalysis                       // analyze, silence_threshold, silence_after, on_silence
}

// RelaySection is one [[relay]]: a mount pulled from other servers. The
// JSON API (POST /api/v1/relays) takes the same keys.
type RelaySection struct {
	Mount       MountName `toml:"mount" json:"mount"`
	Upstreams   []string  `toml:"upstreams" json:"upstreams"`       // http:// URLs, tried in order
	OnDemand    bool      `toml:"on_demand" json:"on_demand"`       // connect only while someone listens
	ICYMetadata *bool     `toml:"icy_metadata" json:"icy_metadata"` // default true: titles come along
	Retry       Duration  `toml:"retry" json:"retry"`               // first retry; 0 = the engine's 2 s
}

// MasterSection is [master]: mirror every mount of another server, as an
// Icecast edge with <master-server> does.
type MasterSection struct {
	URL            string   `toml:"url"`
	User           string   `toml:"user"` // default "relay"
	Password       string   `toml:"password"`
	UpdateInterval Duration `toml:"update_interval"` // 0 = the engine's 30 s
	OnDemand       bool     `toml:"on_demand"`
	ICYMetadata    *bool    `toml:"icy_metadata"` // default true
}

// PushSection is one [[push]]: a local mount sent to another server as
// its source. The engine checks it (a bad one is reported at its line).
type PushSection struct {
	Mount  MountName `toml:"mount"`
	URL    string    `toml:"url"`    // http://source:PW@host:port/mount, or icecast:// as ffmpeg writes it
	Method string    `toml:"method"` // "put" (default) or "source"
	Retry  Duration  `toml:"retry"`  // first retry; 0 = the engine's 2 s
}

// RedirectSection is [redirect]: listeners are sent to the least loaded
// of these edges that carries their mount.
type RedirectSection struct {
	Edges   []string `toml:"edges"`
	Refresh Duration `toml:"refresh"` // how often the edges' loads are read; 0 = 5 s
}

// maxRelayRetry is the engine's longest first retry.
const maxRelayRetry = time.Minute

// problem is one thing wrong with a key of a section.
type problem struct{ key, msg string }

// check lists what is wrong with the relay; the messages never show an
// upstream's password.
func (r RelaySection) check() []problem {
	var ps []problem
	name := string(r.Mount)
	if name == "" {
		ps = append(ps, problem{"mount", "relay has no mount (the local mount it feeds)"})
		name = "(no mount)"
	}
	if len(r.Upstreams) == 0 {
		ps = append(ps, problem{"upstreams", fmt.Sprintf("relay %s: upstreams is empty (give at least one http:// URL)", name)})
	}
	for _, u := range r.Upstreams {
		if err := checkHTTPURL(u, true); err != nil {
			ps = append(ps, problem{"upstreams", fmt.Sprintf("relay %s: upstream %s: %v", name, strconv.Quote(redactURL(u)), err)})
		}
	}
	if r.Retry < 0 || time.Duration(r.Retry) > maxRelayRetry {
		ps = append(ps, problem{"retry", fmt.Sprintf("relay %s: retry must be between 0s and %s, got %s", name, maxRelayRetry, time.Duration(r.Retry))})
	}
	return ps
}

// Config is the relay as the engine takes it.
func (r RelaySection) Config() engine.RelayConfig {
	return engine.RelayConfig{
		Mount: string(r.Mount), Upstreams: append([]string(nil), r.Upstreams...), OnDemand: r.OnDemand,
		ICYMetadata: r.ICYMetadata == nil || *r.ICYMetadata, Retry: time.Duration(r.Retry),
	}
}

func (m MasterSection) check() []problem {
	var ps []problem
	switch {
	case m.URL == "":
		ps = append(ps, problem{"url", "master.url is missing (e.g. \"http://origin:8000\")"})
	default:
		if err := checkHTTPURL(m.URL, false); err != nil {
			ps = append(ps, problem{"url", fmt.Sprintf("master.url %s: %v", strconv.Quote(redactURL(m.URL)), err)})
		} else if pu, _ := url.Parse(m.URL); pu.User != nil {
			ps = append(ps, problem{"url", "master.url: put the credentials in master.user and master.password, not in the URL"})
		}
	}
	if m.Password == "" {
		ps = append(ps, problem{"password", "master.password is missing (the master's relay password)"})
	}
	if d := time.Duration(m.UpdateInterval); d != 0 && (d < time.Second || d > 24*time.Hour) {
		ps = append(ps, problem{"update_interval", fmt.Sprintf("master.update_interval must be between 1s and 24h0m0s, got %s", d)})
	}
	return ps
}

// Config is the master as the engine takes it.
func (m MasterSection) Config() *engine.MasterConfig {
	user := m.User
	if user == "" {
		user = "relay"
	}
	return &engine.MasterConfig{
		URL: strings.TrimRight(m.URL, "/"), User: user, Password: m.Password, UpdateInterval: time.Duration(m.UpdateInterval),
		OnDemand: m.OnDemand, ICYMetadata: m.ICYMetadata == nil || *m.ICYMetadata,
	}
}

// checkHTTPURL accepts what the engine can dial: http://host[:port], with
// a path when path is true.
func checkHTTPURL(s string, path bool) error { return checkURL(s, path, false) }

// checkURL is checkHTTPURL taking https:// too when https is true (the
// authentication hooks are asked with net/http).
func checkURL(s string, path, https bool) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return errors.New("not a URL")
	case https && u.Scheme != "http" && u.Scheme != "https":
		return errors.New("not an http:// or https:// URL")
	case !https && u.Scheme != "http":
		return errors.New("not an http:// URL (https is not supported)")
	case u.Host == "" || u.Hostname() == "":
		return errors.New("no host")
	case u.Port() != "":
		if n, err := strconv.Atoi(u.Port()); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %q is not between 1 and 65535", u.Port())
		}
	}
	if path && (u.Path == "" || u.Path == "/") {
		return errors.New("no mount path (e.g. http://origin:8000/live.mp3)")
	}
	if u.Fragment != "" {
		return errors.New("has a #fragment")
	}
	return nil
}

// redactURL hides a URL's password, as the API's documents do.
var redactURL = apidoc.RedactURL

// Duration is a TOML string such as "10s" or "1m30s". Its range is
// checked with every other setting's, by engine.Config.Validate.
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration (e.g. \"10s\", \"1m30s\")", b)
	}
	*d = Duration(v)
	return nil
}

// Size is a byte count: an integer, or a string with a binary suffix
// ("64k", "64KiB", "1M", "1MiB"). Only the syntax is checked here; the
// range is engine.Config.Validate's.
type Size int

// UnmarshalTOML implements toml.Unmarshaler.
func (s *Size) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		if int64(int(x)) != x {
			return fmt.Errorf("size %d is too large", x)
		}
		*s = Size(x)
		return nil
	case string:
		t := strings.TrimSpace(strings.ToLower(x))
		mult := int64(1)
		for _, suf := range []struct {
			s string
			m int64
		}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"kb", 1 << 10}, {"mb", 1 << 20}, {"k", 1 << 10}, {"m", 1 << 20}, {"b", 1}} {
			if strings.HasSuffix(t, suf.s) {
				t, mult = strings.TrimSpace(strings.TrimSuffix(t, suf.s)), suf.m
				break
			}
		}
		n, err := strconv.ParseInt(t, 10, 32) // 32 bits: n*mult cannot overflow
		if err != nil {
			return fmt.Errorf("%q is not a size (bytes, or with k/KiB, M/MiB)", x)
		}
		*s = Size(n * mult)
		return nil
	}
	return fmt.Errorf("a size is an integer or a string like \"64KiB\", not %T", v)
}

// SlowListener is "drop" or "skip".
type SlowListener engine.SlowPolicy

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *SlowListener) UnmarshalText(b []byte) error {
	switch v := engine.SlowPolicy(b); v {
	case engine.SlowDrop, engine.SlowSkip:
		*p = SlowListener(v)
		return nil
	}
	return fmt.Errorf("slow_listener is \"drop\" or \"skip\", not %q", b)
}

// MountName is a mount path such as "/live.mp3".
type MountName string

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *MountName) UnmarshalText(b []byte) error {
	if err := engine.CheckMountName(string(b)); err != nil {
		return fmt.Errorf("mount %q: %v", b, err)
	}
	*m = MountName(b)
	return nil
}

// Charset is a metadata charset icedeck converts from.
type Charset string

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *Charset) UnmarshalText(b []byte) error {
	n := normCharset(string(b))
	if n == "" {
		return fmt.Errorf("charset %q is not supported (UTF-8, ISO-8859-1, windows-1252)", b)
	}
	*c = Charset(n)
	return nil
}

// ConfigError is one problem in a configuration file.
type ConfigError struct {
	File string
	Line int // 0 when unknown
	Msg  string
}

func (e *ConfigError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

var tomlPrefix = regexp.MustCompile(`^toml: (?:line (\d+)(?: \(last key "([^"]*)"\))?: |\(last key "([^"]*)"\): )?`)

// LoadConfig reads and checks a configuration: an icecast.xml when its
// root element is <icecast>, TOML otherwise. Every problem it reports
// names the file and, where it can be found, the line.
func LoadConfig(path string) (File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return File{}, err
	}
	return ParseConfig(path, data)
}

// ParseConfig is LoadConfig on data already read; name is used in errors.
// Both formats fill the same File and go through the same checks.
func ParseConfig(name string, data []byte) (File, error) {
	var (
		f    File
		errs []error // each at its line; all are reported
		err  error   // the file could not be read at all
	)
	if isXMLConfig(data) {
		f, errs, err = parseIcecastXML(name, data)
	} else {
		f, errs, err = parseTOML(name, data)
	}
	if err != nil {
		return File{}, err
	}
	f.Path = name
	if errs = append(errs, f.check()...); len(errs) > 0 {
		return File{}, errors.Join(errs...)
	}
	// The ranges, with the engine's own rule, on the defaults as the
	// command line starts from: a file this accepts starts an engine.
	cfg := engine.Defaults()
	f.Apply(&cfg)
	for _, err := range flatten(cfg.Validate()) {
		ce := &ConfigError{File: name, Msg: err.Error()}
		if se, ok := err.(*engine.SettingError); ok {
			ce.Line = f.line(se)
		} else {
			ce.Line = f.sectionLine(err.Error())
		}
		errs = append(errs, ce)
	}
	if len(errs) > 0 {
		return File{}, errors.Join(errs...)
	}
	return f, nil
}

// parseTOML decodes a TOML configuration; keys it does not know are
// errors at their lines.
func parseTOML(name string, data []byte) (File, []error, error) {
	f := File{Format: "toml"}
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			msg := pe.Message
			if msg == "" {
				msg = tomlPrefix.ReplaceAllString(pe.Error(), "")
			}
			if pe.LastKey != "" {
				msg = pe.LastKey + ": " + msg
			}
			return File{}, nil, &ConfigError{File: name, Line: pe.Position.Line, Msg: msg}
		}
		ce := &ConfigError{File: name, Msg: err.Error()}
		if m := tomlPrefix.FindStringSubmatch(err.Error()); m != nil && m[0] != "" {
			ce.Line, _ = strconv.Atoi(m[1])
			key := m[2] + m[3]
			ce.Msg = strings.TrimPrefix(err.Error(), m[0])
			if key != "" {
				ce.Msg = key + ": " + ce.Msg
			}
		}
		return File{}, nil, ce
	}
	f.lines = newKeyLines(data)
	var errs []error
	for _, k := range md.Undecoded() {
		errs = append(errs, &ConfigError{File: name, Line: f.lines.find(k), Msg: fmt.Sprintf("unknown key %q", k.String())})
	}
	return f, errs, nil
}

// check runs the checks both formats share, each problem at the line of
// its key (or element).
func (f File) check() []error {
	lines := f.lines
	var errs []error
	bad := func(line int, format string, args ...any) {
		errs = append(errs, &ConfigError{File: f.Path, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	hostPorts := func(table, key string, addrs []string) {
		for i, a := range addrs {
			if _, _, err := net.SplitHostPort(a); err != nil {
				bad(lines.at(table, -1, key), "%s.%s[%d] %q: not host:port (\":8000\", \"127.0.0.1:8000\")", table, key, i, a)
			}
		}
	}
	hostPorts("server", "listen", f.Server.Listen)
	hostPorts("server", "shoutcast_listen", f.Server.ShoutcastListen)
	if t := f.TLS; t != nil {
		hostPorts("tls", "listen", t.Listen)
		if len(t.Listen) > 0 && t.Cert == "" {
			bad(lines.at("tls", -1, "cert"), "tls.cert is missing: the PEM certificate the TLS addresses present (with its key, unless tls.key names it)")
		}
	}
	switch f.Server.LogLevel {
	case "", "debug", "info", "warn", "error":
	default:
		bad(lines.at("server", -1, "log_level"), "server.log_level is debug, info, warn or error, not %q", f.Server.LogLevel)
	}
	for _, src := range slices.Sorted(maps.Keys(f.Server.Aliases)) {
		if dst := f.Server.Aliases[src]; !strings.HasPrefix(src, "/") || !strings.HasPrefix(dst, "/") {
			bad(lines.at("server.aliases", -1, src), "alias %q = %q: both are paths starting with /", src, dst)
		}
	}
	for _, o := range f.Server.APICORS {
		if err := checkOrigin(o); err != nil {
			bad(lines.at("server", -1, "api_cors"), "server.api_cors %q: %v", o, err)
		}
	}
	for k, v := range f.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n\t") {
			bad(lines.at("headers", -1, k), "headers: %q is not a header name", k)
		} else if strings.ContainsAny(v, "\r\n") {
			bad(lines.at("headers", -1, k), "headers: the value of %s has a line break", k)
		}
	}
	seen := map[MountName]int{}
	for i, m := range f.Mounts {
		if m.Name == "" {
			bad(lines.table("mount", i), "mount #%d has no name", i+1)
			continue
		}
		if j, dup := seen[m.Name]; dup {
			bad(lines.at("mount", i, "name"), "mount %s is defined twice (first at line %d)", m.Name, lines.at("mount", j, "name"))
		}
		seen[m.Name] = i
		if m.Fallback == m.Name {
			bad(lines.at("mount", i, "fallback"), "mount %s falls back to itself", m.Name)
		}
		if err := checkStrftime(m.DumpFile); err != nil {
			bad(lines.at("mount", i, "dump_file"), "mount %s: dump_file: %v", m.Name, err)
		}
		if a := m.Auth; a != nil {
			for _, u := range []struct{ key, url string }{
				{"listener_add", a.ListenerAdd}, {"listener_remove", a.ListenerRemove}, {"mount_add", a.MountAdd}, {"mount_remove", a.MountRemove},
			} {
				if u.url == "" {
					continue
				}
				if err := checkURL(u.url, false, true); err != nil {
					bad(lines.at("mount.auth", i, u.key), "mount %s: auth.%s %s: %v", m.Name, u.key, strconv.Quote(redactURL(u.url)), err)
				}
			}
		}
	}
	relays := map[MountName]int{}
	for i, r := range f.Relays {
		for _, p := range r.check() {
			bad(lines.at("relay", i, p.key), "%s", p.msg)
		}
		if r.Mount == "" {
			continue
		}
		if j, dup := relays[r.Mount]; dup {
			bad(lines.at("relay", i, "mount"), "relay %s is defined twice (first at line %d)", r.Mount, lines.at("relay", j, "mount"))
		}
		relays[r.Mount] = i
	}
	if f.Master != nil {
		for _, p := range f.Master.check() {
			bad(lines.at("master", -1, p.key), "%s", p.msg)
		}
	}
	// Fallback loops: follow each chain; coming back to a mount already
	// on it is a loop (a chain may end at a mount not configured here).
	reported := map[MountName]bool{}
	for i, m := range f.Mounts {
		if m.Fallback == "" || m.Fallback == m.Name {
			continue
		}
		chain := []MountName{m.Name}
		on := map[MountName]bool{m.Name: true}
		for cur := m.Fallback; cur != ""; {
			if on[cur] {
				if !reported[cur] {
					for _, c := range chain {
						reported[c] = true
					}
					bad(lines.at("mount", i, "fallback"), "fallback loop: %s", joinChain(append(chain, cur)))
				}
				break
			}
			on[cur] = true
			chain = append(chain, cur)
			j, ok := seen[cur]
			if !ok {
				break
			}
			cur = f.Mounts[j].Fallback
		}
	}
	errs = append(errs, f.checkRemotes()...)
	return append(errs, f.checkAnalysis()...)
}

// checkOrigin accepts a browser origin, scheme://host[:port], or "*".
func checkOrigin(s string) error {
	if s == "*" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#") {
		return errors.New(`not an origin (scheme://host[:port], e.g. "https://panel.example", or "*")`)
	}
	return nil
}

// Locate turns each *engine.SettingError in err whose value this file
// sets into a *ConfigError with the file's name and the key's line, so a
// range error reads like every other configuration error. fromFlag
// reports whether a command-line flag set the value instead (nil: none
// did); those, and settings the file leaves out, stay as they are.
func (f File) Locate(err error, fromFlag func(flag string) bool) error {
	if err == nil || f.lines == nil {
		return err
	}
	errs := slices.Clone(flatten(err)) // not the caller's joined error's own slice
	for i, e := range errs {
		se, ok := e.(*engine.SettingError)
		if !ok || se.Flag != "" && fromFlag != nil && fromFlag(se.Flag) {
			continue
		}
		if line := f.line(se); line > 0 {
			errs[i] = &ConfigError{File: f.Path, Line: line, Msg: se.Error()}
		}
	}
	return errors.Join(errs...)
}

// line is where the file sets the setting se names, or 0.
func (f File) line(se *engine.SettingError) int {
	if se.Mount == "" {
		table, key, ok := strings.Cut(se.Key, ".")
		if !ok {
			return 0 // not a file setting
		}
		return f.lines.exact(table, -1, key)
	}
	for i, m := range f.Mounts {
		if string(m.Name) == se.Mount {
			if l := f.lines.exact("mount", i, se.Key); l > 0 {
				return l
			}
			return f.lines.table("mount", i)
		}
	}
	return 0
}

// sectionLine finds the [[relay]], [master], [[push]] or [redirect] an
// engine error without a setting name is about ("relay /live.mp3: …",
// "master: …", "push /live.mp3: …", "redirect: …"), or 0.
func (f File) sectionLine(msg string) int {
	relays := make([]MountName, len(f.Relays))
	for i, r := range f.Relays {
		relays[i] = r.Mount
	}
	pushes := make([]MountName, len(f.Pushes))
	for i, p := range f.Pushes {
		pushes[i] = p.Mount
	}
	for _, sec := range []struct {
		table  string
		mounts []MountName // nil for a single section
	}{{"relay", relays}, {"push", pushes}, {"master", nil}, {"redirect", nil}} {
		if sec.mounts == nil {
			if strings.HasPrefix(msg, sec.table+":") {
				return f.lines.table(sec.table, -1)
			}
			continue
		}
		rest, ok := strings.CutPrefix(msg, sec.table+" ")
		if !ok {
			continue
		}
		mount, _, _ := strings.Cut(rest, ":")
		if i := slices.Index(sec.mounts, MountName(strings.Trim(mount, `"`))); i >= 0 {
			return f.lines.table(sec.table, i)
		}
	}
	return 0
}

// flatten lists the errors errors.Join put together (err itself if it is
// a single one, none if nil).
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func joinChain(c []MountName) string {
	s := make([]string, len(c))
	for i, m := range c {
		s[i] = string(m)
	}
	return strings.Join(s, " -> ")
}

// checkStrftime accepts the conversions a dump file name may use.
func checkStrftime(p string) error {
	for i := 0; i < len(p); i++ {
		if p[i] != '%' {
			continue
		}
		if i+1 >= len(p) {
			return errors.New("ends with a lone %")
		}
		i++
		if !strings.ContainsRune("YmdHMS%", rune(p[i])) {
			return fmt.Errorf("unknown conversion %%%c (%%Y %%m %%d %%H %%M %%S and %%%% are)", p[i])
		}
	}
	return nil
}

// Apply copies the settings the engine has into cfg, over what cfg holds
// already; keys the file leaves out keep cfg's values. A header set to ""
// removes that header (e.g. to turn CORS off). engine.New checks the
// result.
func (f File) Apply(cfg *engine.Config) {
	s := f.Server
	if len(s.Listen) > 0 {
		cfg.Listen = append([]string(nil), s.Listen...)
	}
	set(&cfg.ServerID, s.ServerID)
	if len(s.TrustedProxies) > 0 {
		cfg.TrustedProxies = append([]netip.Prefix(nil), s.TrustedProxies...)
	}
	set(&cfg.Webroot, s.Webroot)
	if len(s.Aliases) > 0 {
		cfg.Aliases = maps.Clone(s.Aliases)
	}
	if t := f.TLS; t != nil {
		set(&cfg.TLSCert, t.Cert)
		set(&cfg.TLSKey, t.Key)
	}
	a := f.Auth
	set(&cfg.SourceUser, a.SourceUser)
	set(&cfg.SourcePassword, a.SourcePassword)
	l := f.Limits
	set(&cfg.MaxClients, l.Clients)
	set(&cfg.MaxSources, l.Sources)
	set(&cfg.MaxListeners, l.MaxListeners)
	set(&cfg.QueueSize, int(l.QueueSize))
	set(&cfg.BurstSize, int(l.BurstSize))
	set(&cfg.SourceTimeout, time.Duration(l.SourceTimeout))
	set(&cfg.HeaderTimeout, time.Duration(l.HeaderTimeout))
	set(&cfg.WriteTimeout, time.Duration(l.WriteTimeout))
	set(&cfg.MetaInt, l.MetaInt)
	set(&cfg.Grace, time.Duration(l.Grace))
	set(&cfg.SlowListener, engine.SlowPolicy(l.SlowListener))
	set(&cfg.Latency, time.Duration(l.Latency))
	if len(f.Headers) > 0 {
		h := make(map[string]string, len(cfg.Headers)+len(f.Headers))
		for k, v := range cfg.Headers {
			h[k] = v
		}
		for k, v := range f.Headers {
			if v == "" {
				delete(h, k)
			} else {
				h[k] = v
			}
		}
		cfg.Headers = h
	}
	if len(f.Mounts) > 0 {
		mounts := make(map[string]engine.MountConfig, len(cfg.Mounts)+len(f.Mounts))
		for k, v := range cfg.Mounts {
			mounts[k] = v
		}
		for _, m := range f.Mounts {
			mc := engine.MountConfig{
				Username: m.Username, Password: m.Password, MaxListeners: m.MaxListeners, BurstSize: int(m.BurstSize),
				SlowListener: engine.SlowPolicy(m.SlowListener), Latency: time.Duration(m.Latency), Grace: time.Duration(m.Grace), Hidden: m.Hidden,
				Fallback: string(m.Fallback), FallbackStay: m.FallbackOverride != nil && !*m.FallbackOverride,
				DumpFile: m.DumpFile, StreamName: m.StreamName, StreamDescription: m.StreamDesc, Charset: string(m.Charset),
				Genre: m.Genre, URL: m.URL, Bitrate: m.Bitrate, MaxListenerDuration: time.Duration(m.MaxListenerDuration),
				Intro: m.Intro, LimitRate: int(m.LimitRate), OnConnect: m.OnConnect, OnDisconnect: m.OnDisconnect,
			}
			mc.OnSilence = f.onSilence(m)
			if a := m.Auth; a != nil {
				mc.Auth = &engine.URLAuth{
					ListenerAdd: a.ListenerAdd, ListenerRemove: a.ListenerRemove, MountAdd: a.MountAdd, MountRemove: a.MountRemove,
					Username: a.Username, Password: a.Password, AuthHeader: a.AuthHeader, Accept2xx: a.Accept2xx,
					TimelimitHeader: a.TimelimitHeader, Headers: append([]string(nil), a.Headers...), HeaderPrefix: a.HeaderPrefix,
					Timeout: time.Duration(a.Timeout),
				}
			}
			if m.Public != nil {
				mc.Public = "0"
				if *m.Public {
					mc.Public = "1"
				}
			}
			mounts[string(m.Name)] = mc
		}
		cfg.Mounts = mounts
	}
	for _, r := range f.Relays {
		cfg.Relays = append(cfg.Relays, r.Config())
	}
	if f.Master != nil {
		cfg.Master = f.Master.Config()
	}
	for _, p := range f.Pushes {
		cfg.Pushes = append(cfg.Pushes, engine.PushConfig{Mount: string(p.Mount), URL: p.URL, Method: p.Method, Retry: time.Duration(p.Retry)})
	}
	if r := f.Redirect; r != nil {
		cfg.Redirect = &engine.RedirectConfig{Edges: append([]string(nil), r.Edges...), Refresh: time.Duration(r.Refresh)}
	}
}

// ApplyOptions copies the control plane's settings into o.
func (f File) ApplyOptions(o *Options) {
	if len(f.Server.AdminAllow) > 0 {
		o.AdminAllow = append([]netip.Prefix(nil), f.Server.AdminAllow...)
	}
	set(&o.Host, f.Server.Hostname)
	set(&o.Location, f.Server.Location)
	set(&o.Admin, f.Server.Admin)
	set(&o.AdminUser, f.Auth.AdminUser)
	set(&o.AdminPassword, f.Auth.AdminPassword)
	set(&o.RelayUser, f.Auth.RelayUser)
	set(&o.RelayPassword, f.Auth.RelayPassword)
	if len(f.Server.APICORS) > 0 {
		o.APICORS = append([]string(nil), f.Server.APICORS...)
	}
}

func set[T comparable](dst *T, v T) {
	var zero T
	if v != zero {
		*dst = v
	}
}

// keyLines finds where keys are in a TOML file, for error messages about
// values the decoder accepted but icedeck does not. It understands the
// plain layout configs use: [table], [[array]], key = value.
type keyLines struct {
	entries []keyLine
}

type keyLine struct {
	table string // "server", "mount", "" for the top
	index int    // which [[table]], -1 for [table]
	key   string // "" for the header line itself
	line  int
}

func newKeyLines(data []byte) *keyLines {
	kl := &keyLines{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	table, index := "", -1
	counts := map[string]int{}
	array, arrayIndex := "", -1 // the last [[array]] header
	for n := 1; sc.Scan(); n++ {
		t := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(t, "[["):
			end := strings.Index(t, "]]")
			if end < 0 {
				continue
			}
			table = strings.TrimSpace(t[2:end])
			index = counts[table]
			counts[table]++
			array, arrayIndex = table, index
			kl.entries = append(kl.entries, keyLine{table: table, index: index, line: n})
		case strings.HasPrefix(t, "["):
			end := strings.Index(t, "]")
			if end < 0 {
				continue
			}
			table, index = strings.TrimSpace(t[1:end]), -1
			// [mount.auth] after [[mount]] belongs to that mount.
			if array != "" && strings.HasPrefix(table, array+".") {
				index = arrayIndex
			}
			kl.entries = append(kl.entries, keyLine{table: table, index: index, line: n})
		default:
			k, _, ok := strings.Cut(t, "=")
			if !ok || strings.HasPrefix(t, "#") {
				continue
			}
			k = strings.TrimSpace(k)
			t := table
			// A dotted key (limits.metaint = 1 at the top) is key metaint
			// of table limits.
			if i := strings.LastIndex(k, "."); i > 0 && !strings.ContainsAny(k, `"'`) {
				t = strings.Trim(t+"."+strings.TrimSpace(k[:i]), ".")
				k = strings.TrimSpace(k[i+1:])
			}
			k = strings.Trim(k, `"'`)
			kl.entries = append(kl.entries, keyLine{table: t, index: index, key: k, line: n})
		}
	}
	return kl
}

// at is the line of key in table (index: which [[table]], -1 for any);
// the table's header line when the key is not written; 0 if neither.
func (kl *keyLines) at(table string, index int, key string) int {
	if l := kl.exact(table, index, key); l > 0 {
		return l
	}
	return kl.table(table, index)
}

// exact is the line of key in table, or 0 when the file does not set it.
func (kl *keyLines) exact(table string, index int, key string) int {
	for _, e := range kl.entries {
		if e.table == table && (index < 0 || e.index == index) && e.key == key {
			return e.line
		}
	}
	return 0
}

func (kl *keyLines) table(table string, index int) int {
	for _, e := range kl.entries {
		if e.table == table && e.key == "" && (index < 0 || e.index == index) {
			return e.line
		}
	}
	return 0
}

// find locates an undecoded key such as server.lisen or mount.fallbak.
func (kl *keyLines) find(k toml.Key) int {
	if len(k) == 0 {
		return 0
	}
	table := strings.Join(k[:len(k)-1], ".")
	return kl.at(table, -1, k[len(k)-1])
}
