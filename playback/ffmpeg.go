package playback

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os/exec"
	"strings"
	"sync"
)

// ffmpegDecoder decodes through an `ffmpeg` subprocess writing 48 kHz
// stereo float32 to its stdout. The process is killed when ctx (the
// stream's context) is cancelled, i.e. on Stop or a switch.
type ffmpegDecoder struct {
	ctx    context.Context
	src    io.Reader
	bin    string
	inArgs []string
	info   streamInfo
	log    *slog.Logger
	used   bool
}

func newFFmpegDecoder(ctx context.Context, src io.Reader, bin string, inArgs []string, info streamInfo, log *slog.Logger) *ffmpegDecoder {
	return &ffmpegDecoder{ctx: ctx, src: src, bin: bin, inArgs: inArgs, info: info, log: log}
}

// tailBuffer keeps the last few KB written to it (ffmpeg's stderr).
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = append(t.b[:0], t.b[len(t.b)-4096:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) lastLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(string(t.b)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func (f *ffmpegDecoder) next() (*segment, error) {
	if f.used {
		return nil, io.EOF
	}
	f.used = true
	args := []string{"-hide_banner", "-nostats", "-v", "error",
		// Start quickly on live input: a small probe and at most 0.5 s of
		// analysis. (-fflags nobuffer drops the probed packets: half the
		// audio was lost, measured.)
		"-probesize", "32768", "-analyzeduration", "500000"}
	args = append(args, f.inArgs...)
	args = append(args, "-i", "pipe:0", "-vn", "-f", "f32le", "-ac", "2", "-ar", "48000", "pipe:1")
	cmd := exec.CommandContext(f.ctx, f.bin, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr := &tailBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("ffmpeg: %w", err)
	}
	go func() {
		_, _ = io.Copy(stdin, f.src)
		_ = stdin.Close()
	}()
	var waitOnce sync.Once
	var waitErr error
	wait := func() error {
		waitOnce.Do(func() { waitErr = cmd.Wait() })
		return waitErr
	}
	out := bufio.NewReaderSize(stdout, 32<<10)
	raw := make([]byte, 4096*8)
	info := f.info
	info.Codec += " (ffmpeg)"
	seg := &segment{info: info, rate: 48000}
	seg.fill = func(dst *[][2]float64) error {
		n, err := io.ReadAtLeast(out, raw, 8)
		n &^= 7
		for i := 0; i < n; i += 8 {
			l := math.Float32frombits(binary.LittleEndian.Uint32(raw[i:]))
			r := math.Float32frombits(binary.LittleEndian.Uint32(raw[i+4:]))
			*dst = append(*dst, [2]float64{float64(l), float64(r)})
		}
		if err == nil {
			return nil
		}
		werr := wait()
		if f.ctx.Err() != nil {
			return io.EOF // killed on purpose
		}
		if werr != nil {
			msg := stderr.lastLine()
			if msg == "" {
				msg = werr.Error()
			}
			return fmt.Errorf("ffmpeg: %s", msg)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return io.EOF
		}
		return err
	}
	seg.close = func() { _ = wait() }
	return seg, nil
}
