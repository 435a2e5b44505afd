package frame

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/icedeck/icedeck/internal/testkit"
)

func TestFormatOf(t *testing.T) {
	mp3 := Format{KindMPEG, "MP3", ".mp3", true}
	aac := Format{KindADTS, "AAC", ".aac", true}
	ogg := Format{KindOgg, "Ogg", ".ogg", false}
	flac := Format{KindFLAC, "FLAC", ".flac", false}
	webm := Format{KindWebM, "WebM", ".webm", false}
	unknown := Format{KindUnknown, "", ".bin", true}
	for _, c := range []struct {
		ct   string
		want Format
	}{
		{"audio/mpeg", mp3},
		{"audio/mp3", mp3}, // was recorded as .bin
		{"audio/mpeg3", mp3},
		{"audio/x-mpeg", mp3}, // was unknown to the analyser
		{"audio/x-mp3", mp3},
		{"AUDIO/MPEG", mp3},
		{" audio/mpeg ; charset=x", mp3},
		{"audio/mpeg;a=1;a=2", mp3}, // mime.ParseMediaType rejects this one whole
		{"audio/mpeg; name=\"unterminated", mp3},
		{"audio/aac", aac},
		{"audio/aacp", aac},
		{"audio/x-aac", aac},
		{"audio/adts", aac},
		{"application/ogg", ogg},
		{"audio/ogg", ogg},
		{"audio/ogg; codecs=opus", ogg},
		{"video/ogg", ogg},
		{"audio/x-ogg", ogg},
		{"application/x-ogg", ogg},
		{"audio/opus", Format{KindOgg, "Opus", ".ogg", false}},
		{"audio/vorbis", Format{KindOgg, "Vorbis", ".ogg", false}},
		{"audio/x-vorbis", Format{KindOgg, "Vorbis", ".ogg", false}},
		{"audio/flac+ogg", Format{KindOgg, "FLAC", ".ogg", false}},
		{"audio/flac", flac},
		{"audio/x-flac", flac},
		{"audio/webm", webm},
		{"video/webm", webm},
		{"audio/x-matroska", Format{KindWebM, "Matroska", ".mka", false}},
		{"audio/matroska", Format{KindWebM, "Matroska", ".mka", false}},
		{"video/x-matroska", Format{KindWebM, "Matroska", ".mkv", false}},
		{"video/matroska", Format{KindWebM, "Matroska", ".mkv", false}},
		{"video/x-matroska-3d", Format{KindWebM, "Matroska", ".mkv", false}},
		{"", unknown},
		{"application/octet-stream", unknown},
		{"audio/mpegurl", unknown},   // not audio/mpeg, whatever it contains
		{"audio/mp4a-latm", unknown}, // LATM is not ADTS: see the doc of the table
		{"audio/ mpeg", unknown},
	} {
		if got := FormatOf(c.ct); got != c.want {
			t.Errorf("FormatOf(%q) = %+v, want %+v", c.ct, got, c.want)
		}
		if got := Known(c.ct); got != (c.want.Kind != KindUnknown) {
			t.Errorf("Known(%q) = %v", c.ct, got)
		}
	}
}

// comment builds a Vorbis comment structure.
func comment(vendor string, entries ...string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(vendor)))
	b = append(b, vendor...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(entries)))
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(e)))
		b = append(b, e...)
	}
	return b
}

