package control

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/engine/apidoc"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/icedeck/icedeck/internal/testkit"
)

// statusJSON fetches /status-json.xsl without credentials and returns the
// icestats object with its raw source value.
func statusJSON(t *testing.T, e *env) (map[string]json.RawMessage, string) {
	t.Helper()
	code, hdr, body := e.get("/status-json.xsl", "", "")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		t.Fatalf("status-json.xsl: %d %q %s", code, hdr.Get("Content-Type"), body)
	}
	if hdr.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("no CORS header on status-json.xsl")
	}
	var top map[string]map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &top); err != nil || len(top) != 1 || top["icestats"] == nil {
		t.Fatalf("status-json.xsl shape: %v %s", err, body)
	}
	return top["icestats"], body
}

var iso8601Icecast = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}$`)

func TestStatusJSONShape(t *testing.T) {
	e := start(t, Options{Admin: "icemaster@localhost", Location: "Earth", Host: "localhost:8000"}, func(c *engine.Config) {
		c.ServerID = "Icecast 2.4.4"
		c.Mounts = map[string]engine.MountConfig{"/secret.mp3": {Hidden: true}}
	})

	// No sources: no "source" key at all; the stock XSL ends with
	// "dummy":null instead.
	ice, body := statusJSON(t, e)
	for _, k := range []string{"admin", "host", "location", "server_id", "server_start", "server_start_iso8601"} {
		if _, ok := ice[k]; !ok {
			t.Errorf("no %q in %s", k, body)
		}
	}
	if _, ok := ice["source"]; ok {
		t.Fatalf("source present with no sources: %s", body)
	}
	if !strings.HasSuffix(strings.TrimSpace(body), `,"dummy":null}}`) {
		t.Fatalf("no sources: not ended with \"dummy\":null as Icecast's: %s", body)
	}
	if !strings.HasPrefix(body, `{"icestats":{"admin":"icemaster@localhost","host":"localhost","location":"Earth","server_id":"Icecast 2.4.4","server_start":"`) {
		t.Fatalf("key order or values differ from Icecast 2.4.4: %s", body)
	}
	var iso string
	_ = json.Unmarshal(ice["server_start_iso8601"], &iso)
	if !iso8601Icecast.MatchString(iso) {
		t.Fatalf("server_start_iso8601 %q", iso)
	}

	// A hidden mount is never listed.
	e.connectSource("/secret.mp3", "source", srcPass)
	if ice, body := statusJSON(t, e); ice["source"] != nil {
		t.Fatalf("hidden mount listed: %s", body)
	}

	// One source: an object.
	s1 := e.connectSource("/live.mp3", "source", srcPass, "Ice-Name", "Live", "Ice-Description", "Desc", "Ice-Genre", "Rock",
		"Ice-Audio-Info", "ice-samplerate=44100;ice-bitrate=128;ice-channels=2", "Ice-Url", "http://example.com")
	s1.Send(testkit.Media(t, "tone.mp3")[:20000], 20000, 0)
	e.srv.SetTitle("/live.mp3", "Now Playing", "")
	ice, body = statusJSON(t, e)
	var one map[string]any
	if err := json.Unmarshal(ice["source"], &one); err != nil {
		t.Fatalf("one source is not an object: %v %s", err, body)
	}
	// Exactly Icecast 2.4.4's keys for this source: the audio info's
	// pairs under their own names, no "bitrate" without an ice-bitrate
	// header, the stock XSL's "dummy":null last.
	want := map[string]any{
		"listenurl": "http://localhost:8000/live.mp3", "listeners": 0.0, "listener_peak": 0.0,
		"server_name": "Live", "server_description": "Desc", "server_type": "audio/mpeg", "genre": "Rock",
		"title": "Now Playing", "audio_info": "ice-samplerate=44100;ice-bitrate=128;ice-channels=2",
		"ice-samplerate": 44100.0, "ice-bitrate": 128.0, "ice-channels": 2.0, "server_url": "http://example.com",
		"stream_start": one["stream_start"], "stream_start_iso8601": one["stream_start_iso8601"], "dummy": nil,
	}
	for k, v := range want {
		if got, ok := one[k]; !ok || got != v {
			t.Errorf("source.%s = %#v, want %#v", k, got, v)
		}
	}
	for k := range one {
		if _, ok := want[k]; !ok {
			t.Errorf("source.%s = %#v: Icecast has no such key here", k, one[k])
		}
	}
	if !strings.HasSuffix(strings.TrimSpace(body), `"dummy":null}}}`) {
		t.Errorf("the source does not end with \"dummy\":null: %s", body)
	}
	if s, _ := one["stream_start_iso8601"].(string); !iso8601Icecast.MatchString(s) {
		t.Errorf("stream_start_iso8601 %q", s)
	}
	if _, err := time.Parse("Mon, 02 Jan 2006 15:04:05 -0700", fmt.Sprint(one["stream_start"])); err != nil {
		t.Errorf("stream_start: %v", err)
	}

	// Two sources: an array, in mount order.
	e.connectSource("/another.mp3", "source", srcPass)
	ice, body = statusJSON(t, e)
	var two []map[string]any
	if err := json.Unmarshal(ice["source"], &two); err != nil || len(two) != 2 {
		t.Fatalf("two sources are not an array of two: %v %s", err, body)
	}
	if two[0]["listenurl"] != "http://localhost:8000/another.mp3" || two[1]["listenurl"] != "http://localhost:8000/live.mp3" {
		t.Fatalf("sources: %s", body)
	}
	if two[0]["server_name"] != "Unspecified name" || two[0]["genre"] != "various" {
		t.Fatalf("Icecast's defaults for an undeclared stream: %v", two[0])
	}
	if _, has := two[0]["title"]; has {
		t.Fatalf("title present without metadata: %v", two[0])
	}
}

