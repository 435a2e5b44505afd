package playback

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

func clockPlayer(t *testing.T) *Player {
	t.Helper()
	p := NewPlayer(Options{NoDevice: true, Logger: discardLogger()})
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// sine returns interleaved stereo float32 frames of a sine at amplitude a.
func sine(freq, a float64, frames int) []float32 {
	out := make([]float32, 2*frames)
	for i := range frames {
		v := float32(a * math.Sin(2*math.Pi*freq*float64(i)/48000))
		out[2*i], out[2*i+1] = v, v
	}
	return out
}

func TestMeterSineMinus6(t *testing.T) {
	m := newMeter(48000, 12*time.Second)
	m.add(sine(1000, 0.5, 48000)) // 0.5 = -6.02 dBFS
	r := m.read()
	for c := range 2 {
		if math.Abs(r.levels.PeakDB[c]+6.02) > 0.5 {
			t.Errorf("peak[%d] = %.2f dBFS, want -6 ± 0.5", c, r.levels.PeakDB[c])
		}
		if math.Abs(r.levels.RMSDB[c]+9.03) > 0.5 {
			t.Errorf("rms[%d] = %.2f dBFS, want -9 (sine RMS = peak - 3 dB)", c, r.levels.RMSDB[c])
		}
		if math.Abs(r.levels.HoldDB[c]+6.02) > 0.5 {
			t.Errorf("hold[%d] = %.2f dBFS, want -6", c, r.levels.HoldDB[c])
		}
	}
	if r.silent || r.silentFor != 0 || r.clips != 0 {
		t.Errorf("silent=%v silentFor=%v clips=%d, want none", r.silent, r.silentFor, r.clips)
	}
}

func TestMeterHoldDecays(t *testing.T) {
	m := newMeter(48000, 12*time.Second)
	m.add(sine(1000, 0.5, 4800))   // -6 dB
	m.add(sine(1000, 0.05, 48000)) // -26 dB for 1 s: hold stays at -6
	if h := m.read().levels.HoldDB[0]; math.Abs(h+6) > 0.5 {
		t.Fatalf("hold after 1 s = %.1f, want -6 held", h)
	}
	m.add(sine(1000, 0.05, 48000)) // another second: hold released
	if h := m.read().levels.HoldDB[0]; math.Abs(h+26) > 0.5 {
		t.Fatalf("hold after 2 s = %.1f, want -26", h)
	}
}

func TestMeterSilenceAndClips(t *testing.T) {
	m := newMeter(48000, 12*time.Second)
	m.add(make([]float32, 2*48000*11))
	r := m.read()
	if r.silent || math.Abs(r.silentFor.Seconds()-11) > 0.1 {
		t.Fatalf("after 11 s of zeros: silent=%v for %v, want not yet silent, 11 s", r.silent, r.silentFor)
	}
	if r.levels.PeakDB[0] != FloorDB || r.levels.RMSDB[1] != FloorDB {
		t.Errorf("digital silence reads %v, want the floor %v", r.levels, FloorDB)
	}
	m.add(make([]float32, 2*48000*2))
	if r = m.read(); !r.silent || r.silentFor < 12*time.Second {
		t.Fatalf("after 13 s of zeros: silent=%v for %v", r.silent, r.silentFor)
	}
	// A -70 dBFS hum is still "silent"; a -50 dBFS one is not.
	m.add(sine(50, 0.0003, 4800))
	if !m.read().silent {
		t.Error("-70 dBFS should count as silence")
	}
	m.add(sine(1000, 0.003, 4800))
	if r = m.read(); r.silent || r.silentFor != 0 {
		t.Errorf("-50 dBFS: silent=%v for %v, want reset", r.silent, r.silentFor)
	}

	// Clipping: a sine at 1.5x full scale, hard clipped.
	x := sine(1000, 1.5, 4800)
	want := 0
	for i := range x {
		x[i] = max(-1, min(1, x[i]))
		if math.Abs(float64(x[i])) >= 0.999 {
			want++
		}
	}
	m.add(x)
	if r = m.read(); r.clips != uint64(want) || want == 0 {
		t.Errorf("clips = %d, want %d", r.clips, want)
	}
}

// TestPlayerMetersDecodedFile plays a -6 dBFS MP3 in clock mode (no
// device) and reads the meters while muted: they measure before volume.
func TestPlayerMetersDecodedFile(t *testing.T) {
	p := clockPlayer(t)
	p.SetMuted(true)
	p.SetVolume(0.1)
	start := time.Now()
	p.Play(pipeOf(testkit.Testdata(t, "mp3_cbr_1k.mp3")), "audio/mpeg", "cbr")
	testkit.Eventually(t, 3*time.Second, "playing", func() bool { return p.Status().State == "playing" })
	time.Sleep(300 * time.Millisecond)
	st := p.Status()
	for c := range 2 {
		if math.Abs(st.Levels.PeakDB[c]+6.02) > 0.5 {
			t.Errorf("peak[%d] = %.2f dBFS, want -6 ± 0.5 (muted, volume 0.1)", c, st.Levels.PeakDB[c])
		}
	}
	if st.Codec != "MP3" || st.SampleRate != 44100 || st.Label != "cbr" || !st.Muted || st.Volume != 0.1 {
		t.Errorf("status %+v", st)
	}
	if st.Bitrate < 110000 || st.Bitrate > 150000 {
		t.Errorf("bitrate %d, want ~128000", st.Bitrate)
	}
	if !strings.Contains(st.Output, "no audio output") {
		t.Errorf("output %q should say there is no device", st.Output)
	}
	testkit.Eventually(t, 5*time.Second, "ended", func() bool { return p.Status().State == "ended" })
	// The clock consumes in real time: a 2 s file cannot end much sooner.
	if el := time.Since(start); el < 1800*time.Millisecond {
		t.Errorf("2 s of audio consumed in %v: the clock is not real time", el)
	}
	if st := p.Status(); st.Levels.PeakDB[0] != FloorDB || st.Err != "" {
		t.Errorf("after end: %+v", st)
	}
}

// stalled is a source that never delivers a byte until closed.
func stalled() (*io.PipeReader, *io.PipeWriter) { return io.Pipe() }

func TestStalledSourceDoesNotBlock(t *testing.T) {
	p := clockPlayer(t)
	pr, pw := stalled()
	p.Play(pr, "audio/mpeg", "stalled")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20 {
			if st := p.Status(); st.State != "buffering" {
				t.Errorf("stalled stream state %q, want buffering", st.State)
			}
		}
		// Switching away from the stalled stream works and plays.
		p.Play(pipeOf(testkit.Testdata(t, "vorbis_1k.ogg")), "application/ogg", "next")
		p.Stop()
		p.Play(pipeOf(testkit.Testdata(t, "vorbis_1k.ogg")), "application/ogg", "next")
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second): // generous: this is about deadlock, not speed
		t.Fatal("Status/Play/Stop blocked on a stalled source")
	}
	testkit.Eventually(t, 3*time.Second, "the next stream playing", func() bool { return p.Status().State == "playing" })
	// The stalled source was closed: its writer now fails.
	werr := make(chan error, 1)
	go func() { _, err := pw.Write([]byte{1}); werr <- err }()
	select {
	case err := <-werr:
		if err == nil {
			t.Error("write to the abandoned stream succeeded; the player did not close it")
		}
	case <-time.After(3 * time.Second):
		t.Error("the abandoned source was not closed")
	}
	st := p.Status()
	if st.Label != "next" || st.Codec != "Vorbis" {
		t.Errorf("status %+v", st)
	}
}

