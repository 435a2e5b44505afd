package engine

import (
	"net/netip"
	"testing"
	"time"
	"unicode/utf8"
)

func TestCheckMountName(t *testing.T) {
	for _, ok := range []string{"/live.mp3", "/a/b.ogg", "/radio-ü.mp3", "/x.y.z"} {
		if err := CheckMountName(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{
		"", "/", "live.mp3", "/x\xff.mp3", "/a b", "/a\tb", "/a\x7fb", "/a\u0085b", "/a\u2028b",
		`/a\b`, "/a?b", "/a#b.mp3", "/a//b.mp3", "/a/../b", "/a/..", "/admin/x", "/status-json.xsl",
		"/metrics", "/api/v1", "/health", "/" + string(make([]byte, 300)),
	} {
		if CheckMountName(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCleanText(t *testing.T) {
	for in, want := range map[string]string{
		"Artist - Title":                 "Artist - Title",
		"  a \t\n b  ":                   "a b",
		"x\x1b[31mred\x1b[0m":            "xred",
		"x\x1b]0;owned\x07y":             "xy",
		"x\x1b]52;c;AAAA\x1b\\y":         "xy",
		"bad \xff byte":                  "bad \uFFFD byte",
		"nul\x00and\x7fdel\u0085":        "nulanddel",
		"line\u2028sep":                  "line sep",
		"it's ok; really":                "it's ok; really",
		"\x1b":                           "",
		"trailing esc \x1b[":             "trailing esc",
		"Motörhead – Ace of Spades ♠":    "Motörhead – Ace of Spades ♠",
		"\u00a0non-breaking\u00a0space ": "non-breaking space",
	} {
		got := CleanText(in)
		if got != want {
			t.Errorf("CleanText(%q) = %q, want %q", in, got, want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("CleanText(%q) is not UTF-8", in)
		}
	}
}

func TestLoginLimiterWindow(t *testing.T) {
	l := NewLoginLimiter(3, time.Minute)
	a := netip.MustParseAddr("192.0.2.1")
	t0 := time.Unix(1000, 0)
	l.Fail(a, t0)
	l.Fail(a, t0.Add(10*time.Second))
	// The window restarted: these two do not add to the first two.
	l.Fail(a, t0.Add(2*time.Minute))
	if l.Fail(a, t0.Add(2*time.Minute+time.Second)) {
		t.Fatal("blocked after 2 failures in the window")
	}
	if !l.Fail(a, t0.Add(2*time.Minute+2*time.Second)) {
		t.Fatal("not blocked after 3 failures in the window")
	}
	if _, b := l.Blocked(a, t0.Add(2*time.Minute+30*time.Second)); !b {
		t.Fatal("not blocked within the minute")
	}
	if _, b := l.Blocked(a, t0.Add(3*time.Minute+3*time.Second)); b {
		t.Fatal("still blocked after the minute")
	}
	if _, b := l.Blocked(netip.MustParseAddr("192.0.2.2"), t0.Add(2*time.Minute+30*time.Second)); b {
		t.Fatal("another address blocked")
	}
}
