//go:build linux

package playback

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// The oto context is one per process, so every test that plays on a real
// (PulseAudio) output shares one Player, opened once against one private
// PulseAudio daemon with a null sink; TestMain tears both down.
var e2e struct {
	once   sync.Once
	dir    string
	daemon *exec.Cmd
	server string
	player *Player
	err    error // why the shared output could not be set up
	skip   string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if e2e.player != nil {
		_ = e2e.player.Close()
	}
	// The daemon is not killed here: jfreymuth/pulse v0.1.3 writes the
	// stream's error on disconnect without synchronisation, which the race
	// detector reports against oto's earlier reads. It dies with this
	// process instead (Pdeathsig, see startDaemon).
	if e2e.dir != "" {
		_ = os.RemoveAll(e2e.dir)
	}
	os.Exit(code)
}

// startDaemon starts cmd with SIGKILL as its parent-death signal, from a
// goroutine that keeps its OS thread for the life of the process (the
// signal fires when the forking thread exits, not the process).
func startDaemon(cmd *exec.Cmd) error {
	errc := make(chan error)
	go func() {
		runtime.LockOSThread()
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		errc <- cmd.Start()
		select {}
	}()
	return <-errc
}

// pulsePlayer returns the shared Player playing into a private PulseAudio
// null sink (sink "cap"); it skips without pulseaudio/parec/ffmpeg (fatal
// under CI=true).
func pulsePlayer(t *testing.T) *Player {
	t.Helper()
	testkit.NeedTool(t, "pulseaudio", "parec", "ffmpeg")
	e2e.once.Do(setupPulse)
	if e2e.err != nil {
		t.Fatal(e2e.err)
	}
	return e2e.player
}

func setupPulse() {
	dir, err := os.MkdirTemp("", "icedeck-pulse-")
	if err != nil {
		e2e.err = err
		return
	}
	e2e.dir = dir
	sock := filepath.Join(dir, "native")
	cmd := exec.Command("pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
		"-L", "module-native-protocol-unix auth-anonymous=1 socket="+sock,
		"-L", "module-null-sink sink_name=cap rate=48000 channels=2")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_RUNTIME_DIR="+dir)
	logf, _ := os.Create(filepath.Join(dir, "pulseaudio.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := startDaemon(cmd); err != nil {
		e2e.err = fmt.Errorf("start pulseaudio: %w", err)
		return
	}
	e2e.daemon = cmd
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "pulseaudio.log"))
			e2e.err = fmt.Errorf("pulseaudio did not come up: %v\n%s", err, log)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	e2e.server = "unix:" + sock
	// oto (jfreymuth/pulse) reads PULSE_SERVER when the context is created.
	os.Setenv("PULSE_SERVER", e2e.server)
	p := NewPlayer(Options{Logger: discardLogger()})
	p.startOutput()
	deadline = time.Now().Add(10 * time.Second)
	for !p.Status().OutputReady {
		if time.Now().After(deadline) {
			e2e.err = fmt.Errorf("output did not open: %s", p.Status().Output)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	e2e.player = p
}

// recorder captures the null sink's monitor with parec and timestamps the
// arrival of every chunk, to map wall-clock times to capture positions.
type recorder struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	left   []float64
	t0     time.Time // wall time of capture frame 0 (lower envelope of arrivals)
	t0set  bool
	done   chan struct{}
	frames int64
}

func startRecorder(t *testing.T) *recorder {
	t.Helper()
	cmd := exec.Command("parec", "-d", "cap.monitor", "--raw", "--format=s16le", "--rate=48000",
		"--channels=2", "--latency-msec=10")
	cmd.Env = append(os.Environ(), "PULSE_SERVER="+e2e.server)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &recorder{cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		buf := make([]byte, 4096)
		var carry []byte
		for {
			n, err := out.Read(buf)
			now := time.Now()
			if n > 0 {
				b := append(carry, buf[:n]...)
				k := len(b) / 4 * 4
				r.mu.Lock()
				for i := 0; i < k; i += 4 {
					r.left = append(r.left, float64(int16(binary.LittleEndian.Uint16(b[i:])))/32768)
				}
				r.frames += int64(k / 4)
				// Every sample was recorded before it arrived; the tightest
				// bound over all chunks is the best estimate of frame 0's time.
				start := now.Add(-time.Duration(r.frames) * time.Second / 48000)
				if !r.t0set || start.Before(r.t0) {
					r.t0, r.t0set = start, true
				}
				r.mu.Unlock()
				carry = append([]byte(nil), b[k:]...)
			}
			if err != nil {
				return
			}
		}
	}()
	// Make sure the capture runs before anything plays.
	testkit.Eventually(t, 5*time.Second, "parec to deliver audio", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.frames > 4800
	})
	return r
}

