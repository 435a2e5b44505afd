package bench

import (
	"bytes"
	"strings"
	"testing"

	"github.com/icedeck/icedeck/internal/testkit"
)

func TestCompare(t *testing.T) {
	file := testkit.Media(t, "tone440.mp3")
	n := len(file)
	changed := append([]byte(nil), file...)
	changed[20000] ^= 0x01
	id3v1 := append([]byte("TAG"), bytes.Repeat([]byte{' '}, 125)...)
	for _, c := range []struct {
		name     string
		got      []byte
		starts   []int
		o        CompareOptions
		ok       bool
		measured string
		msg      []string // the message has these lines, in order
	}{
		{name: "equal", got: file, ok: true, measured: "32645 bytes, equal"},
		{name: "one byte", got: changed, starts: []int{0, 15000}, measured: "32645 bytes, differing", msg: []string{
			"first difference at file offset 20000 (received offset 20000, session 2, its byte 5000): expected 0x" + hex2(file[20000]) +
				", received 0x" + hex2(changed[20000]) + "; 1 of the 32645 bytes compared differ",
			"expected (file):",
			"  00004e10  ", // two rows before the byte, which is in 00004e20
			"  00004e20  " + hex2(file[20000]),
			"            ^^",
			"received:",
			"  00004e20  " + hex2(changed[20000]),
			"            ^^",
		}},
		{name: "short", got: file[:n-1000], measured: "31645 bytes, the file has 32645", msg: []string{
			"1000 bytes missing at the end: received 31645 of the file's 32645 (the last received at received offset 31644)"}},
		{name: "nothing", got: nil, measured: "0 bytes, the file has 32645", msg: []string{"nothing received of the file's 32645 bytes"}},
		{name: "long", got: append(append([]byte(nil), file...), "junk"...), measured: "32649 bytes, the file has 32645", msg: []string{
			"4 extra bytes at the end, after the file's 32645; the first of them:",
			"  00007f80                 6a 75 6e  6b", "|     junk       |"}},
		{name: "partial", got: file[1000:9000], o: CompareOptions{AllowPartial: true}, ok: true, measured: "8000 bytes, the file's 1000 to 9000"},
		{name: "partial differing", got: changed[15000:25000], o: CompareOptions{AllowPartial: true}, measured: "10000 bytes, differing", msg: []string{
			"first difference at file offset 20000 (received offset 5000)"}},
		{name: "partial nowhere", got: bytes.Repeat([]byte{7}, 100), o: CompareOptions{AllowPartial: true}, measured: "100 bytes, not in the file", msg: []string{
			"100 bytes received: not a run of the file's 32645 bytes; the first 64 received appear nowhere in it:",
			"  00000000  07 07 07 07 07 07 07 07  07 07 07 07 07 07 07 07  |................|"}},
		{name: "tags aside", got: append(append([]byte(nil), file[45:]...), id3v1...), o: CompareOptions{SkipTags: true}, ok: true, measured: "32600 bytes, equal"},
		{name: "tags counted", got: append(append([]byte(nil), file[45:]...), id3v1...), measured: "32728 bytes, differing", msg: []string{
			"first difference at file offset 0 (received offset 0)", "  00000000  49 44 33", "  00000000  ff fb"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ok, measured, msg := Compare(file, c.got, c.starts, c.o)
			if ok != c.ok || measured != c.measured {
				t.Fatalf("ok %v measured %q, want %v %q; message:\n%s", ok, measured, c.ok, c.measured, msg)
			}
			if c.ok && msg != "" {
				t.Fatalf("a match with a message: %s", msg)
			}
			rest := msg
			for _, want := range c.msg {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Fatalf("message lacks %q (in order):\n%s", want, msg)
				}
				rest = rest[i+len(want):]
			}
		})
	}
}

func hex2(b byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&15]})
}
