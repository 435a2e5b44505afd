package control

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine"
)

// warned lists a file's warnings as "LINE <element path>", the part of
// each that must not change; the reasons are free to improve.
func warned(f File) []string {
	var got []string
	for _, w := range f.Warnings {
		path, _, _ := strings.Cut(w.Msg, ": ")
		got = append(got, fmt.Sprintf("%d %s", w.Line, path))
	}
	return got
}

func loadFixture(t *testing.T, name string) (File, engine.Config, Options) {
	t.Helper()
	f, err := LoadConfig(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if f.Format != "icecast" {
		t.Fatalf("format %q", f.Format)
	}
	for _, w := range f.Warnings {
		if w.File != filepath.Join("testdata", name) || w.Line <= 0 || !strings.HasPrefix(w.Msg, "<") {
			t.Errorf("warning without file, line or element: %#v", w)
		}
	}
	cfg := engine.Defaults()
	f.Apply(&cfg)
	var o Options
	f.ApplyOptions(&o)
	return f, cfg, o
}

func sameList(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

// Debian's own /etc/icecast2/icecast.xml, verbatim: what it sets reaches
// the engine and the control plane, and exactly the four elements icedeck
// does not honour are reported, each at its line.
func TestIcecastXMLDebian(t *testing.T) {
	f, cfg, o := loadFixture(t, "debian-icecast.xml")
	sameList(t, "warnings", warned(f), []string{
		"19 <limits><client-timeout>",
		"190 <fileserve>",
		"200 <paths><adminroot>",
		"226 <logging><logsize>",
	})
	if cfg.SourcePassword != "hackme" || cfg.MaxClients != 100 || cfg.MaxSources != 2 || cfg.QueueSize != 524288 ||
		cfg.BurstSize != 65535 || cfg.SourceTimeout != 10*time.Second || cfg.HeaderTimeout != 15*time.Second {
		t.Errorf("limits and passwords: %+v", cfg)
	}
	sameList(t, "listen", cfg.Listen, []string{":8000"})
	if cfg.Headers["Access-Control-Allow-Origin"] != "*" || cfg.Webroot != "/usr/share/icecast2/web" ||
		!reflect.DeepEqual(cfg.Aliases, map[string]string{"/": "/status.xsl"}) {
		t.Errorf("headers, webroot, aliases: %v %q %v", cfg.Headers, cfg.Webroot, cfg.Aliases)
	}
	if o.AdminUser != "admin" || o.AdminPassword != "hackme" || o.RelayPassword != "hackme" || o.Host != "localhost" ||
		o.Location != "Earth" || o.Admin != "icemaster@localhost" {
		t.Errorf("options: %+v", o)
	}
	// Log names are under <logdir>, as Icecast opens them; loglevel 3 is info.
	s := f.Server
	if s.AccessLog != "/var/log/icecast2/access.log" || s.ErrorLog != "/var/log/icecast2/error.log" || s.LogLevel != "info" {
		t.Errorf("logging: %+v", s)
	}
	if len(f.Mounts) != 0 || len(f.Relays) != 0 || f.Master != nil || f.TLS != nil || s.ShoutcastMount != "" {
		t.Errorf("commented-out sections were read: %+v", f)
	}
	if _, err := engine.New(cfg); err != nil {
		t.Fatal(err)
	}
}

// A configuration as a radio platform generates it, with every element
// issue 11 lists: mounts (file fallbacks kept as written), URL
// authentication, the relay, the master, TLS, Shoutcast, listener policy
// files and logging all land where the engine and the control plane read
// them, and only the elements icedeck does not honour are reported.
func TestIcecastXMLPlatform(t *testing.T) {
	f, cfg, o := loadFixture(t, "platform-icecast.xml")
	sameList(t, "warnings", warned(f), []string{
		"15 <limits><client-timeout>",
		"39 <mount><listenurl>",
		"67 <mount><fallback-when-full>",
		"80 <mount><authentication><option>", // stream_auth
		"83 <fileserve>",
		"88 <paths><adminroot>",
		"89 <paths><pidfile>",
		"93 <paths><ssl-allowed-ciphers>",
		"104 <logging><logsize>",
	})
	if cfg.MaxClients != 2500 || cfg.MaxSources != 3 || cfg.SourcePassword != "src-Pw1" || o.AdminPassword != "adm-Pw3" ||
		o.RelayPassword != "rel-Pw2" || o.Host != "radio.example.org" || o.Location != "AzuraCast" {
		t.Errorf("globals: %+v %+v", cfg, o)
	}
	sameList(t, "listen", cfg.Listen, []string{":8000"})
	s := f.Server
	if s.ShoutcastMount != "/radio.mp3" || !reflect.DeepEqual(s.ShoutcastListen, []string{":8001"}) {
		t.Errorf("shoutcast: %q %v", s.ShoutcastMount, s.ShoutcastListen)
	}
	if f.TLS == nil || !reflect.DeepEqual(f.TLS.Listen, []string{"0.0.0.0:8443"}) ||
		cfg.TLSCert != "/var/azuracast/storage/acme/ssl.crt" || cfg.TLSKey != "/var/azuracast/storage/acme/ssl.key" {
		t.Errorf("tls: %+v, cert %q key %q", f.TLS, cfg.TLSCert, cfg.TLSKey)
	}
	wantProxies := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("172.16.0.0/12")}
	if !reflect.DeepEqual(cfg.TrustedProxies, wantProxies) {
		t.Errorf("trusted proxies %v", cfg.TrustedProxies)
	}
	const dir = "/var/azuracast/stations/radio_sample/config/"
	if f.Access != (AccessSection{DenyIPFile: dir + "ip_bans.txt", AllowIPFile: dir + "ip_allow.txt", DenyAgentsFile: dir + "user_agent_bans.txt"}) {
		t.Errorf("access: %+v", f.Access)
	}
	if s.AccessLog != dir+"icecast_access.log" || s.ErrorLog != "/dev/stderr" || s.LogLevel != "warn" || s.User != "azuracast" || s.Group != "azuracast" {
		t.Errorf("server: %+v", s)
	}
	if cfg.Headers["X-Station"] != "radio_sample" || cfg.Aliases["/"] != "/status.xsl" {
		t.Errorf("headers %v aliases %v", cfg.Headers, cfg.Aliases)
	}

	mp3 := cfg.Mounts["/radio.mp3"]
	if mp3.Charset != "utf-8" || mp3.StreamName != "Radio Sample" || mp3.StreamDescription != "Songs & shows" ||
		mp3.URL != "https://radio.example.org" || mp3.Genre != "Various" || mp3.LimitRate != 133572 ||
		mp3.Intro != "../../../../var/azuracast/stations/radio_sample/config/intro.mp3" ||
		mp3.Fallback != "/fallback-[128].mp3" || mp3.FallbackStay || mp3.MaxListenerDuration != time.Hour || mp3.Hidden {
		t.Errorf("/radio.mp3: %+v", mp3)
	}
	if a := mp3.Auth; a == nil || !reflect.DeepEqual(*a, engine.URLAuth{ListenerAdd: "http://127.0.0.1:6010/api/internal/1/listener-auth?api_auth=k3y", AuthHeader: "icecast-auth-user: 1"}) {
		t.Errorf("/radio.mp3 auth: %+v", mp3.Auth)
	}
	aac := cfg.Mounts["/radio.aac"]
	if aac.Charset != "iso-8859-1" || !aac.Hidden || aac.Public != "0" || aac.Username != "dj" || aac.Password != "dj-Pw4" ||
		aac.MaxListeners != 250 || aac.BurstSize != 32768 || aac.Bitrate != "96" || aac.Fallback != "/fallback-[96].aac" ||
		!aac.FallbackStay || aac.DumpFile != "/var/azuracast/recordings/aac-%Y%m%d-%H%M%S.aac" ||
		aac.OnConnect != "/usr/local/bin/stream-started" || aac.OnDisconnect != "/usr/local/bin/stream-stopped" {
		t.Errorf("/radio.aac: %+v", aac)
	}
	wantAuth := engine.URLAuth{
		ListenerAdd: "https://hooks.example.org/listener-add", ListenerRemove: "https://hooks.example.org/listener-remove",
		MountAdd: "http://hooks.example.org/mount-add", MountRemove: "http://hooks.example.org/mount-remove",
		Username: "hook", Password: "hook-Pw5", TimelimitHeader: "icecast-auth-timelimit",
		Headers: []string{"x-pragma", "x-token"}, HeaderPrefix: "ClientHeader.",
	}
	if aac.Auth == nil || !reflect.DeepEqual(*aac.Auth, wantAuth) {
		t.Errorf("/radio.aac auth:\n got  %+v\n want %+v", aac.Auth, wantAuth)
	}

	// The relay's credentials go into its upstream URL, escaped.
	wantRelay := []engine.RelayConfig{{Mount: "/relayed.mp3", Upstreams: []string{"http://relay:p%40ss%20word@origin.example.net:8010/live"}, OnDemand: true}}
	if !reflect.DeepEqual(cfg.Relays, wantRelay) {
		t.Errorf("relays:\n got  %+v\n want %+v", cfg.Relays, wantRelay)
	}
	if m := cfg.Master; m == nil || *m != (engine.MasterConfig{URL: "http://master.example.net:8001", User: "relay", Password: "mst-Pw6", UpdateInterval: 2 * time.Minute, OnDemand: true, ICYMetadata: true}) {
		t.Errorf("master: %+v", cfg.Master)
	}
}

// icecast-kh's dialect: decimal k and m, yes/true, the <master> section,
// a relay with two <master> hosts tried in order, add/remove URL options,
// a mount pattern (not applied, reported), nested log settings.
func TestIcecastXMLKH(t *testing.T) {
	f, cfg, o := loadFixture(t, "kh-icecast.xml")
	sameList(t, "warnings", warned(f), []string{
		"9 <limits><workers>",
		"12 <limits><client-timeout>",
		"46 <master><redirect>",
		"62 <relay><master><timeout>",
		"79 <mount><mp3-metadata-interval>",
		"88 <mount>", // the /*.ogg pattern
		"99 <paths><adminroot>",
		"105 <paths><ssl_certificate>", // no <ssl>1 socket uses it
		"107 <paths><alias>",           // port=
		"113 <logging><accesslog><ip>",
		"119 <logging><logsize>",
	})
	if cfg.QueueSize != 1000000 || cfg.BurstSize != 64000 || cfg.MaxListeners != 200 || cfg.ServerID != "icecast 2.4.0-kh22" {
		t.Errorf("limits: %+v", cfg)
	}
	if o.RelayUser != "edge" || o.RelayPassword != "kh-relay" || o.AdminUser != "root" {
		t.Errorf("options: %+v", o)
	}
	sameList(t, "listen", cfg.Listen, []string{"0.0.0.0:8000"})
	if s := f.Server; s.ShoutcastMount != "/live.mp3" || !reflect.DeepEqual(s.ShoutcastListen, []string{":8002"}) ||
		s.AccessLog != "logs/access.log" || s.ErrorLog != "logs/error.log" || s.LogLevel != "debug" {
		t.Errorf("server: %+v", s)
	}
	if len(cfg.Mounts) != 1 {
		t.Fatalf("mounts: %+v", cfg.Mounts)
	}
	live := cfg.Mounts["/live.mp3"]
	if live.MaxListeners != 0 || live.BurstSize != 32000 || live.LimitRate != 320000 || live.Fallback != "/fallback-[128].mp3" ||
		live.FallbackStay || live.Intro != "/intro-128.mp3" || live.MaxListenerDuration != 2*time.Hour || live.Hidden || live.Public != "1" {
		t.Errorf("/live.mp3: %+v", live)
	}
	if a := live.Auth; a == nil || a.ListenerAdd != "http://auth.example.org/add.php" || a.ListenerRemove != "http://auth.example.org/remove.php" ||
		a.Username != "hook" || a.Password != "kh-hook" {
		t.Errorf("auth: %+v", live.Auth)
	}
	wantRelay := []engine.RelayConfig{{Mount: "/news.mp3", Upstreams: []string{"http://primary.example.net:8000/news", "http://backup.example.net:8080/news"},
		ICYMetadata: true, Retry: 30 * time.Second}}
	if !reflect.DeepEqual(cfg.Relays, wantRelay) {
		t.Errorf("relays:\n got  %+v\n want %+v", cfg.Relays, wantRelay)
	}
	if m := cfg.Master; m == nil || *m != (engine.MasterConfig{URL: "http://origin.example.net:8000", User: "relay", Password: "kh-master", UpdateInterval: time.Minute, OnDemand: true, ICYMetadata: true}) {
		t.Errorf("master: %+v", cfg.Master)
	}
	if f.Access.DenyIPFile != "banned-ips.txt" || cfg.Aliases["/radio"] != "/live.mp3" || len(cfg.TrustedProxies) != 2 {
		t.Errorf("paths: %+v %v %v", f.Access, cfg.Aliases, cfg.TrustedProxies)
	}
}

// The same settings written as icecast.xml and as TOML give the engine
// and the control plane the same configuration: downstream is shared.
func TestIcecastXMLMatchesTOML(t *testing.T) {
	x, err := ParseConfig("a.xml", []byte(`<icecast>
  <hostname>radio.example</hostname>
  <limits><clients>50</clients><queue-size>131072</queue-size><burst-size>16384</burst-size><source-timeout>7</source-timeout></limits>
  <authentication><source-password>s</source-password><admin-user>boss</admin-user><admin-password>a</admin-password></authentication>
  <listen-socket><port>8100</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <http-headers><header name="X-A" value="1"/></http-headers>
  <mount><mount-name>/a.mp3</mount-name><max-listeners>3</max-listeners><hidden>1</hidden><genre>Jazz</genre>
    <fallback-mount>/b.mp3</fallback-mount><fallback-override>0</fallback-override>
    <authentication type="url"><option name="listener_add" value="http://hook/add"/></authentication></mount>
  <paths><webroot>/srv/web</webroot><x-forwarded-for>10.1.0.0/16</x-forwarded-for></paths>
  <relay><server>o</server><port>8000</port><mount>/r</mount><local-mount>/r.mp3</local-mount></relay>
</icecast>`))
	if err != nil {
		t.Fatal(err)
	}
	y, err := ParseConfig("a.toml", []byte(`
[server]
hostname = "radio.example"
listen = ["127.0.0.1:8100"]
webroot = "/srv/web"
trusted_proxies = ["10.1.0.0/16"]
[auth]
source_password = "s"
admin_user = "boss"
admin_password = "a"
[limits]
clients = 50
queue_size = 131072
burst_size = 16384
source_timeout = "7s"
[headers]
X-A = "1"
[[mount]]
name = "/a.mp3"
max_listeners = 3
hidden = true
genre = "Jazz"
fallback = "/b.mp3"
fallback_override = false
[mount.auth]
listener_add = "http://hook/add"
[[relay]]
mount = "/r.mp3"
upstreams = ["http://o:8000/r"]
`))
	if err != nil {
		t.Fatal(err)
	}
	if x.Format != "icecast" || y.Format != "toml" || len(x.Warnings)+len(y.Warnings) != 0 {
		t.Fatalf("formats %q %q, warnings %v %v", x.Format, y.Format, x.Warnings, y.Warnings)
	}
	cx, cy := engine.Defaults(), engine.Defaults()
	x.Apply(&cx)
	y.Apply(&cy)
	if !reflect.DeepEqual(cx, cy) {
		t.Errorf("engine configurations differ:\n xml  %+v\n toml %+v", cx, cy)
	}
	var ox, oy Options
	x.ApplyOptions(&ox)
	y.ApplyOptions(&oy)
	if !reflect.DeepEqual(ox, oy) {
		t.Errorf("options differ:\n xml  %+v\n toml %+v", ox, oy)
	}
}

// A malformed file, a value that is not one, and everything the shared
// checks and the engine's ranges refuse are errors at the element's line.
func TestIcecastXMLErrors(t *testing.T) {
	mount := func(body string) string { return "<icecast>\n<mount>\n" + body + "\n</mount>\n</icecast>\n" }
	cases := []struct {
		name, xml string
		want      string // the whole error, or its start when it ends with "…"
	}{
		{"mismatched end", "<icecast>\n<limits>\n<clients>5</clients>\n</icecast>\n", "bad.xml:4: malformed XML: element <limits> closed by </icecast>"},
		{"unexpected end", "<icecast>\n<limits>\n", "bad.xml:3: malformed XML: unexpected EOF"},
		{"bad entity", "<icecast>\n<location>R&B</location>\n</icecast>", "bad.xml:2: malformed XML: invalid character entity &B (no semicolon)"},
		{"second root", "<icecast/>\n<icecast/>\n", "bad.xml:2: malformed XML: a second root element <icecast> after </icecast>"},
		{"text after root", "<icecast/>\n\n  stray\n", "bad.xml:3: malformed XML: text outside the root element"},
		{"no root", "<!-- nothing -->\n", "bad.xml: malformed XML: no root element"},
		{"other root", "<?xml version=\"1.0\"?>\n<ices>\n</ices>\n", "bad.xml:2: the root element is <ices>: an Icecast configuration is <icecast>, and TOML cannot start with <"},
		{"encoding", "<?xml version=\"1.0\" encoding=\"KOI8-R\"?>\n<icecast/>\n", `bad.xml:1: encoding "KOI8-R" is not supported (UTF-8, ISO-8859-1, windows-1252)`},
		{"number", "<icecast>\n<limits>\n<clients>many</clients>\n</limits>\n</icecast>\n", `bad.xml:3: <limits><clients>: "many" is not a whole number`},
		{"number with junk", "<icecast>\n<limits>\n<source-timeout>10s</source-timeout>\n</limits>\n</icecast>\n", `bad.xml:3: <limits><source-timeout>: "10s" is not a whole number`},
		{"size", "<icecast>\n<limits>\n\n<queue-size>lots</queue-size>\n</limits>\n</icecast>\n", `bad.xml:4: <limits><queue-size>: "lots" is not a number (bytes, or with k or m)`},
		{"boolean", mount("<mount-name>/a</mount-name>\n<hidden>maybe</hidden>"), `bad.xml:4: <mount><hidden>: "maybe" is not 1 or 0 (true or false)`},
		{"mount name", mount("<mount-name>live</mount-name>"), `bad.xml:3: <mount><mount-name>: mount "live": a mount path starts with / and names something`},
		{"reserved mount", mount("<mount-name>/admin/x</mount-name>"), `bad.xml:3: <mount><mount-name>: mount "/admin/x": mount path under /admin is reserved`},
		{"fallback name", mount("<mount-name>/a</mount-name>\n<fallback-mount>b c</fallback-mount>"), `bad.xml:4: <mount><fallback-mount>: mount "b c": …`},
		{"no mount name", mount("<hidden>1</hidden>"), "bad.xml:2: mount #1 has no name"},
		{"mount type", "<icecast>\n<mount type=\"special\">\n</mount>\n</icecast>", `bad.xml:2: <mount>: type="special": a mount is type="normal" or type="default"`},
		{"charset", mount("<mount-name>/a</mount-name>\n<charset>EBCDIC</charset>"), `bad.xml:4: <mount><charset>: charset "EBCDIC" is not supported (UTF-8, ISO-8859-1, windows-1252)`},
		{"dump pattern", mount("<mount-name>/a</mount-name>\n<dump-file>/r/%Q.mp3</dump-file>"), "bad.xml:4: mount /a: dump_file: unknown conversion %Q …"},
		{"duplicate mount", "<icecast>\n<mount><mount-name>/a</mount-name></mount>\n<mount>\n<mount-name>/a</mount-name>\n</mount>\n</icecast>", "bad.xml:4: mount /a is defined twice (first at line 2)"},
		{"self fallback", mount("<mount-name>/a</mount-name>\n\n<fallback-mount>/a</fallback-mount>"), "bad.xml:5: mount /a falls back to itself"},
		{"fallback loop", "<icecast>\n<mount><mount-name>/a</mount-name><fallback-mount>/b</fallback-mount></mount>\n<mount><mount-name>/b</mount-name>\n<fallback-mount>/a</fallback-mount></mount>\n</icecast>", "bad.xml:2: fallback loop: /a -> /b -> /a"},
		{"port", "<icecast>\n<listen-socket>\n<port>80000</port>\n</listen-socket>\n</icecast>", "bad.xml:3: <listen-socket><port>: port 80000 is not between 1 and 65535"},
		{"shoutcast port", "<icecast>\n<listen-socket>\n<port>65535</port>\n<shoutcast-mount>/s</shoutcast-mount>\n</listen-socket>\n</icecast>", "bad.xml:4: <listen-socket><shoutcast-mount>: the Shoutcast port would be 65535+1, above 65535"},
		{"tls without certificate", "<icecast>\n<listen-socket>\n<port>8443</port>\n<ssl>1</ssl>\n</listen-socket>\n</icecast>", "bad.xml:2: tls.cert is missing: …"},
		{"x-forwarded-for", "<icecast>\n<paths>\n<x-forwarded-for>10.0.0.0/40</x-forwarded-for>\n</paths>\n</icecast>", `bad.xml:3: <paths><x-forwarded-for>: "10.0.0.0/40" is not an address or a CIDR range`},
		{"alias", "<icecast>\n<paths>\n<alias source=\"/\"/>\n</paths>\n</icecast>", "bad.xml:3: <paths><alias>: an alias needs source= and destination= (or dest=)"},
		{"alias path", "<icecast>\n<paths>\n<alias source=\"status\" destination=\"/status.xsl\"/>\n</paths>\n</icecast>", `bad.xml:3: alias "status" = "/status.xsl": both are paths starting with /`},
		{"header", "<icecast>\n<http-headers>\n<header value=\"1\"/>\n</http-headers>\n</icecast>", "bad.xml:3: <http-headers><header>: a <header> needs a name="},
		{"header value", "<icecast>\n<http-headers>\n<header name=\"X-A\" value=\"a&#10;b\"/>\n</http-headers>\n</icecast>", "bad.xml:3: headers: the value of X-A has a line break"},
		{"loglevel", "<icecast>\n<logging>\n<loglevel>7</loglevel>\n</logging>\n</icecast>", "bad.xml:3: <logging><loglevel>: loglevel is 1 (error), 2 (warn), 3 (info) or 4 (debug), not 7"},
		{"auth url", mount("<mount-name>/a</mount-name>\n<authentication type=\"url\">\n<option name=\"listener_add\" value=\"ftp://hook/add\"/>\n</authentication>"), `bad.xml:5: mount /a: auth.listener_add "ftp://hook/add": not an http:// or https:// URL`},
		{"relay upstream", "<icecast>\n<relay>\n<local-mount>/r</local-mount>\n<upstream type=\"normal\">\n<uri>https://o/r</uri>\n</upstream>\n</relay>\n</icecast>", `bad.xml:4: relay /r: upstream "https://o/r": not an http:// URL (https is not supported)`},
		{"relay uri without local mount", "<icecast>\n<relay>\n<upstream><uri>http://o/r</uri></upstream>\n</relay>\n</icecast>", "bad.xml:2: <relay>: a relay with an <upstream><uri> needs a <local-mount>"},
		{"relay root mount", "<icecast>\n<relay>\n<server>o</server>\n</relay>\n</icecast>", `bad.xml:2: <relay>: no <local-mount>, and the upstream's mount is not one here: mount "/": a mount path starts with / and names something`},
		{"duplicate relay", "<icecast>\n<relay><mount>/r</mount></relay>\n<relay>\n<mount>/x</mount><local-mount>/r</local-mount>\n</relay>\n</icecast>", "bad.xml:4: relay /r is defined twice (first at line 2)"},
		{"master password", "<icecast>\n\n<master-server>origin</master-server>\n</icecast>", "bad.xml:3: master.password is missing (the master's relay password)"},
		{"master interval", "<icecast>\n<master-server>origin</master-server>\n<master-password>p</master-password>\n<master-update-interval>100000</master-update-interval>\n</icecast>", "bad.xml:4: master.update_interval must be between 1s and 24h0m0s, got 27h46m40s"},
		// The engine's own ranges, at the element that set the value.
		{"burst over queue", "<icecast>\n<limits>\n<queue-size>65536</queue-size>\n<burst-size>100000</burst-size>\n</limits>\n</icecast>", "bad.xml:4: limits.burst_size (--burst-size) must be at most limits.queue_size (65536), got 100000"},
		{"mount burst over queue", mount("<mount-name>/a</mount-name>\n<burst-size>1m</burst-size>"), "bad.xml:4: mount /a: burst_size must be at most limits.queue_size (524288), got 1000000"},
		{"default mount burst", "<icecast>\n<mount type=\"default\">\n<burst-size>900000</burst-size>\n</mount>\n</icecast>", "bad.xml:3: limits.burst_size (--burst-size) must be at most limits.queue_size (524288), got 900000"},
		{"negative timeout", "<icecast>\n<limits>\n<header-timeout>-1</header-timeout>\n</limits>\n</icecast>", "bad.xml:3: limits.header_timeout (--header-timeout) must be more than 0 and at most 24h0m0s, got -1s"},
		{"clients", "<icecast>\n<limits>\n<clients>-5</clients>\n</limits>\n</icecast>", "bad.xml:3: limits.clients (--max-clients) must be at least 1, got -5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig("bad.xml", []byte(c.xml))
			if err == nil {
				t.Fatal("accepted")
			}
			got := err.Error()
			if prefix, ok := strings.CutSuffix(c.want, "…"); ok {
				if !strings.HasPrefix(got, prefix) {
					t.Fatalf("error\n %q\ndoes not start with\n %q", got, prefix)
				}
			} else if got != c.want {
				t.Fatalf("error\n %q\nwant\n %q", got, c.want)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.File != "bad.xml" {
				t.Fatalf("not a ConfigError naming the file: %#v", err)
			}
		})
	}
}

// Every problem is reported at once, each at its line.
func TestIcecastXMLSeveralErrorsAtOnce(t *testing.T) {
	_, err := ParseConfig("x.xml", []byte("<icecast>\n<limits>\n<clients>x</clients>\n<sources>y</sources>\n</limits>\n<mount><mount-name>z</mount-name></mount>\n</icecast>\n"))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"x.xml:3: ", "x.xml:4: ", "x.xml:6: "} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q is not in %q", want, err)
		}
	}
}

