package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// buildBinary compiles icedeck once per test run.
var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "icedeck-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "icedeck")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v: %s", err, out)
	}
	return bin, nil
})

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// The headless binary, driven as an operator would: ffmpeg streams to it,
// SIGINT stops it, and the report proves what arrived.
func TestHeadlessReportsWhatArrived(t *testing.T) {
	ff := testkit.NeedTool(t, "ffmpeg")
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mp3 := filepath.Join(dir, "in.mp3")
	if out, err := exec.Command(ff, "-v", "error", "-f", "lavfi", "-i", "sine=f=1000:d=3", "-c:a", "libmp3lame", "-b:a", "128k", "-write_xing", "0", mp3).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want, _ := os.ReadFile(mp3)
	sum := sha256.Sum256(want)
	addr := freePort(t)
	report := filepath.Join(dir, "report.json")
	cmd := exec.Command(bin, "--headless", "--listen", addr, "--log-format", "json", "--report", report)
	cmd.Env = append(os.Environ(), "ICEDECK_SOURCE_PASSWORD=s3cret", "ICEDECK_ADMIN_PASSWORD=")
	var logs testkit.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	testkit.Eventually(t, 10*time.Second, "listening", func() bool { return strings.Contains(logs.String(), "icedeck relay listening") })

	out, err := exec.Command(ff, "-v", "error", "-i", mp3, "-c", "copy", "-f", "mp3", "-write_xing", "0",
		"-content_type", "audio/mpeg", "icecast://source:s3cret@"+addr+"/test.mp3").CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	testkit.Eventually(t, 10*time.Second, "source left", func() bool { return strings.Contains(logs.String(), `"event":"source.left"`) })
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("icedeck did not exit cleanly on SIGINT: %v\n%s", err, logs.String())
	}

	// Every log line is JSON with an event name where it reports one.
	var sawConnect bool
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if rec["event"] == "source.connected" && rec["mount"] == "/test.mp3" {
			sawConnect = true
		}
	}
	if !sawConnect {
		t.Error("no source.connected event logged")
	}
	// The admin password was not configured: a random one is generated and shown.
	if !regexp.MustCompile(`"admin_password":"[A-Za-z0-9]{16}"`).MatchString(logs.String()) {
		t.Error("no generated admin password in the log")
	}

	se := onlySession(t, report)
	if se.Mount != "/test.mp3" || se.Bytes != uint64(len(want)) || se.SHA256 != hex.EncodeToString(sum[:]) || se.Reason != "client closed" {
		t.Fatalf("session %+v, want %d bytes sha %x", se, len(want), sum)
	}
	if se.Frames.Codec != "MP3" || se.Frames.SampleRate != 44100 || se.Frames.SyncLosses != 0 || se.AudioSeconds < 2.9 || se.AudioSeconds > 3.1 {
		t.Fatalf("frames %+v, %.2f s", se.Frames, se.AudioSeconds)
	}
}

