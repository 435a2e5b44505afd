package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// The rules every caller shares: the front, the control plane, the
// configuration and the interface call these, never a copy.

var reservedPrefixes = []string{"/admin", "/api/", "/status", "/metrics", "/server_version", "/health"}

// CheckMountName says why name cannot be a mount path, or nil. A mount
// path is valid UTF-8 (it becomes a metrics label, a JSON string and an
// XML attribute), starts with /, has no space, control character, \, ?
// or #, no empty or .. segment, and is not under a reserved prefix.
func CheckMountName(name string) error {
	switch {
	case !strings.HasPrefix(name, "/") || len(name) < 2:
		return errors.New("a mount path starts with / and names something")
	case len(name) > 255:
		return errors.New("mount path longer than 255 bytes")
	case !utf8.ValidString(name):
		return errors.New("mount path is not valid UTF-8")
	case strings.ContainsFunc(name, func(r rune) bool {
		return r <= 0x20 || r == 0x7f || unicode.IsControl(r) || unicode.IsSpace(r) || r == '\\' || r == '?' || r == '#'
	}):
		return errors.New(`mount path has a space, control character, \, ? or #`)
	case strings.Contains(name, "//") || strings.Contains(name, "/../") || strings.HasSuffix(name, "/.."):
		return errors.New("mount path has an empty or .. segment")
	}
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(name, p) {
			return fmt.Errorf("mount path under %s is reserved", p)
		}
	}
	return nil
}

// CleanText makes a client-supplied string safe to show and to relay:
// valid UTF-8 (invalid bytes become U+FFFD), no control characters or
// terminal escape sequences, runs of white space folded to one space,
// trimmed. Titles from /admin/metadata, source headers and Ogg comments
// all pass through it.
func CleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case r == 0x1b:
			i += escapeLen(s[i:])
			continue
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.IsControl(r) || r == 0x2028 || r == 0x2029 || r == 0xFEFF:
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// escapeLen is the length of the rest of a terminal escape sequence whose
// ESC was just read: CSI (ESC [ … final byte), OSC (ESC ] … BEL or ESC \)
// or a two-byte escape.
func escapeLen(s string) int {
	if s == "" {
		return 0
	}
	switch s[0] {
	case '[':
		for i := 1; i < len(s); i++ {
			if s[i] >= 0x40 && s[i] <= 0x7e {
				return i + 1
			}
		}
		return len(s)
	case ']', 'P', '_', '^':
		for i := 1; i < len(s); i++ {
			if s[i] == 0x07 {
				return i + 1
			}
			if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
		}
		return len(s)
	}
	_, n := utf8.DecodeRuneInString(s)
	return n
}

// SourceCredentials is the user and password a source of mount must
// give: the mount's own password replaces the global one, with its own
// user name when it sets one.
func (c Config) SourceCredentials(mount string) (user, password string) {
	user, password = c.SourceUser, c.SourcePassword
	if mc, ok := c.Mounts[mount]; ok && mc.Password != "" {
		password = mc.Password
		if mc.Username != "" {
			user = mc.Username
		}
	}
	return user, password
}

// LoginLimiter counts failed logins per address: max failures within
// window block the address for window. Sources and the admin interface
// each keep one.
type LoginLimiter struct {
	max    int
	window time.Duration
	mu     sync.Mutex
	m      map[netip.Addr]*loginEntry
}

type loginEntry struct {
	start        time.Time // of the current counting window
	count        int
	blockedUntil time.Time
}

// NewLoginLimiter returns a limiter that blocks an address for window
// after max failures within window.
func NewLoginLimiter(max int, window time.Duration) *LoginLimiter {
	return &LoginLimiter{max: max, window: window, m: map[netip.Addr]*loginEntry{}}
}

// Window is how long a block lasts.
func (l *LoginLimiter) Window() time.Duration { return l.window }

// Blocked reports whether a is blocked at now, and until when.
func (l *LoginLimiter) Blocked(a netip.Addr, now time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.m[a]
	if e == nil || !now.Before(e.blockedUntil) {
		return time.Time{}, false
	}
	return e.blockedUntil, true
}

// Fail records one failure and reports whether it blocked the address.
func (l *LoginLimiter) Fail(a netip.Addr, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m) > 10000 {
		// Forget addresses that are neither counting nor blocked, so a
		// scan from many addresses cannot grow the map without bound.
		for k, e := range l.m {
			if now.Sub(e.start) > l.window && !now.Before(e.blockedUntil) {
				delete(l.m, k)
			}
		}
	}
	e := l.m[a]
	if e == nil {
		e = &loginEntry{start: now}
		l.m[a] = e
	}
	if now.Sub(e.start) > l.window {
		e.start, e.count = now, 0
	}
	e.count++
	if e.count >= l.max {
		e.blockedUntil = now.Add(l.window)
		e.start, e.count = now, 0
		return true
	}
	return false
}
