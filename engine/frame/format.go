package frame

import (
	"mime"
	"path"
	"strings"
)

// Kind is how a stream is parsed: the framing (MPEG audio, ADTS) or the
// container.
type Kind uint8

const (
	KindUnknown Kind = iota // opaque bytes
	KindMPEG                // MPEG-1/2/2.5 audio, layers I to III
	KindADTS                // AAC in ADTS frames
	KindOgg                 // Ogg, whatever its codecs
	KindFLAC                // raw (native) FLAC
	KindWebM                // WebM and Matroska
)

// Format is what a Content-Type says about a stream. It is the one table
// the analyser, the player, the interface, recording and the ICY decision
// read, so that they cannot disagree about a type.
type Format struct {
	Kind Kind
	// Name is for people: the codec when the type names one ("MP3", "AAC",
	// "Opus", "Vorbis", "FLAC"), else the container ("Ogg", "WebM",
	// "Matroska"); "" for an unknown type.
	Name string
	// Ext is the file extension of a recording, with its dot; ".bin" for
	// an unknown type.
	Ext string
	// ICY reports whether ICY metadata blocks may be spliced into the stream
	// for a listener that asks for them: not into Ogg, WebM or Matroska,
	// which carry their metadata in-stream (Icecast's rule), nor into raw
	// FLAC (where Icecast's generic handler would). Unknown types get them,
	// as from Icecast's generic handler.
	ICY bool
}

var unknownFormat = Format{Ext: ".bin", ICY: true}

// formats maps lower-case media types (no parameters) to their Format: the
// union of the aliases every part of icedeck recognised before there was
// one table, and Icecast's video/x-matroska-3d. Not audio/mp4a-latm, which
// the player took for ADTS: LATM is another framing, in which the ADTS
// parser would never find a frame, so a listener would never be given a
// place to start. Unknown, it is relayed as bytes and the player leaves it
// to ffmpeg's probe.
var formats = func() map[string]Format {
	m := map[string]Format{}
	add := func(f Format, types ...string) {
		for _, t := range types {
			m[t] = f
		}
		if _, ok := byExt[f.Ext]; !ok {
			byExt[f.Ext] = types[0]
		}
	}
	add(Format{KindMPEG, "MP3", ".mp3", true}, "audio/mpeg", "audio/mp3", "audio/mpeg3", "audio/x-mpeg", "audio/x-mp3")
	add(Format{KindADTS, "AAC", ".aac", true}, "audio/aac", "audio/aacp", "audio/x-aac", "audio/adts")
	add(Format{KindOgg, "Ogg", ".ogg", false}, "application/ogg", "audio/ogg", "video/ogg", "audio/x-ogg", "application/x-ogg")
	add(Format{KindOgg, "Opus", ".ogg", false}, "audio/opus")
	add(Format{KindOgg, "Vorbis", ".ogg", false}, "audio/vorbis", "audio/x-vorbis")
	add(Format{KindOgg, "FLAC", ".ogg", false}, "audio/flac+ogg")
	add(Format{KindFLAC, "FLAC", ".flac", false}, "audio/flac", "audio/x-flac")
	add(Format{KindWebM, "WebM", ".webm", false}, "audio/webm", "video/webm")
	add(Format{KindWebM, "Matroska", ".mka", false}, "audio/x-matroska", "audio/matroska")
	add(Format{KindWebM, "Matroska", ".mkv", false}, "video/x-matroska", "video/matroska", "video/x-matroska-3d")
	return m
}()

// byExt maps a file extension to the first type the table gives it
// (".ogg": "application/ogg", as Icecast serves .ogg files).
var byExt = map[string]string{}

// TypeOfFile returns the media type of a file named name by its
// extension, case-insensitively ("/a.MP3": "audio/mpeg"); "" when the
// table has none.
func TypeOfFile(name string) string {
	return byExt[strings.ToLower(path.Ext(name))]
}

// FormatOf returns the Format of a Content-Type, ignoring its parameters
// and case. An unknown or empty type gives Kind KindUnknown, Name "", Ext
// ".bin" and ICY true.
func FormatOf(contentType string) Format {
	mt, _, err := mime.ParseMediaType(contentType)
	if mt == "" && err != nil {
		// ParseMediaType rejects the whole value for some malformed
		// parameters (a duplicate name); the part before them still names
		// the type.
		mt, _, _ = strings.Cut(contentType, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
	}
	if f, ok := formats[mt]; ok {
		return f
	}
	return unknownFormat
}
