package mounts

import "testing"

func TestCodec(t *testing.T) {
	for _, c := range []struct{ ct, codec, want string }{
		{"audio/mpeg", "MP2", "MP2"}, // the analysis knows better than the type
		{"audio/mpeg", "", "MP3"},
		{"audio/mp3", "", "MP3"},
		{"Audio/AACP; charset=x", "", "AAC"},
		{"audio/opus", "", "Opus"},
		{"application/ogg", "", "Ogg"},
		{"audio/x-flac", "", "FLAC"},
		{"video/webm", "", "WebM"},
		{"audio/x-matroska", "", "Matroska"},
		{" application/x-thing ; a=b", "", "application/x-thing"},
		{"", "", ""},
	} {
		if got := Codec(c.ct, c.codec); got != c.want {
			t.Errorf("Codec(%q, %q) = %q, want %q", c.ct, c.codec, got, c.want)
		}
	}
}
