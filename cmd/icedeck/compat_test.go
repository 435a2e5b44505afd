package main

// icedeck's status documents held up against a real Icecast 2.4.4
// (Debian's icecast2): the same sources go to both, and icedeck must
// answer /status-json.xsl, /admin/stats and /admin/listmounts with every
// key Icecast gives for them, of the same type and, where nothing but the
// server's address or the clock decides it, with the same value.

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/internal/testkit"
)

// ffmpegSource streams a test medium to addr's mount at its own pace,
// over and over, with ffmpeg's Icecast client, until the test ends.
func ffmpegSource(t *testing.T, addr, password, mount, media string, args ...string) {
	t.Helper()
	argv := append([]string{"-v", "error", "-re", "-stream_loop", "-1", "-i", testkit.MediaPath(t, media), "-c", "copy"}, args...)
	runFFmpeg(t, addr+mount, append(argv, fmt.Sprintf("icecast://source:%s@%s%s", password, addr, mount)))
}

// runFFmpeg runs ffmpeg with argv until the test ends, and shows what it
// said about to (where it sends) when the test failed.
func runFFmpeg(t *testing.T, to string, argv []string) {
	t.Helper()
	ff := testkit.NeedTool(t, "ffmpeg")
	cmd := exec.Command(ff, argv...)
	out := &testkit.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() && out.String() != "" {
			t.Logf("ffmpeg to %s: %s", to, out.String())
		}
	})
}

// compatServer is one of the two servers compared.
type compatServer struct {
	name, addr, adminPass string
}

func (c compatServer) get(t *testing.T, path string, admin bool) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+c.addr+path, nil)
	if admin {
		req.SetBasicAuth("admin", c.adminPass)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.name, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d %v", c.name, path, resp.StatusCode, err)
	}
	return b
}

// statusJSON returns the icestats object and its sources by mount.
func (c compatServer) statusJSON(t *testing.T) (map[string]any, map[string]map[string]any) {
	t.Helper()
	body := c.get(t, "/status-json.xsl", false)
	var doc struct {
		Icestats map[string]any `json:"icestats"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("%s status-json.xsl: %v\n%s", c.name, err, body)
	}
	var list []any
	switch s := doc.Icestats["source"].(type) {
	case []any:
		list = s
	case map[string]any:
		list = []any{s}
	}
	out := map[string]map[string]any{}
	for _, x := range list {
		src := x.(map[string]any)
		u, _ := src["listenurl"].(string)
		out[u[strings.LastIndex(u, "/"):]] = src
	}
	return doc.Icestats, out
}

// xmlSources returns, for path's <source mount=…> elements, their child
// elements' text by name, and the root's own simple elements.
func (c compatServer) xmlSources(t *testing.T, path string) (map[string]string, map[string]map[string]string) {
	t.Helper()
	body := c.get(t, path, true)
	type el struct {
		XMLName xml.Name
		Mount   string `xml:"mount,attr"`
		Text    string `xml:",chardata"`
		Any     []el   `xml:",any"`
	}
	var root el
	if err := xml.Unmarshal(body, &root); err != nil {
		t.Fatalf("%s %s: %v\n%s", c.name, path, err, body)
	}
	globals := map[string]string{}
	sources := map[string]map[string]string{}
	for _, x := range root.Any {
		if x.XMLName.Local != "source" {
			globals[x.XMLName.Local] = x.Text
			continue
		}
		m := map[string]string{}
		for _, y := range x.Any {
			m[y.XMLName.Local] = y.Text
		}
		sources[x.Mount] = m
	}
	return globals, sources
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}

// The keys whose values legitimately differ between the two servers:
// the listen URL's host and port, times, byte counts (Icecast updates
// them every few seconds), and the servers' own identity and counters.
var (
	clockOrPlace = regexp.MustCompile(`^(listenurl|stream_start|stream_start_iso8601|server_start|server_start_iso8601|server_id|host|location|admin|total_bytes_read|total_bytes_sent|Connected)$`)
	counters     = regexp.MustCompile(`connections$|^clients$`)
	iso8601      = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}$`)
)

