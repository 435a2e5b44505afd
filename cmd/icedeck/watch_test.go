package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
	"github.com/icedeck/icedeck/remote"
)

// A server is NAME=URL or the URL alone (named by its host:port); the
// URL follows the [[remote]] rules, and what is wrong names the argument
// with its password hidden.
func TestRemoteArgs(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ arg, name, url, display string }{
		{"edge-1=http://admin:pw@10.0.0.7:8000", "edge-1", "http://admin:pw@10.0.0.7:8000", "edge-1"},
		{"http://admin:p=w@radio:8000", "", "http://admin:p=w@radio:8000", "radio:8000"}, // "=" in the password
		{"https://radio.example/", "", "https://radio.example/", "radio.example"},
	} {
		s, err := parseRemoteArg(c.arg)
		if err != nil {
			t.Errorf("%s: %v", c.arg, err)
			continue
		}
		if s.Name != c.name || string(s.URL) != c.url || s.DisplayName() != c.display {
			t.Errorf("%s: name %q url %q shown as %q", c.arg, s.Name, s.URL, s.DisplayName())
		}
	}
	for _, c := range []struct{ arg, want string }{
		{"edge=ftp://admin:secret@a:8000", `edge: url "ftp://admin:xxxxx@a:8000": not an http:// or https:// URL`},
		{"http://admin:secret@a:8000/live.mp3", `url "http://admin:xxxxx@a:8000/live.mp3": has a path`},
		{"http://admin:secret@a:99999", `port "99999" is not between 1 and 65535`},
		{"radio:8000", `url "radio:8000": not an http:// or https:// URL`},
		{"=http://admin:secret@a:8000", `http://admin:xxxxx@a:8000: no name before "="`},
		{"eu/edge=http://admin:secret@a:8000", `eu/edge=http://admin:xxxxx@a:8000: remote name "eu/edge": a name cannot have "/"`},
		{"local=http://admin:secret@a:8000", `remote name "local": the name of the engine in this process`},
		{"http://admin:secret@local", `remote name "local"`},
	} {
		_, err := parseRemoteArg(c.arg)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: %v, want %q", c.arg, err, c.want)
		}
	}
}

