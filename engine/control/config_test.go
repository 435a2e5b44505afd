package control

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine"
)

func TestConfigErrorsNameFileAndLine(t *testing.T) {
	cases := []struct {
		name string
		toml string
		want []string // substrings of the error, including "file:line:"
	}{
		{"syntax", "[server]\nlisten = [\":8000\"\n[auth]\n", []string{"bad.toml:3:"}},
		{"bad duration", "[limits]\nclients = 10\nsource_timeout = \"10x\"\n", []string{"bad.toml:3:", "source_timeout", `"10x" is not a duration`}},
		{"negative duration", "[[mount]]\nname = \"/a\"\ngrace = \"-1s\"\n", []string{"bad.toml:3:", "mount /a: grace must not be negative"}},
		// Ranges are the engine's rule (engine.Config.Validate), reported
		// at the key's line.
		{"negative metaint", "[limits]\nclients = 10\nmetaint = -1\n", []string{"bad.toml:3: limits.metaint (--metaint) must be between 1 and 1048576, got -1"}},
		{"dotted key", "limits.metaint = 2000000\n", []string{"bad.toml:1: limits.metaint (--metaint) must be between 1 and 1048576, got 2000000"}},
		{"negative timeout", "[limits]\nheader_timeout = \"-1s\"\n", []string{"bad.toml:2: limits.header_timeout (--header-timeout) must be more than 0"}},
		{"negative clients", "[limits]\n\n\nclients = -1\n", []string{"bad.toml:4: limits.clients (--max-clients) must be at least 1, got -1"}},
		{"negative size", "[limits]\nqueue_size = \"-64k\"\n", []string{"bad.toml:2: limits.queue_size (--queue-size) must be between 1 and 67108864, got -65536"}},
		{"burst over queue", "[limits]\nburst_size = \"1MiB\"\nqueue_size = \"512k\"\n", []string{"bad.toml:2: limits.burst_size (--burst-size) must be at most limits.queue_size (524288), got 1048576"}},
		{"mount burst over queue", "[[mount]]\nname = \"/a\"\n\n[[mount]]\nname = \"/b\"\nburst_size = \"1MiB\"\n", []string{"bad.toml:6: mount /b: burst_size must be at most"}},
		{"mount listeners", "[[mount]]\nname = \"/a\"\nmax_listeners = -2\n", []string{"bad.toml:3: mount /a: max_listeners must be at least 0, got -2"}},
		{"latency", "[limits]\nlatency = \"5ms\"\n", []string{"bad.toml:2: limits.latency (--latency) must be between 10ms and 1s, got 5ms"}},
		{"mount latency", "[[mount]]\nname = \"/a\"\nlatency = \"2s\"\n", []string{"bad.toml:3: mount /a: latency must be between 10ms and 1s, got 2s"}},
		{"slow listener", "[limits]\n\nslow_listener = \"kick\"\n", []string{"bad.toml:3:", `"drop" or "skip", not "kick"`}},
		{"mount slow listener", "[[mount]]\nname = \"/a\"\n\n[[mount]]\nname = \"/b\"\nslow_listener = \"later\"\n", []string{"bad.toml:6:", "mount.slow_listener"}},
		{"wrong type", "[limits]\nclients = \"many\"\n", []string{"bad.toml:2:", "limits.clients"}},
		{"unknown key", "[server]\nlisten = [\":8000\"]\nlisen = [\":9000\"]\n", []string{"bad.toml:3:", `unknown key "server.lisen"`}},
		{"unknown mount key", "[[mount]]\nname = \"/a\"\nfallbak = \"/b\"\n", []string{"bad.toml:3:", `unknown key "mount.fallbak"`}},
		{"bad cidr", "[server]\nadmin_allow = [\"127.0.0.0/33\"]\n", []string{"bad.toml:2:", "admin_allow"}},
		{"bad listen", "[server]\nlisten = [\"8000\"]\n", []string{"bad.toml:2:", "not host:port"}},
		{"bad size", "[limits]\nburst_size = \"lots\"\n", []string{"bad.toml:2:", "not a size"}},
		{"bad mount name", "[[mount]]\nname = \"live\"\n", []string{"bad.toml:2:", "starts with /"}},
		{"reserved mount", "[[mount]]\nname = \"/admin/x\"\n", []string{"bad.toml:2:", "reserved"}},
		{"bad charset", "[[mount]]\nname = \"/a\"\ncharset = \"EBCDIC\"\n", []string{"bad.toml:3:", "not supported"}},
		{"duplicate mount", "[[mount]]\nname = \"/a\"\n[[mount]]\nname = \"/a\"\n", []string{"bad.toml:4:", "defined twice (first at line 2)"}},
		{"self fallback", "[[mount]]\nname = \"/a\"\nfallback = \"/a\"\n", []string{"bad.toml:3:", "falls back to itself"}},
		{"fallback loop", "[[mount]]\nname = \"/a\"\nfallback = \"/b\"\n\n[[mount]]\nname = \"/b\"\nfallback = \"/c\"\n\n[[mount]]\nname = \"/c\"\nfallback = \"/a\"\n",
			[]string{"bad.toml:3:", "fallback loop: /a -> /b -> /c -> /a"}},
		{"dump pattern", "[[mount]]\nname = \"/a\"\ndump_file = \"/rec/%Q.mp3\"\n", []string{"bad.toml:3:", "unknown conversion %Q"}},
		{"header name", "[headers]\n\"Bad Header\" = \"x\"\n", []string{"bad.toml:2:", "not a header name"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig("bad.toml", []byte(c.toml))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not contain %q", err, w)
				}
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.File != "bad.toml" || ce.Line == 0 {
				t.Fatalf("not a ConfigError with a line: %#v", err)
			}
		})
	}
}

