package bench

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/icedeck/icedeck/engine"
)

// Verdict is an expectation judged: what was wanted, what was measured.
type Verdict struct {
	Name    string `json:"name"` // the flag: "expect-bytes"
	Want    string `json:"want"`
	Got     string `json:"got"`
	Pass    bool   `json:"pass"`
	Message string `json:"message,omitempty"` // on failure: why, in detail (may span lines)
}

// Expectation is one claim about the source sessions a bench saw.
type Expectation struct {
	Name  string // the flag: "expect-bytes"
	Want  string // as given
	judge func(*Result) Verdict
}

// Judge judges e against r.
func (e Expectation) Judge(r *Result) Verdict {
	v := e.judge(r)
	v.Name, v.Want = e.Name, e.Want
	return v
}

// Judge judges every expectation against r, in order.
func Judge(r *Result, exps []Expectation) []Verdict {
	out := make([]Verdict, 0, len(exps))
	for _, e := range exps {
		out = append(out, e.Judge(r))
	}
	return out
}

// Passed reports whether every verdict passed.
func Passed(vs []Verdict) bool {
	for _, v := range vs {
		if !v.Pass {
			return false
		}
	}
	return true
}

func pass(got string) Verdict { return Verdict{Pass: true, Got: got} }

func fail(got, msg string) Verdict { return Verdict{Got: got, Message: msg} }

// noSession is the verdict of every expectation about sessions when there
// was none.
func noSession(r *Result) Verdict {
	msg := "no source session: no client connected and was accepted"
	if n := len(r.Attempts); n > 0 {
		msg = fmt.Sprintf("no source session: %d attempts, none accepted", n)
	}
	return fail("no session", msg)
}

// sessionsJudge judges expectations that every session must meet: ok
// tells whether one does, value what it measured.
func sessionsJudge(value func(engine.Session) string, ok func(engine.Session) bool) func(*Result) Verdict {
	return func(r *Result) Verdict {
		if len(r.Sessions) == 0 {
			return noSession(r)
		}
		var values, bad []string
		for i, s := range r.Sessions {
			v := value(s)
			if !slices.Contains(values, v) {
				values = append(values, v)
			}
			if !ok(s) {
				bad = append(bad, fmt.Sprintf("session %d (%s, from %s): %s", i+1, s.Mount, s.Started.Format(time.TimeOnly), v))
			}
		}
		got := strings.Join(values, ", ")
		if len(bad) > 0 {
			return fail(got, strings.Join(bad, "\n"))
		}
		return pass(got)
	}
}

// ExpectExit: the command exited with code.
func ExpectExit(code int) Expectation {
	return Expectation{Name: "expect-exit", Want: strconv.Itoa(code), judge: func(r *Result) Verdict {
		c := r.Command
		switch {
		case c == nil:
			return fail("no command", "no command was run")
		case c.TimedOut:
			return fail("timed out", fmt.Sprintf("the command was still running after %s and was killed", c.Timeout))
		case c.Exit != code:
			return fail(strconv.Itoa(c.Exit), fmt.Sprintf("the command exited with %d%s", c.Exit, cond(c.Signal != "", " ("+c.Signal+")")))
		}
		return pass(strconv.Itoa(c.Exit))
	}}
}

func cond(b bool, s string) string {
	if b {
		return s
	}
	return ""
}

// ExpectSessions: the number of source sessions (accepted connections;
// with faults, reconnects count) is in rng.
func ExpectSessions(rng Range) Expectation {
	return Expectation{Name: "expect-sessions", Want: rng.String(), judge: func(r *Result) Verdict {
		n := len(r.Sessions)
		got := fmt.Sprintf("%d (%s)", n, plural(len(r.Attempts), "attempt"))
		if !rng.Has(float64(n)) {
			msg := fmt.Sprintf("%s from %s, want %s", plural(n, "session"), plural(len(r.Attempts), "authenticated attempt"), rng)
			for i, s := range r.Sessions {
				msg += fmt.Sprintf("\nsession %d: %d bytes, ended: %s", i+1, s.Bytes, cmp.Or(s.Reason.String(), "still connected"))
			}
			for _, a := range r.Attempts {
				if a.Fault != "" {
					msg += fmt.Sprintf("\nattempt %d: fault %s", a.N, a.Fault)
				}
			}
			return fail(got, msg)
		}
		return pass(got)
	}}
}

// ExpectMount: every session was on mount.
func ExpectMount(mount string) Expectation {
	return Expectation{Name: "expect-mount", Want: mount, judge: sessionsJudge(
		func(s engine.Session) string { return s.Mount },
		func(s engine.Session) bool { return s.Mount == mount })}
}

// ExpectMethod: every session came as method (PUT or SOURCE).
func ExpectMethod(method string) Expectation {
	return Expectation{Name: "expect-method", Want: method, judge: sessionsJudge(
		func(s engine.Session) string { return s.Method },
		func(s engine.Session) bool { return strings.EqualFold(s.Method, method) })}
}