// A repeated setting, a <mount type="default"> setting icedeck cannot
// apply to every mount, unknown elements and attributes icedeck does not
// honour are warnings; the file is accepted and the last value is used,
// as Icecast does.
func TestIcecastXMLWarnings(t *testing.T) {
	f, err := ParseConfig("w.xml", []byte(`<icecast>
<limits>
<clients>10</clients>
<clients>20</clients>
<burst-on-connect>0</burst-on-connect>
</limits>
<mount type="default">
<max-listeners>7</max-listeners>
<intro>/intro.mp3</intro>
<frobnicate>1</frobnicate>
</mount>
<mount>
<mount-name>/a</mount-name>
<http-headers><header name="X" value="1"/></http-headers>
<authentication type="htpasswd"><option name="filename" value="users"/></authentication>
</mount>
<http-headers>
<header type="cors" name="Access-Control-Allow-Origin"/>
<header name="X-B" value="2" status="200"/>
</http-headers>
<shoutcast-mount>/s</shoutcast-mount>
<master-password>p</master-password>
<security><chroot>1</chroot></security>
<directory><yp-url>http://dir.xiph.org/cgi-bin/yp-cgi</yp-url></directory>
<listen-socket><port>8000</port><tls>auto</tls></listen-socket>
<port>9000</port>
</icecast>`))
	if err != nil {
		t.Fatal(err)
	}
	sameList(t, "warnings", warned(f), []string{
		"4 <limits><clients>",          // given again
		"5 <limits><burst-on-connect>", // a burst is always sent
		"9 <mount><intro>",             // default mount: not applied
		"10 <mount><frobnicate>",       // unknown
		"14 <mount><http-headers>",
		"15 <mount><authentication>", // htpasswd
		"18 <http-headers><header>",  // type="cors"
		"19 <http-headers><header>",  // status=
		"21 <shoutcast-mount>",       // no socket takes Shoutcast sources
		"22 <master-password>",       // without <master-server>
		"23 <security><chroot>",
		"24 <directory>",
		"25 <listen-socket><tls>",
		"26 <port>", // the <listen-socket> gives the address
	})
	cfg := engine.Defaults()
	f.Apply(&cfg)
	if cfg.MaxClients != 20 || cfg.MaxListeners != 7 || cfg.Headers["X-B"] != "2" || cfg.Headers["Access-Control-Allow-Origin"] != "*" {
		t.Errorf("applied: clients %d, max listeners %d, headers %v", cfg.MaxClients, cfg.MaxListeners, cfg.Headers)
	}
	if cfg.Mounts["/a"].Auth != nil || f.Server.ShoutcastMount != "" || f.Master != nil {
		t.Errorf("not honoured, yet applied: %+v %q %+v", cfg.Mounts["/a"], f.Server.ShoutcastMount, f.Master)
	}
}

