//go:build linux

package playback

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// TestNoDeviceChild is the body of TestNoDeviceReason, run in a child
// process (the sound output can be opened only once per process).
func TestNoDeviceChild(t *testing.T) {
	if os.Getenv("ICEDECK_PLAYBACK_CHILD") != "nodevice" {
		t.Skip("run by TestNoDeviceReason")
	}
	restore, err := RedirectStderr(os.Getenv("ICEDECK_STDERR_LOG"))
	if err != nil {
		t.Fatal(err)
	}
	defer restore()
	p := NewPlayer(Options{})
	defer p.Close()
	p.Play(pipeOf(testkit.Testdata(t, "mp3_cbr_1k.mp3")), "audio/mpeg", "x")
	testkit.Eventually(t, 15*time.Second, "the output to settle", func() bool {
		o := p.Status().Output
		return !strings.HasPrefix(o, "opening") && !strings.HasPrefix(o, "audio output not")
	})
	testkit.Eventually(t, 5*time.Second, "playing", func() bool { return p.Status().State == "playing" })
	time.Sleep(200 * time.Millisecond)
	st := p.Status()
	fmt.Printf("OUTPUT=%s\nREADY=%v\nPEAK=%.2f\n", st.Output, st.OutputReady, st.Levels.PeakDB[0])
	fmt.Fprintln(os.Stderr, "written to fd 2 after the redirect")
}

// TestNoDeviceReason runs a player where neither PulseAudio nor ALSA has a
// device: the status must carry oto's reason, metering must still work,
// and libasound's stderr lines must land in the log file, not on fd 2.
func TestNoDeviceReason(t *testing.T) {
	if os.Getenv("ICEDECK_PLAYBACK_CHILD") != "" {
		t.Skip("child")
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "stderr.log")
	// An ALSA config whose default device cannot open, so the result does
	// not depend on the machine's sound hardware.
	alsaConf := filepath.Join(dir, "asound.conf")
	if err := os.WriteFile(alsaConf, []byte("pcm.!default { type hw card 99 }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoDeviceChild$", "-test.v")
	cmd.Env = append(os.Environ(),
		"ICEDECK_PLAYBACK_CHILD=nodevice",
		"ICEDECK_STDERR_LOG="+logPath,
		"PULSE_SERVER=unix:"+filepath.Join(dir, "no-such-socket"),
		"ALSA_CONFIG_PATH="+alsaConf,
	)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	t.Logf("child says:\n%s", out)
	var output string
	var peak float64
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "OUTPUT="); ok {
			output = v
		}
		if v, ok := strings.CutPrefix(l, "PEAK="); ok {
			fmt.Sscan(v, &peak)
		}
	}
	if !strings.Contains(output, "no audio output") || !strings.Contains(output, "PulseAudio") || !strings.Contains(output, "ALSA") {
		t.Errorf("Output %q should give what PulseAudio and ALSA said", output)
	}
	if math.Abs(peak+6.02) > 0.5 {
		t.Errorf("peak %.2f dBFS without a device, want -6: metering must go on", peak)
	}
	if s := stderr.String(); s != "" {
		t.Errorf("the child's fd 2 got output despite RedirectStderr:\n%s", s)
	}
	logged, _ := os.ReadFile(logPath)
	t.Logf("redirected stderr log:\n%s", logged)
	if !strings.Contains(string(logged), "written to fd 2 after the redirect") {
		t.Error("the log file did not receive fd 2 output")
	}
}