// writeConfig writes a configuration file for a test and returns its path.
func writeConfig(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const twoRemotes = `[server]
listen = ["127.0.0.1:0"]

[[remote]]
name = "radio-a"
url = "http://admin:pw@radio-a:8000"
kind = "icecast"

[[remote]]
url = "http://edge-1:8000"
user = "ops"
password = "secret"
`

// icedeck watch's command line: flags anywhere among the servers, the
// [[remote]] sections of --config after them, --kind over every kind.
func TestWatchCommandLine(t *testing.T) {
	t.Parallel()
	conf := writeConfig(t, "fleet.toml", twoRemotes)
	var stderr bytes.Buffer
	w, err := parseWatch([]string{"--interval", "500ms", "local-ish=http://127.0.0.1:8000", "--read-only",
		"http://admin:pw@127.0.0.1:9000", "--config", conf, "--kind", "icedeck"}, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if w.interval != 500*time.Millisecond || !w.readOnly || w.kind != remote.KindIcedeck {
		t.Errorf("options %+v", w)
	}
	var got []string
	for _, s := range w.remotes {
		got = append(got, s.DisplayName()+" "+string(s.URL))
	}
	want := []string{"radio-a http://admin:pw@radio-a:8000", "edge-1:8000 http://edge-1:8000",
		"local-ish http://127.0.0.1:8000", "127.0.0.1:9000 http://admin:pw@127.0.0.1:9000"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("servers:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if s := w.remotes[1]; s.User != "ops" || s.Password != "secret" {
		t.Errorf("the section's credentials: %+v", s.RemoteSection)
	}
	// Without --kind, each server keeps its own.
	w, err = parseWatch([]string{"--config", conf}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if w.kind != "" || w.remotes[0].Kind != "icecast" || w.interval != 2*time.Second {
		t.Errorf("kind %q, first %q, interval %s", w.kind, w.remotes[0].Kind, w.interval)
	}

	for _, c := range []struct {
		args []string
		want string
		conf bool // a configError (exit 1), not a usageError (exit 2)
	}{
		{nil, "no server to watch", false},
		{[]string{"--interval", "10ms", "http://a:8000"}, "--interval 10ms: at least 100ms", false},
		{[]string{"--kind", "shoutcast", "http://a:8000"}, `--kind: kind "shoutcast": auto, icedeck or icecast`, false},
		{[]string{"http://a:8000", "a:8000=http://admin:secret@b:8000"},
			`two servers are named "a:8000": http://a:8000 and a:8000=http://admin:xxxxx@b:8000`, false},
		{[]string{"--config", conf, "radio-a=http://admin:secret@c:8000"},
			`two servers are named "radio-a": [[remote]] at ` + conf + `:4 and radio-a=http://admin:xxxxx@c:8000`, false},
		{[]string{"--config", filepath.Join(t.TempDir(), "none.toml")}, "no such file", true},
	} {
		_, err := parseWatch(c.args, &stderr)
		var ce configError
		var ue usageError
		switch {
		case err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "secret"):
			t.Errorf("%q: %v, want %q", c.args, err, c.want)
		case c.conf && !errors.As(err, &ce), !c.conf && !errors.As(err, &ue):
			t.Errorf("%q: %T, want the other kind", c.args, err)
		}
	}
}

// What the operator sees of a bad command line, through run: the
// argument named without its password, the usage, exit status 2; a bad
// file, exit status 1. Nothing reaches the terminal's screen mode.
func TestWatchRefusesBadCommandLines(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"watch"}, 2, []string{"icedeck watch: no server to watch", "Usage: icedeck watch [flags] URL|NAME=URL"}},
		{[]string{"watch", "http://127.0.0.1:8000", "edge=http://admin:secret@edge:8000/live.mp3"}, 2,
			[]string{`icedeck watch: edge: url "http://admin:xxxxx@edge:8000/live.mp3": has a path`, "Usage: icedeck watch"}},
		{[]string{"watch", "--bogus"}, 2, []string{"flag provided but not defined: -bogus", "Usage: icedeck watch", "-interval"}},
		{[]string{"watch", "--config", writeConfig(t, "bad.toml", "[[remote]]\nname = \"local\"\nurl = \"http://a:8000\"\n")}, 1,
			[]string{`bad.toml:2: remote name "local"`}},
		{[]string{"watch", "--help"}, 0, []string{"Usage: icedeck watch", "status-json.xsl", "-read-only"}},
	} {
		var stdout, stderr bytes.Buffer
		code := run(c.args, &stdout, &stderr)
		if code != c.code {
			t.Errorf("%q: exit %d, want %d\n%s", c.args, code, c.code, stderr.String())
		}
		for _, w := range c.want {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("%q: stderr lacks %q:\n%s", c.args, w, stderr.String())
			}
		}
		if strings.Contains(stderr.String(), "secret") || stdout.Len() > 0 {
			t.Errorf("%q: the password shown, or stdout written:\n%s\n%s", c.args, stderr.String(), stdout.String())
		}
	}
}

