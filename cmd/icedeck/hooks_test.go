package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// The binary with Icecast's URL authentication from its TOML file: an
// ffmpeg source on /auth.mp3 is told to mount_add and runs on_connect;
// curl and a hand-written listener are admitted or refused by a local
// hook, which sees the listeners' own values and hears of their leaving;
// mount_remove still reaches it when icedeck is stopped.
func TestURLAuthHookWithTheBinary(t *testing.T) {
	t.Parallel()
	curl := testkit.NeedTool(t, "curl")
	testkit.NeedTool(t, "ffmpeg", "sh")
	hook := testkit.StartHook(t, func(w http.ResponseWriter, r *http.Request, f url.Values) {
		if f.Get("action") != "listener_add" {
			return
		}
		if f.Get("user") == "alice" && f.Get("pass") == "s3cret" {
			w.Header().Set("icecast-auth-user", "1")
			return
		}
		w.Header().Set("icecast-auth-message", "Pay first, "+f.Get("user"))
	})
	// called waits for the hook's calls with action and returns their forms.
	called := func(action string, n int) []url.Values {
		t.Helper()
		var forms []url.Values
		for _, c := range hook.Received(t, action, n) {
			forms = append(forms, c.Form)
		}
		return forms
	}

	dir := t.TempDir()
	ran := filepath.Join(dir, "ran")
	onConnect := filepath.Join(dir, "on-connect.sh")
	if err := os.WriteFile(onConnect, []byte("#!/bin/sh\necho \"$1\" >> "+ran+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`[[mount]]
name = "/auth.mp3"
on_connect = %q

[mount.auth]
listener_add = %q
listener_remove = %q
mount_add = %q
mount_remove = %q
headers = ["X-Ticket"]
timeout = "3s"
`, onConnect, hook.URL+"/add", hook.URL+"/remove", hook.URL+"/mount", hook.URL+"/mount")
	if err := os.WriteFile(filepath.Join(dir, "icedeck.toml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	port := addr[strings.LastIndex(addr, ":")+1:]
	deck := startHeadless(t, dir, "--config", "icedeck.toml", "--listen", addr)

	ffmpegSource(t, addr, "pw", "/auth.mp3", "tone.mp3", "-f", "mp3", "-content_type", "audio/mpeg", "-write_xing", "0", "-id3v2_version", "0")
	want := url.Values{"action": {"mount_add"}, "mount": {"/auth.mp3"}, "server": {"127.0.0.1"}, "port": {port}}
	if f := called("mount_add", 1)[0]; f.Encode() != want.Encode() {
		t.Errorf("mount_add: %v", f)
	}
	testkit.Eventually(t, 10*time.Second, "on_connect ran", func() bool { b, _ := os.ReadFile(ran); return string(b) == "/auth.mp3\n" })

	// get runs curl as user:pass and returns the status and about a second
	// of the body.
	get := func(user, pass string) (string, []byte) {
		t.Helper()
		out := filepath.Join(dir, user+".out")
		code, err := exec.Command(curl, "-s", "-u", user+":"+pass, "-H", "X-Ticket: t&1", "--max-time", "1", "-o", out, "-w", "%{http_code}",
			"http://"+addr+"/auth.mp3?via=curl").Output()
		if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 28) { // 28: the time limit, for a stream
			t.Fatalf("curl as %s: %v", user, err)
		}
		body, _ := os.ReadFile(out)
		return string(code), body
	}
	tone := testkit.Media(t, "tone.mp3")
	// At least three frames, and ffmpeg copies the file's frames as they are.
	if code, body := get("alice", "s3cret"); code != "200" || len(body) < 1300 || !bytes.Contains(append(append([]byte(nil), tone...), tone...), body[:1200]) {
		t.Fatalf("curl as alice: %s, %d bytes not from the source", code, len(body))
	}
	if code, body := get("bob", "guess"); code != "401" || string(body) != "Pay first, bob\n" {
		t.Fatalf("curl as bob: %s %q", code, body)
	}
	adds := called("listener_add", 2)
	for i, user := range []string{"alice", "bob"} {
		f := adds[i]
		if f.Get("user") != user || f.Get("mount") != "/auth.mp3?via=curl" || f.Get("ip") != "127.0.0.1" || f.Get("server") != "127.0.0.1" ||
			f.Get("port") != port || !strings.HasPrefix(f.Get("agent"), "curl/") || f.Get("ClientHeader.X-Ticket") != "t&1" || f.Get("client") == "" {
			t.Errorf("listener_add for %s: %v", user, f)
		}
	}
	removes := called("listener_remove", 1)
	if f := removes[0]; f.Get("client") != adds[0].Get("client") || f.Get("user") != "alice" || f.Get("duration") == "" {
		t.Errorf("listener_remove after curl as alice: %v", f)
	}

	// A listener that stays until icedeck stops; its id is the hook's client.
	l := testkit.Listen(t, addr, "/auth.mp3", "Authorization", testkit.Basic("alice", "s3cret"))
	if !strings.HasPrefix(l.Head, "HTTP/1.0 200 OK") {
		t.Fatalf("listener: %s", l.Head)
	}
	testkit.Eventually(t, 10*time.Second, "audio", func() bool { return len(l.Bytes()) > 4000 })
	client := called("listener_add", 3)[2].Get("client")
	if _, err := strconv.ParseUint(client, 10, 64); err != nil || client == adds[0].Get("client") {
		t.Errorf("client ids %q and %q", adds[0].Get("client"), client)
	}
	logs := deck.logs.String()
	if !strings.Contains(logs, "listener.refused") || !strings.Contains(logs, "auth refused") || !strings.Contains(logs, "Pay first, bob") {
		t.Errorf("the refusal is not logged with its reason:\n%s", logs)
	}

	deck.stop(t)
	if removes := called("listener_remove", 2); removes[1].Get("client") != client {
		t.Errorf("listener_remove at shutdown: %v", removes[1])
	}
	if f := called("mount_remove", 1)[0]; f.Get("mount") != "/auth.mp3" {
		t.Errorf("mount_remove: %v", f)
	}
}
