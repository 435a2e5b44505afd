package frame

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/icedeck/icedeck/internal/testkit"
)

// id3v2 builds an ID3v2.4 tag with size bytes of body, with its footer
// when footer.
func id3v2(size int, footer bool) []byte {
	flags := byte(0)
	if footer {
		flags = 0x10
	}
	syncsafe := []byte{byte(size >> 21 & 0x7f), byte(size >> 14 & 0x7f), byte(size >> 7 & 0x7f), byte(size & 0x7f)}
	t := append([]byte{'I', 'D', '3', 4, 0, flags}, syncsafe...)
	t = append(t, bytes.Repeat([]byte{'x'}, size)...)
	if footer {
		t = append(t, append([]byte{'3', 'D', 'I', 4, 0, flags}, syncsafe...)...)
	}
	return t
}

// ape builds an APEv2 tag with items bytes of items, with its header when
// header.
func ape(items int, header bool) []byte {
	le := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	flags := uint32(0)
	if header {
		flags = 1 << 31
	}
	block := func(isHeader bool) []byte {
		f := flags
		if isHeader {
			f |= 1 << 29
		}
		b := append([]byte("APETAGEX"), le(2000)...)
		b = append(b, le(uint32(items+32))...)
		b = append(b, le(1)...)
		b = append(b, le(f)...)
		return append(b, make([]byte, 8)...)
	}
	var t []byte
	if header {
		t = block(true)
	}
	t = append(t, bytes.Repeat([]byte{'a'}, items)...)
	return append(t, block(false)...)
}

func TestUntagged(t *testing.T) {
	audio := testkit.Media(t, "tone440.mp3")
	start, end := Untagged(audio)
	if start != 45 || end != len(audio) {
		t.Fatalf("ffmpeg's file: span %d..%d, want its 45-byte ID3v2 tag aside", start, end)
	}
	audio = audio[start:end]
	id3v1 := append([]byte("TAG"), bytes.Repeat([]byte{' '}, 125)...)
	for _, c := range []struct {
		name        string
		before, aft []byte
	}{
		{"none", nil, nil},
		{"id3v2 twice", append(id3v2(100, false), id3v2(3, false)...), nil},
		{"id3v1", nil, id3v1},
		{"ape with header then id3v1", id3v2(20, false), append(ape(50, true), id3v1...)},
		{"ape without header", nil, ape(7, false)},
		{"appended id3v2", nil, id3v2(40, true)},
	} {
		in := append(append(append([]byte(nil), c.before...), audio...), c.aft...)
		s, e := Untagged(in)
		if s != len(c.before) || e != len(in)-len(c.aft) {
			t.Errorf("%s: span %d..%d, want %d..%d", c.name, s, e, len(c.before), len(in)-len(c.aft))
		}
	}
	// Nothing that only looks like a tag, however cut.
	for _, in := range [][]byte{nil, []byte("ID3"), []byte("TAG"), id3v2(100, false)[:50], []byte("APETAGEX")} {
		if s, e := Untagged(in); s != 0 || e != len(in) {
			t.Errorf("%q: span %d..%d, want all of it", in, s, e)
		}
	}
}