func TestAPIStatusAndMount(t *testing.T) {
	e := start(t, Options{}, nil)
	code, _, body := e.get("/api/v1/status", "admin", adminPass)
	if code != 200 || !strings.Contains(body, `"mounts":[]`) {
		t.Fatalf("empty status: %d %s", code, body)
	}
	src := e.connectSource("/live.mp3", "source", srcPass, "Ice-Name", "Live")
	data := testkit.Media(t, "tone.mp3")
	src.Send(data[:32000], 32000, 0)
	l := testkit.Listen(t, e.addr, "/live.mp3")
	testkit.Eventually(t, 5*time.Second, "listener got the burst", func() bool { return len(l.Bytes()) > 0 })
	l2 := testkit.Listen(t, e.addr, "/live.mp3")
	testkit.Eventually(t, 5*time.Second, "two listeners", func() bool { return len(e.listenerIDs("/live.mp3")) == 2 })
	e.srv.KickListener("/live.mp3", e.listenerIDs("/live.mp3")[1])
	<-l2.Done()
	testkit.Eventually(t, 5*time.Second, "bytes counted", func() bool {
		m := findMount(e.srv.Snapshot(), "/live.mp3")
		return len(m.Listeners) == 1 && m.Listeners[0].BytesSent > 0 && len(m.Disconnects) == 1
	})

	code, _, body = e.get("/api/v1/status", "admin", adminPass)
	var st apidoc.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil || code != 200 {
		t.Fatalf("status: %d %v %s", code, err, body)
	}
	if st.Sources != 1 || st.Listeners != 1 || len(st.Mounts) != 1 || st.BytesIn != 32000 {
		t.Fatalf("status: %+v", st)
	}
	m := st.Mounts[0]
	if m.Name != "/live.mp3" || m.State != "live" && m.State != "stalled" || m.Source == nil || m.Source.BytesIn != 32000 ||
		m.Source.Ice.Name != "Live" || m.Source.Frames.Codec != "MP3" || m.Source.Frames.Frames < 70 || m.Source.Frames.SyncLosses != 0 {
		t.Fatalf("mount: %+v source %+v", m, m.Source)
	}
	if len(m.Listeners) != 1 || m.Listeners[0].BytesSent == 0 || m.Listeners[0].UserAgent != "test-listener" {
		t.Fatalf("listeners: %+v", m.Listeners)
	}
	if len(m.Disconnects) != 1 || m.Disconnects[0].Reason != "kicked" {
		t.Fatalf("disconnects: %+v", m.Disconnects)
	}
	// Keys are snake_case and times ISO 8601.
	for _, k := range []string{`"lag_bytes":`, `"bytes_sent":`, `"sync_losses":0`, `"duration_seconds":`, `"realtime_ratio":`, `"listener_count":1`} {
		if !strings.Contains(body, k) {
			t.Errorf("no %s in %s", k, body)
		}
	}
	if !regexp.MustCompile(`"started":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"`).MatchString(body) {
		t.Errorf("started is not ISO 8601 UTC: %s", body)
	}

	code, _, body = e.get("/api/v1/mounts/live.mp3", "admin", adminPass)
	var md apidoc.Mount
	if err := json.Unmarshal([]byte(body), &md); err != nil || code != 200 || md.Name != "/live.mp3" || md.Source.SHA256 == "" {
		t.Fatalf("mount: %d %v %s", code, err, body)
	}
	if code, _, body := e.get("/api/v1/mounts/nope.mp3", "admin", adminPass); code != 404 || !strings.Contains(body, `"error"`) {
		t.Fatalf("missing mount: %d %s", code, body)
	}
}

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct {
	id   uint64
	typ  string
	data apidoc.Event
}

