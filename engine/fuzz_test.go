package engine

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/icedeck/icedeck/internal/testkit"
)

// FuzzRequestHead sends any bytes as a request to a live server with a
// mount: it must answer or close, never panic or hang, and keep serving
// the listener that was there before.
func FuzzRequestHead(f *testing.F) {
	for _, seed := range []string{
		"GET /f.mp3 HTTP/1.0\r\n\r\n",
		"GET /f.mp3 HTTP/1.1\r\nHost: x\r\nIcy-MetaData: 1\r\n\r\n",
		"SOURCE /f2.mp3 HTTP/1.0\r\nAuthorization: Basic c291cmNlOmhhY2ttZQ==\r\nContent-Type: audio/mpeg\r\n\r\n\xff\xfb\x90\x00",
		"PUT /x%FF.mp3 HTTP/1.1\r\nAuthorization: Basic c291cmNlOmhhY2ttZQ==\r\nContent-Type: audio/mpeg\r\nExpect: 100-continue\r\n\r\n",
		"PUT /c.mp3 HTTP/1.1\r\nAuthorization: Basic c291cmNlOmhhY2ttZQ==\r\nContent-Type: audio/mpeg\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n",
		"HEAD /f.mp3 HTTP/1.0\r\n\r\n",
		"GET /status-json.xsl HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n\r\n",
		"SOURCE /f.mp3 ICE/1.0\r\n\r\n",
		"\x00\x01\x02",
	} {
		f.Add([]byte(seed))
	}
	s, addr := startServer(f, func(c *Config) {
		c.HeaderTimeout = 200 * time.Millisecond
		c.Logger = nil
	})
	src, _ := connectSource(f, addr, "PUT", "/f.mp3", "audio/mpeg")
	mp3 := testkit.Media(f, "tone.mp3")
	src.Feed(mp3, 1000, 50*time.Millisecond) // a live source all along
	f.Fuzz(func(t *testing.T, req []byte) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		_, _ = c.Write(req)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		b, err := io.ReadAll(c)
		if err != nil && !isClosedErr(err) {
			// A stream (the request was a listener's GET) is cut by our deadline.
			if !bytes.HasPrefix(b, []byte("HTTP/1.0 200")) {
				t.Fatalf("no answer and no close within 3 s: %v (got %q)", err, b[:min(len(b), 200)])
			}
		}
		if len(b) > 0 && !bytes.HasPrefix(b, []byte("HTTP/1.")) {
			t.Fatalf("answer is not HTTP: %q", b[:min(len(b), 200)])
		}
		if m := mountSnap(s, "/f.mp3"); m == nil || m.Source == nil {
			t.Fatal("the live mount lost its source")
		}
	})
}

// FuzzCheckMountName: whatever is accepted is a path every consumer can
// carry: valid UTF-8, no control character or space, no query or fragment.
func FuzzCheckMountName(f *testing.F) {
	for _, seed := range []string{"/live.mp3", "/x\xff.mp3", "/a//b", "/a/../b", "/radio-ü.ogg", "/admin", "/a\u2028b", "/a?b"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if CheckMountName(name) != nil {
			return
		}
		if !utf8.ValidString(name) || strings.ContainsAny(name, " ?#\\\x00\r\n\t") || !strings.HasPrefix(name, "/") || len(name) > 255 {
			t.Fatalf("accepted %q", name)
		}
		for _, r := range name {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				t.Fatalf("accepted %q with control character %U", name, r)
			}
		}
	})
}

// FuzzICYBlock: any title and URL become one well-formed metadata block
// that a player parses into exactly StreamTitle (and StreamUrl).
func FuzzICYBlock(f *testing.F) {
	f.Add("Artist - Title", "")
	f.Add("x';StreamUrl='http://evil/';", "http://radio/")
	f.Add(strings.Repeat("é", 3000), "u")
	f.Add(strings.Repeat("x", 4079), "http://radio/")
	f.Add("Rock 'n' Roll'", "")
	f.Add("\x1b[2J\xff", "';")
	f.Fuzz(func(t *testing.T, title, url string) {
		title, url = CleanText(title), CleanText(url)
		b := icyBlock(title, url)
		if len(b) == 0 || len(b) != 1+int(b[0])*16 || len(b) > 1+255*16 {
			t.Fatalf("block of %d bytes with length byte %d", len(b), b[0])
		}
		text := strings.TrimRight(string(b[1:]), "\x00")
		if !utf8.ValidString(text) {
			t.Fatalf("block is not UTF-8: %q", text)
		}
		// Parse as players do: key='value'; pairs, a value ending at "';".
		var keys []string
		for rest := text; rest != ""; {
			k, v, ok := strings.Cut(rest, "='")
			if !ok {
				t.Fatalf("unparsable block %q at %q", text, rest)
			}
			_, after, ok := strings.Cut(v, "';")
			if !ok {
				t.Fatalf("unterminated value in %q", text)
			}
			keys = append(keys, k)
			rest = after
		}
		if k := strings.Join(keys, ","); k != "StreamTitle" && (k != "StreamTitle,StreamUrl" || url == "") {
			t.Fatalf("keys %v in %q", keys, text)
		}
		if len(title)+len("StreamTitle='';") <= 255*16 && !strings.HasPrefix(text, "StreamTitle='"+icyValue(title)+"';") {
			t.Fatalf("a title that fits was cut: %q", text)
		}
	})
}