// sameValue fails unless icedeck's value of key matches Icecast's: equal,
// or for a key that legitimately differs, of the same form.
func sameValue(t *testing.T, what, key string, ice, deck any) {
	t.Helper()
	switch {
	case key == "listenurl":
		is, ds := ice.(string), deck.(string)
		if is[strings.LastIndex(is, "/"):] != ds[strings.LastIndex(ds, "/"):] || !strings.HasPrefix(ds, "http://") {
			t.Errorf("%s: listenurl %q, Icecast's %q", what, ds, is)
		}
	case strings.HasSuffix(key, "_iso8601"):
		if !iso8601.MatchString(fmt.Sprint(deck)) {
			t.Errorf("%s: %s %q is not Icecast's ISO 8601", what, key, deck)
		}
	case key == "stream_start" || key == "server_start":
		if _, err := time.Parse("Mon, 02 Jan 2006 15:04:05 -0700", fmt.Sprint(deck)); err != nil {
			t.Errorf("%s: %s: %v", what, key, err)
		}
	case clockOrPlace.MatchString(key), counters.MatchString(key):
	default:
		if fmt.Sprint(ice) != fmt.Sprint(deck) {
			t.Errorf("%s: %s = %#v, Icecast's %#v", what, key, deck, ice)
		}
	}
}

