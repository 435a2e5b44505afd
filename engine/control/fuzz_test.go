package control

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/internal/testkit"
)

// FuzzAdminQuery sends random admin commands and parameters to the real
// handler of a running engine with live sources and a listener. It must
// never panic, and every answer must be a well-formed Icecast document (XML,
// or JSON when asked) in valid UTF-8 with a status Icecast would give.
func FuzzAdminQuery(f *testing.F) {
	quiet := slog.New(slog.DiscardHandler)
	e := start(f, Options{Logger: quiet}, func(c *engine.Config) {
		c.Logger = quiet
		c.SourceTimeout = time.Hour // the sources send nothing; a worker runs for minutes
	})
	e.connectSource("/live.mp3", "source", srcPass, "Ice-Name", "Fuzz FM")
	e.connectSource("/other.mp3", "source", srcPass)
	testkit.Listen(f, e.addr, "/live.mp3")
	var revived sync.Map // net.Conn → true: sources brought back after a killsource
	f.Cleanup(func() {
		revived.Range(func(c, _ any) bool { c.(net.Conn).Close(); return true })
	})

	f.Add("metadata", "/live.mp3", "updinfo", "Artist - Title", "", "", "", "", false)
	f.Add("metadata", "/live.mp3", "updinfo", "Caf\xe9 \x01\x1b[31m", "", "", "ISO-8859-1", "", true)
	f.Add("metadata", "/live.mp3", "updinfo", "x", "", "", "koi8-r", "url=http://a", false)
	f.Add("listclients", "/live.mp3", "", "", "", "", "", "", false)
	f.Add("listclients.json", "/other.mp3", "", "", "", "", "", "", false)
	f.Add("killclient", "/live.mp3", "", "", "99", "", "", "", false)
	f.Add("killclient", "/live.mp3", "", "", "-1", "", "", "", true)
	f.Add("moveclients", "/live.mp3", "", "", "", "/other.mp3", "", "", false)
	f.Add("moveclients", "/other.mp3", "", "", "1", "/nowhere", "", "", false)
	f.Add("killsource", "/other.mp3", "", "", "", "", "", "", false)
	f.Add("stats.xml", "", "", "", "", "", "", "", false)
	f.Add("stats", "", "", "", "", "", "", "", true)
	f.Add("listmounts.json", "", "", "", "", "", "", "", false)
	f.Add("frob", "/x\xff", "\x00", "", "", "", "", "%zz&&=;", false)

	f.Fuzz(func(t *testing.T, cmd, mount, mode, song, id, dest, charset, raw string, acceptJSON bool) {
		q := url.Values{}
		for k, v := range map[string]string{"mount": mount, "mode": mode, "song": song, "id": id, "destination": dest, "charset": charset} {
			if v != "" {
				q.Set(k, v)
			}
		}
		query := q.Encode()
		if raw != "" {
			query += "&" + raw
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL = &url.URL{Path: "/admin/" + cmd, RawQuery: query}
		req.RequestURI = req.URL.RequestURI()
		req.SetBasicAuth("admin", adminPass)
		if acceptJSON {
			req.Header.Set("Accept", "application/json")
		}
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)

		body := rec.Body.Bytes()
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("/admin/%s?%s: status %d\n%s", cmd, query, rec.Code, body)
		}
		checkDocument(t, rec.Header().Get("Content-Type"), body, true)

		// Keep something to work on: bring back sources a command removed.
		// Their connections outlive this run of the function, so they are
		// closed with the engine, not by t's cleanup.
		for _, m := range []string{"/live.mp3", "/other.mp3"} {
			if ms := findMount(e.srv.Snapshot(), m); ms == nil || ms.Source == nil {
				testkit.Eventually(t, 5*time.Second, "the old source gone from "+m, func() bool { return findMount(e.srv.Snapshot(), m) == nil })
				c, err := testkit.DialSource(e.addr, testkit.SourceRequest{Mount: m, User: "source", Password: srcPass, ContentType: "audio/mpeg"})
				if err != nil {
					t.Fatal(err)
				}
				revived.Store(c, true)
				testkit.Eventually(t, 5*time.Second, "the source back on "+m, func() bool {
					ms := findMount(e.srv.Snapshot(), m)
					return ms != nil && ms.Source != nil
				})
			}
		}
	})
}

// checkDocument parses an answer: valid UTF-8, and one JSON object (with
// one root key, as the admin API's, when oneRoot) or an XML document with
// one root element and nothing a strict parser refuses (encoding/xml
// rejects characters XML forbids).
func checkDocument(t *testing.T, contentType string, body []byte, oneRoot bool) {
	t.Helper()
	if !utf8.Valid(body) {
		t.Fatalf("answer is not valid UTF-8: %q", body)
	}
	if strings.HasPrefix(contentType, "application/json") {
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(body, &doc); err != nil || oneRoot && len(doc) != 1 {
			t.Fatalf("not one JSON object (with one root: %v): %v\n%s", oneRoot, err, body)
		}
		return
	}
	if !strings.HasPrefix(contentType, "text/xml") {
		t.Fatalf("Content-Type %q: neither XML nor JSON: %s", contentType, body)
	}
	d := xml.NewDecoder(bytes.NewReader(body))
	depth, roots := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%q", err, body)
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
	if roots != 1 || depth != 0 {
		t.Fatalf("XML with %d root elements: %s", roots, body)
	}
}

// FuzzConfig feeds random TOML to ParseConfig: it never panics, every
// error names the file, and whatever it accepts, applied to the defaults,
// engine.New accepts too: the config check and the engine agree.
func FuzzConfig(f *testing.F) {
	example, err := os.ReadFile(filepath.Join("..", "..", "icedeck.example.toml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	for _, s := range []string{
		"[limits]\nmetaint = -1\n",
		"[limits]\nburst_size = \"1MiB\"\nqueue_size = \"512k\"\n",
		"limits.header_timeout = \"-1s\"\n",
		"[[mount]]\nname = \"/a\"\nfallback = \"/b\"\n[[mount]]\nname = \"/b\"\nfallback = \"/a\"\n",
		"[[mount]]\nname = \"/caf\u00e9.mp3\"\nburst_size = 0\ngrace = \"1h\"\n",
		"[server]\nlisten = [\"127.0.0.1:0\"]\nadmin_allow = [\"::1/128\"]\n[headers]\nX = \"\"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseConfig("fuzz.toml", data)
		if err != nil {
			for _, e := range flatten(err) {
				var ce *ConfigError
				if !errors.As(e, &ce) || ce.File != "fuzz.toml" || ce.Msg == "" {
					t.Fatalf("error %q (%T) does not name the file", e, e)
				}
			}
			return
		}
		cfg := engine.Defaults()
		file.Apply(&cfg)
		if cfg.SourcePassword == "" {
			cfg.SourcePassword = "x"
		}
		if _, err := engine.New(cfg); err != nil {
			t.Fatalf("ParseConfig accepted what engine.New refuses: %v\n%s", err, data)
		}
	})
}
