package control

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// cp1252High maps Windows-1252's 0x80–0x9F to Unicode; the five undefined
// bytes map to themselves (as C1 controls), like the WHATWG decoder.
var cp1252High = [32]rune{
	0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D, 0x017D, 0x8F,
	0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
}

// normCharset folds a charset label to "utf-8", "iso-8859-1" or
// "windows-1252", or "" when it is none of them.
func normCharset(cs string) string {
	switch strings.ToLower(strings.TrimSpace(cs)) {
	case "", "utf-8", "utf8":
		return "utf-8"
	case "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "iso-ir-100", "cp819", "ibm819":
		return "iso-8859-1"
	case "windows-1252", "cp1252", "win-1252", "x-cp1252":
		return "windows-1252"
	}
	return ""
}

// toUTF8 converts s from charset cs. UTF-8 (the default) that is not
// valid UTF-8 is taken as Windows-1252, the usual culprit, so listeners
// never get mojibake bytes.
func toUTF8(s, cs string) (string, error) {
	switch normCharset(cs) {
	case "utf-8":
		if utf8.ValidString(s) {
			return s, nil
		}
		return decode8bit(s, true), nil
	case "iso-8859-1":
		return decode8bit(s, false), nil
	case "windows-1252":
		return decode8bit(s, true), nil
	}
	return "", fmt.Errorf("unsupported charset %q (UTF-8, ISO-8859-1 and windows-1252 are)", cs)
}

func decode8bit(s string, cp1252 bool) string {
	var b strings.Builder
	b.Grow(len(s) * 2)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x80:
			b.WriteByte(c)
		case cp1252 && c < 0xA0:
			b.WriteRune(cp1252High[c-0x80])
		default:
			b.WriteRune(rune(c))
		}
	}
	return b.String()
}
