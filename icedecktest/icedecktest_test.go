package icedecktest_test

import (
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icedeck/icedeck/bench"
	"github.com/icedeck/icedeck/icedecktest"
	"github.com/icedeck/icedeck/internal/testkit"
)

// resumingClient is the client under test: it streams data to a source
// URL and, dropped, sends the rest from resumeAt in a second session.
func resumingClient(sourceURL string, data []byte, resumeAt int) error {
	u, err := url.Parse(sourceURL)
	if err != nil {
		return err
	}
	pass, _ := u.User.Password()
	req := testkit.SourceRequest{Mount: u.Path, User: u.User.Username(), Password: pass, ContentType: "audio/mpeg"}
	if testkit.SendAll(u.Host, req, data) == nil {
		return nil
	}
	return testkit.SendAll(u.Host, req, data[resumeAt:])
}

// The package as a client's own test uses it: a fault drops the first
// session, the client resumes, and the two sessions together are the file.
func TestResumingClient(t *testing.T) {
	t.Parallel()
	srv := icedecktest.NewServer(t, icedecktest.Options{Faults: []string{"close-after=10000"}, Logger: testkit.Logger(t)})
	path := testkit.MediaPath(t, "tone440.mp3")
	data := testkit.Media(t, "tone440.mp3")
	if err := resumingClient(srv.SourceURL(), data, 10000); err != nil {
		t.Fatal(err)
	}
	vs := srv.Judge(
		bench.ExpectFile(path, bench.CompareOptions{}),
		bench.ExpectSessions(bench.Exactly(2)),
		bench.ExpectBytes(bench.Exactly(float64(len(data)))),
		bench.ExpectCodec("mp3"),
		bench.ExpectMount("/test.mp3"),
	)
	if len(vs) != 5 || !bench.Passed(vs) {
		t.Fatalf("verdicts %+v", vs)
	}
	if got := vs[0].Got; got != fmt.Sprintf("%d bytes, equal", len(data)) {
		t.Errorf("expect-file measured %q", got)
	}
	ss := srv.Sessions()
	if len(ss) != 2 || ss[0].Bytes != 10000 || ss[0].Reason.String() != "fault" {
		t.Fatalf("sessions %+v", ss)
	}
}

// ffmpeg pointed at SourceURL, as an httptest.Server's URL is given to an
// HTTP client.
func TestFFmpeg(t *testing.T) {
	t.Parallel()
	ff := testkit.NeedTool(t, "ffmpeg")
	srv := icedecktest.NewServer(t, icedecktest.Options{Mount: "/radio.mp3", Password: "pa:ss@word"})
	path := testkit.MediaPath(t, "tone440.mp3")
	if !strings.HasPrefix(srv.SourceURL(), "icecast://source:pa%3Ass%40word@127.0.0.1:") || srv.Password() != "pa:ss@word" {
		t.Fatalf("source URL %s: the password must be escaped in it", srv.SourceURL())
	}
	out, err := exec.Command(ff, "-v", "error", "-i", path, "-c", "copy", "-content_type", "audio/mpeg", "-f", "mp3", srv.SourceURL()).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	srv.Judge(
		bench.ExpectFile(path, bench.CompareOptions{}),
		bench.ExpectMethod("PUT"),
		bench.ExpectUserAgent(regexp.MustCompile(`^Lavf/`)),
		bench.ExpectSampleRate(44100),
		bench.ExpectMount("/radio.mp3"),
	)
}

// errorRecorder is a test whose errors are kept instead of failing it.
type errorRecorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *errorRecorder) Helper() {}
func (r *errorRecorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// A failed expectation is a test error saying what was measured.
func TestJudgeReportsFailures(t *testing.T) {
	t.Parallel()
	rec := &errorRecorder{TB: t}
	srv := icedecktest.NewServer(rec, icedecktest.Options{})
	mp3 := testkit.Media(t, "tone440.mp3")
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c.Close() // not a source: no session
	src, r := testkit.ConnectSource(t, srv.Addr(), testkit.SourceRequest{Mount: srv.Mount(), User: srv.User(), Password: srv.Password(), ContentType: "audio/mpeg"})
	if src == nil {
		t.Fatalf("refused: %d", r.Code)
	}
	src.Send(mp3[:5000], 0, 0)
	src.Close()
	srv.WaitSessions(1, 10*time.Second)
	vs := srv.Judge(bench.ExpectBytes(bench.Exactly(6000)), bench.ExpectCodec("aac"), bench.ExpectTitles("Never sent"))
	if bench.Passed(vs) {
		t.Fatal("passed")
	}
	want := []string{
		"expect-bytes: want 6000, got 5000\n\treceived 5000 bytes in 1 session, want 6000",
		"expect-codec: want aac, got MP3\n\tsession 1",
		`expect-title: want "Never sent", got none` + "\n\t" + `title "Never sent" not seen; titles seen, in order: none`,
	}
	if len(rec.errs) != len(want) {
		t.Fatalf("errors %q", rec.errs)
	}
	for i, w := range want {
		if !strings.HasPrefix(rec.errs[i], w) {
			t.Errorf("error %d: %q, want it to start %q", i, rec.errs[i], w)
		}
	}
}
