package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// On-air health through the real binary: ffmpeg sources send generated
// signals, the API, the metrics and the log tell what the analysis heard.

// healthStation runs icedeck --headless with config (TOML) on a free port,
// logging JSON, and returns its address and log.
func healthStation(t *testing.T, config string) (string, *testkit.Buffer) {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	path := filepath.Join(t.TempDir(), "icedeck.toml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf("[server]\nlisten = [%q]\n%s", addr, config)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless", "--config", path, "--log-format", "json")
	cmd.Env = append(os.Environ(), "ICEDECK_SOURCE_PASSWORD=pw", "ICEDECK_ADMIN_PASSWORD=apw")
	logs := &testkit.Buffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("icedeck log:\n%s", logs.String())
		}
	})
	testkit.Eventually(t, 10*time.Second, "icedeck listening", func() bool { return strings.Contains(logs.String(), "icedeck relay listening") })
	return addr, logs
}

// liveSource has ffmpeg generate src (lavfi) in real time and send it to
// mount, encoded with enc, until it ends or the test does.
func liveSource(t *testing.T, addr, mount, src string, enc ...string) {
	t.Helper()
	args := append([]string{"-v", "error", "-re", "-f", "lavfi", "-i", src}, enc...)
	runFFmpeg(t, addr+mount, append(args, "icecast://source:pw@"+addr+mount))
}

var (
	asMP3  = []string{"-c:a", "libmp3lame", "-b:a", "128k", "-f", "mp3", "-content_type", "audio/mpeg"}
	asOpus = []string{"-c:a", "libopus", "-b:a", "128k", "-f", "ogg", "-content_type", "audio/ogg"}
)

// sine is a lavfi source: a 1 kHz (or freq) tone at dbfs on two channels
// for seconds, the right one inverted when invert is set.
func sine(freq, dbfs, seconds float64, invert bool) string {
	a := math.Pow(10, dbfs/20)
	l := fmt.Sprintf("%.9f*sin(2*PI*%g*t)", a, freq)
	r := l
	if invert {
		r = "-" + l
	}
	return fmt.Sprintf("aevalsrc='%s|%s':s=44100:d=%g", l, r, seconds)
}