// openSSE connects to /api/v1/events and parses what arrives.
func openSSE(t *testing.T, e *env, lastID string) (<-chan sseEvent, <-chan string, func()) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.base+"/api/v1/events", nil)
	req.SetBasicAuth("admin", adminPass)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := make(chan sseEvent, 256)
	comments := make(chan string, 16)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		var cur sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if cur.typ != "" {
					events <- cur
				}
				cur = sseEvent{}
			case strings.HasPrefix(line, ":"):
				select {
				case comments <- line:
				default:
				}
			case strings.HasPrefix(line, "id: "):
				cur.id, _ = strconv.ParseUint(line[4:], 10, 64)
			case strings.HasPrefix(line, "event: "):
				cur.typ = line[7:]
			case strings.HasPrefix(line, "data: "):
				if err := json.Unmarshal([]byte(line[6:]), &cur.data); err != nil {
					t.Errorf("bad data line %q: %v", line, err)
				}
			}
		}
	}()
	return events, comments, func() { resp.Body.Close() }
}

func waitEvent(t *testing.T, ch <-chan sseEvent, typ, mount string) sseEvent {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("feed ended before %s", typ)
			}
			if ev.typ == typ && ev.data.Mount == mount {
				if ev.id != ev.data.Seq || ev.data.Type != typ {
					t.Fatalf("id %d / seq %d / type %q disagree", ev.id, ev.data.Seq, ev.data.Type)
				}
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event for %s", typ, mount)
		}
	}
}

