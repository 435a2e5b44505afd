package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// The binary with an [access] deny_agents_file: curl with a refused user
// agent gets 403, another gets the stream; the file is read again on
// SIGHUP.
func TestDenyAgentsFileWithCurl(t *testing.T) {
	t.Parallel()
	curl := testkit.NeedTool(t, "curl")
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	data := noiseMP3(t, 10)
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("agents.txt", "# Icecast's deny-agents file\n*Bot*\nVLC/3.0.18 LibVLC/3.0.18\n")
	write("icedeck.toml", "[auth]\nsource_password = \"pw\"\nadmin_password = \"adm\"\n\n[access]\ndeny_agents_file = \"agents.txt\"\n")
	addr := freePort(t)
	cmd := exec.Command(bin, "--headless", "--config", "icedeck.toml", "--listen", addr)
	cmd.Dir = dir
	var logs testkit.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	testkit.Eventually(t, 10*time.Second, "listening", func() bool { return strings.Contains(logs.String(), "icedeck relay listening") })
	src := putSource(t, addr, "/live.mp3", "pw", data)

	// get runs curl with a user agent; it returns the status and, for a
	// 200, the bytes of about a second of the stream.
	get := func(ua string) (string, []byte) {
		t.Helper()
		out := filepath.Join(dir, "out.mp3")
		os.Remove(out)
		b, err := exec.Command(curl, "-s", "-A", ua, "--max-time", "1", "-o", out, "-w", "%{http_code}", "http://"+addr+"/live.mp3").Output()
		if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 28) { // 28: the time limit, for a stream
			t.Fatalf("curl -A %q: %v", ua, err)
		}
		body, _ := os.ReadFile(out)
		return string(b), body
	}
	for _, ua := range []string{"Googlebot/2.1", "vlc/3.0.18 libvlc/3.0.18"} {
		if code, body := get(ua); code != "403" || string(body) != "Forbidden\n" {
			t.Fatalf("curl -A %q: %s %q", ua, code, body)
		}
	}
	code, body := get("Mozilla/5.0")
	if code != "200" {
		t.Fatalf("curl -A Mozilla/5.0: %s", code)
	}
	contiguous(t, "curl's stream", body, src.bytes())
	if !strings.Contains(logs.String(), `deny-agents \"*Bot*\"`) {
		t.Fatalf("the refusal's reason is not logged:\n%s", logs.String())
	}

	// An agent added to the file is refused after SIGHUP.
	write("agents.txt", "*Bot*\nmozilla/*\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "reloaded", func() bool { return strings.Contains(logs.String(), "configuration reloaded") })
	if code, _ := get("Mozilla/5.0"); code != "403" {
		t.Fatalf("after SIGHUP, curl -A Mozilla/5.0: %s", code)
	}
}
