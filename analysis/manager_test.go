package analysis

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/internal/testkit"
)

const password = "hackme"

// encode renders a lavfi source to a stream file with ffmpeg's encoder
// args (e.g. "-c:a", "libmp3lame", "-b:a", "128k", "-f", "mp3").
func encode(t *testing.T, src string, args ...string) []byte {
	b, _ := encodeFile(t, src, args...)
	return b
}

// encodeB is encode for a benchmark.
func encodeB(b *testing.B, src string, args ...string) []byte {
	data, _ := encodeFile(b, src, args...)
	return data
}

// encodeFile is encode, also returning the file's path.
func encodeFile(t testing.TB, src string, args ...string) ([]byte, string) {
	t.Helper()
	ff := testkit.NeedTool(t, "ffmpeg")
	out := filepath.Join(t.TempDir(), "stream")
	cmd := append([]string{"-v", "error", "-f", "lavfi", "-i", src}, args...)
	if b, err := exec.Command(ff, append(cmd, out)...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b, out
}

var mp3Args = []string{"-c:a", "libmp3lame", "-b:a", "128k", "-write_xing", "0", "-f", "mp3"}

// station is an engine with a manager over it.
func station(t *testing.T, cfg Config, mod func(*engine.Config)) (*engine.Server, *Manager, string) {
	t.Helper()
	ec := engine.Defaults()
	ec.SourcePassword = password
	ec.Logger = testkit.Logger(t)
	if mod != nil {
		mod(&ec)
	}
	srv, err := engine.New(ec)
	if err != nil {
		t.Fatal(err)
	}
	addr := testkit.Serve(t, srv)
	mg := NewManager(srv, cfg, testkit.Logger(t))
	mg.Start()
	t.Cleanup(mg.Stop)
	return srv, mg, addr
}

func source(t *testing.T, addr, mount, contentType string) *testkit.Source {
	t.Helper()
	s, r := testkit.ConnectSource(t, addr, testkit.SourceRequest{Mount: mount, User: "source", Password: password, ContentType: contentType})
	if s == nil {
		t.Fatalf("source refused: %+v", r)
	}
	return s
}

func audio(mg *Manager, mount string) engine.AudioStats {
	st, _ := mg.Audio(mount)
	return st
}

func eventOf(srv *engine.Server, typ engine.EventType, mount string) *engine.Event {
	for _, e := range srv.Events(0) {
		if e.Type == typ && e.Mount == mount {
			return &e
		}
	}
	return nil
}

// A mount's MP3 is measured from a tap: its loudness and peak read back,
// its silence makes it silent (stream time, so this runs faster than real
// time) and its audio coming back restores it, with both events.
func TestManagerMeasuresAMount(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Silence.SilenceAfter = 3 * time.Second
	srv, mg, addr := station(t, cfg, nil)
	loud, path := encodeFile(t, tone(1000, -23, 2, 0, 8, 44100), mp3Args...)
	rs := ffmpegR128(t, "-i", path)
	ref := rs[len(rs)-1] // the encoder takes 0.4 dB off this tone: ffmpeg reads -23.4
	quiet := encode(t, "anullsrc=r=44100:cl=stereo:d=6", mp3Args...)
	src := source(t, addr, "/m.mp3", "audio/mpeg")
	testkit.Eventually(t, 20*time.Second, "analyser started", func() bool { return audio(mg, "/m.mp3").State != "" })
	src.Send(loud, 4096, 20*time.Millisecond) // about 6x real time
	testkit.Eventually(t, 20*time.Second, "8 s measured", func() bool { return audio(mg, "/m.mp3").Measured >= 7500*time.Millisecond })
	st := audio(mg, "/m.mp3")
	if math.Abs(st.IntegratedLUFS-ref.I) > 0.2 || math.Abs(st.ShortTermLUFS-ref.S) > 0.3 || math.Abs(st.TruePeakDBTP-ref.TruePeak) > 0.3 ||
		st.State != StateOK || st.Codec != "MP3" || st.SampleRate != 44100 || st.Channels != 2 || !st.Mono {
		t.Fatalf("a -23 dBFS stereo tone: %+v", st)
	}
	src.Send(quiet, 4096, 20*time.Millisecond)
	testkit.Eventually(t, 20*time.Second, "silent", func() bool { return audio(mg, "/m.mp3").Silent })
	if ms, _ := srv.Mount("/m.mp3"); ms.State != engine.StateSilent {
		t.Errorf("mount state %s while silent", ms.State)
	}
	if st := audio(mg, "/m.mp3"); !st.DigitalSilence || st.State != StateSilent {
		t.Errorf("MP3 of zeros decodes to zeros: %+v", st)
	}
	src.Send(loud[:32000], 4096, 20*time.Millisecond)
	testkit.Eventually(t, 20*time.Second, "restored", func() bool {
		ms, _ := srv.Mount("/m.mp3")
		return ms.State == engine.StateLive && eventOf(srv, engine.EventAudioRestored, "/m.mp3") != nil
	})
	if e := eventOf(srv, engine.EventAudioRestored, "/m.mp3"); !strings.HasPrefix(e.Detail, "after 6") || !strings.HasSuffix(e.Detail, "s of silence") {
		t.Errorf("restored event %+v: want about 6 s of silence", e)
	}
	e := eventOf(srv, engine.EventAudioSilence, "/m.mp3")
	if e == nil || !strings.Contains(e.Detail, "under -50 dBFS for 3s") || !strings.Contains(e.Detail, "digital silence") {
		t.Errorf("silence event %+v", e)
	}
	if h := mg.History("/m.mp3"); len(h) < 8 {
		t.Errorf("history %v", h)
	}
	src.Close()
	testkit.Eventually(t, 20*time.Second, "analyser gone with the mount", func() bool { _, ok := mg.Audio("/m.mp3"); return !ok })
}

// What cannot be decoded says why; max_mounts leaves the rest unmeasured
// and says so; analyze = false turns one mount off.
func TestManagerLimits(t *testing.T) {
	off := false
	cfg := DefaultConfig()
	cfg.FFmpeg = "-"
	cfg.MaxMounts = 2
	cfg.Mounts = map[string]MountConfig{"/off.mp3": {Analyze: &off}}
	_, mg, addr := station(t, cfg, nil)
	mp3 := encode(t, tone(440, -20, 2, 0, 2, 44100), mp3Args...)
	aac := source(t, addr, "/a.aac", "audio/aac")
	testkit.Eventually(t, 20*time.Second, "undecodable", func() bool { return audio(mg, "/a.aac").State == StateUndecodable })
	if st := audio(mg, "/a.aac"); !strings.Contains(st.Error, "needs ffmpeg") || !math.IsNaN(st.IntegratedLUFS) {
		t.Errorf("AAC without ffmpeg: %+v", st)
	}
	b := source(t, addr, "/b.mp3", "audio/mpeg")
	b.Send(mp3, 0, 0)
	testkit.Eventually(t, 20*time.Second, "b measured", func() bool { return audio(mg, "/b.mp3").State == StateOK })
	source(t, addr, "/c.mp3", "audio/mpeg")
	source(t, addr, "/off.mp3", "audio/mpeg")
	testkit.Eventually(t, 20*time.Second, "c over the limit, off off", func() bool {
		return audio(mg, "/c.mp3").State == StateOverLimit && audio(mg, "/off.mp3").State == StateOff
	})
	// A reload that lifts the limit starts it, and b keeps what it measured.
	before := audio(mg, "/b.mp3").Measured
	cfg.MaxMounts = 3
	mg.Reconfigure(cfg)
	testkit.Eventually(t, 20*time.Second, "c started", func() bool { return audio(mg, "/c.mp3").State == StateStarting })
	if st := audio(mg, "/b.mp3"); st.Measured < before {
		t.Errorf("b restarted on reload: %s measured, had %s", st.Measured, before)
	}
	aac.Close()
}