func TestConfigSeveralErrorsAtOnce(t *testing.T) {
	_, err := ParseConfig("x.toml", []byte("[server]\nfoo = 1\n[limits]\nbar = 2\n"))
	if err == nil || !strings.Contains(err.Error(), "x.toml:2:") || !strings.Contains(err.Error(), "x.toml:4:") {
		t.Fatalf("want both unknown keys reported: %v", err)
	}
}

func TestExampleConfigLoadsAndApplies(t *testing.T) {
	path := filepath.Join("..", "..", "icedeck.example.toml")
	f, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.Defaults()
	cfg.Headers = map[string]string{"X-Keep": "1"}
	f.Apply(&cfg)
	var opts Options
	f.ApplyOptions(&opts)
	if opts.AdminPassword != "change-me-too" {
		t.Fatalf("admin password from the file: %q", opts.AdminPassword)
	}
	if cfg.SourcePassword != "change-me" || cfg.QueueSize != 512<<10 ||
		cfg.BurstSize != 64<<10 || cfg.SourceTimeout != 10*time.Second || cfg.HeaderTimeout != 15*time.Second ||
		cfg.SlowListener != engine.SlowDrop || cfg.MetaInt != 16000 || cfg.MaxClients != 20000 {
		t.Fatalf("applied: %+v", cfg)
	}
	if cfg.Headers["Access-Control-Allow-Origin"] != "*" || cfg.Headers["X-Keep"] != "1" {
		t.Fatalf("headers: %v", cfg.Headers)
	}
	live := cfg.Mounts["/live.mp3"]
	if live.Username != "dj" || live.Password != "dj-secret" || live.MaxListeners != 500 || live.BurstSize != 32<<10 ||
		live.SlowListener != engine.SlowSkip || live.Grace != 10*time.Second || !cfg.Mounts["/backup.mp3"].Hidden ||
		live.Latency != 50*time.Millisecond || cfg.Latency != 250*time.Millisecond {
		t.Fatalf("mounts: %+v", cfg.Mounts)
	}
	if live.Fallback != "/backup.mp3" || live.FallbackStay || live.DumpFile != "/var/rec/live-%Y%m%d-%H%M%S.mp3" ||
		live.Charset != "utf-8" || live.Public != "0" || live.StreamName != "Live" || live.StreamDescription != "The live show" {
		t.Fatalf("mount extras: %+v", live)
	}
	if f.Server.AccessLog != "" || cfg.TrustedProxies != nil {
		t.Fatalf("server extras: %+v %v", f.Server, cfg.TrustedProxies)
	}
	var o Options
	f.ApplyOptions(&o)
	if len(o.AdminAllow) != 2 || !o.AdminAllow[0].Contains(netip.MustParseAddr("127.0.0.1")) || o.Location != "Earth" {
		t.Fatalf("options: %+v", o)
	}
	// The applied configuration starts an engine.
	if _, err := engine.New(cfg); err != nil {
		t.Fatal(err)
	}
}

