package bench

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/icedeck/icedeck/engine"
)

// Report is the JSON report: every source session, for scripts that check
// what a source client delivered (icedeck --report), and from a bench
// what it judged (icedeck test --report).
type Report struct {
	Server   string           `json:"server"`
	Written  time.Time        `json:"written"`
	Sessions []engine.Session `json:"sessions"`

	URL      string         `json:"url,omitempty"` // the mount's, without credentials
	Attempts []Attempt      `json:"attempts,omitempty"`
	Titles   []Title        `json:"titles,omitempty"`
	Command  *CommandResult `json:"command,omitempty"`
	Verdicts []Verdict      `json:"verdicts,omitempty"`
	Passed   *bool          `json:"passed,omitempty"`
}

// NewReport reports srv's sessions.
func NewReport(srv *engine.Server) *Report {
	r := &Report{Server: srv.Config().ServerID, Written: time.Now(), Sessions: srv.Sessions()}
	if r.Sessions == nil {
		r.Sessions = []engine.Session{}
	}
	return r
}

// Report reports what the bench saw and the verdicts on it.
func (b *Bench) Report(res *Result, verdicts []Verdict) *Report {
	r := NewReport(b.srv)
	r.Sessions = append(r.Sessions[:0], res.Sessions...)
	passed := Passed(verdicts)
	r.URL, r.Attempts, r.Titles, r.Command, r.Verdicts, r.Passed = b.HTTPURL(), res.Attempts, res.Titles, res.Command, verdicts, &passed
	return r
}

// WriteReport writes r as indented JSON to path.
func WriteReport(path string, r *Report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// WriteVerdicts prints one line per verdict, PASS or FAIL with what was
// measured, a failure's details indented below it, then a summary line.
func WriteVerdicts(w io.Writer, verdicts []Verdict, res *Result) {
	failed := 0
	for _, v := range verdicts {
		mark := "PASS"
		if !v.Pass {
			mark, failed = "FAIL", failed+1
		}
		fmt.Fprintf(w, "%s  %-20s %s (want %s)\n", mark, v.Name, v.Got, v.Want)
		if !v.Pass && v.Message != "" {
			for _, line := range strings.Split(v.Message, "\n") {
				fmt.Fprintf(w, "      %s\n", line)
			}
		}
	}
	outcome := "all hold"
	if failed > 0 {
		outcome = fmt.Sprintf("%d failed", failed)
	}
	fmt.Fprintf(w, "%s: %d expectations, %s; %s, %s\n", cond(failed == 0, "PASS")+cond(failed > 0, "FAIL"),
		len(verdicts), outcome, plural(len(res.Sessions), "session"), plural(len(res.Attempts), "attempt"))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// The JUnit XML CI systems read: one testcase per expectation.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the verdicts as a JUnit XML file at path, one
// testcase per expectation, named by its flag and wanted value.
func WriteJUnit(path string, r *Report, started time.Time) error {
	elapsed := strconv.FormatFloat(r.Written.Sub(started).Seconds(), 'f', 3, 64)
	s := junitSuite{Name: "icedeck test", Tests: len(r.Verdicts), Time: elapsed, Timestamp: started.UTC().Format(time.RFC3339)}
	if r.URL != "" {
		s.Properties = append(s.Properties, junitProperty{"url", r.URL})
	}
	if c := r.Command; c != nil {
		s.Properties = append(s.Properties, junitProperty{"command", strings.Join(c.Args, " ")}, junitProperty{"exit", strconv.Itoa(c.Exit)})
	}
	s.Properties = append(s.Properties, junitProperty{"sessions", strconv.Itoa(len(r.Sessions))}, junitProperty{"attempts", strconv.Itoa(len(r.Attempts))})
	for _, v := range r.Verdicts {
		c := junitCase{Name: v.Name + " " + v.Want, Classname: "icedeck.test", Time: "0", SystemOut: "measured: " + v.Got}
		if !v.Pass {
			s.Failures++
			c.Failure = &junitFailure{Message: fmt.Sprintf("want %s, got %s", v.Want, v.Got), Type: "expectation", Text: v.Message}
		}
		s.Cases = append(s.Cases, c)
	}
	doc := junitSuites{Name: "icedeck test", Tests: s.Tests, Failures: s.Failures, Time: elapsed, Suites: []junitSuite{s}}
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), append(b, '\n')...), 0o644)
}