func TestEventFeed(t *testing.T) {
	e := start(t, Options{Heartbeat: 50 * time.Millisecond}, nil)
	events, comments, closeFeed := openSSE(t, e, "")
	defer closeFeed()

	src := e.connectSource("/live.mp3", "source", srcPass)
	src.Send(testkit.Media(t, "tone.mp3")[:16000], 16000, 0)
	connected := waitEvent(t, events, "source.connected", "/live.mp3")
	testkit.Listen(t, e.addr, "/live.mp3")
	testkit.Eventually(t, 5*time.Second, "listener", func() bool { return len(e.listenerIDs("/live.mp3")) == 1 })
	id := e.listenerIDs("/live.mp3")[0]
	if code, body := e.admin(fmt.Sprintf("/admin/killclient?mount=/live.mp3&id=%d", id)); code != 200 {
		t.Fatalf("killclient: %d %s", code, body)
	}
	left := waitEvent(t, events, "listener.left", "/live.mp3")
	if left.data.ID != id || left.data.Reason != "kicked" {
		t.Fatalf("listener.left: %+v", left.data)
	}
	select {
	case c := <-comments:
		if c != ": heartbeat" {
			t.Fatalf("comment %q", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no heartbeat")
	}
	closeFeed()

	// Resuming after the connect event replays what came after it,
	// starting with the very next event, without repeating it.
	again, _, closeAgain := openSSE(t, e, strconv.FormatUint(connected.id, 10))
	defer closeAgain()
	var first sseEvent
	select {
	case first = <-again:
	case <-time.After(5 * time.Second):
		t.Fatal("nothing replayed after Last-Event-ID")
	}
	if first.id != connected.id+1 {
		t.Fatalf("resumed at %d, want %d", first.id, connected.id+1)
	}
	waitEvent(t, again, "listener.left", "/live.mp3")
}

func TestMetrics(t *testing.T) {
	e := start(t, Options{}, func(c *engine.Config) {
		c.Mounts = map[string]engine.MountConfig{"/hidden.mp3": {Hidden: true}}
	})
	src := e.connectSource("/live.mp3", "source", srcPass)
	src.Send(testkit.Media(t, "tone.mp3")[:48000], 48000, 0)
	e.connectSource("/hidden.mp3", "source", srcPass)
	l := testkit.Listen(t, e.addr, "/live.mp3")
	testkit.Eventually(t, 5*time.Second, "burst sent", func() bool { return len(l.Bytes()) > 0 })
	testkit.Eventually(t, 5*time.Second, "frames", func() bool {
		m := findMount(e.srv.Snapshot(), "/live.mp3")
		return m.Source.BytesIn == 48000 && m.BytesOut > 0
	})

	code, hdr, body := e.get("/metrics", "", "")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("not Prometheus text (%s): %v", hdr.Get("Content-Type"), err)
	}
	value := func(name, mount string) float64 {
		t.Helper()
		f := fams[name]
		if f == nil {
			t.Fatalf("no %s in scrape", name)
		}
		for _, m := range f.Metric {
			if mount == "" && len(m.Label) == 0 || labelIs(m, "mount", mount) {
				switch {
				case m.Gauge != nil:
					return m.Gauge.GetValue()
				case m.Counter != nil:
					return m.Counter.GetValue()
				}
			}
		}
		t.Fatalf("no %s{mount=%q}", name, mount)
		return 0
	}
	if v := value("icedeck_mount_listeners", "/live.mp3"); v != 1 {
		t.Errorf("listeners %v", v)
	}
	if v := value("icedeck_source_received_bytes_total", "/live.mp3"); v != 48000 {
		t.Errorf("source bytes %v", v)
	}
	if v := value("icedeck_received_bytes_total", ""); v != 48000 {
		t.Errorf("bytes in %v", v)
	}
	if v := value("icedeck_source_frames_total", "/live.mp3"); v < 100 {
		t.Errorf("frames %v", v)
	}
	if v := value("icedeck_source_sync_losses_total", "/live.mp3"); v != 0 {
		t.Errorf("sync losses %v", v)
	}
	if v := value("icedeck_mount_sent_bytes_total", "/live.mp3"); v <= 0 {
		t.Errorf("bytes out %v", v)
	}
	value("icedeck_mount_slow_listener_drops_total", "/live.mp3")
	if fams["icedeck_mount_slow_listener_drops_total"].GetType() != dto.MetricType_COUNTER {
		t.Errorf("slow drops is not a counter")
	}
	if v := value("icedeck_sources", ""); v != 2 {
		t.Errorf("sources %v", v)
	}
	for _, f := range fams {
		for _, m := range f.Metric {
			if labelIs(m, "mount", "/hidden.mp3") {
				t.Fatalf("hidden mount in %s", f.GetName())
			}
		}
	}
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total"} {
		if fams[name] == nil {
			t.Errorf("no %s (Go/process collectors)", name)
		}
	}
}

func labelIs(m *dto.Metric, name, value string) bool {
	for _, l := range m.Label {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// Close ends open event streams, so the engine's Shutdown does not wait
// for them.
func TestCloseEndsEventStreams(t *testing.T) {
	e := start(t, Options{}, nil)
	events, _, closeFeed := openSSE(t, e, "")
	defer closeFeed()
	e.h.Close()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-events:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("event stream still open after Close")
		}
	}
}

// The engine's server bounds every request with a read deadline: an
// event stream must outlive it. Served here by a server whose ReadTimeout
// is short.
func TestEventStreamOutlivesReadTimeout(t *testing.T) {
	e := start(t, Options{Heartbeat: time.Hour}, nil)
	ts := httptest.NewUnstartedServer(e.h)
	ts.Config.ReadTimeout = 200 * time.Millisecond
	ts.Start()
	defer ts.Close()
	short := *e
	short.base = ts.URL
	events, _, closeFeed := openSSE(t, &short, "")
	defer closeFeed()

	time.Sleep(4 * ts.Config.ReadTimeout)
	e.connectSource("/late.mp3", "source", srcPass)
	waitEvent(t, events, "source.connected", "/late.mp3")
}