// The same four sources to Icecast 2.4.4 and to icedeck: ffmpeg's Ogg
// Vorbis with ARTIST and TITLE comments and ice-* headers, ffmpeg's Ogg
// Opus, an MP3 source declaring itself in icy-* headers with libshout's
// audio info, and an MP3 source on a mount whose settings override what
// it declares and that has a fallback. status-json.xsl must have exactly
// Icecast's keys for each (there is nothing icedeck adds there), of the
// same JSON types, with the same values but for the listen URL's host,
// the times and the counters; /admin/stats every element Icecast has
// (icedeck adds its own after them); /admin/listmounts the same, with the
// fallback.
func TestStatusMatchesIcecast(t *testing.T) {
	t.Parallel()
	testkit.NeedTool(t, "ffmpeg")
	ic := startIcecast(t, `
  <mount type="normal">
    <mount-name>/over.mp3</mount-name>
    <stream-name>Over name</stream-name>
    <stream-description>Over description</stream-description>
    <stream-url>http://over.example/</stream-url>
    <genre>Over genre</genre>
    <bitrate>96</bitrate>
    <public>1</public>
    <max-listeners>7</max-listeners>
    <fallback-mount>/fb.mp3</fallback-mount>
  </mount>`)
	deck := startDeck(t, func(c *engine.Config) {
		c.Mounts = map[string]engine.MountConfig{"/over.mp3": {StreamName: "Over name", StreamDescription: "Over description",
			URL: "http://over.example/", Genre: "Over genre", Bitrate: "96", Public: "1", MaxListeners: 7, Fallback: "/fb.mp3"}}
	})
	servers := []compatServer{{"Icecast", ic.Addr, icAdmin}, {"icedeck", deck.addr, deckAdmin}}
	mp3 := testkit.Media(t, "tone.mp3")
	for i, srv := range servers {
		pass := []string{icSource, deckSource}[i]
		ffmpegSource(t, srv.addr, pass, "/v.ogg", "titled.ogg", "-f", "ogg", "-content_type", "application/ogg",
			"-ice_name", "Vorbis name", "-ice_description", "Vorbis description", "-ice_genre", "Rock", "-ice_url", "http://v.example/", "-ice_public", "1")
		ffmpegSource(t, srv.addr, pass, "/o.opus", "tone.opus", "-f", "opus", "-content_type", "audio/ogg")
		for _, s := range []struct {
			mount  string
			header []string
		}{
			{"/icy.mp3", []string{"Icy-Name", "Icy name", "Icy-Genre", "Icy genre", "Icy-Br", "128", "Icy-Url", "http://icy.example/",
				"Icy-Pub", "1", "Icy-Description", "Icy description", "Ice-Audio-Info", "bitrate=128;samplerate=44100;channels=2;quality=0.5"}},
			{"/over.mp3", []string{"Ice-Name", "Source name", "Ice-Genre", "Source genre", "Ice-Bitrate", "128", "Ice-Public", "0"}},
		} {
			src, r := testkit.ConnectSource(t, srv.addr, testkit.SourceRequest{Mount: s.mount, User: "source", Password: pass,
				ContentType: "audio/mpeg", Header: s.header})
			if src == nil {
				t.Fatalf("%s refused %s: %d %q", srv.name, s.mount, r.Code, r.Head)
			}
			src.Feed(mp3, 4180, 250*time.Millisecond) // 128 kb/s
		}
	}
	mounts := []string{"/icy.mp3", "/o.opus", "/over.mp3", "/v.ogg"}
	// Icecast's Ogg readers report a few seconds in; both must have read
	// the comments and the codecs before the documents are compared.
	for _, srv := range servers {
		testkit.Eventually(t, 20*time.Second, srv.name+": every source with its Ogg details", func() bool {
			_, st := srv.statusJSON(t)
			for _, m := range mounts {
				if st[m] == nil {
					return false
				}
			}
			return st["/v.ogg"]["title"] != nil && st["/v.ogg"]["subtype"] != nil && st["/o.opus"]["subtype"] != nil
		})
	}

	// status-json.xsl.
	iceTop, iceSrc := servers[0].statusJSON(t)
	deckTop, deckSrc := servers[1].statusJSON(t)
	for k, v := range iceTop {
		if k != "source" && jsonType(deckTop[k]) != jsonType(v) {
			t.Errorf("status-json icestats.%s: %s, Icecast's %s", k, jsonType(deckTop[k]), jsonType(v))
		}
	}
	for _, m := range mounts {
		is, ds := iceSrc[m], deckSrc[m]
		var ik, dk []string
		for k := range is {
			ik = append(ik, k)
		}
		for k := range ds {
			dk = append(dk, k)
		}
		slices.Sort(ik)
		slices.Sort(dk)
		if !slices.Equal(ik, dk) {
			t.Errorf("status-json %s keys\n%q\nIcecast's\n%q", m, dk, ik)
		}
		for k, v := range is {
			if jsonType(ds[k]) != jsonType(v) {
				t.Errorf("status-json %s.%s: %s %#v, Icecast's %s %#v", m, k, jsonType(ds[k]), ds[k], jsonType(v), v)
				continue
			}
			sameValue(t, "status-json "+m, k, v, ds[k])
		}
	}
	t.Logf("status-json /v.ogg on Icecast: %v", iceSrc["/v.ogg"])

	// /admin/stats: Icecast's elements, globals and per source.
	iceGlobals, iceStats := servers[0].xmlSources(t, "/admin/stats")
	deckGlobals, deckStats := servers[1].xmlSources(t, "/admin/stats")
	for k := range iceGlobals {
		if _, ok := deckGlobals[k]; !ok {
			t.Errorf("/admin/stats: no global <%s>", k)
		}
	}
	for _, m := range mounts {
		for k, v := range iceStats[m] {
			d, ok := deckStats[m][k]
			if !ok {
				t.Errorf("/admin/stats %s: no <%s> (Icecast: %q)", m, k, v)
				continue
			}
			sameValue(t, "/admin/stats "+m, k, v, d)
		}
	}

	// /admin/listmounts.
	_, iceList := servers[0].xmlSources(t, "/admin/listmounts")
	_, deckList := servers[1].xmlSources(t, "/admin/listmounts")
	for _, m := range mounts {
		for k, v := range iceList[m] {
			d, ok := deckList[m][k]
			if !ok {
				t.Errorf("/admin/listmounts %s: no <%s>", m, k)
				continue
			}
			sameValue(t, "/admin/listmounts "+m, k, v, d)
		}
	}
	if deckList["/over.mp3"]["fallback"] != "/fb.mp3" {
		t.Errorf("/admin/listmounts /over.mp3: fallback %q", deckList["/over.mp3"]["fallback"])
	}
}
