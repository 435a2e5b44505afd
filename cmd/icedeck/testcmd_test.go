package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// resumeClientEnv makes the test binary the resuming source client of
// TestBenchCloseAfter (a COMMAND must be a program).
const resumeClientEnv = "ICEDECK_TEST_RESUME_CLIENT"

func init() {
	if os.Getenv(resumeClientEnv) == "1" {
		os.Exit(resumeClient(os.Args[1:]))
	}
}

// resumeClient FILE OFFSET sends FILE to the bench named by the ICEDECK_*
// variables. When the server drops it, it connects again and sends the
// rest from OFFSET: where the server stopped reading. (A real client
// learns that from an acknowledgement; this one is told the fault's byte
// count, which is what the bench is to check it against.)
func resumeClient(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: FILE OFFSET")
		return 2
	}
	data, err := os.ReadFile(args[0])
	off, err2 := strconv.Atoi(args[1])
	if err != nil || err2 != nil || off > len(data) {
		fmt.Fprintln(os.Stderr, "bad arguments:", err, err2)
		return 2
	}
	addr := net.JoinHostPort(os.Getenv("ICEDECK_HOST"), os.Getenv("ICEDECK_PORT"))
	req := testkit.SourceRequest{Mount: os.Getenv("ICEDECK_MOUNT"), User: os.Getenv("ICEDECK_USER"), Password: os.Getenv("ICEDECK_PASSWORD"),
		ContentType: "audio/mpeg", Header: []string{"User-Agent", "resumer/1"}}
	err = testkit.SendAll(addr, req, data)
	if err == nil {
		return 0
	}
	fmt.Fprintln(os.Stderr, "resumer: dropped:", err, "- resuming at", off)
	if err := testkit.SendAll(addr, req, data[off:]); err != nil {
		fmt.Fprintln(os.Stderr, "resumer: dropped again:", err)
		return 1
	}
	return 0
}

// waitExit waits for a started command to exit; after limit it kills it
// and fails the test, showing output().
func waitExit(t *testing.T, cmd *exec.Cmd, limit time.Duration, output func() string) {
	t.Helper()
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%v still running after %s; %s", cmd.Args, limit, output())
	}
}

// benchRun is the outcome of one icedeck test run.
type benchRun struct {
	code           int
	stdout, stderr string
	report         benchReport
	junitXML       []byte
}

// benchReport is icedeck test's --report, as far as the tests read it.
type benchReport struct {
	Sessions []struct {
		Bytes        uint64  `json:"bytes"`
		Method       string  `json:"method"`
		Reason       string  `json:"end_reason"`
		AudioSeconds float64 `json:"audio_seconds"`
		WallSeconds  float64 `json:"wall_seconds"`
	} `json:"sessions"`
	Attempts []struct {
		N     int    `json:"n"`
		Fault string `json:"fault"`
	} `json:"attempts"`
	Titles []struct {
		Title string `json:"title"`
		Via   string `json:"via"`
	} `json:"titles"`
	Command *struct {
		Exit int `json:"exit"`
	} `json:"command"`
	Verdicts []struct {
		Name    string `json:"name"`
		Got     string `json:"got"`
		Pass    bool   `json:"pass"`
		Message string `json:"message"`
	} `json:"verdicts"`
	Passed bool `json:"passed"`
}