// ExpectUserAgent: every session's User-Agent matches re (anywhere in it,
// unless anchored).
func ExpectUserAgent(re *regexp.Regexp) Expectation {
	return Expectation{Name: "expect-user-agent", Want: re.String(), judge: sessionsJudge(
		func(s engine.Session) string { return strconv.Quote(s.UserAgent) },
		func(s engine.Session) bool { return re.MatchString(s.UserAgent) })}
}

// ExpectHeader: every session's request had header name with value
// (names case-insensitive, values exact).
func ExpectHeader(name, value string) Expectation {
	key := http.CanonicalHeaderKey(name)
	return Expectation{Name: "expect-header", Want: name + "=" + value, judge: sessionsJudge(
		func(s engine.Session) string {
			v, ok := s.Headers[key]
			if !ok {
				return "no " + key
			}
			return key + "=" + strconv.Quote(v)
		},
		func(s engine.Session) bool { v, ok := s.Headers[key]; return ok && v == value })}
}

// ExpectContentType: every session declared type (parameters aside).
func ExpectContentType(typ string) Expectation {
	return Expectation{Name: "expect-content-type", Want: typ, judge: sessionsJudge(
		func(s engine.Session) string { return strconv.Quote(s.ContentType) },
		func(s engine.Session) bool { return strings.EqualFold(s.ContentType, typ) })}
}

// Codecs are the names ExpectCodec takes.
var Codecs = []string{"mp3", "aac", "vorbis", "opus", "flac"}

// ExpectCodec: the audio of every session was codec (one of Codecs), as
// the frame analysis found it.
func ExpectCodec(codec string) Expectation {
	codec = strings.ToLower(codec)
	return Expectation{Name: "expect-codec", Want: codec, judge: sessionsJudge(
		func(s engine.Session) string { return cmp.Or(s.Frames.Codec, "none found") },
		func(s engine.Session) bool {
			c := strings.ToLower(s.Frames.Codec)
			return c == codec || (codec == "aac" && strings.HasPrefix(c, "aac"))
		})}
}

// ExpectSampleRate: every session's audio was at hz.
func ExpectSampleRate(hz int) Expectation {
	return Expectation{Name: "expect-sample-rate", Want: strconv.Itoa(hz), judge: sessionsJudge(
		func(s engine.Session) string { return strconv.Itoa(s.Frames.SampleRate) },
		func(s engine.Session) bool { return s.Frames.SampleRate == hz })}
}

// ExpectChannels: every session's audio had n channels.
func ExpectChannels(n int) Expectation {
	return Expectation{Name: "expect-channels", Want: strconv.Itoa(n), judge: sessionsJudge(
		func(s engine.Session) string { return strconv.Itoa(s.Frames.Channels) },
		func(s engine.Session) bool { return s.Frames.Channels == n })}
}

// ExpectBitrate: every session's bitrate, in bits a second, is in rng:
// the frames' own (CBR MP3, a Vorbis stream's nominal one), else the
// average of what arrived over the audio's duration.
func ExpectBitrate(rng Range) Expectation {
	return Expectation{Name: "expect-bitrate", Want: rng.String(), judge: sessionsJudge(
		func(s engine.Session) string {
			if b := bitrate(s); b > 0 {
				return strconv.Itoa(int(math.Round(b))) + " bit/s"
			}
			return "unknown (no timed audio)"
		},
		func(s engine.Session) bool { b := bitrate(s); return b > 0 && rng.Has(b) })}
}

func bitrate(s engine.Session) float64 {
	if s.Frames.Bitrate > 0 {
		return float64(s.Frames.Bitrate)
	}
	if s.AudioSeconds > 0 {
		return float64(s.Bytes) * 8 / s.AudioSeconds
	}
	return 0
}

// ExpectBytes: the bytes received, all sessions together, are in rng.
func ExpectBytes(rng Range) Expectation {
	return Expectation{Name: "expect-bytes", Want: rng.String(), judge: func(r *Result) Verdict {
		if len(r.Sessions) == 0 {
			return noSession(r)
		}
		var n uint64
		for _, s := range r.Sessions {
			n += s.Bytes
		}
		got := strconv.FormatUint(n, 10)
		if !rng.Has(float64(n)) {
			return fail(got, fmt.Sprintf("received %d bytes in %s, want %s", n, plural(len(r.Sessions), "session"), rng))
		}
		return pass(got)
	}}
}

// ExpectSHA256: the SHA-256 of the bytes received, sessions concatenated,
// is sum (hex).
func ExpectSHA256(sum string) Expectation {
	sum = strings.ToLower(sum)
	return Expectation{Name: "expect-sha256", Want: sum, judge: func(r *Result) Verdict {
		if len(r.Sessions) == 0 {
			return noSession(r)
		}
		got := r.Sessions[0].SHA256
		if len(r.Sessions) > 1 {
			b, _, err := r.Received()
			if err != nil {
				return fail("unknown", "the sessions cannot be put together: "+err.Error())
			}
			h := sha256.Sum256(b)
			got = hex.EncodeToString(h[:])
		}
		if got != sum {
			return fail(got, fmt.Sprintf("the %d bytes received hash to %s", totalBytes(r), got))
		}
		return pass(got)
	}}
}

