package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/internal/testkit"
)

func TestParseFault(t *testing.T) {
	for _, c := range []struct {
		spec  string
		want  engine.SourceFault
		count int
		err   string
	}{
		{"refuse=503", engine.SourceFault{Refuse: 503}, 1, ""},
		{"refuse=401:3", engine.SourceFault{Refuse: 401}, 3, ""},
		{"close-after=10000", engine.SourceFault{CloseAfter: 10000}, 1, ""},
		{"stall=8000:2s", engine.SourceFault{StallAfter: 8000, Stall: 2 * time.Second}, 1, ""},
		{"stall=0:500ms:2", engine.SourceFault{Stall: 500 * time.Millisecond}, 2, ""},
		{"slow=16000", engine.SourceFault{Rate: 16000}, 1, ""},
		{"no-continue", engine.SourceFault{NoContinue: true}, 1, ""},
		{"http10:4", engine.SourceFault{HTTP10: true}, 4, ""},
		{"refuse=200", engine.SourceFault{}, 0, "the status must be a whole number of at least 400"},
		{"refuse=600", engine.SourceFault{}, 0, "4xx or 5xx"},
		{"refuse", engine.SourceFault{}, 0, "expected"},
		{"close-after=0", engine.SourceFault{}, 0, "at least 1"},
		{"close-after=10:0", engine.SourceFault{}, 0, "number of attempts, at least 1"},
		{"stall=100", engine.SourceFault{}, 0, "expected"},
		{"stall=100:soon", engine.SourceFault{}, 0, "a duration such as 2s"},
		{"http10=1", engine.SourceFault{}, 0, "takes no value"},
		{"explode", engine.SourceFault{}, 0, "unknown fault"},
	} {
		f, err := ParseFault(c.spec)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want one saying %q", c.spec, err, c.err)
			}
			continue
		}
		if err != nil || f.SourceFault != c.want || f.Count != c.count || f.Spec != c.spec {
			t.Errorf("%s: %+v %v, want %+v ×%d", c.spec, f, err, c.want, c.count)
		}
	}
}

func TestParseRange(t *testing.T) {
	for _, c := range []struct {
		in       string
		num      func(string) (float64, error)
		min, max float64
		bad      bool
	}{
		{"5", Count, 5, 5, false},
		{"0.9..1.1", Number, 0.9, 1.1, false},
		{"3..", Count, 3, math.Inf(1), false},
		{"..3", Count, math.Inf(-1), 3, false},
		{"96k..160k", Bitrate, 96000, 160000, false},
		{"..", Count, 0, 0, true},
		{"2..1", Count, 0, 0, true},
		{"-1", Count, 0, 0, true},
		{"1.5", Count, 0, 0, true},
		{"NaN", Number, 0, 0, true},
		{"128x", Bitrate, 0, 0, true},
	} {
		r, err := ParseRange(c.in, c.num)
		if (err != nil) != c.bad || !c.bad && (r.Min != c.min || r.Max != c.max || r.String() != c.in) {
			t.Errorf("%q: %+v %v", c.in, r, err)
		}
	}
	r, err := ParseBitrate("128k")
	if err != nil || !r.Has(128000*1.04) || r.Has(128000*1.06) || r.String() != "128k ±5%" {
		t.Errorf("128k: %+v %v", r, err)
	}
}