func TestConfigApplyKeepsWhatFileLeavesOut(t *testing.T) {
	f, err := ParseConfig("a.toml", []byte("[auth]\nsource_password = \"pw\"\n[limits]\nburst_size = 1024\n[headers]\n\"Access-Control-Allow-Origin\" = \"\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.Defaults()
	f.Apply(&cfg)
	def := engine.Defaults()
	if cfg.BurstSize != 1024 || cfg.QueueSize != def.QueueSize || cfg.SourcePassword != "pw" {
		t.Fatalf("%+v", cfg)
	}
	if _, ok := cfg.Headers["Access-Control-Allow-Origin"]; ok {
		t.Fatal("an empty header value should remove the header")
	}
	if def.Headers["Access-Control-Allow-Origin"] != "*" {
		t.Fatal("Apply changed the defaults' map")
	}
	f, _ = ParseConfig("c.toml", []byte("[server]\ntrusted_proxies = [\"10.0.0.0/8\"]\n[[mount]]\nname = \"/a\"\nfallback_override = false\npublic = true\ncharset = \"latin1\"\n"))
	f.Apply(&cfg)
	if a := cfg.Mounts["/a"]; !a.FallbackStay || a.Public != "1" || a.Charset != "iso-8859-1" || len(cfg.TrustedProxies) != 1 {
		t.Fatalf("%+v %v", a, cfg.TrustedProxies)
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	_, err := LoadConfig(filepath.Join(t.TempDir(), "none.toml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%v", err)
	}
}

func TestCharsetConversion(t *testing.T) {
	cases := []struct{ in, cs, want string }{
		{"Caf\xe9", "ISO-8859-1", "Café"},
		{"Caf\xe9", "latin1", "Café"},
		{"\x80 \x9f \xa0\xff", "windows-1252", "€ Ÿ \u00a0ÿ"},
		{"\x80", "iso-8859-1", "\u0080"},
		{"Ünï", "", "Ünï"},
		{"Ünï", "UTF-8", "Ünï"},
		{"Caf\xe9", "", "Café"}, // invalid UTF-8 is taken as windows-1252
	}
	for _, c := range cases {
		got, err := toUTF8(c.in, c.cs)
		if err != nil || got != c.want {
			t.Errorf("toUTF8(%q, %q) = %q, %v; want %q", c.in, c.cs, got, err, c.want)
		}
	}
	if _, err := toUTF8("x", "koi8-r"); err == nil {
		t.Error("koi8-r accepted")
	}
}

// The configuration and the engine check mount names with the one rule:
// /a//b.mp3 passed the file's check and then failed in engine.New without
// a line; /a#b.mp3 the other way round. Both are now refused at their line,
// and what the file accepts the engine accepts.
func TestConfigMountNamesAsTheEngine(t *testing.T) {
	for _, name := range []string{"/a//b.mp3", "/a#b.mp3", "/x\xff.mp3", "/status/x", "/a b"} {
		_, err := ParseConfig("m.toml", []byte("[[mount]]\nname = \""+strings.ReplaceAll(name, "\xff", `\u00ff`)+"\"\n"))
		if name == "/x\xff.mp3" {
			continue // TOML strings are UTF-8: the byte cannot be written in a file
		}
		if err == nil || !strings.Contains(err.Error(), "m.toml:2") || engine.CheckMountName(name) == nil {
			t.Errorf("%q: %v", name, err)
		}
	}
	f, err := ParseConfig("m.toml", []byte("[[mount]]\nname = \"/radio-ü/live.mp3\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.Defaults()
	cfg.SourcePassword = "x"
	f.Apply(&cfg)
	if _, err := engine.New(cfg); err != nil {
		t.Fatalf("the engine refuses what the file accepted: %v", err)
	}
}

// [[push]] and [redirect] reach the engine; a bad one is refused at its line.
func TestPushAndRedirectSections(t *testing.T) {
	f, err := ParseConfig("t.toml", []byte(`[[push]]
mount = "/live.mp3"
url = "icecast://source:pw@cdn.example:8000/live.mp3"
method = "source"

[redirect]
edges = ["http://edge1:8000", "http://edge2:8000"]
refresh = "3s"
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.Defaults()
	f.Apply(&cfg)
	if len(cfg.Pushes) != 1 || cfg.Pushes[0].Method != "source" || cfg.Redirect == nil || len(cfg.Redirect.Edges) != 2 || cfg.Redirect.Refresh != 3*time.Second {
		t.Fatalf("applied: %+v %+v", cfg.Pushes, cfg.Redirect)
	}
	for _, bad := range []struct{ file, line, not string }{
		{"[[push]]\nmount = \"/live.mp3\"\nurl = \"ftp://source:secret@x/y\"\n", "t.toml:1", "secret"},
		{"\n[redirect]\nedges = [\"edge1:8000\"]\n", "t.toml:2", ""},
	} {
		_, err := ParseConfig("t.toml", []byte(bad.file))
		if err == nil || !strings.Contains(err.Error(), bad.line) || (bad.not != "" && strings.Contains(err.Error(), bad.not)) {
			t.Errorf("%q: %v", bad.file, err)
		}
	}
}