func totalBytes(r *Result) uint64 {
	var n uint64
	for _, s := range r.Sessions {
		n += s.Bytes
	}
	return n
}

// ExpectFile: the bytes received, sessions concatenated (did the client
// resume where it was dropped?), equal the file at path.
func ExpectFile(path string, o CompareOptions) Expectation {
	want := path
	if o.AllowPartial {
		want += " (a run of it)"
	}
	if o.SkipTags {
		want += " (tags aside)"
	}
	return Expectation{Name: "expect-file", Want: want, judge: func(r *Result) Verdict {
		file, err := os.ReadFile(path)
		if err != nil {
			return fail("unreadable", err.Error())
		}
		if len(r.Sessions) == 0 {
			return noSession(r)
		}
		got, starts, err := r.Received()
		if err != nil {
			return fail("unknown", err.Error())
		}
		ok, measured, msg := Compare(file, got, starts, o)
		if !ok {
			return fail(measured, msg)
		}
		return pass(measured)
	}}
}

// ExpectSyncLosses: the times the frame analysis lost sync, all sessions
// together, are in rng.
func ExpectSyncLosses(rng Range) Expectation {
	return countExpectation("expect-sync-losses", rng, "sync losses", func(s engine.Session) uint64 { return s.Frames.SyncLosses })
}

// ExpectCRCErrors: the Ogg pages and FLAC frames whose checksum failed,
// all sessions together, are in rng.
func ExpectCRCErrors(rng Range) Expectation {
	return countExpectation("expect-crc-errors", rng, "CRC errors", func(s engine.Session) uint64 { return s.Frames.CRCErrors })
}

func countExpectation(name string, rng Range, what string, count func(engine.Session) uint64) Expectation {
	return Expectation{Name: name, Want: rng.String(), judge: func(r *Result) Verdict {
		if len(r.Sessions) == 0 {
			return noSession(r)
		}
		var n uint64
		var per []string
		for i, s := range r.Sessions {
			c := count(s)
			n += c
			if c > 0 {
				per = append(per, fmt.Sprintf("session %d: %d", i+1, c))
			}
		}
		got := strconv.FormatUint(n, 10)
		if !rng.Has(float64(n)) {
			return fail(got, fmt.Sprintf("%d %s (%s), want %s", n, what, strings.Join(per, ", "), rng))
		}
		return pass(got)
	}}
}

// ExpectRealtime: the source paced its sending: the audio's duration over
// the time it took to arrive, all sessions together, is in rng.
func ExpectRealtime(rng Range) Expectation {
	return Expectation{Name: "expect-realtime", Want: rng.String(), judge: func(r *Result) Verdict {
		if len(r.Sessions) == 0 {
			return noSession(r)
		}
		var audio, wall float64
		for _, s := range r.Sessions {
			audio += s.AudioSeconds
			wall += s.WallSeconds
		}
		if audio == 0 || wall == 0 {
			return fail("unknown", "no timed audio arrived: the ratio needs frames the analysis can time")
		}
		ratio := audio / wall
		got := strconv.FormatFloat(ratio, 'f', 3, 64)
		if !rng.Has(ratio) {
			return fail(got, fmt.Sprintf("%.3f s of audio arrived in %.3f s: a ratio of %.3f, want %s", audio, wall, ratio, rng))
		}
		return pass(got)
	}}
}

// ExpectMaxGap: no session waited longer than d between two reads.
func ExpectMaxGap(d time.Duration) Expectation {
	return Expectation{Name: "expect-max-gap", Want: d.String(), judge: func(r *Result) Verdict {
		if len(r.Sessions) == 0 {
			return noSession(r)
		}
		var longest time.Duration
		at := 0
		for i, s := range r.Sessions {
			if s.LongestGap > longest {
				longest, at = s.LongestGap, i+1
			}
		}
		got := longest.Round(time.Millisecond).String()
		if longest > d {
			return fail(got, fmt.Sprintf("session %d went %s without sending, want at most %s", at, got, d))
		}
		return pass(got)
	}}
}

// ExpectTitles: these title updates were seen, in this order (others may
// come between them).
func ExpectTitles(titles ...string) Expectation {
	return Expectation{Name: "expect-title", Want: quoteAll(titles), judge: func(r *Result) Verdict {
		seen := make([]string, 0, len(r.Titles))
		for _, t := range r.Titles {
			seen = append(seen, t.Title)
		}
		got := quoteAll(seen)
		if len(seen) == 0 {
			got = "none"
		}
		i := 0
		for _, s := range seen {
			if i < len(titles) && s == titles[i] {
				i++
			}
		}
		if i < len(titles) {
			return fail(got, fmt.Sprintf("title %q not seen%s; titles seen, in order: %s", titles[i], cond(i > 0, " after the ones before it"), got))
		}
		return pass(got)
	}}
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
