package bench

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/icedeck/icedeck/engine/frame"
)

// CompareOptions loosen --expect-file.
type CompareOptions struct {
	// AllowPartial accepts a contiguous run of the file (a client that
	// started late or stopped early) instead of all of it.
	AllowPartial bool
	// SkipTags compares what lies between the tags (ID3v2 at the start;
	// ID3v1, APEv2 and appended ID3v2 at the end) of either side.
	SkipTags bool
}

// dumpContext is how many bytes before a difference the hex dumps start.
const dumpContext = 16

// anchorLen is how much of the received stream, at most, is looked for in
// the file to place a partial run that is not all of it.
const anchorLen = 64

// Compare says whether got, the bytes received (sessions concatenated,
// each starting at the offsets in starts), matches want, the file's. It
// returns a verdict's measured value and, when they differ, a message
// that points at the first difference with hex dumps from both sides and
// counts what is missing or extra at the end.
func Compare(want, got []byte, starts []int, o CompareOptions) (ok bool, measured, msg string) {
	ws, we, gs, ge := 0, len(want), 0, len(got)
	if o.SkipTags {
		ws, we = frame.Untagged(want)
		gs, ge = frame.Untagged(got)
	}
	w, g := want[ws:we], got[gs:ge]
	base := 0 // where g is compared from in w
	if o.AllowPartial {
		if i := bytes.Index(w, g); i >= 0 && len(g) > 0 {
			return true, fmt.Sprintf("%d bytes, the file's %d to %d", len(g), ws+i, ws+i+len(g)), ""
		}
		k := min(len(g), anchorLen)
		i := bytes.Index(w, g[:k])
		if i < 0 || k == 0 {
			m := fmt.Sprintf("%d bytes received: not a run of the file's %d bytes; the first %d received appear nowhere in it:\n%s",
				len(g), len(w), k, hexDump(got, gs, gs+k, -1))
			return false, fmt.Sprintf("%d bytes, not in the file", len(g)), m
		}
		base = i
	}
	w = w[base:]
	n := min(len(w), len(g))
	first, differ := -1, 0
	for i := range n {
		if w[i] != g[i] {
			if first < 0 {
				first = i
			}
			differ++
		}
	}
	var b strings.Builder
	switch {
	case first >= 0:
		wo, goff := ws+base+first, gs+first
		fmt.Fprintf(&b, "first difference at file offset %d (received offset %d%s): expected 0x%02x, received 0x%02x; %d of the %d bytes compared differ\n",
			wo, goff, inSession(starts, goff), w[first], g[first], differ, n)
		fmt.Fprintf(&b, "expected (file):\n%s", hexDump(want, max(0, wo-dumpContext), min(len(want), wo+2*dumpContext), wo))
		fmt.Fprintf(&b, "received:\n%s", hexDump(got, max(0, goff-dumpContext), min(len(got), goff+2*dumpContext), goff))
	case len(g) == len(w) || (o.AllowPartial && len(g) < len(w)):
		return true, fmt.Sprintf("%d bytes, equal", len(g)), ""
	}
	switch {
	case len(g) == 0:
		fmt.Fprintf(&b, "nothing received of the file's %d bytes\n", len(w))
	case len(g) < len(w) && !o.AllowPartial:
		fmt.Fprintf(&b, "%d bytes missing at the end: received %d of the file's %d (the last received at received offset %d%s)\n",
			len(w)-len(g), len(g), len(w), gs+len(g)-1, inSession(starts, gs+len(g)-1))
	case len(g) > len(w):
		fmt.Fprintf(&b, "%d extra bytes at the end, after the file's %d; the first of them:\n%s",
			len(g)-len(w), len(w), hexDump(got, gs+len(w), min(len(got), gs+len(w)+2*dumpContext), -1))
	}
	measured = fmt.Sprintf("%d bytes, differing", len(got))
	if first < 0 {
		measured = fmt.Sprintf("%d bytes, the file has %d", len(g), len(w))
	}
	return false, measured, strings.TrimRight(b.String(), "\n")
}

// inSession says which session holds received offset off: ", session 2,
// its byte 1234"; nothing for a single session.
func inSession(starts []int, off int) string {
	if len(starts) < 2 {
		return ""
	}
	k := 0
	for i, s := range starts {
		if s <= off {
			k = i
		}
	}
	return fmt.Sprintf(", session %d, its byte %d", k+1, off-starts[k])
}

// hexDump shows b[from:to] 16 bytes a line, offsets first and printable
// characters last, with a caret line under the byte at mark (-1: none).
func hexDump(b []byte, from, to, mark int) string {
	var out strings.Builder
	for row := from - from%16; row < to; row += 16 {
		var hex, text strings.Builder
		caret := -1
		for j := range 16 {
			i := row + j
			if j == 8 {
				hex.WriteByte(' ')
			}
			if i < from || i >= to {
				hex.WriteString("   ")
				text.WriteByte(' ')
				continue
			}
			if i == mark {
				caret = hex.Len()
			}
			fmt.Fprintf(&hex, "%02x ", b[i])
			if c := b[i]; c >= 0x20 && c < 0x7f {
				text.WriteByte(c)
			} else {
				text.WriteByte('.')
			}
		}
		fmt.Fprintf(&out, "  %08x  %s |%s|\n", row, hex.String(), text.String())
		if caret >= 0 {
			fmt.Fprintf(&out, "  %8s  %s^^\n", "", strings.Repeat(" ", caret))
		}
	}
	return out.String()
}