// runBench runs icedeck test with args in dir, with --report and --junit
// files of the test's own, and reads them back.
func runBench(t *testing.T, dir string, stdin io.Reader, env []string, args ...string) benchRun {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	report, junit := filepath.Join(out, "report.json"), filepath.Join(out, "junit.xml")
	cmd := exec.Command(bin, append([]string{"test", "--report", report, "--junit", junit}, args...)...)
	cmd.Dir, cmd.Stdin = dir, stdin
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr testkit.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitExit(t, cmd, 60*time.Second, func() string { return "stdout:\n" + stdout.String() + "\nstderr:\n" + stderr.String() })
	r := benchRun{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
	t.Logf("icedeck test exited %d; stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	if b, err := os.ReadFile(report); err == nil {
		if err := json.Unmarshal(b, &r.report); err != nil {
			t.Fatalf("report: %v\n%s", err, b)
		}
	}
	r.junitXML, _ = os.ReadFile(junit)
	return r
}

// verdict returns the report's verdict on the expectation name.
func (r benchRun) verdict(t *testing.T, name string) (got string, pass bool, msg string) {
	t.Helper()
	for _, v := range r.report.Verdicts {
		if v.Name == name {
			return v.Got, v.Pass, v.Message
		}
	}
	t.Fatalf("no verdict on %s in the report", name)
	return "", false, ""
}

// failed lists the expectations that failed, as the report has them.
func (r benchRun) failed() []string {
	var out []string
	for _, v := range r.report.Verdicts {
		if !v.Pass {
			out = append(out, v.Name)
		}
	}
	return out
}

// junitDoc is the JUnit XML, as CI systems read it.
type junitDoc struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Suites   []struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Cases    []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// mp3File encodes seconds of a tone as a 128 kb/s CBR MP3 in dir.
func mp3File(t *testing.T, dir string, seconds int) string {
	t.Helper()
	ff := testkit.NeedTool(t, "ffmpeg")
	p := filepath.Join(dir, "in.mp3")
	out, err := exec.Command(ff, "-v", "error", "-f", "lavfi", "-i", fmt.Sprintf("sine=f=1000:d=%d", seconds), "-ac", "2",
		"-c:a", "libmp3lame", "-b:a", "128k", "-write_xing", "0", p).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	return p
}

// ffmpegPut is the COMMAND of an ffmpeg PUT of in.mp3, copied as is;
// paced with -re.
func ffmpegPut(paced bool) []string {
	args := []string{"--", "ffmpeg", "-v", "error"}
	if paced {
		args = append(args, "-re")
	}
	return append(args, "-i", "in.mp3", "-c", "copy", "-ice_name", "My Radio", "-content_type", "audio/mpeg", "-f", "mp3", "{url}")
}

// A paced ffmpeg PUT meets every expectation about it, and the JUnit file
// says so, one testcase each; the same run against a file with one byte
// changed fails on that byte alone, naming its offset.
func TestBenchPacedFFmpeg(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := mp3File(t, dir, 2)
	data, _ := os.ReadFile(in)
	sum := sha256.Sum256(data)
	expect := func(file string) []string {
		return []string{"--expect-file", file, "--expect-sha256", hex.EncodeToString(sum[:]), "--expect-bytes", strconv.Itoa(len(data)),
			"--expect-codec", "mp3", "--expect-bitrate", "128k", "--expect-sample-rate", "44100", "--expect-channels", "2",
			"--expect-content-type", "audio/mpeg", "--expect-sync-losses", "0", "--expect-crc-errors", "0",
			"--expect-realtime", "0.9..1.1", "--expect-max-gap", "500ms", "--expect-method", "PUT", "--expect-user-agent", "^Lavf/",
			"--expect-sessions", "1", "--expect-mount", "/test.mp3", "--expect-header", "ice-name=My Radio"}
	}
	const expectations = 18 // the 17 above and --expect-exit

	t.Run("all hold", func(t *testing.T) {
		t.Parallel()
		r := runBench(t, dir, nil, nil, append(expect("in.mp3"), ffmpegPut(true)...)...)
		if r.code != 0 || !r.report.Passed || len(r.report.Verdicts) != expectations {
			t.Fatalf("exit %d, %d verdicts, failed: %v", r.code, len(r.report.Verdicts), r.failed())
		}
		if n := len(regexp.MustCompile(`(?m)^PASS  `).FindAllString(r.stdout, -1)); n != expectations {
			t.Errorf("%d PASS lines, want %d", n, expectations)
		}
		var doc junitDoc
		if err := xml.Unmarshal(r.junitXML, &doc); err != nil {
			t.Fatalf("JUnit file does not parse: %v\n%s", err, r.junitXML)
		}
		if doc.Tests != expectations || doc.Failures != 0 || len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != expectations {
			t.Fatalf("JUnit: %d tests, %d failures: %s", doc.Tests, doc.Failures, r.junitXML)
		}
		if c := doc.Suites[0].Cases[0]; c.Name != "expect-exit 0" || c.Failure != nil {
			t.Errorf("first testcase %+v", c)
		}
		if got, _, _ := r.verdict(t, "expect-bytes"); got != strconv.Itoa(len(data)) {
			t.Errorf("bytes measured %s, want %d", got, len(data))
		}
	})
	t.Run("one byte changed", func(t *testing.T) {
		t.Parallel()
		bad := append([]byte(nil), data...)
		mid := len(bad) / 2
		bad[mid] ^= 0xff
		if err := os.WriteFile(filepath.Join(dir, "bad.mp3"), bad, 0o644); err != nil {
			t.Fatal(err)
		}
		r := runBench(t, dir, nil, nil, append(expect("bad.mp3"), ffmpegPut(true)...)...)
		if r.code != 1 {
			t.Fatalf("exit %d, want 1", r.code)
		}
		if f := r.failed(); len(f) != 1 || f[0] != "expect-file" {
			t.Fatalf("failed: %v, want expect-file alone", f)
		}
		want := fmt.Sprintf("first difference at file offset %d (received offset %d): expected 0x%02x, received 0x%02x; 1 of the %d bytes compared differ",
			mid, mid, bad[mid], data[mid], len(data))
		if _, _, msg := r.verdict(t, "expect-file"); !strings.HasPrefix(msg, want) {
			t.Fatalf("message:\n%s\nwant it to start:\n%s", msg, want)
		}
		if !strings.Contains(r.stdout, "FAIL  expect-file") || !strings.Contains(r.stdout, want) {
			t.Fatalf("stdout does not name the offset:\n%s", r.stdout)
		}
		// Both hex dumps show the byte, marked.
		row := fmt.Sprintf("  %08x  ", mid-mid%16)
		if strings.Count(r.stdout, row) != 2 || strings.Count(r.stdout, "^^") != 2 {
			t.Fatalf("want two dumps with row %q marked:\n%s", row, r.stdout)
		}
		var doc junitDoc
		if err := xml.Unmarshal(r.junitXML, &doc); err != nil {
			t.Fatalf("JUnit file does not parse: %v", err)
		}
		if doc.Failures != 1 || !strings.Contains(failureText(doc), want) {
			t.Fatalf("JUnit: %d failures, want the file's naming offset %d:\n%s", doc.Failures, mid, r.junitXML)
		}
	})
}

func failureText(doc junitDoc) string {
	var b strings.Builder
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			if c.Failure != nil {
				b.WriteString(c.Failure.Message + "\n" + c.Failure.Text + "\n")
			}
		}
	}
	return b.String()
}