// Icecast 2.5's relay: an ordered list of <upstream>s, a type="default"
// one giving the others' defaults, per-upstream credentials.
func TestIcecastXMLRelayUpstreams(t *testing.T) {
	f, err := ParseConfig("r.xml", []byte(`<icecast>
<relays-on-demand>1</relays-on-demand>
<relay>
  <local-mount>/news.mp3</local-mount>
  <upstream type="default"><port>8080</port><mount>/news</mount></upstream>
  <upstream type="normal"><server>a.example</server><username>u</username><password>p:w</password></upstream>
  <upstream type="normal"><server>b.example</server><port>9000</port></upstream>
  <upstream type="normal"><uri>http://c.example:8000/n</uri><relay-shoutcast-metadata>false</relay-shoutcast-metadata></upstream>
</relay>
</icecast>`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.Defaults()
	f.Apply(&cfg)
	want := []engine.RelayConfig{{Mount: "/news.mp3", OnDemand: true, Upstreams: []string{
		"http://u:p%3Aw@a.example:8080/news", "http://b.example:9000/news", "http://c.example:8000/n"}}}
	if !reflect.DeepEqual(cfg.Relays, want) || len(f.Warnings) != 0 {
		t.Errorf("relays:\n got  %+v\n want %+v\nwarnings %v", cfg.Relays, want, f.Warnings)
	}
}

// Locate puts an engine range error about a value the XML set at that
// element's line, as it does for TOML; a value from a flag stays as is.
func TestIcecastXMLLocate(t *testing.T) {
	f, err := ParseConfig("l.xml", []byte("<icecast>\n<limits>\n<clients>50</clients>\n</limits>\n<mount>\n<mount-name>/a</mount-name>\n<burst-size>1000</burst-size>\n</mount>\n</icecast>\n"))
	if err != nil {
		t.Fatal(err)
	}
	errs := errors.Join(
		&engine.SettingError{Key: "limits.clients", Flag: "--max-clients", Msg: "must be at least 1, got -1"},
		&engine.SettingError{Mount: "/a", Key: "burst_size", Msg: "must be at least 0, got -5"},
	)
	got := f.Locate(errs, nil).Error()
	want := "l.xml:3: limits.clients (--max-clients) must be at least 1, got -1\nl.xml:7: mount /a: burst_size must be at least 0, got -5"
	if got != want {
		t.Errorf("located:\n %q\nwant\n %q", got, want)
	}
	if got := f.Locate(errs, func(string) bool { return true }).Error(); !strings.HasPrefix(got, "limits.clients (--max-clients)") {
		t.Errorf("a flag's value was put at the file's line: %q", got)
	}
}

// A file declared ISO-8859-1 (or windows-1252) is read as such, its lines
// still right; a UTF-8 byte-order mark is skipped.
func TestIcecastXMLEncodings(t *testing.T) {
	latin := "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<icecast>\n<location>Caf\xe9</location>\n<admin>\x93q\x94</admin>\n</icecast>\n"
	f, err := ParseConfig("l.xml", []byte(latin))
	if err != nil || f.Server.Location != "Café" || f.Server.Admin != "\u0093q\u0094" {
		t.Fatalf("latin-1: %v %q %q", err, f.Server.Location, f.Server.Admin)
	}
	cp := strings.Replace(latin, "ISO-8859-1", "windows-1252", 1)
	if f, err = ParseConfig("w.xml", []byte(cp)); err != nil || f.Server.Admin != "“q”" {
		t.Fatalf("windows-1252: %v %q", err, f.Server.Admin)
	}
	_, err = ParseConfig("l.xml", []byte(strings.Replace(latin, "<admin>", "<limits><clients>\xe9</clients></limits>\n<admin>", 1)))
	if err == nil || !strings.HasPrefix(err.Error(), `l.xml:4: <limits><clients>: "é" is not a whole number`) {
		t.Fatalf("error in a latin-1 file: %v", err)
	}
	if f, err = ParseConfig("b.xml", []byte("\xEF\xBB\xBF<icecast>\n<location>Here</location>\n</icecast>\n")); err != nil || f.Server.Location != "Here" {
		t.Fatalf("byte-order mark: %v %q", err, f.Server.Location)
	}
	if _, err = ParseConfig("u.xml", []byte("<icecast>\n<location>\xff</location>\n</icecast>\n")); err == nil || !strings.HasPrefix(err.Error(), "u.xml:2: malformed XML: invalid UTF-8") {
		t.Fatalf("invalid UTF-8: %v", err)
	}
}

// The TOML keys issue 11 adds are checked where a check makes sense, each
// error at its line, and reach the engine and the control plane.
func TestTOMLNewKeys(t *testing.T) {
	good := `[server]
webroot = "/srv/web"
api_cors = ["https://panel.example", "http://localhost:3000"]
log_level = "warn"
shoutcast_mount = "/live.mp3"
shoutcast_listen = [":8001"]
[server.aliases]
"/" = "/status.xsl"
[tls]
listen = [":8443"]
cert = "/etc/icedeck/cert.pem"
key = "/etc/icedeck/key.pem"
[[mount]]
name = "/a.mp3"
genre = "Jazz"
url = "https://radio.example"
bitrate = "128"
max_listener_duration = "1h"
intro = "intro.mp3"
limit_rate = 160000
on_connect = "/bin/on"
on_disconnect = "/bin/off"
[mount.auth]
listener_add = "https://hook.example/add"
auth_header = "icecast-auth-user: 1"
timeout = "2s"
headers = ["x-token"]
`
	f, err := ParseConfig("good.toml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.Defaults()
	f.Apply(&cfg)
	var o Options
	f.ApplyOptions(&o)
	a := cfg.Mounts["/a.mp3"]
	if a.Genre != "Jazz" || a.URL != "https://radio.example" || a.Bitrate != "128" || a.MaxListenerDuration != time.Hour ||
		a.Intro != "intro.mp3" || a.LimitRate != 160000 || a.OnConnect != "/bin/on" || a.OnDisconnect != "/bin/off" {
		t.Errorf("mount: %+v", a)
	}
	if a.Auth == nil || !reflect.DeepEqual(*a.Auth, engine.URLAuth{ListenerAdd: "https://hook.example/add", AuthHeader: "icecast-auth-user: 1", Timeout: 2 * time.Second, Headers: []string{"x-token"}}) {
		t.Errorf("auth: %+v", a.Auth)
	}
	if cfg.Webroot != "/srv/web" || cfg.Aliases["/"] != "/status.xsl" || cfg.TLSCert != "/etc/icedeck/cert.pem" || cfg.TLSKey != "/etc/icedeck/key.pem" {
		t.Errorf("server: %+v", cfg)
	}
	sameList(t, "api_cors", o.APICORS, []string{"https://panel.example", "http://localhost:3000"})

	cases := []struct{ name, toml, want string }{
		{"auth url", "[[mount]]\nname = \"/a\"\n\n[[mount]]\nname = \"/b\"\n[mount.auth]\nmount_add = \"http://ok/add\"\nlistener_add = \"ftp://hook/add\"\n",
			`bad.toml:8: mount /b: auth.listener_add "ftp://hook/add": not an http:// or https:// URL`},
		{"auth url without host", "[[mount]]\nname = \"/a\"\n[mount.auth]\nlistener_remove = \"http:///x\"\n", `bad.toml:4: mount /a: auth.listener_remove "http:///x": no host`},
		{"api_cors", "[server]\napi_cors = [\"https://panel.example/\"]\n", `bad.toml:2: server.api_cors "https://panel.example/": not an origin (scheme://host[:port], e.g. "https://panel.example", or "*")`},
		{"tls listen", "[tls]\ncert = \"c.pem\"\nlisten = [\"8443\"]\n", `bad.toml:3: tls.listen[0] "8443": not host:port (":8000", "127.0.0.1:8000")`},
		{"tls cert", "[tls]\nlisten = [\":8443\"]\n", "bad.toml:1: tls.cert is missing: the PEM certificate the TLS addresses present (with its key, unless tls.key names it)"},
		{"shoutcast listen", "[server]\nshoutcast_listen = [\"x\"]\n", `bad.toml:2: server.shoutcast_listen[0] "x": not host:port (":8000", "127.0.0.1:8000")`},
		{"alias", "[server.aliases]\n\"/\" = \"/status.xsl\"\n\"x\" = \"/y\"\n", `bad.toml:3: alias "x" = "/y": both are paths starting with /`},
		{"log level", "[server]\nlog_level = \"loud\"\n", `bad.toml:2: server.log_level is debug, info, warn or error, not "loud"`},
		{"shoutcast mount", "[server]\nshoutcast_mount = \"live\"\n", `bad.toml:2: server.shoutcast_mount: mount "live": a mount path starts with / and names something`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig("bad.toml", []byte(c.toml))
			if err == nil || err.Error() != c.want {
				t.Fatalf("error\n %v\nwant\n %q", err, c.want)
			}
		})
	}
}

// The fixtures are the files they claim to be: Debian's is byte for byte
// the one its package installs, where that package is installed.
func TestDebianFixtureIsVerbatim(t *testing.T) {
	installed, err := os.ReadFile("/etc/icecast2/icecast.xml")
	if err != nil {
		t.Skip("icecast2 is not installed here:", err)
	}
	fixture, err := os.ReadFile(filepath.Join("testdata", "debian-icecast.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if string(installed) != string(fixture) {
		t.Error("testdata/debian-icecast.xml differs from /etc/icecast2/icecast.xml")
	}
}

// FuzzIcecastXML: any file is an answer, never a crash; every error is a
// ConfigError naming the file; an accepted file's warnings have lines.
func FuzzIcecastXML(f *testing.F) {
	for _, name := range []string{"debian-icecast.xml", "platform-icecast.xml", "kh-icecast.xml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("<icecast><mount type=\"default\"><burst-size>9s</burst-size></mount><relay><upstream type=\"default\"/></relay></icecast>"))
	f.Add([]byte("<?xml version=\"1.0\" encoding=\"latin1\"?><icecast><listen-socket><shoutcast-compat>1</shoutcast-compat></listen-socket></icecast>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseConfig("f.xml", data)
		if err != nil {
			for _, e := range flatten(err) {
				var ce *ConfigError
				if !errors.As(e, &ce) || ce.File != "f.xml" {
					t.Fatalf("not a ConfigError naming the file: %#v", e)
				}
			}
			return
		}
		for _, w := range file.Warnings {
			if w.Line <= 0 || w.File != "f.xml" {
				t.Fatalf("warning without a line: %#v", w)
			}
		}
	})
}
