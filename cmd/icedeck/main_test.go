package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI=true but is not installed", name)
		}
		t.Skipf("%s is not installed: skipping this end-to-end test", name)
	}
	return p
}

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

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// The headless binary, driven as an operator would: ffmpeg streams to it,
// SIGINT stops it, and the report proves what arrived.
func TestHeadlessReportsWhatArrived(t *testing.T) {
	ff := needTool(t, "ffmpeg")
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
	var logs syncBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitFor(t, "listening", func() bool { return strings.Contains(logs.String(), "icedeck relay listening") })

	out, err := exec.Command(ff, "-v", "error", "-i", mp3, "-c", "copy", "-f", "mp3", "-write_xing", "0",
		"-content_type", "audio/mpeg", "icecast://source:s3cret@"+addr+"/test.mp3").CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	waitFor(t, "source left", func() bool { return strings.Contains(logs.String(), `"event":"source.left"`) })
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

	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Sessions []struct {
			Mount        string  `json:"mount"`
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
		} `json:"sessions"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, b)
	}
	if len(rep.Sessions) != 1 {
		t.Fatalf("report has %d sessions:\n%s", len(rep.Sessions), b)
	}
	se := rep.Sessions[0]
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