// ffmpeg without -re sends a 2 s file at once: not real time, and the
// verdict gives the ratio measured.
func TestBenchUnpacedFFmpegIsNotRealtime(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mp3File(t, dir, 2)
	r := runBench(t, dir, nil, nil, append([]string{"--expect-realtime", "0.9..1.1", "--expect-codec", "mp3"}, ffmpegPut(false)...)...)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1", r.code)
	}
	if f := r.failed(); len(f) != 1 || f[0] != "expect-realtime" {
		t.Fatalf("failed: %v, want expect-realtime alone", f)
	}
	got, _, msg := r.verdict(t, "expect-realtime")
	ratio, err := strconv.ParseFloat(got, 64)
	se := r.report.Sessions[0]
	if want := se.AudioSeconds / se.WallSeconds; err != nil || ratio < 2 || fmt.Sprintf("%.3f", want) != got {
		t.Fatalf("measured %q, want the session's ratio %.3f (%.3f s of audio in %.3f s), well above 1.1", got, want, se.AudioSeconds, se.WallSeconds)
	}
	if !strings.Contains(r.stdout, "FAIL  expect-realtime      "+got) || !strings.Contains(msg, "a ratio of "+got+", want 0.9..1.1") {
		t.Fatalf("the failure does not give the ratio:\n%s", r.stdout)
	}
}