// In the normal mode, --remote and the file's [[remote]] sections are
// the servers the interface shows beside the engine, checked with the
// other settings: --check-config refuses what a start would.
func TestRemoteFlagAndSections(t *testing.T) {
	t.Parallel()
	conf := writeConfig(t, "icedeck.toml", twoRemotes)
	o, err := parseFlags([]string{"--config", conf, "--remote", "edge-2=http://admin:a,b@edge-2:8000", "--remote", "http://10.0.0.9:8000"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if got := remoteNames(o.remotes); got != "radio-a edge-1:8000 edge-2 10.0.0.9:8000" {
		t.Errorf("remotes %q", got)
	}
	if o.remotes[2].URL != "http://admin:a,b@edge-2:8000" { // a comma in a password is not two values
		t.Errorf("URL %q", o.remotes[2].URL)
	}
	if o.file != nil && len(o.file.Warnings) > 0 {
		t.Errorf("warnings: %v", o.file.Warnings)
	}

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--config", conf, "--remote", "edge-1:8000=http://admin:secret@other:8000", "--check-config"}, 2,
			`icedeck: --remote: two servers are named "edge-1:8000": [[remote]] at ` + conf + `:9 and edge-1:8000=http://admin:xxxxx@other:8000`},
		{[]string{"--remote", "local=http://admin:secret@a:8000", "--check-config"}, 2, `--remote: local=http://admin:xxxxx@a:8000: remote name "local"`},
		{[]string{"--config", writeConfig(t, "slash.toml", "[[remote]]\nname = \"eu/edge\"\nurl = \"http://a:8000\"\n"), "--check-config"}, 1,
			`slash.toml:2: remote name "eu/edge": a name cannot have "/"`},
		{[]string{"--config", conf, "--remote", "http://b:8000", "--check-config"}, 0, ""},
	} {
		var stdout, stderr bytes.Buffer
		code := run(c.args, &stdout, &stderr)
		if code != c.code || !strings.Contains(stderr.String(), c.want) || strings.Contains(stderr.String(), "secret") {
			t.Errorf("%q: exit %d (want %d)\n%s\nwant %q", c.args, code, c.code, stderr.String(), c.want)
		}
		if c.code == 0 && strings.Contains(stderr.String(), "warning") {
			t.Errorf("%q: %s", c.args, stderr.String())
		}
	}
}

// Headless, the remote servers are not watched, and the log says so
// once; the configuration that names them still starts.
func TestHeadlessIgnoresRemotes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	conf := writeConfig(t, "icedeck.toml", twoRemotes)
	h := startHeadless(t, dir, "--config", conf, "--listen", freePort(t), "--remote", "edge-2=http://admin:secret@127.0.0.1:1")
	h.stop(t)
	logs := h.logs.String()
	if n := strings.Count(logs, "remote servers are shown by the interface only: headless ignores them"); n != 1 ||
		!strings.Contains(logs, `remotes="radio-a edge-1:8000 edge-2"`) || strings.Contains(logs, "secret") {
		t.Errorf("the log (%d warnings):\n%s", n, logs)
	}
}