func TestPlayerUnsupportedSaysWhy(t *testing.T) {
	p := NewPlayer(Options{NoDevice: true, FFmpeg: "-", Logger: discardLogger()})
	defer p.Close()
	p.Play(pipeOf(testkit.Testdata(t, "aac_1k.aac")), "audio/aac", "aac")
	testkit.Eventually(t, 3*time.Second, "error", func() bool { return p.Status().State == "error" })
	if st := p.Status(); !strings.Contains(st.Err, "AAC needs ffmpeg") {
		t.Errorf("err %q", st.Err)
	}
	p.Play(io.NopCloser(bytes.NewReader(nil)), "audio/mpeg", "empty")
	testkit.Eventually(t, 3*time.Second, "error", func() bool { return p.Status().State == "error" })
	if st := p.Status(); st.Err == "" {
		t.Error("an empty stream gave no reason")
	}
}

func TestPlayURL(t *testing.T) {
	data := testkit.Testdata(t, "vorbis_1k.ogg")
	var icy string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		icy = r.Header.Get("Icy-MetaData")
		w.Header().Set("Content-Type", "application/ogg")
		w.Header().Set("Icy-Name", "Test FM")
		_, _ = w.Write(data)
	}))
	defer srv.Close()
	p := clockPlayer(t)
	var out bytes.Buffer
	if err := playURL(t.Context(), p, srv.URL, &out); err != nil {
		t.Fatal(err)
	}
	if icy != "" {
		t.Errorf("Icy-MetaData: %q was requested", icy)
	}
	s := out.String()
	if !strings.Contains(s, "no audio output") {
		t.Errorf("output reason missing:\n%q", s)
	}
	// A playing frame: -6 dBFS bars and the format.
	found := false
	for _, line := range strings.Split(s, "\r") {
		if (strings.Contains(line, "L ▮▮▮▮▮▮▮▮▮▮--  -6.") || strings.Contains(line, "L ▮▮▮▮▮▮▮▮▮▮--  -5.")) && strings.Contains(line, "Vorbis 44.1kHz") {
			found = true
		}
	}
	if !found {
		t.Errorf("no meter line with -6 dB and 'Vorbis 44.1kHz' in:\n%q", s)
	}
	if !strings.HasSuffix(s, "ended\n") {
		t.Errorf("output does not end with the ended state: %q", s[max(0, len(s)-120):])
	}
}

func TestPlayURLErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	p := clockPlayer(t)
	if err := playURL(t.Context(), p, srv.URL, io.Discard); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("err = %v, want 404", err)
	}
}

func TestMeterLine(t *testing.T) {
	st := Status{State: "playing", Codec: "MP3", SampleRate: 44100, Bitrate: 128000, Title: "Artist - Song"}
	st.Levels.PeakDB = [2]float64{-12.34, FloorDB}
	got := MeterLine(st, 10)
	want := "L ▮▮▮▮▮▮▮--- -12.3 dB  R ----------  -inf dB  128k MP3 44.1kHz  Artist - Song"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