func TestCommentTitle(t *testing.T) {
	both := comment("enc", "ALBUM=Nights", "TITLE=Blue Hour", "ARTIST=Night Band")
	for _, c := range []struct {
		name string
		in   []byte
		want string
	}{
		{"both", both, "Night Band - Blue Hour"},
		{"title only", comment("enc", "TITLE=Blue Hour"), "Blue Hour"},
		{"artist only", comment("enc", "ARTIST=Night Band", "ALBUM=Nights"), "Night Band"},
		{"neither", comment("enc", "ALBUM=Nights"), ""},
		{"no entries", comment("enc"), ""},
		{"keys in any case", comment("", "artist=Night Band", "Title=Blue Hour"), "Night Band - Blue Hour"},
		{"first value counts", comment("", "TITLE=One", "ARTIST=A", "TITLE=Two", "ARTIST=B"), "A - One"},
		{"empty value skipped", comment("", "TITLE=", "TITLE=Real"), "Real"},
		{"entry without =", comment("", "TITLE", "TITLE=Real"), "Real"},
		{"value with =", comment("", "TITLE=a=b"), "a=b"},
		{"key is not a prefix", comment("", "TITLES=x", "SUBTITLE=y"), ""},
		{"truncated after complete entries", both[:len(both)-5], "Blue Hour"},
		{"count without entries", binary.LittleEndian.AppendUint32(comment("")[:4], 1<<32-1), ""},
		{"count larger than the entries", append(binary.LittleEndian.AppendUint32(comment("")[:4], 1<<32-1), comment("", "TITLE=T")[8:]...), "T"},
		{"vendor length beyond the data", []byte{0xFF, 0, 0, 0, 'x'}, ""},
		{"no count", comment("enc")[:7], ""},
		{"empty", nil, ""},
	} {
		if got := CommentTitle(c.in); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestParseHeaders checks ParseMPEG and ParseADTS against the independent
// walkers on every frame of the fixtures (ffprobe's rates and channels).
func TestParseHeaders(t *testing.T) {
	for _, c := range []struct {
		file                     string
		layer, samples, rate, ch int
		codec, version           string
	}{
		{"cbr.mp3", 3, 1152, 44100, 2, "MP3", "1"},
		{"mpeg2.mp3", 3, 576, 22050, 2, "MP3", "2"},
		{"layer2.mp2", 2, 1152, 48000, 2, "MP2", "1"},
	} {
		d := testkit.Testdata(t, c.file)
		bounds := walkMPEG(t, d)
		var first Header
		for i, b := range bounds {
			h, ok := ParseMPEG(binary.BigEndian.Uint32(d[b.off:]))
			if !ok {
				t.Fatalf("%s: frame %d at %d not parsed", c.file, i, b.off)
			}
			if i+1 < len(bounds) {
				// Only a tag may stand between a frame and the next.
				next := bounds[i+1].off
				gap := d[min(b.off+h.Length, next):next]
				if b.off+h.Length > next || len(gap) > 0 && !bytes.HasPrefix(gap, []byte("ID3")) && !bytes.HasPrefix(gap, []byte("TAG")) {
					t.Fatalf("%s: frame %d: Length %d, next frame %d bytes on", c.file, i, h.Length, next-b.off)
				}
			}
			if h.Layer != c.layer || h.Samples != c.samples || h.SampleRate != c.rate || h.Channels != c.ch ||
				h.Codec != c.codec || h.Version != c.version || h.HeaderLen != 4 {
				t.Fatalf("%s: frame %d: %+v", c.file, i, h)
			}
			if i == 0 {
				first = h
			} else if !h.SameStream(first) {
				t.Fatalf("%s: frame %d not SameStream as frame 0", c.file, i)
			}
		}
	}
	// A CRC-protected frame keeps two more bytes before its payload; a
	// sample-rate or mono change is another stream, a bitrate change is not.
	h0, _ := ParseMPEG(0xFFFB9064) // MPEG-1 Layer III 128k 44.1 kHz joint stereo
	if p, ok := ParseMPEG(0xFFFA9064); !ok || p.HeaderLen != 6 || !p.SameStream(h0) {
		t.Errorf("protected frame: %+v %v", p, ok)
	}
	if h, ok := ParseMPEG(0xFFFBA064); !ok || h.Bitrate != 160000 || !h.SameStream(h0) {
		t.Errorf("160k frame: %+v %v", h, ok)
	}
	if h, ok := ParseMPEG(0xFFFB9464); !ok || h.SampleRate != 48000 || h.SameStream(h0) {
		t.Errorf("48 kHz frame: %+v %v", h, ok)
	}
	if h, ok := ParseMPEG(0xFFFB90C4); !ok || h.Channels != 1 || h.SameStream(h0) {
		t.Errorf("mono frame: %+v %v", h, ok)
	}
	for _, bad := range []uint32{0xFEFB9064 /* no sync */, 0xFFEB9064 /* reserved version */, 0xFFF99064 /* layer 0 */, 0xFFFBF064 /* bitrate 15 */, 0xFFFB9C64 /* rate 3 */, 0xFFFB9066 /* emphasis 2 */} {
		if h, ok := ParseMPEG(bad); ok {
			t.Errorf("%08x parsed: %+v", bad, h)
		}
	}

	d := testkit.Testdata(t, "aac.aac")
	bounds := walkADTS(t, d)
	word := func(b []byte) uint64 { return binary.BigEndian.Uint64(append([]byte{0}, b[:7]...)) }
	var first Header
	for i, b := range bounds {
		h, ok := ParseADTS(word(d[b.off:]))
		if !ok {
			t.Fatalf("aac.aac: frame %d at %d not parsed", i, b.off)
		}
		if i+1 < len(bounds) && bounds[i+1].off-b.off != h.Length {
			t.Fatalf("aac.aac: frame %d: Length %d, next frame %d bytes on", i, h.Length, bounds[i+1].off-b.off)
		}
		if h.Samples != 1024 || h.SampleRate != 44100 || h.Channels != 2 || h.Codec != "AAC-LC" || h.HeaderLen != 7 || h.Layer != 0 {
			t.Fatalf("aac.aac: frame %d: %+v", i, h)
		}
		if i == 0 {
			first = h
		} else if !h.SameStream(first) {
			t.Fatalf("aac.aac: frame %d not SameStream as frame 0", i)
		}
	}
	hdr := append([]byte(nil), d[:7]...)
	hdr[1] &^= 1 // protection_absent = 0: a CRC follows
	if h, ok := ParseADTS(word(hdr)); !ok || h.HeaderLen != 9 || !h.SameStream(first) {
		t.Errorf("protected ADTS frame: %+v %v", h, ok)
	}
	hdr = append([]byte(nil), d[:7]...)
	hdr[2] = hdr[2]&^0x3C | 3<<2 // 48 kHz
	if h, ok := ParseADTS(word(hdr)); !ok || h.SampleRate != 48000 || h.SameStream(first) {
		t.Errorf("48 kHz ADTS frame: %+v %v", h, ok)
	}
	hdr[2] |= 0x3C // sampling frequency index 15
	if h, ok := ParseADTS(word(hdr)); ok {
		t.Errorf("reserved rate parsed: %+v", h)
	}
}
