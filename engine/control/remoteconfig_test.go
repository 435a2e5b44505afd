package control

import (
	"strings"
	"testing"
)

// [[remote]] sections are read as written, the name defaulting to the
// address; what is wrong is said at its line, passwords hidden.
func TestRemoteSections(t *testing.T) {
	f, err := ParseConfig("r.toml", []byte(`[[remote]]
name = "edge-1"
url = "http://admin:pw@edge-1:8000"
kind = "Icecast"

[[remote]]
url = "https://radio.example/"
user = "ops"
password = "secret"
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []RemoteSection{
		{Name: "edge-1", URL: "http://admin:pw@edge-1:8000", Kind: "icecast"},
		{URL: "https://radio.example/", User: "ops", Password: "secret"},
	}
	if len(f.Remotes) != 2 || f.Remotes[0] != want[0] || f.Remotes[1] != want[1] {
		t.Fatalf("remotes: %+v", f.Remotes)
	}
	if n := f.Remotes[1].DisplayName(); n != "radio.example" {
		t.Fatalf("display name %q", n)
	}
	// The console shows them: nothing to warn of.
	if len(f.Warnings) != 0 {
		t.Fatalf("warnings %v", f.Warnings)
	}

	for _, c := range []struct{ name, toml, want string }{
		{"kind", "[[remote]]\nurl = \"http://a:8000\"\nkind = \"shoutcast\"\n", `r.toml:3: remote.kind: kind is "auto", "icedeck" or "icecast", not "shoutcast"`},
		{"scheme", "[[remote]]\nurl = \"ftp://a:8000\"\n", "r.toml:2: remote.url: url \"ftp://a:8000\": not an http:// or https:// URL"},
		{"path", "[[remote]]\nurl = \"http://admin:hidden@a:8000/live.mp3\"\n", "r.toml:2: remote.url: url \"http://admin:xxxxx@a:8000/live.mp3\": has a path"},
		{"port", "[[remote]]\nurl = \"http://a:99999\"\n", "r.toml:2:"},
		{"no url", "[[remote]]\nname = \"x\"\n\n[[remote]]\nname = \"y\"\n", "r.toml:1: remote 1: url is required"},
		{"slash", "[[remote]]\nurl = \"http://a:8000\"\n\n[[remote]]\nname = \"eu/edge\"\nurl = \"http://b:8000\"\n", `r.toml:5: remote name "eu/edge": a name cannot have "/" in it`},
		{"local", "[[remote]]\nname = \"Local\"\nurl = \"http://b:8000\"\n", `r.toml:2: remote name "Local": the name of the engine in this process`},
		{"local host", "[[remote]]\nurl = \"http://admin:hidden@local\"\n", `r.toml:2: remote name "local": the name of the engine in this process`},
		{"control", "[[remote]]\nname = \"a\\u001b[2Jb\"\nurl = \"http://b:8000\"\n", `r.toml:2: remote name "a\x1b[2Jb": has spaces or control characters`},
		{"space", "[[remote]]\nname = \"edge 1\"\nurl = \"http://b:8000\"\n", `r.toml:2: remote name "edge 1": has spaces`},
		{"same name", "[[remote]]\nurl = \"http://a:8000\"\n\n[[remote]]\nname = \"a:8000\"\nurl = \"http://b:8000\"\n", `r.toml:5: remote "a:8000": the name of remote 1 too`},
	} {
		_, err := ParseConfig("r.toml", []byte(c.toml))
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "hidden") {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