// libshout's shout sends Ogg Vorbis with the legacy SOURCE method, at its
// own pace; the in-band title counts as a title update.
func TestBenchShoutVorbis(t *testing.T) {
	t.Parallel()
	testkit.NeedTool(t, "shout")
	dir := t.TempDir()
	ogg := testkit.MediaPath(t, "titled.ogg")
	f, err := os.Open(ogg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := runBench(t, dir, f, nil, "--mount", "/test.ogg", "--expect-codec", "vorbis", "--expect-file", ogg, "--expect-method", "SOURCE",
		"--expect-content-type", "application/ogg", "--expect-user-agent", "^libshout/", "--expect-title", "Night Band - Blue Hour",
		"--", "shout", "--format", "ogg", "--host", "{host}", "--port", "{port}", "--user", "{user}", "--pass", "{password}", "--mount", "{mount}")
	if r.code != 0 {
		t.Fatalf("exit %d, failed: %v", r.code, r.failed())
	}
	if got, _, _ := r.verdict(t, "expect-codec"); got != "Vorbis" {
		t.Fatalf("codec measured %q", got)
	}
}

// A title set through /admin/metadata by a client in another language
// (Python) with the mount's source credentials.
func TestBenchAdminMetadataTitle(t *testing.T) {
	t.Parallel()
	testkit.NeedTool(t, "python3")
	dir := t.TempDir()
	mp3File(t, dir, 1)
	client, err := filepath.Abs("testdata/pysource.py")
	if err != nil {
		t.Fatal(err)
	}
	r := runBench(t, dir, nil, nil, "--expect-title", "Hello, World", "--expect-file", "in.mp3", "--expect-user-agent", "^pysource/",
		"--", "python3", client, "{url}", "in.mp3", "Hello, World")
	if r.code != 0 {
		t.Fatalf("exit %d, failed: %v", r.code, r.failed())
	}
	if ts := r.report.Titles; len(ts) != 1 || ts[0].Title != "Hello, World" || ts[0].Via != "api" {
		t.Fatalf("titles %+v, want the one set through the admin API", ts)
	}

	// A title that was not sent fails, listing those that were.
	r = runBench(t, dir, nil, nil, "--expect-title", "Hello, World", "--expect-title", "Goodbye",
		"--", "python3", client, "{url}", "in.mp3", "Hello, World")
	if _, pass, msg := r.verdict(t, "expect-title"); r.code != 1 || pass || msg != `title "Goodbye" not seen after the ones before it; titles seen, in order: "Hello, World"` {
		t.Fatalf("exit %d, message %q", r.code, msg)
	}
}

// refuse=503:1 turns the first attempt away; a client that retries gets
// in on the second, and the bench counts both attempts.
func TestBenchRefuseRetry(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mp3File(t, dir, 1)
	retry := `for i in 1 2 3; do ffmpeg -v error -i in.mp3 -c copy -content_type audio/mpeg -f mp3 "$ICEDECK_URL" && exit 0; done; exit 1`
	r := runBench(t, dir, nil, nil, "--fault", "refuse=503:1", "--expect-file", "in.mp3", "--expect-sessions", "1", "--", "sh", "-c", retry)
	if r.code != 0 {
		t.Fatalf("exit %d, failed: %v", r.code, r.failed())
	}
	if a := r.report.Attempts; len(a) != 2 || a[0].Fault != "refuse=503:1" || a[1].Fault != "" {
		t.Fatalf("attempts %+v, want two, the first refused", a)
	}
	if got, _, _ := r.verdict(t, "expect-sessions"); got != "1 (2 attempts)" {
		t.Fatalf("sessions measured %q", got)
	}
	if !strings.Contains(r.stdout, "1 session, 2 attempts") {
		t.Fatalf("summary:\n%s", r.stdout)
	}
}

// close-after drops the first session after 10000 bytes: a client that
// resumes passes --expect-file on the two sessions together; ffmpeg,
// which does not, fails it, saying how much is missing.
func TestBenchCloseAfter(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := mp3File(t, dir, 2)
	data, _ := os.ReadFile(in)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("resuming client", func(t *testing.T) {
		t.Parallel()
		r := runBench(t, dir, nil, []string{resumeClientEnv + "=1"}, "--fault", "close-after=10000",
			"--expect-file", in, "--expect-sessions", "2", "--expect-user-agent", "^resumer/", "--", self, in, "10000")
		if r.code != 0 {
			t.Fatalf("exit %d, failed: %v", r.code, r.failed())
		}
		if s := r.report.Sessions; len(s) != 2 || s[0].Bytes != 10000 || s[0].Reason != "fault" || s[1].Bytes != uint64(len(data)-10000) {
			t.Fatalf("sessions %+v, want 10000 bytes dropped by the fault, then the rest", s)
		}
	})
	t.Run("ffmpeg does not resume", func(t *testing.T) {
		t.Parallel()
		r := runBench(t, dir, nil, nil, append([]string{"--fault", "close-after=10000", "--expect-file", "in.mp3", "--expect-sessions", "2"}, ffmpegPut(true)...)...)
		if r.code != 1 {
			t.Fatalf("exit %d, want 1", r.code)
		}
		_, _, msg := r.verdict(t, "expect-file")
		if want := fmt.Sprintf("%d bytes missing at the end: received 10000 of the file's %d", len(data)-10000, len(data)); !strings.HasPrefix(msg, want) {
			t.Fatalf("expect-file says:\n%s\nwant:\n%s", msg, want)
		}
		if got, pass, msg := r.verdict(t, "expect-sessions"); pass || got != "1 (1 attempt)" || !strings.Contains(msg, "session 1: 10000 bytes, ended: fault") {
			t.Fatalf("expect-sessions: %q %q", got, msg)
		}
		if r.report.Command == nil || r.report.Command.Exit == 0 {
			t.Fatalf("ffmpeg's exit status: %+v", r.report.Command)
		}
	})
}

// Without a COMMAND the first line is the source URL; a client started
// by another test runner uses it, and the bench judges its session.
func TestBenchWithoutCommand(t *testing.T) {
	t.Parallel()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	mp3 := testkit.Media(t, "tone440.mp3")
	dir := t.TempDir()
	cmd := exec.Command(bin, "test", "--sessions", "1", "--expect-bytes", strconv.Itoa(len(mp3)), "--expect-codec", "mp3",
		"--expect-mount", "/test.mp3", "--report", filepath.Join(dir, "r.json"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr testkit.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	br := bufio.NewReader(stdout)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("no first line: %v; stderr:\n%s", err, stderr.String())
	}
	u, err := url.Parse(strings.TrimSpace(line))
	if err != nil || u.Scheme != "icecast" || u.Path != "/test.mp3" || u.User == nil {
		t.Fatalf("first line %q is not a source URL", line)
	}
	pass, _ := u.User.Password()
	if !regexp.MustCompile(`^[A-Z2-7]{16}$`).MatchString(pass) {
		t.Fatalf("password %q: want a fresh random one", pass)
	}
	src, r := testkit.ConnectSource(t, u.Host, testkit.SourceRequest{Mount: u.Path, User: u.User.Username(), Password: pass, ContentType: "audio/mpeg"})
	if src == nil {
		t.Fatalf("refused: %d %s", r.Code, r.Body)
	}
	src.Send(mp3, 4096, 0)
	src.Close()
	rest, _ := io.ReadAll(br)
	err = cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s", code, rest, stderr.String())
	}
	if !strings.Contains(string(rest), "PASS  expect-bytes         "+strconv.Itoa(len(mp3))) {
		t.Fatalf("stdout:\n%s", rest)
	}
}

// Usage errors and a client that cannot be started exit 2; a run without
// any session fails the expectations about sessions.
func TestBenchExitCodes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--expect-codec", "wav", "--", "true"}, `--expect-codec: one of mp3, aac, vorbis, opus, flac, not "wav"`},
		{[]string{"--fault", "refuse=200", "--", "true"}, `--fault "refuse=200": the status must be a whole number of at least 400`},
		{[]string{"--fault", "stall=100", "--", "true"}, `--fault "stall=100": expected`},
		{[]string{"--expect-bytes", "9..1", "--", "true"}, `--expect-bytes: "9..1" is not a range`},
		{[]string{"--expect-exit", "0"}, "--expect-exit needs a COMMAND"},
		{[]string{"--mount", "no-slash", "--", "true"}, `mount "no-slash"`},
		{[]string{"--", "/nonexistent/client"}, "the client could not be started"},
	} {
		r := runBench(t, t.TempDir(), nil, nil, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, r.code, r.stderr, c.want)
		}
	}
	r := runBench(t, t.TempDir(), nil, nil, "--expect-codec", "mp3", "--", "true")
	if r.code != 1 {
		t.Fatalf("no session: exit %d, want 1", r.code)
	}
	if _, pass, _ := r.verdict(t, "expect-sessions"); pass {
		t.Error("expect-sessions (at least one, by default) passed without a session")
	}
	for _, name := range []string{"expect-codec", "expect-sync-losses"} {
		if _, pass, msg := r.verdict(t, name); pass || msg != "no source session: no client connected and was accepted" {
			t.Errorf("%s with no session: pass %v, %q", name, pass, msg)
		}
	}
}
