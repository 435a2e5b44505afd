package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// reloadConfig is the file of TestSIGHUPReloads, with the settings it
// changes between reloads.
func reloadConfig(livePass string, maxListeners int, otherPass string) string {
	return fmt.Sprintf(`[auth]
source_password = "global"
admin_password = "reload-admin"

[[mount]]
name = "/live.mp3"
password = %q
max_listeners = %d

[[mount]]
name = "/other.mp3"
password = %q
`, livePass, maxListeners, otherPass)
}

// SIGHUP rereads the configuration as Icecast does: a mount's password
// and listener limit change while its source and listener stream on, and
// a file with an error is refused with its line while the old settings
// stay. SIGTERM then ends the process cleanly with the report.
func TestSIGHUPReloads(t *testing.T) {
	t.Parallel()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	data := noiseMP3(t, 20)
	dir := t.TempDir()
	conf := filepath.Join(dir, "icedeck.toml")
	if err := os.WriteFile(conf, []byte(reloadConfig("one", 5, "b1")), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	cmd := exec.Command(bin, "--headless", "--config", conf, "--listen", addr, "--report", filepath.Join(dir, "report.json"))
	cmd.Dir = dir
	var logs testkit.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	testkit.Eventually(t, 10*time.Second, "listening", func() bool { return strings.Contains(logs.String(), "icedeck relay listening") })

	src := putSource(t, addr, "/live.mp3", "one", data)
	l := listenTo(t, addr, "/live.mp3", false)
	l.waitBytes(t, 20000, 5*time.Second)

	reload := func(content, want string) {
		t.Helper()
		if err := os.WriteFile(conf, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		n := strings.Count(logs.String(), "config.reload")
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 5*time.Second, "reload logged", func() bool { return strings.Count(logs.String(), "config.reload") > n })
		if !strings.Contains(logs.String(), want) {
			t.Fatalf("after SIGHUP the log does not say %q:\n%s", want, logs.String())
		}
	}
	reload(reloadConfig("two", 1, "b2"), "configuration reloaded")

	if r := testkit.RawRequest(t, addr, "GET /live.mp3 HTTP/1.0\r\n\r\n"); r.Code != http.StatusServiceUnavailable {
		t.Fatalf("a second listener over the reloaded limit of 1 got %d", r.Code)
	}
	sourceAnswer := func(pass string) int {
		c, r := testkit.ConnectSource(t, addr, testkit.SourceRequest{Mount: "/other.mp3", User: "source", Password: pass, ContentType: "audio/mpeg"})
		if c != nil {
			c.Close()
		}
		return r.Code
	}
	if code := sourceAnswer("b1"); code != http.StatusUnauthorized {
		t.Fatalf("the old mount password after reload: %d", code)
	}
	testkit.Eventually(t, 5*time.Second, "new password takes the mount", func() bool { return sourceAnswer("b2") == http.StatusOK })

	// The same through the API, as a platform's panel does it.
	apiReload := func(content string) (int, map[string]any) {
		t.Helper()
		if err := os.WriteFile(conf, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/reload", nil)
		req.SetBasicAuth("admin", "reload-admin")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("reload answer is not JSON: %v", err)
		}
		return resp.StatusCode, body
	}
	if code, body := apiReload(reloadConfig("two", 1, "b3")); code != http.StatusOK || body["ok"] != true {
		t.Fatalf("POST /api/v1/reload: %d %v", code, body)
	}
	testkit.Eventually(t, 5*time.Second, "the API reload's password", func() bool { return sourceAnswer("b3") == http.StatusOK })
	code, body := apiReload(strings.Replace(reloadConfig("two", 1, "b4"), "[[mount]]", "[[mount]\n", 1))
	if msg, _ := body["error"].(string); code != http.StatusUnprocessableEntity || body["ok"] != false || !regexp.MustCompile(`icedeck\.toml:\d+`).MatchString(msg) {
		t.Fatalf("a broken file through the API: %d %v", code, body)
	}
	if err := os.WriteFile(conf, []byte(reloadConfig("two", 1, "b2")), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Process.Signal(syscall.SIGHUP)
	testkit.Eventually(t, 5*time.Second, "back to b2", func() bool { return sourceAnswer("b2") == http.StatusOK })

	// A file with an error: refused at its line, the old settings stay.
	reload(strings.Replace(reloadConfig("three", 1, "b3"), "max_listeners = 1", "max_listeners = \"many\"", 1), "configuration not reloaded")
	if !regexp.MustCompile(`icedeck\.toml:\d+`).MatchString(logs.String()) {
		t.Fatalf("the refusal does not name the file and line:\n%s", logs.String())
	}
	testkit.Eventually(t, 5*time.Second, "old settings kept", func() bool { return sourceAnswer("b2") == http.StatusOK })

	size := l.size()
	l.waitBytes(t, size+16000, 5*time.Second)
	if l.closed() {
		t.Fatal("the listener was disconnected by a reload")
	}
	contiguous(t, "listener across two reloads", l.bytes(), src.bytes())
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("icedeck did not exit cleanly on SIGTERM: %v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), "shut down cleanly") {
		t.Errorf("no clean shutdown logged:\n%s", logs.String())
	}
}

// Started as root with a user configured, icedeck takes that user once
// its socket is open, as Icecast's <changeowner> does, and still serves.
func TestChangeOwnerWhenRoot(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("changeowner needs root; this test runs as uid", os.Geteuid())
	}
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "icedeck.toml")
	if err := os.WriteFile(conf, []byte("[server]\nuser = \"nobody\"\ngroup = \"nogroup\"\n[auth]\nsource_password = \"x\"\nadmin_password = \"y\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	cmd := exec.Command(bin, "--headless", "--config", conf, "--listen", addr)
	var logs testkit.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	testkit.Eventually(t, 10*time.Second, "listening", func() bool { return strings.Contains(logs.String(), "icedeck relay listening") })
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^Uid:\s+65534\s+65534\s+65534\s+65534$`).Match(status) || !regexp.MustCompile(`(?m)^Gid:\s+65534\s`).Match(status) {
		t.Fatalf("not running as nobody:nogroup:\n%s\n%s", status, logs.String())
	}
	if r := testkit.RawRequest(t, addr, "GET /status-json.xsl HTTP/1.0\r\n\r\n"); r.Code != http.StatusOK {
		t.Fatalf("status after changing owner: %d", r.Code)
	}
}