// A reload that changes the [[remote]] sections says the interface keeps
// the servers it started with; one that does not change them says
// nothing of them.
func TestReloadSaysRemotesChangeAtNextStart(t *testing.T) {
	t.Parallel()
	conf := writeConfig(t, "icedeck.toml", twoRemotes)
	o, err := parseFlags([]string{"--config", conf, "--source-password", "s", "--admin-password", "a"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var logs testkit.Buffer
	st, err := startStation(o, &logs)
	if err != nil {
		t.Fatal(err)
	}
	defer st.stop()
	const said = "the remote servers changed: the interface shows the new ones at the next start"
	if err := st.reload(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), said) {
		t.Fatalf("said with nothing changed:\n%s", logs.String())
	}
	if err := os.WriteFile(conf, []byte(strings.Replace(twoRemotes, `"radio-a"`, `"radio-b"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := st.reload(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), said) || !strings.Contains(logs.String(), `remotes="radio-b edge-1:8000"`) {
		t.Fatalf("not said:\n%s", logs.String())
	}
}

// The fleet console on the real binary in a real terminal, over the real
// Debian Icecast 2.4.4 and a headless icedeck, each with a live ffmpeg
// source on /live.mp3 and listeners, and the same Icecast once more with
// a wrong password: both servers' mounts and listeners show, only the
// wrong credentials are refused; d y cuts the Icecast listener chosen, T
// sets a title an ICY listener of the Icecast hears; the icedeck stopped
// shows unreachable while the Icecast's line goes on counting, and comes
// back up by itself when started again on its port; ctrl+c ends cleanly.
func TestWatchFleetEndToEnd(t *testing.T) {
	testkit.NeedTool(t, "ffmpeg", "tmux")
	t.Parallel()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	ic := testkit.StartIcecast(t, "")
	dir := t.TempDir()
	deckAddr := freePort(t)
	deck := startHeadless(t, dir, "--listen", deckAddr)
	sine := []string{"-v", "error", "-re", "-f", "lavfi", "-i", "sine=f=440"}
	runFFmpeg(t, ic.Addr+"/live.mp3", append(append(sine, asMP3...),
		"icecast://source:"+testkit.IcecastSourcePassword+"@"+ic.Addr+"/live.mp3"))
	liveSource(t, deckAddr, "/live.mp3", "sine=f=440", asMP3...)
	for _, addr := range []string{ic.Addr, deckAddr} {
		testkit.Eventually(t, 15*time.Second, "the source on "+addr, func() bool { return serves(addr, "/live.mp3") })
	}
	kicked := testkit.Listen(t, ic.Addr, "/live.mp3", "User-Agent", "kick-me/1.0")
	icy := testkit.Listen(t, ic.Addr, "/live.mp3", "Icy-MetaData", "1", "User-Agent", "icy-ear/1.0")
	deckListener := testkit.Listen(t, deckAddr, "/live.mp3", "User-Agent", "deck-ear/1.0")

	log := filepath.Join(dir, "watch.log")
	tm := testkit.StartTmux(t, 160, 48, fmt.Sprintf("%s watch --interval 500ms --log-file %s prod=http://admin:%s@%s deck=http://admin:apw@%s badpw=http://admin:wrong@%s",
		bin, log, testkit.IcecastAdminPassword, ic.Addr, deckAddr, ic.Addr))
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(log)
			t.Logf("icedeck watch's log:\n%s", b)
		}
	})
	until := func(what string, ok func(scr string) bool) string {
		t.Helper()
		var scr string
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if scr = tm.Screen(); ok(scr) {
				return scr
			}
			if time.Now().After(deadline) {
				t.Fatalf("the screen never showed %s; last screen:\n%s", what, scr)
			}
		}
	}

	scr := until("both servers up, their listeners counted, the wrong password refused", func(scr string) bool {
		return serverCell(scr, "prod", "STATE") == "up" && serverCell(scr, "deck", "STATE") == "up" &&
			strings.HasPrefix(serverCell(scr, "badpw", "STATE"), "401") &&
			serverCell(scr, "prod", "LISTENERS") == "2" && serverCell(scr, "deck", "LISTENERS") == "1"
	})
	for name, kind := range map[string]string{"prod": "icecast", "deck": "icedeck"} {
		if k := serverCell(scr, name, "KIND"); k != kind {
			t.Errorf("%s's kind: %q, want %q", name, k, kind)
		}
		if row := mountRow(scr, name, "/live.mp3"); row == "" {
			t.Errorf("no row of %s's /live.mp3 in the mounts table:\n%s", name, scr)
		}
	}
	if v := serverCell(scr, "prod", "VERSION"); !strings.Contains(v, "Icecast 2.4") {
		t.Errorf("the Icecast's version: %q", v)
	}

	// The Icecast's mount, by the filter (it matches the server's name);
	// its listener by its user agent; d y cuts that connection alone.
	tm.Keys("/")
	tm.Keys("-l", "prod")
	tm.Keys("Enter")
	until("the Icecast's mount alone", func(scr string) bool {
		return mountRow(scr, "prod", "/live.mp3") != "" && mountRow(scr, "deck", "/live.mp3") == ""
	})
	// 1 opens the Listeners tab, or gives it the keyboard when open; the
	// second 1 does the other.
	tm.Keys("1", "1")
	until("the Icecast's listeners", func(scr string) bool {
		return strings.Contains(scr, "kick-me/1.0") && strings.Contains(scr, "icy-ear/1.0")
	})
	tm.Keys("/")
	until("the listeners' filter", func(scr string) bool { return strings.Contains(scr, "filter listeners") })
	tm.Keys("-l", "kick-me")
	tm.Keys("Enter")
	until("the listener filtered", func(scr string) bool {
		return strings.Contains(scr, "kick-me/1.0") && !strings.Contains(scr, "icy-ear/1.0")
	})
	tm.Keys("d")
	until("the confirmation naming the server", func(scr string) bool { return strings.Contains(scr, "/live.mp3 on prod?") })
	tm.Keys("y")
	select {
	case <-kicked.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("the kicked listener is still connected; screen:\n%s", tm.Screen())
	}
	if icy.Closed() || deckListener.Closed() {
		t.Fatal("a listener not chosen was cut too")
	}
	tm.Keys("Escape")
	// Waited for: an escape with a key right after it reads as alt+key.
	until("the listeners' filter cleared", func(scr string) bool { return strings.Contains(scr, "icy-ear/1.0") })

	// T: the title, set through Icecast's admin, in the ICY stream.
	tm.Keys("T")
	until("the title prompt naming the server", func(scr string) bool { return strings.Contains(strings.ToLower(scr), "title of /live.mp3 on prod:") })
	tm.Keys("C-u")
	tm.Keys("-l", "Fleet <one> & two")
	tm.Keys("Enter")
	metaint := testkit.ICYMetaint(t, icy.Head)
	testkit.Eventually(t, 10*time.Second, "the title in the Icecast's ICY stream", func() bool {
		return slices.ContainsFunc(testkit.ICYTitles(icy.Bytes(), metaint), func(m string) bool {
			return strings.Contains(m, "StreamTitle='Fleet <one> & two';")
		})
	})

	// The icedeck stops: unreachable, while the Icecast's line goes on
	// (a new listener there is counted); started again, it is up again
	// with no key pressed.
	deck.stop(t)
	until("the icedeck unreachable", func(scr string) bool { return strings.HasPrefix(serverCell(scr, "deck", "STATE"), "unreachable") })
	testkit.Listen(t, ic.Addr, "/live.mp3", "User-Agent", "late/1.0")
	until("the Icecast's new listener counted while the icedeck is down", func(scr string) bool {
		return serverCell(scr, "prod", "LISTENERS") == "2" && serverCell(scr, "prod", "STATE") == "up" &&
			strings.HasPrefix(serverCell(scr, "deck", "STATE"), "unreachable")
	})
	startHeadless(t, dir, "--listen", deckAddr)
	until("the icedeck up again", func(scr string) bool { return serverCell(scr, "deck", "STATE") == "up" })

	tm.Keys("C-c")
	tm.WaitScreen("a clean exit", "EXIT=0")
}

// serves reports whether the server at addr lists mount as its one
// source in status-json.xsl.
func serves(addr, mount string) bool {
	resp, err := http.Get("http://" + addr + "/status-json.xsl")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	src, ok := oneSource(body)
	return err == nil && ok && strings.HasSuffix(src.ListenURL, mount)
}

// serverCell is the text under column (its header's title) on server's
// line of the servers pane, "" when there is none. A number is right-
// aligned: it ends under its title's end; other text starts under its
// title's start and runs to the next title.
func serverCell(scr, server, column string) string {
	lines := strings.Split(scr, "\n")
	for i, l := range lines {
		if !strings.Contains(l, "SERVER") || !strings.Contains(l, "KIND") || !strings.Contains(l, column) {
			continue
		}
		head := []rune(l)
		start := runeIndex(head, column, 0)
		end := start + len([]rune(column))
		if column != "SOURCES" && column != "LISTENERS" {
			end = len(head)
			for j := start + len([]rune(column)); j+1 < len(head); j++ {
				if head[j] == ' ' && head[j+1] != ' ' {
					end = j + 1
					break
				}
			}
		}
		for _, row := range lines[i+1:] {
			f := strings.Fields(row)
			if len(f) > 0 && (f[0] == server || len(f) > 1 && f[1] == server) {
				r := []rune(row)
				return strings.TrimSpace(string(r[min(start, len(r)):min(end, len(r))]))
			}
		}
		return ""
	}
	return ""
}

func runeIndex(s []rune, sub string, from int) int {
	i := strings.Index(string(s[from:]), sub)
	if i < 0 {
		return -1
	}
	return from + len([]rune(string(s[from:])[:i]))
}

// mountRow is the mounts table's line of server's mount.
func mountRow(scr, server, mount string) string {
	for _, l := range strings.Split(scr, "\n") {
		f := strings.Fields(l)
		if i := slices.Index(f, mount); i > 0 && f[i-1] == server {
			return l
		}
	}
	return ""
}