// audioOf reads a mount's audio object from /api/v1 (nil: none yet).
func audioOf(t *testing.T, addr, mount string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/api/v1/mounts"+mount, nil)
	req.SetBasicAuth("admin", "apw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil
	}
	var doc struct {
		State string         `json:"state"`
		Audio map[string]any `json:"audio"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.Audio != nil {
		doc.Audio["mount_state"] = doc.State
	}
	return doc.Audio
}

func num(a map[string]any, k string) float64 {
	if v, ok := a[k].(float64); ok {
		return v
	}
	return math.NaN()
}

// reference is ffmpeg's ebur128 reading of what src encoded with enc
// decodes to (its own decoder): the same audio the server measures.
func reference(t *testing.T, src string, enc ...string) (integrated, shortTerm, truePeak float64) {
	t.Helper()
	ff := testkit.NeedTool(t, "ffmpeg")
	file := filepath.Join(t.TempDir(), "ref")
	if out, err := exec.Command(ff, append(append([]string{"-v", "error", "-f", "lavfi", "-i", src}, enc[:len(enc)-2]...), file)...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	out, err := exec.Command(ff, "-v", "error", "-i", file, "-af", "ebur128=metadata=1:peak=true,ametadata=mode=print:file=-", "-f", "null", "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, _ := strings.Cut(strings.TrimPrefix(sc.Text(), "lavfi.r128."), "=")
		x, _ := strconv.ParseFloat(v, 64)
		switch k {
		case "I":
			integrated = x
		case "S":
			shortTerm = x
		case "true_peak":
			truePeak = 20 * math.Log10(x)
		}
	}
	return integrated, shortTerm, truePeak
}

// Tones at -23 and -14 LUFS (MP3 and Opus) read back through the API
// within 0.2 LU integrated, 0.3 LU short-term and 0.3 dB true peak of
// ffmpeg's ebur128 on the same encoded audio; an inverted channel is
// flagged, a clipping signal counts clipped samples, and the gauges are
// in /metrics.
func TestAnalysisReadsTonesThroughTheBinary(t *testing.T) {
	t.Parallel()
	addr, logs := healthStation(t, "")
	cases := []struct {
		mount, src string
		enc        []string
	}{
		// -23 dBFS on each channel is -23 LUFS (EBU Tech 3341 case 1); -14 likewise.
		{"/t23.mp3", sine(1000, -23, 30, false), asMP3},
		{"/t14.opus", sine(1000, -14, 30, false), asOpus},
		{"/phase.mp3", sine(1000, -20, 30, true), asMP3},
		{"/clip.mp3", sine(1000, 3.5, 30, false), asMP3}, // 1.5 × full scale: the encoder's input clips
	}
	for _, c := range cases {
		liveSource(t, addr, c.mount, c.src, c.enc...)
	}
	for _, c := range cases[:2] {
		wantI, wantS, wantTP := reference(t, c.src, c.enc...)
		var a map[string]any
		testkit.Eventually(t, 20*time.Second, c.mount+" measured for 6 s", func() bool {
			a = audioOf(t, addr, c.mount)
			return num(a, "measured_seconds") >= 6
		})
		t.Logf("%s: integrated %.3f (ffmpeg %.3f), short-term %.3f (%.3f), true peak %.3f (%.3f)", c.mount,
			num(a, "integrated_lufs"), wantI, num(a, "short_term_lufs"), wantS, num(a, "true_peak_dbtp"), wantTP)
		if d := math.Abs(num(a, "integrated_lufs") - wantI); !(d <= 0.2) {
			t.Errorf("%s: integrated %v, ffmpeg %.3f", c.mount, a["integrated_lufs"], wantI)
		}
		if d := math.Abs(num(a, "short_term_lufs") - wantS); !(d <= 0.3) {
			t.Errorf("%s: short-term %v, ffmpeg %.3f", c.mount, a["short_term_lufs"], wantS)
		}
		if d := math.Abs(num(a, "true_peak_dbtp") - wantTP); !(d <= 0.3) {
			t.Errorf("%s: true peak %v, ffmpeg %.3f", c.mount, a["true_peak_dbtp"], wantTP)
		}
		if a["state"] != "ok" || a["silent"] != false || a["phase_warning"] != false || a["mono"] != true {
			t.Errorf("%s: %v", c.mount, a)
		}
	}
	testkit.Eventually(t, 20*time.Second, "the inverted channel flagged", func() bool {
		a := audioOf(t, addr, "/phase.mp3")
		return a["phase_warning"] == true && num(a, "correlation") < -0.99
	})
	testkit.Eventually(t, 20*time.Second, "clipped samples counted", func() bool {
		return num(audioOf(t, addr, "/clip.mp3"), "clipped_samples") > 1000
	})
	testkit.Eventually(t, 10*time.Second, "audio.phase and audio.clipping logged", func() bool {
		l := logs.String()
		return strings.Contains(l, `"event":"audio.phase","mount":"/phase.mp3"`) && strings.Contains(l, `"event":"audio.clipping","mount":"/clip.mp3"`)
	})
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []struct {
		series   string
		min, max float64
	}{
		{`icedeck_mount_loudness_lufs{mount="/t23.mp3",window="momentary"}`, -23.6, -23.2},
		{`icedeck_mount_loudness_lufs{mount="/t23.mp3",window="short_term"}`, -23.6, -23.2},
		{`icedeck_mount_loudness_lufs{mount="/t23.mp3",window="integrated"}`, -23.6, -23.2},
		{`icedeck_mount_true_peak_dbtp{mount="/t14.opus"}`, -14.3, -13.5},
		{`icedeck_mount_silent{mount="/t23.mp3"}`, 0, 0},
		{`icedeck_mount_correlation{mount="/phase.mp3"}`, -1, -0.99},
		{`icedeck_mount_clipped_samples_total{mount="/clip.mp3"}`, 1000, math.Inf(1)},
	} {
		v := math.NaN()
		for _, line := range strings.Split(string(body), "\n") {
			if rest, ok := strings.CutPrefix(line, m.series+" "); ok {
				v, _ = strconv.ParseFloat(rest, 64)
			}
		}
		if !(v >= m.min && v <= m.max) {
			t.Errorf("/metrics: %s = %v, want %g..%g", m.series, v, m.min, m.max)
		}
	}
}

// eventTime finds the first log record of event on mount and its time.
func eventTime(logs string, event, mount string) (time.Time, map[string]any, bool) {
	for _, line := range strings.Split(logs, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["event"] != event || rec["mount"] != mount {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(rec["time"]))
		return at, rec, err == nil
	}
	return time.Time{}, nil, false
}

// tones classifies MP3 audio (decoded by ffmpeg) in 250 ms windows as
// "1k", "440" or "quiet", and returns the runs, consecutive repeats
// folded.
func tones(t *testing.T, mp3 []byte) []string {
	t.Helper()
	ff := testkit.NeedTool(t, "ffmpeg")
	cmd := exec.Command(ff, "-v", "error", "-f", "mp3", "-i", "pipe:0", "-ac", "1", "-ar", "8000", "-f", "f64le", "pipe:1")
	cmd.Stdin = bytes.NewReader(mp3)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]float64, len(out)/8)
	for i := range pcm {
		pcm[i] = math.Float64frombits(binary.LittleEndian.Uint64(out[8*i:]))
	}
	power := func(x []float64, f float64) float64 { // Goertzel
		c := 2 * math.Cos(2*math.Pi*f/8000)
		var s1, s2 float64
		for _, v := range x {
			s1, s2 = v+c*s1-s2, s1
		}
		return (s1*s1 + s2*s2 - c*s1*s2) / float64(len(x)*len(x))
	}
	var runs []string
	for i := 0; i+2000 <= len(pcm); i += 2000 {
		w := pcm[i : i+2000]
		p1k, p440 := power(w, 1000), power(w, 440)
		kind := "quiet"
		switch {
		case p1k > 1e-4 && p1k > 10*p440:
			kind = "1k"
		case p440 > 1e-4 && p440 > 10*p1k:
			kind = "440"
		}
		if len(runs) == 0 || runs[len(runs)-1] != kind {
			runs = append(runs, kind)
		}
	}
	return runs
}

// A source that goes silent after 5 s is silent within silence_after + 1 s
// and restored within 1 s of its audio returning, with both events; with
// on_silence = "fallback" a listener's bytes switch to the fallback's
// tone and back, without reconnecting.
func TestAnalysisDeadAirSwitchThroughTheBinary(t *testing.T) {
	t.Parallel()
	addr, logs := healthStation(t, `
[analysis]
silence_after = "3s"

[[mount]]
name = "/main.mp3"
fallback = "/backup.mp3"
on_silence = "fallback"
`)
	liveSource(t, addr, "/backup.mp3", "aevalsrc='0.3*sin(2*PI*440*t)':s=44100:d=40", asMP3...)
	testkit.Eventually(t, 10*time.Second, "backup on air", func() bool { return audioOf(t, addr, "/backup.mp3")["state"] == "ok" })
	// 1 kHz for 5 s, digital silence until 12 s, 1 kHz again until 20 s.
	liveSource(t, addr, "/main.mp3", "aevalsrc='if(between(t,5,12),0,0.3*sin(2*PI*1000*t))':s=44100:d=20", asMP3...)
	testkit.Eventually(t, 10*time.Second, "main on air", func() bool { return audioOf(t, addr, "/main.mp3")["state"] == "ok" })
	l := testkit.Listen(t, addr, "/main.mp3")

	testkit.Eventually(t, 15*time.Second, "main silent", func() bool {
		a := audioOf(t, addr, "/main.mp3")
		return a["mount_state"] == "silent" && a["silent"] == true && a["digital_silence"] == true
	})
	testkit.Eventually(t, 15*time.Second, "main restored", func() bool {
		_, _, ok := eventTime(logs.String(), "audio.restored", "/main.mp3")
		return ok && audioOf(t, addr, "/main.mp3")["mount_state"] == "live"
	})
	connected, _, _ := eventTime(logs.String(), "source.connected", "/main.mp3")
	silentAt, silence, _ := eventTime(logs.String(), "audio.silence", "/main.mp3")
	restoredAt, _, _ := eventTime(logs.String(), "audio.restored", "/main.mp3")
	t.Logf("silence event %.2f s after the source connected (silence from 5 s, silence_after 3 s), restored at %.2f s (audio back at 12 s); %v",
		silentAt.Sub(connected).Seconds(), restoredAt.Sub(connected).Seconds(), silence["detail"])
	if d := silentAt.Sub(connected); d > 9*time.Second || d < 7500*time.Millisecond {
		t.Errorf("silent %s after connecting, want 8 s (5 s of audio and 3 s of silence) + at most 1 s", d)
	}
	if d := restoredAt.Sub(connected); d > 13*time.Second || d < 11500*time.Millisecond {
		t.Errorf("restored %s after connecting, want within 1 s of the audio returning at 12 s", d)
	}
	if !strings.Contains(fmt.Sprint(silence["detail"]), "digital silence") {
		t.Errorf("silence event %v", silence)
	}
	// The listener heard main's tone, the fallback's during the silence,
	// and main's again: one connection throughout.
	n := len(l.Bytes())
	testkit.Eventually(t, 10*time.Second, "3 s more audio to the listener", func() bool { return len(l.Bytes()) >= n+48000 })
	got := tones(t, l.Bytes())
	i440 := -1
	for i, k := range got {
		if k == "440" {
			i440 = i
		}
	}
	if i440 < 1 || !contains(got[:i440], "1k") || !contains(got[i440:], "1k") || count(got, "440") != 1 {
		t.Errorf("listener heard %v, want 1k, then 440 (the fallback) once, then 1k", got)
	}
}

func contains(s []string, v string) bool { return count(s, v) > 0 }

func count(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}