// A bench in the process, driven by the hand-written client: faults go to
// the attempts in order, sessions and titles are recorded, and the
// concatenation of the sessions is what --expect-file compares.
func TestBenchFaultsSessionsTitles(t *testing.T) {
	var faults []Fault
	for _, spec := range []string{"refuse=403:2", "close-after=5000", "stall=1000:600ms"} {
		f, err := ParseFault(spec)
		if err != nil {
			t.Fatal(err)
		}
		faults = append(faults, f)
	}
	dir := t.TempDir()
	b, err := Start(Options{Faults: faults, Dir: dir, Logger: testkit.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mp3 := testkit.Media(t, "tone440.mp3")[:20000]
	req := testkit.SourceRequest{Mount: b.Mount(), User: b.User(), Password: b.Password(), ContentType: "audio/mpeg"}
	for range 2 {
		if _, r := testkit.ConnectSource(t, b.Addr(), req); r.Code != 403 {
			t.Fatalf("want 403, got %d", r.Code)
		}
	}
	if err := testkit.SendAll(b.Addr(), req, mp3); err == nil {
		t.Fatal("close-after=5000: the server took it all")
	}
	// The stalled session: a title while it waits, then the rest.
	src, r := testkit.ConnectSource(t, b.Addr(), req)
	if src == nil {
		t.Fatalf("refused: %d", r.Code)
	}
	testkit.Eventually(t, 5*time.Second, "mount live", func() bool { _, ok := b.Server().Mount(b.Mount()); return ok })
	const title = `Say "hi" \ to Zoë`
	if err := b.Server().SetTitle(b.Mount(), title, ""); err != nil {
		t.Fatal(err)
	}
	src.Send(mp3[5000:], 0, 0)
	src.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.WaitSessions(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	res := b.Result()
	if len(res.Attempts) != 4 || res.Attempts[0].Fault != "refuse=403:2" || res.Attempts[1].Fault != "refuse=403:2" ||
		res.Attempts[2].Fault != "close-after=5000" || res.Attempts[3].Fault != "stall=1000:600ms" {
		t.Fatalf("attempts %+v", res.Attempts)
	}
	if len(res.Titles) != 1 || res.Titles[0].Title != title || res.Titles[0].Via != "api" {
		t.Fatalf("titles %+v, want %q", res.Titles, title)
	}
	got, starts, err := res.Received()
	if err != nil || !bytes.Equal(got, mp3) || len(starts) != 2 || starts[1] != 5000 {
		t.Fatalf("received %d bytes (want the %d sent), starts %v, %v", len(got), len(mp3), starts, err)
	}
	path := filepath.Join(t.TempDir(), "want.mp3")
	if err := os.WriteFile(path, mp3, 0o644); err != nil {
		t.Fatal(err)
	}
	vs := Judge(res, []Expectation{ExpectFile(path, CompareOptions{}), ExpectSessions(Exactly(2)), ExpectTitles(title),
		ExpectMaxGap(5 * time.Second), ExpectMaxGap(300 * time.Millisecond)})
	for i, v := range vs[:4] {
		if !v.Pass {
			t.Errorf("verdict %d: %+v", i, v)
		}
	}
	// The stall shows as the longest gap.
	if v := vs[4]; v.Pass || !strings.HasPrefix(v.Message, "session 2 went ") {
		t.Errorf("a 600 ms stall passed --expect-max-gap 300ms: %+v", v)
	}

	// The report and the JUnit file carry what a client sent, escaped.
	res.Command = &CommandResult{Args: []string{"client", "{url}"}, Exit: 0}
	vs = append(vs, Verdict{Name: "expect-user-agent", Want: "x", Got: "\"\x01<&>\xff\"", Message: "bad \x00 bytes]]>"})
	rep := b.Report(res, vs)
	rp, jp := filepath.Join(dir, "r.json"), filepath.Join(dir, "j.xml")
	if err := WriteReport(rp, rep); err != nil {
		t.Fatal(err)
	}
	if err := WriteJUnit(jp, rep, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	var back Report
	raw, _ := os.ReadFile(rp)
	if err := json.Unmarshal(raw, &back); err != nil || len(back.Sessions) != 2 || len(back.Attempts) != 4 || back.Passed == nil || *back.Passed {
		t.Fatalf("report: %v\n%s", err, raw)
	}
	x, _ := os.ReadFile(jp)
	var doc struct {
		Suites []struct {
			Cases []struct {
				Name    string `xml:"name,attr"`
				Out     string `xml:"system-out"`
				Failure *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(x, &doc); err != nil || len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != 6 {
		t.Fatalf("JUnit: %v\n%s", err, x)
	}
	last := doc.Suites[0].Cases[5]
	if last.Failure == nil || !utf8.ValidString(last.Out+last.Failure.Text) || !strings.Contains(last.Out, "<&>") {
		t.Fatalf("JUnit case %+v", last)
	}
}

// Sessions on another mount are judged, but only the bench's mount is
// recorded: --expect-file says so instead of comparing nothing.
func TestReceivedOtherMount(t *testing.T) {
	b, err := Start(Options{Logger: testkit.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	req := testkit.SourceRequest{Mount: "/other.mp3", User: b.User(), Password: b.Password(), ContentType: "audio/mpeg"}
	if err := testkit.SendAll(b.Addr(), req, testkit.Media(t, "tone440.mp3")[:3000]); err != nil {
		t.Fatal(err)
	}
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	v := ExpectSHA256("00").Judge(b.Result())
	if v.Pass || v.Got == "unknown" {
		t.Fatalf("one session: its own hash is judged: %+v", v)
	}
	v = ExpectFile("/dev/null", CompareOptions{}).Judge(b.Result())
	if v.Pass || v.Message != "session 1 went to /other.mp3, but only /test.mp3 (the bench's mount) is recorded" {
		t.Fatalf("%+v", v)
	}
}
