package frame

import (
	"bytes"
	"encoding/binary"
)

// Untagged returns the span of a file or stream b between its tags:
// ID3v2 tags at the start (one after another) and, at the end, an ID3v1
// tag, an APEv2 tag and an appended ID3v2 tag (with its footer). Encoders
// and clients write their own tags, so two copies of the same audio often
// differ only there.
func Untagged(b []byte) (start, end int) {
	end = len(b)
	for {
		size, ok := id3Size(b[start:end])
		if !ok || size > end-start {
			break
		}
		start += size
	}
	for {
		switch t := b[start:end]; {
		case len(t) >= 128 && bytes.HasPrefix(t[len(t)-128:], []byte("TAG")):
			end -= 128
		case apeSize(t) > 0:
			end -= apeSize(t)
		case appendedID3Size(t) > 0:
			end -= appendedID3Size(t)
		default:
			return start, end
		}
	}
}

// apeSize is the size of an APEv2 tag ending b (its footer last, its
// header, when it has one, first), or 0.
func apeSize(b []byte) int {
	if len(b) < 32 {
		return 0
	}
	f := b[len(b)-32:]
	if !bytes.HasPrefix(f, []byte("APETAGEX")) {
		return 0
	}
	size := int64(binary.LittleEndian.Uint32(f[12:16])) // items and footer
	if binary.LittleEndian.Uint32(f[20:24])&(1<<31) != 0 {
		size += 32 // the header
	}
	if size < 32 || size > int64(len(b)) {
		return 0
	}
	return int(size)
}

// appendedID3Size is the size of an ID3v2.4 tag ending b, found by its
// footer ("3DI"), or 0.
func appendedID3Size(b []byte) int {
	if len(b) < 20 {
		return 0
	}
	f := b[len(b)-10:]
	if f[0] != '3' || f[1] != 'D' || f[2] != 'I' {
		return 0
	}
	h := append([]byte("ID3"), f[3:]...)
	size, ok := id3Size(h)
	if !ok || size > len(b) || !bytes.HasPrefix(b[len(b)-size:], []byte("ID3")) {
		return 0
	}
	return size
}