func TestFlags(t *testing.T) {
	var errb bytes.Buffer
	o, err := parseFlags([]string{"--listen", "127.0.0.1:1,127.0.0.1:2", "--burst-size", "32k", "--queue-size", "1m", "--source-password", "x"}, &errb)
	if err != nil {
		t.Fatal(err)
	}
	if got := o.cfg.Listen; len(got) != 2 || got[1] != "127.0.0.1:2" {
		t.Errorf("listen %v", got)
	}
	if o.cfg.BurstSize != 32<<10 || o.cfg.QueueSize != 1<<20 || o.cfg.SourcePassword != "x" || o.genSource || !o.genAdmin {
		t.Errorf("parsed %+v", o)
	}
	for _, bad := range [][]string{{"--burst-size", "1m", "--queue-size", "64k"}, {"--slow-listener", "maybe"}, {"--log-format", "xml"}, {"stray"}} {
		if _, err := parseFlags(bad, &errb); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	a, b := randomPassword(), randomPassword()
	if len(a) != 16 || a == b {
		t.Errorf("random passwords %q %q", a, b)
	}
}

// runBinary runs the built icedeck in dir with args and returns its exit
// code and stderr; it fails the test if it runs longer than 10 s.
func runBinary(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ICEDECK_SOURCE_PASSWORD=pw", "ICEDECK_ADMIN_PASSWORD=apw")
	var stderr testkit.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitExit(t, cmd, 10*time.Second, func() string { return "stderr:\n" + stderr.String() })
	return cmd.ProcessState.ExitCode(), stderr.String()
}

// Every number and duration is range-checked by the engine's one rule,
// whether it comes from a flag or the file, and --check-config says so
// with exit status 1; a value from the file is reported at its line.
func TestCheckConfigRefusesOutOfRangeValues(t *testing.T) {
	cases := []struct {
		name string
		toml string // "" = no file
		args []string
		want string // "" = valid
	}{
		{"metaint flag", "", []string{"--metaint", "-1"}, "icedeck: limits.metaint (--metaint) must be between 1 and 1048576, got -1"},
		{"max clients flag", "", []string{"--max-clients", "-1"}, "icedeck: limits.clients (--max-clients) must be at least 1, got -1"},
		{"header timeout flag", "", []string{"--header-timeout", "-1s"}, "icedeck: limits.header_timeout (--header-timeout) must be more than 0 and at most 24h0m0s, got -1s"},
		{"write timeout flag", "", []string{"--write-timeout", "48h"}, "icedeck: limits.write_timeout (--write-timeout) must be more than 0 and at most 24h0m0s, got 48h0m0s"},
		{"grace flag", "", []string{"--grace", "-5s"}, "icedeck: limits.grace (--grace) must not be negative and at most 24h0m0s, got -5s"},
		{"max listeners flag", "", []string{"--max-listeners", "-1"}, "icedeck: limits.max_listeners (--max-listeners) must be at least 0, got -1"},
		{"max sources flag", "", []string{"--max-sources", "-2"}, "icedeck: limits.sources (--max-sources) must be at least 1, got -2"},
		{"burst flag", "", []string{"--burst-size", "-1"}, "icedeck: limits.burst_size (--burst-size) must be at least 1, got -1"},
		{"queue flag", "", []string{"--queue-size", "128m"}, "icedeck: limits.queue_size (--queue-size) must be between 1 and 67108864, got 134217728"},
		{"burst over queue flags", "", []string{"--burst-size", "1m", "--queue-size", "64k"}, "icedeck: limits.burst_size (--burst-size) must be at most limits.queue_size (65536), got 1048576"},
		{"slow listener flag", "", []string{"--slow-listener", "maybe"}, `icedeck: limits.slow_listener (--slow-listener) must be "drop" or "skip", got "maybe"`},
		{"latency flag", "", []string{"--latency", "5ms"}, "icedeck: limits.latency (--latency) must be between 10ms and 1s, got 5ms"},
		{"latency over write timeout flags", "", []string{"--latency", "1s", "--write-timeout", "1s"}, "icedeck: limits.latency (--latency) must be less than limits.write_timeout (1s), got 1s"},
		{"good flags", "", []string{"--metaint", "8192", "--max-clients", "10", "--header-timeout", "2s", "--latency", "50ms"}, ""},

		{"metaint file", "[limits]\nmetaint = -1\n", nil, "icedeck: icedeck.toml:2: limits.metaint (--metaint) must be between 1 and 1048576, got -1"},
		{"max clients file", "[limits]\nsources = 4\nclients = -1\n", nil, "icedeck: icedeck.toml:3: limits.clients (--max-clients) must be at least 1, got -1"},
		{"header timeout file", "[limits]\nheader_timeout = \"-1s\"\n", nil, "icedeck: icedeck.toml:2: limits.header_timeout (--header-timeout) must be more than 0 and at most 24h0m0s, got -1s"},
		{"queue file", "[limits]\nqueue_size = \"128MiB\"\n", nil, "icedeck: icedeck.toml:2: limits.queue_size (--queue-size) must be between 1 and 67108864, got 134217728"},
		{"mount grace file", "[[mount]]\nname = \"/a.mp3\"\ngrace = \"-1s\"\n", nil, "icedeck: icedeck.toml:3: mount /a.mp3: grace must not be negative and at most 24h0m0s, got -1s"},
		{"mount burst file", "[[mount]]\nname = \"/a.mp3\"\nburst_size = -5\n", nil, "icedeck: icedeck.toml:3: mount /a.mp3: burst_size must be at least 0, got -5"},
		{"latency file", "[limits]\nlatency = \"2s\"\n", nil, "icedeck: icedeck.toml:2: limits.latency (--latency) must be between 10ms and 1s, got 2s"},
		{"mount latency file", "[[mount]]\nname = \"/a.mp3\"\nlatency = \"1ms\"\n", nil, "icedeck: icedeck.toml:3: mount /a.mp3: latency must be between 10ms and 1s, got 1ms"},
		// The file is checked on its own (a flag does not excuse it: the
		// next start without the flag would fail); a flag wins over it, and
		// an error about the flag's value names the flag, not the file.
		{"flag does not excuse file", "[limits]\nmetaint = -1\n", []string{"--metaint", "8000"}, "icedeck: icedeck.toml:2: limits.metaint (--metaint) must be between 1 and 1048576, got -1"},
		{"flag over file", "[limits]\nmetaint = 8000\n", []string{"--metaint", "-1"}, "icedeck: limits.metaint (--metaint) must be between 1 and 1048576, got -1"},
		{"flag syntax", "[limits]\nmetaint = 8000\n", []string{"--metaint", "ten"}, "invalid value"},
		{"flag against file", "[limits]\nqueue_size = \"64k\"\nburst_size = \"32k\"\n", []string{"--burst-size", "128k"}, "icedeck: limits.burst_size (--burst-size) must be at most limits.queue_size (65536), got 131072"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if c.toml != "" {
				if err := os.WriteFile(filepath.Join(dir, "icedeck.toml"), []byte(c.toml), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			code, stderr := runBinary(t, dir, append([]string{"--check-config"}, c.args...)...)
			switch {
			case c.want == "":
				if code != 0 {
					t.Fatalf("exit %d, want 0; stderr:\n%s", code, stderr)
				}
			case c.want == "invalid value": // the flag package's own refusal: a usage error
				if code != 2 || !strings.Contains(stderr, c.want) {
					t.Fatalf("exit %d, want 2; stderr:\n%s", code, stderr)
				}
			default:
				if code != 1 || strings.TrimSpace(stderr) != c.want {
					t.Fatalf("exit %d, stderr:\n%s\nwant exit 1 and:\n%s", code, stderr, c.want)
				}
			}
		})
	}
}

// metaint = -1 used to pass the checks and panic at the first ICY
// listener; now icedeck refuses to start, saying where the value is.
func TestBadMetaintRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "radio.toml")
	if err := os.WriteFile(conf, []byte("[limits]\nmetaint = -1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	code, stderr := runBinary(t, dir, "--headless", "--config", conf, "--listen", addr)
	want := "icedeck: " + conf + ":2: limits.metaint (--metaint) must be between 1 and 1048576, got -1"
	if code != 1 || strings.TrimSpace(stderr) != want {
		t.Fatalf("exit %d, stderr:\n%s\nwant exit 1 and:\n%s", code, stderr, want)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("something listens on the address of an icedeck that refused to start")
	}
}

// rawSource connects a SOURCE client (the legacy method, as
// ffmpeg -legacy_icecast 1 sends it), as checkReport expects to find it,
// and returns it once accepted.
func rawSource(t *testing.T, addr, mount, password string) *testkit.Source {
	t.Helper()
	src, r := testkit.ConnectSource(t, addr, testkit.SourceRequest{
		Method: "SOURCE", Mount: mount, User: "source", Password: password, ContentType: "audio/mpeg",
		Header: []string{"User-Agent", "hup-test"},
	})
	if src == nil {
		t.Fatalf("source not accepted: %d %q", r.Code, r.Head)
	}
	return src
}

// reportSession is a session of a --report file, as far as the tests
// read it.
type reportSession struct {
	Mount        string  `json:"mount"`
	Method       string  `json:"method"`
	UserAgent    string  `json:"user_agent"`
	Bytes        uint64  `json:"bytes"`
	SHA256       string  `json:"sha256"`
	AudioSeconds float64 `json:"audio_seconds"`
	Reason       string  `json:"end_reason"`
	Frames       struct {
		Codec      string `json:"codec"`
		SampleRate int    `json:"sample_rate"`
		Frames     uint64 `json:"frames"`
		SyncLosses uint64 `json:"sync_losses"`
	} `json:"frames"`
}

// onlySession reads a --report file and returns its one session, failing
// the test if it lists any other number.
func onlySession(t *testing.T, report string) reportSession {
	t.Helper()
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("no report: %v", err)
	}
	var rep struct {
		Sessions []reportSession `json:"sessions"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, b)
	}
	if len(rep.Sessions) != 1 {
		t.Fatalf("report has %d sessions:\n%s", len(rep.Sessions), b)
	}
	return rep.Sessions[0]
}

// checkReport checks that a --report file lists exactly one session: data
// sent with rawSource to mount, ended by the shutdown.
func checkReport(t *testing.T, report, mount string, data []byte) {
	t.Helper()
	sum := sha256.Sum256(data)
	se := onlySession(t, report)
	if se.Mount != mount || se.Method != "SOURCE" || se.UserAgent != "hup-test" || se.Bytes != uint64(len(data)) ||
		se.SHA256 != hex.EncodeToString(sum[:]) || se.Reason != "shutdown" {
		t.Fatalf("session %+v, want %d bytes with sha256 %x ended by shutdown", se, len(data), sum)
	}
}

// waitBytesIn waits until the mount's source has delivered n bytes, as
// the API reports them.
func waitBytesIn(t *testing.T, addr, adminPass, mount string, n int) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, fmt.Sprintf("%d bytes on %s", n, mount), func() bool {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/api/v1/mounts"+mount, nil)
		req.SetBasicAuth("admin", adminPass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var m struct {
			Source *struct {
				BytesIn int `json:"bytes_in"`
			} `json:"source"`
		}
		return json.NewDecoder(resp.Body).Decode(&m) == nil && m.Source != nil && m.Source.BytesIn == n
	})
}