func (r *recorder) stop() []float64 {
	_ = r.cmd.Process.Kill()
	<-r.done
	_ = r.cmd.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.left
}

// index maps a wall-clock time to a capture frame.
func (r *recorder) index(at time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return int(at.Sub(r.t0) * 48000 / time.Second)
}

// toneStream is a live MP3 tone delivered at real time by `ffmpeg -re`.
type toneStream struct {
	io.ReadCloser
	cmd *exec.Cmd
}

func (s *toneStream) Close() error {
	_ = s.cmd.Process.Kill()
	err := s.ReadCloser.Close()
	_ = s.cmd.Wait()
	return err
}

func liveTone(t *testing.T, freq float64, seconds float64) io.ReadCloser {
	t.Helper()
	src := fmt.Sprintf("aevalsrc=0.5*sin(2*PI*%g*t)|0.5*sin(2*PI*%g*t):s=44100:d=%g", freq, freq, seconds)
	cmd := exec.Command("ffmpeg", "-v", "error", "-re", "-f", "lavfi", "-i", src,
		"-c:a", "libmp3lame", "-b:a", "128k", "-flush_packets", "1", "-f", "mp3", "pipe:1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return &toneStream{ReadCloser: out, cmd: cmd}
}

// audible returns the first and last capture index with |x| > thr.
func audible(x []float64, thr float64) (first, last int) {
	first, last = -1, -1
	for i, v := range x {
		if math.Abs(v) > thr {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	return first, last
}

// longestQuiet is the longest run of |x| < thr in x.
func longestQuiet(x []float64, thr float64) int {
	best, run := 0, 0
	for _, v := range x {
		if math.Abs(v) < thr {
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	return best
}

// TestE2EToneThroughPulse plays a live 1 kHz MP3 stream (real-time pipe)
// to a PulseAudio null sink and checks what the sink received: duration,
// frequency, level and no dropouts. A dropout while the machine is
// overloaded (other processes starving this one or the sound server for
// longer than the device buffer) is retried, at most twice, and logged; one
// without overload fails at once.
func TestE2EToneThroughPulse(t *testing.T) {
	p := pulsePlayer(t)
	for attempt := 1; ; attempt++ {
		problems, overload := playToneOnce(t, p, func() { p.Play(liveTone(t, 1000, 3), "audio/mpeg", "tone") })
		if len(problems) == 0 {
			return
		}
		if overload == "" || attempt == 3 {
			for _, pr := range problems {
				t.Error(pr)
			}
			if overload != "" {
				t.Logf("machine overloaded on every attempt: %s", overload)
			}
			return
		}
		t.Logf("attempt %d failed while the machine was overloaded (%s): %v; retrying", attempt, overload, problems)
	}
}

// playToneOnce captures what play makes the player sound: it must be 3 s
// of a -6 dBFS 1 kHz tone without a gap.
func playToneOnce(t *testing.T, p *Player, play func()) (problems []string, overload string) {
	stopWatch := make(chan struct{})
	lateCh := make(chan time.Duration)
	go func() { lateCh <- schedulingLateness(stopWatch) }()
	rec := startRecorder(t)
	play()
	testkit.Eventually(t, 15*time.Second, "the stream to end", func() bool { return p.Status().State == "ended" })
	st := p.Status()
	time.Sleep(300 * time.Millisecond) // let the device buffer drain into the sink
	x := rec.stop()
	close(stopWatch)
	late := <-lateCh
	if load, ncpu := loadAvg(), runtime.NumCPU(); late > 40*time.Millisecond || load > 2*float64(ncpu) {
		overload = fmt.Sprintf("load average %.1f on %d CPUs, timers up to %v late", load, ncpu, late.Round(time.Millisecond))
	}

	first, last := audible(x, 0.1)
	if first < 0 {
		return []string{fmt.Sprintf("nothing reached the sink (%d frames captured); status %+v", len(x), st)}, overload
	}
	tone := x[first : last+1]
	dur := float64(len(tone)) / 48000
	f := zeroCrossFreq(tone, 48000)
	peak := 0.0
	for _, v := range tone {
		peak = max(peak, math.Abs(v))
	}
	gap := longestQuiet(tone[960:len(tone)-960], 0.02)
	t.Logf("captured %.3f s of tone at %.2f Hz, peak %.2f dBFS, longest quiet run %d samples (%.1f ms), ring underruns %d",
		dur, f, 20*math.Log10(peak), gap, float64(gap)/48, st.Underruns)
	if math.Abs(dur-3) > 0.1 {
		problems = append(problems, fmt.Sprintf("tone lasted %.3f s in the sink, want 3 ± 0.1", dur))
	}
	if math.Abs(f-1000) > 3 {
		problems = append(problems, fmt.Sprintf("tone at %.2f Hz, want 1000", f))
	}
	if math.Abs(20*math.Log10(peak)+6) > 1 {
		problems = append(problems, fmt.Sprintf("peak %.2f dBFS, want -6 (volume 1)", 20*math.Log10(peak)))
	}
	if gap > 960 {
		problems = append(problems, fmt.Sprintf("dropout: %d quiet samples (%.1f ms) in a row while playing; quiet runs (start ms:length ms): %v",
			gap, float64(gap)/48, quietRuns(tone, 0.02, 240)))
	}
	return problems, overload
}

// schedulingLateness reports how late 5 ms sleeps woke up, at worst, until
// stop is closed: a measure of CPU starvation of this process.
func schedulingLateness(stop chan struct{}) time.Duration {
	var worst time.Duration
	for {
		select {
		case <-stop:
			return worst
		default:
		}
		t0 := time.Now()
		time.Sleep(5 * time.Millisecond)
		worst = max(worst, time.Since(t0)-5*time.Millisecond)
	}
}

func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var l float64
	fmt.Sscan(string(b), &l)
	return l
}

// TestE2ESwitchWithin150ms switches from a 440 Hz stream to a 1 kHz one and
// finds, in the capture, how long the old stream kept sounding after the
// Play call. The call's time is placed in the capture with the recorder's
// arrival-time envelope (no wall-clock guess about device latency).
func TestE2ESwitchWithin150ms(t *testing.T) {
	p := pulsePlayer(t)
	checkSwitch(t, p, func() (io.ReadCloser, string) { return liveTone(t, 440, 6), "audio/mpeg" },
		func() (io.ReadCloser, string) { return liveTone(t, 1000, 3), "audio/mpeg" })
}

// checkSwitch plays a (440 Hz), then switches to b (1 kHz), and measures in
// the capture how long a kept sounding after the switch.
func checkSwitch(t *testing.T, p *Player, a, b func() (io.ReadCloser, string)) {
	rec := startRecorder(t)
	ra, cta := a()
	p.Play(ra, cta, "A")
	testkit.Eventually(t, 10*time.Second, "A playing", func() bool { return p.Status().State == "playing" })
	time.Sleep(1500 * time.Millisecond)
	rb, ctb := b()
	switchAt := time.Now()
	p.Play(rb, ctb, "B")
	callTook := time.Since(switchAt)
	time.Sleep(1500 * time.Millisecond)
	p.Stop()
	time.Sleep(200 * time.Millisecond)
	sw := rec.index(switchAt)
	x := rec.stop()
	if sw <= 0 || sw >= len(x) {
		t.Fatalf("switch index %d outside capture of %d", sw, len(x))
	}

	// Classify 10 ms windows (1 ms steps) as A (440 Hz) or B (1 kHz).
	const win, step = 480, 48
	lastA, firstB := -1, -1
	for i := 0; i+win <= len(x); i += step {
		w := x[i : i+win]
		e := 0.0
		for _, v := range w {
			e += v * v
		}
		if math.Sqrt(e/win) < 0.05 {
			continue
		}
		pa, pb := goertzel(w, 440, 48000), goertzel(w, 1000, 48000)
		switch {
		case pa > 10*pb:
			lastA = i + win
		case pb > 10*pa && lastA >= 0 && firstB < 0 && i > lastA-win:
			firstB = i
		}
	}
	if lastA < 0 || firstB < 0 {
		t.Fatalf("capture lacks A or B (lastA %d, firstB %d)", lastA, firstB)
	}
	oldMs := float64(lastA-sw) / 48
	newMs := float64(firstB-sw) / 48
	t.Logf("Play(B) returned in %v; old stream audible %.1f ms after the call; new stream from %.1f ms", callTook, oldMs, newMs)
	if oldMs > 150 {
		t.Errorf("old stream kept playing %.1f ms after the switch, want < 150", oldMs)
	}
	if oldMs < -30 {
		t.Errorf("old stream stopped %.1f ms before the switch call: the capture timing is off", -oldMs)
	}
}

// quietRuns lists runs of |x| < thr longer than minLen samples as
// "start:length" in milliseconds.
func quietRuns(x []float64, thr float64, minLen int) []string {
	var out []string
	run := 0
	for i, v := range x {
		if math.Abs(v) < thr {
			run++
			continue
		}
		if run > minLen {
			out = append(out, fmt.Sprintf("%.0f:%.0f", float64(i-run)/48, float64(run)/48))
		}
		run = 0
	}
	return out
}
