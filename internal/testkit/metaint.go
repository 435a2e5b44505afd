package testkit

import (
	"regexp"
	"strconv"
	"testing"
)

var metaintHeader = regexp.MustCompile(`(?i)\r\nicy-metaint: ?(\d+)\r\n`)

// ICYMetaint is the metadata interval in a listener's answer head (what
// ICYTitles needs); a head without one fails the test.
func ICYMetaint(t testing.TB, head string) int {
	t.Helper()
	m := metaintHeader.FindStringSubmatch(head)
	n, err := 0, error(nil)
	if m != nil {
		n, err = strconv.Atoi(m[1])
	}
	if m == nil || err != nil || n <= 0 {
		t.Fatalf("not an ICY listener's answer (no icy-metaint): %q", head)
	}
	return n
}
