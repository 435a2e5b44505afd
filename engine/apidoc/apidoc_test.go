package apidoc

import (
	"encoding/json"
	"log/slog"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/internal/testkit"
)

// utcTimes sets every time.Time reachable from v to UTC without its
// monotonic reading, and every empty slice to nil, as a document gives
// them back.
func utcTimes(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			utcTimes(v.Elem())
		}
	case reflect.Slice:
		if v.Len() == 0 {
			v.Set(reflect.Zero(v.Type()))
		}
		for i := range v.Len() {
			utcTimes(v.Index(i))
		}
	case reflect.Struct:
		if t, ok := v.Interface().(time.Time); ok {
			v.Set(reflect.ValueOf(t.UTC().Round(0)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				utcTimes(v.Field(i))
			}
		}
	}
}

// A live engine's snapshot (a source sending MP3 with a title, an ICY
// listener, a listener gone, a relay) written as /api/v1/status and read
// back is the snapshot it was: every field, frame statistics included.
func TestStatusRoundTrip(t *testing.T) {
	t.Parallel()
	cfg := engine.Defaults()
	cfg.SourcePassword = "pw"
	cfg.Logger = testkit.Logger(t)
	cfg.Relays = []engine.RelayConfig{{Mount: "/relayed.mp3", Upstreams: []string{"http://u:secret@127.0.0.1:1/x.mp3"}, OnDemand: true}}
	srv, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr := testkit.Serve(t, srv)
	src, r := testkit.ConnectSource(t, addr, testkit.SourceRequest{Mount: "/live.mp3", User: "source", Password: "pw",
		ContentType: "audio/mpeg", Header: []string{"Ice-Name", "Round <trip>", "Ice-Bitrate", "128"}})
	if src == nil {
		t.Fatalf("source refused: %d %s", r.Code, r.Body)
	}
	src.Feed(testkit.Media(t, "tone.mp3"), 4096, 100*time.Millisecond)
	if err := srv.SetTitle("/live.mp3", "Artist - Song", ""); err != nil {
		t.Fatal(err)
	}
	gone := testkit.Listen(t, addr, "/live.mp3")
	testkit.Eventually(t, 5*time.Second, "the first listener", func() bool { return len(gone.Bytes()) > 0 })
	gone.Conn.Close()
	l := testkit.Listen(t, addr, "/live.mp3", "Icy-MetaData", "1")
	testkit.Eventually(t, 10*time.Second, "frames, a second of history, a disconnect and a listener with bytes", func() bool {
		m, ok := srv.Mount("/live.mp3")
		return ok && m.Source != nil && m.Source.Frames.Frames > 20 && len(m.Source.History) > 0 && len(m.Disconnects) > 0 &&
			len(m.Listeners) == 1 && m.Listeners[0].BytesSent > 0 && len(l.Bytes()) > 0
	})

	snap := srv.Snapshot()
	b, err := json.Marshal(NewStatus(snap))
	if err != nil {
		t.Fatal(err)
	}
	var doc Status
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	got := doc.Snapshot()

	want := snap
	utcTimes(reflect.ValueOf(&want).Elem())
	// The relay's upstreams come back with their passwords hidden.
	for i := range want.Mounts {
		if rs := want.Mounts[i].Relay; rs != nil {
			c := *rs
			c.Upstreams = []string{"http://u:xxxxx@127.0.0.1:1/x.mp3"}
			c.Upstream = RedactURL(c.Upstream)
			want.Mounts[i].Relay = &c
		}
	}
	if !reflect.DeepEqual(got, want) {
		gb, _ := json.MarshalIndent(got, "", " ")
		wb, _ := json.MarshalIndent(want, "", " ")
		gl, wl := strings.Split(string(gb), "\n"), strings.Split(string(wb), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("read back differs at line %d: %s, want %s (%d and %d lines)", i+1, gl[i], wl[i], len(gl), len(wl))
			}
		}
		t.Fatalf("read back differs: %d lines, want %d", len(gl), len(wl))
	}
	// What the comparison covers is real: the source's frames and title,
	// the listener and the one that left.
	m := got.Mounts[0] // sorted by name
	if m.Name != "/live.mp3" || m.Source.Frames.Codec != "MP3" || m.Source.Frames.SampleRate == 0 || m.Source.SHA256 == "" ||
		m.Title != "Artist - Song" || m.Source.Ice.Name != "Round <trip>" || !m.Listeners[0].ICY ||
		m.Disconnects[0].Reason != engine.ReasonClientClosed || len(m.Source.History) == 0 {
		t.Fatalf("mount read back: %+v", m)
	}
}

// An event and an analysis's audio object read back as they were; levels
// the document has as null come back as NaN, unknown names as none.
func TestEventAndAudioRoundTrip(t *testing.T) {
	e := engine.Event{Seq: 7, Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Type: engine.EventListenerLeft,
		Level: slog.LevelWarn, Mount: "/a", ID: 9, Addr: "1.2.3.4:5", Reason: engine.ReasonKicked,
		Detail: "d", Subject: "s", Message: "m"}
	var ed Event
	b, _ := json.Marshal(NewEvent(e))
	if err := json.Unmarshal(b, &ed); err != nil {
		t.Fatal(err)
	}
	if got := ed.Event(); got != e {
		t.Fatalf("event read back: %+v, want %+v", got, e)
	}
	ed.Reason, ed.Level = "a reason from a newer server", "LOUD"
	if got := ed.Event(); got.Reason != engine.ReasonNone || got.Level != slog.LevelInfo {
		t.Fatalf("unknown names: %+v", got)
	}

	st := engine.AudioStats{State: "ok", Codec: "MP3", SampleRate: 44100, Channels: 2, MomentaryLUFS: -23.1234,
		ShortTermLUFS: math.NaN(), IntegratedLUFS: -22.5, LoudnessRangeLU: 4, SamplePeakDBFS: -1, TruePeakDBTP: -0.5,
		ClippedSamples: 3, Silent: true, SilentFor: 1500 * time.Millisecond, Correlation: 0.25, BalanceDB: math.Inf(1),
		Mono: true, Measured: time.Minute}
	var ad Audio
	b, _ = json.Marshal(NewAudio(st))
	if err := json.Unmarshal(b, &ad); err != nil {
		t.Fatal(err)
	}
	got := ad.AudioStats()
	if got.MomentaryLUFS != -23.123 || !math.IsNaN(got.ShortTermLUFS) || !math.IsNaN(got.BalanceDB) ||
		got.SilentFor != st.SilentFor || got.Measured != st.Measured || got.ClippedSamples != 3 || !got.Mono {
		t.Fatalf("audio read back: %+v", got)
	}
}