// scrape fetches /metrics, which must answer 200 with a parseable
// Prometheus text exposition.
func scrape(t *testing.T, e *env) map[string]*dto.MetricFamily {
	t.Helper()
	code, hdr, body := e.get("/metrics", "", "")
	if code != 200 {
		t.Fatalf("/metrics: %d\n%s", code, body)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text (%s): %v", hdr.Get("Content-Type"), err)
	}
	return fams
}

// /metrics must never fail: a non-ASCII mount becomes a label as it is,
// and a mount name that is not UTF-8 is refused at the door (it once made
// the collector panic).
func TestMetricsSurviveUnusualMountNames(t *testing.T) {
	e := start(t, Options{}, nil)
	e.connectSource("/café-音.mp3", "source", srcPass)
	fams := scrape(t, e)
	found := false
	for _, m := range fams["icedeck_mount_source_connected"].GetMetric() {
		found = found || labelIs(m, "mount", "/café-音.mp3")
	}
	if !found {
		t.Fatalf("no icedeck_mount_source_connected{mount=\"/café-音.mp3\"}: %v", fams["icedeck_mount_source_connected"])
	}

	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "SOURCE /x%%FF.mp3 HTTP/1.0\r\nAuthorization: Basic %s\r\nContent-Type: audio/mpeg\r\n\r\n",
		base64.StdEncoding.EncodeToString([]byte("source:"+srcPass)))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	status, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.Contains(status, " 400 ") {
		t.Fatalf("SOURCE /x%%FF.mp3: %q %v, want 400", status, err)
	}
	if n := len(scrape(t, e)["icedeck_mount_source_connected"].GetMetric()); n != 1 {
		t.Fatalf("%d mounts in /metrics, want 1", n)
	}
}

// The collector's own defence, should a name that is not UTF-8 ever get
// past the door: labels are made valid, colliding mounts are left out,
// and the scrape is served.
func TestCollectorMakesLabelsValid(t *testing.T) {
	snap := engine.Snapshot{Mounts: []engine.MountSnapshot{
		{Name: "/x\xff.mp3", Disconnects: []engine.Disconnect{{Reason: engine.ReasonKicked}}},
		{Name: "/x\xfe.mp3"}, // the same label once made valid
		{Name: "/ok.mp3", Source: &engine.SourceSnapshot{}},
	}}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectorFunc(func(ch chan<- prometheus.Metric) { collect(ch, snap, nil) }))
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var mounts []string
	for _, f := range fams {
		if f.GetName() != "icedeck_mount_listeners" {
			continue
		}
		for _, m := range f.Metric {
			for _, l := range m.Label {
				mounts = append(mounts, l.GetValue())
			}
		}
	}
	if want := []string{"/ok.mp3", "/x\uFFFD.mp3"}; !slices.Equal(mounts, want) {
		t.Fatalf("mount labels %q, want %q", mounts, want)
	}
}

// collectorFunc is a prometheus.Collector over a function, unchecked.
type collectorFunc func(chan<- prometheus.Metric)

func (collectorFunc) Describe(chan<- *prometheus.Desc)      {}
func (f collectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }

