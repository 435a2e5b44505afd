package control

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/icedeck/icedeck/engine"
)

// accessFiles writes the three files and a File naming them.
func accessFiles(t *testing.T, deny, allow, agents string) File {
	t.Helper()
	dir := t.TempDir()
	var f File
	for _, x := range []struct {
		name, content string
		to            *string
	}{{"deny.txt", deny, &f.Access.DenyIPFile}, {"allow.txt", allow, &f.Access.AllowIPFile}, {"agents.txt", agents, &f.Access.DenyAgentsFile}} {
		if x.content == "" {
			continue
		}
		p := filepath.Join(dir, x.name)
		if err := os.WriteFile(p, []byte(x.content), 0o644); err != nil {
			t.Fatal(err)
		}
		*x.to = p
	}
	return f
}

func TestReadAccess(t *testing.T) {
	f := accessFiles(t,
		"# Icecast's deny-ip file\n203.0.113.7\n\n  198.51.100.0/24  \r\n2001:db8::/32\n192.0.2.77/24\n",
		"127.0.0.1\n::1\n",
		"# bots\nGooglebot/2.1\n*bot*\r\n\n  VLC/3.0.18 LibVLC/3.0.18\n")
	deny, allow, agents, err := f.ReadAccess()
	if err != nil {
		t.Fatal(err)
	}
	wantDeny := []netip.Prefix{netip.MustParsePrefix("203.0.113.7/32"), netip.MustParsePrefix("198.51.100.0/24"),
		netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("192.0.2.0/24")}
	if !slices.Equal(deny, wantDeny) {
		t.Errorf("deny %v, want %v", deny, wantDeny)
	}
	if want := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}; !slices.Equal(allow, want) {
		t.Errorf("allow %v, want %v", allow, want)
	}
	if want := []string{"Googlebot/2.1", "*bot*", "VLC/3.0.18 LibVLC/3.0.18"}; !slices.Equal(agents, want) {
		t.Errorf("agents %q, want %q", agents, want)
	}
	cfg := engine.Defaults()
	cfg.DenyAgents = []string{"kept unless a file is named"}
	if err := f.ApplyAccess(&cfg); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.DenyIPs, wantDeny) || len(cfg.AllowIPs) != 2 || len(cfg.DenyAgents) != 3 {
		t.Errorf("applied: %v %v %q", cfg.DenyIPs, cfg.AllowIPs, cfg.DenyAgents)
	}
	cfg.SourcePassword = "x"
	if _, err := engine.New(cfg); err != nil {
		t.Fatalf("the engine refuses what was read: %v", err)
	}

	// Nothing named: nothing read, cfg untouched.
	cfg = engine.Defaults()
	cfg.DenyAgents = []string{"mine"}
	if err := (File{}).ApplyAccess(&cfg); err != nil || !slices.Equal(cfg.DenyAgents, []string{"mine"}) {
		t.Errorf("no files: %v %q", err, cfg.DenyAgents)
	}
}

func TestReadAccessErrorsNameFileAndLine(t *testing.T) {
	for _, tc := range []struct {
		deny, allow, agents string
		file                string
		want                string
	}{
		{deny: "203.0.113.7\n# fine\n203.0.113.300\n", file: "deny.txt", want: `deny.txt:3: "203.0.113.300" is not an IP address or CIDR range`},
		{deny: "10.0.0.0/33\n", file: "deny.txt", want: `deny.txt:1: "10.0.0.0/33"`},
		{allow: "host.example\n", file: "allow.txt", want: `allow.txt:1: "host.example"`},
		{allow: "# only comments\n\n", file: "allow.txt", want: "allow.txt: lists no address"},
		{agents: "ok\nbad\tagent\n", file: "agents.txt", want: `agents.txt:2: "bad\tagent" has a control character`},
	} {
		f := accessFiles(t, tc.deny, tc.allow, tc.agents)
		_, _, _, err := f.ReadAccess()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), string(filepath.Separator)+tc.file) {
			t.Errorf("want %q, got %v", tc.want, err)
		}
	}
	f := File{Access: AccessSection{DenyAgentsFile: filepath.Join(t.TempDir(), "missing")}}
	if _, _, _, err := f.ReadAccess(); err == nil || !strings.HasSuffix(err.Error(), "missing: no such file or directory") {
		t.Errorf("missing file: %v", err)
	}
	// Named by a configuration file: the setting that names it, at its line.
	missing := filepath.Join(t.TempDir(), "gone.txt")
	for name, text := range map[string]string{
		"st.toml":     "[auth]\nsource_password = \"x\"\n\n[access]\ndeny_agents_file = \"" + missing + "\"\n",
		"icecast.xml": "<icecast>\n<paths>\n<deny-agents>" + missing + "</deny-agents>\n</paths>\n</icecast>\n",
	} {
		f, err := ParseConfig(name, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"st.toml": "st.toml:5: access.deny_agents_file: ", "icecast.xml": "icecast.xml:3: <paths><deny-agents>: "}[name] + missing + ": no such file or directory"
		if _, _, _, err := f.ReadAccess(); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %s", name, err, want)
		}
	}
}

// Icecast's stock alias: / is the status document, served by the control
// plane as if asked for by its own name.
func TestAliasToStatusJSON(t *testing.T) {
	e := start(t, Options{}, func(c *engine.Config) { c.Aliases = map[string]string{"/": "/status-json.xsl"} })
	e.connectSource("/aliased.mp3", "source", srcPass)
	code, hdr, body := e.get("/", "", "")
	var doc struct {
		Icestats struct {
			Source json.RawMessage `json:"source"`
		} `json:"icestats"`
	}
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") || json.Unmarshal([]byte(body), &doc) != nil ||
		!strings.Contains(string(doc.Icestats.Source), "/aliased.mp3") {
		t.Fatalf("/ → %d %s %s", code, hdr.Get("Content-Type"), body)
	}
}