// Whatever clients send (user agents, ice-* headers, titles) comes out of
// every XML and JSON document as valid UTF-8 that a strict parser reads:
// bytes that are not UTF-8 become U+FFFD, control characters cannot break
// a document.
func TestClientTextComesOutValid(t *testing.T) {
	e := start(t, Options{}, nil)
	src := e.connectSource("/live.mp3", "source", srcPass, "User-Agent", "enc\xff\xfeoder", "Ice-Name", "Caf\xe9 FM",
		"Ice-Description", "<b>&amp;\"'</b>", "Ice-Genre", "\xc3\x28", "Ice-Url", "http://x/\xf0\x28\x8c\x28",
		// Audio info pairs become elements of their own: names that are
		// no XML names are left out, values are unescaped and cleaned.
		"Ice-Audio-Info", "a<b=1;x\"y=2;ok=%3C%FF%00%1b%5b31m;1st=3")
	src.Send(testkit.Media(t, "tone.mp3")[:16000], 16000, 0)
	testkit.Listen(t, e.addr, "/live.mp3", "User-Agent", "play\xffer <&>")
	testkit.Eventually(t, 5*time.Second, "listener", func() bool { return len(e.listenerIDs("/live.mp3")) == 1 })
	// A title with control characters, an escape sequence and a byte that
	// is not UTF-8 (taken as windows-1252: é).
	if code, body := e.admin("/admin/metadata?mount=/live.mp3&mode=updinfo&song=A%01B%1b%5b31mC%e9%00"); code != 200 {
		t.Fatalf("metadata: %d %s", code, body)
	}

	for _, path := range []string{"/admin/stats", "/admin/stats.json", "/admin/listclients?mount=/live.mp3",
		"/admin/listclients.json?mount=/live.mp3", "/admin/listmounts", "/status-json.xsl", "/api/v1/status", "/api/v1/mounts/live.mp3"} {
		code, hdr, body := e.get(path, "admin", adminPass)
		if code != 200 {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		checkDocument(t, hdr.Get("Content-Type"), []byte(body), strings.HasPrefix(path, "/admin/") || path == "/status-json.xsl")
	}

	var st struct {
		OK []string `xml:"source>ok"`
	}
	if _, body := e.admin("/admin/stats"); xml.Unmarshal([]byte(body), &st) != nil || len(st.OK) != 1 || st.OK[0] != "<\uFFFD" ||
		strings.Contains(body, "<a<b") || strings.Contains(body, "<x\"y") || strings.Contains(body, "<1st") {
		t.Fatalf("audio info pairs: %+v\n%s", st, body)
	}

	_, body := e.admin("/admin/listclients?mount=/live.mp3")
	var lc struct {
		Listener []struct {
			UserAgent string `xml:"UserAgent"`
		} `xml:"source>listener"`
	}
	if err := xml.Unmarshal([]byte(body), &lc); err != nil || len(lc.Listener) != 1 || lc.Listener[0].UserAgent != "play\uFFFDer <&>" {
		t.Fatalf("listclients user agent: %+v %v\n%s", lc, err, body)
	}
	_, body = e.admin("/api/v1/mounts/live.mp3")
	var m apidoc.Mount
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	if m.Title != "ABCé" || m.Source.UserAgent != "enc\uFFFD\uFFFDoder" || m.Source.Ice.Name != "Caf\uFFFD FM" ||
		m.Source.Ice.Description != "<b>&amp;\"'</b>" || m.Listeners[0].UserAgent != "play\uFFFDer <&>" {
		t.Fatalf("mount document: title %q, source %+v, listeners %+v", m.Title, m.Source, m.Listeners)
	}

	// The event feed's data lines are JSON too.
	events, _, closeFeed := openSSE(t, e, "0")
	defer closeFeed()
	waitEvent(t, events, "metadata.changed", "/live.mp3")
}

// Reasons are a closed set a consumer can switch on; what varies comes
// apart, in detail. /metrics counts every ending by kind and reason.
func TestReasonsAreTypedAndCounted(t *testing.T) {
	e := start(t, Options{}, nil)
	events, _, closeFeed := openSSE(t, e, "")
	defer closeFeed()
	if _, err := testkit.DialSource(e.addr, testkit.SourceRequest{Mount: "/r.mp3", User: "dj", Password: "wrong", ContentType: "audio/mpeg"}); err == nil {
		t.Fatal("wrong password accepted")
	}
	ev := waitEvent(t, events, "source.rejected", "/r.mp3")
	if ev.data.Reason != "wrong credentials" || ev.data.Detail != `user "dj"` {
		t.Fatalf("event reason %q, detail %q", ev.data.Reason, ev.data.Detail)
	}
	e.get("/nothing.mp3", "", "")
	fams := scrape(t, e)
	want := map[[2]string]float64{{"source", "wrong credentials"}: 1}
	for _, m := range fams["icedeck_connections_ended_total"].GetMetric() {
		for k, v := range want {
			if labelIs(m, "kind", k[0]) && labelIs(m, "reason", k[1]) {
				if got := m.GetCounter().GetValue(); got != v {
					t.Errorf("%v: %v, want %v", k, got, v)
				}
				delete(want, k)
			}
		}
	}
	if len(want) > 0 {
		t.Fatalf("not in icedeck_connections_ended_total: %v", want)
	}
	if fams["icedeck_clients"] == nil {
		t.Fatal("no icedeck_clients gauge")
	}
}
