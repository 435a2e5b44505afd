package engine

import (
	"cmp"
	"errors"
	"fmt"
	"github.com/icedeck/icedeck/engine/frame"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// recording copies a mount's stream to a file from a strict tap, in a
// goroutine of its own: a slow or full disk stops the recording, never the
// stream.
type recording struct {
	path  string
	tap   *Tap
	bytes atomic.Uint64
	done  chan struct{}
}

// StartRecording starts writing mount's stream to a file, from its newest
// frame boundary (Ogg: headers first, so the file plays). The file is the
// mount's DumpFile pattern, or RecordDir/<mount>-<time>.<ext>.
func (s *Server) StartRecording(mountName string) (string, error) {
	m := s.lookup(mountName)
	if m == nil {
		return "", ErrNoMount
	}
	return s.record(m, false)
}

// StopRecording stops the mount's recording and closes its file.
func (s *Server) StopRecording(mountName string) error {
	m := s.lookup(mountName)
	if m == nil {
		return ErrNoMount
	}
	m.mu.Lock()
	rec := m.rec
	m.mu.Unlock()
	if rec == nil {
		return errors.New("mount is not being recorded")
	}
	rec.tap.Close()
	<-rec.done
	return nil
}

// Recording reports whether mount is being recorded.
func (s *Server) Recording(mountName string) bool {
	m := s.lookup(mountName)
	if m == nil {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rec != nil
}

// record opens the file and starts copying. fromStart takes the stream from
// the source's first byte (a dump of a whole session).
func (s *Server) record(m *mount, fromStart bool) (string, error) {
	m.mu.Lock()
	if m.rec != nil {
		path := m.rec.path
		m.mu.Unlock()
		return path, fmt.Errorf("already recording to %s", path)
	}
	pattern, ct := m.cfg.DumpFile, m.contentType
	m.mu.Unlock()
	if pattern == "" {
		name := strings.NewReplacer("/", "_", ".", "-").Replace(strings.TrimPrefix(m.name, "/"))
		pattern = filepath.Join(s.cfg().RecordDir, name+"-%Y%m%d-%H%M%S"+frame.FormatOf(ct).Ext)
	}
	f, path, err := createUnique(strftime(pattern, time.Now()))
	if err != nil {
		s.Emit(Event{Type: EventRecording, Level: slog.LevelError, Mount: m.name, Reason: ReasonWriteError, Detail: err.Error(),
			Message: fmt.Sprintf("cannot record %s: %v", m.name, err)})
		return "", err
	}
	t := newTap(m, false, true)
	if fromStart {
		t.seq, t.wait = m.ring.head.Load(), true
	} else {
		t.start(1)
	}
	rec := &recording{path: path, tap: t, done: make(chan struct{})}
	m.mu.Lock()
	if m.rec != nil || m.ended.Load() {
		m.mu.Unlock()
		f.Close()
		return "", errors.New("mount is already recorded or gone")
	}
	m.rec = rec
	m.taps[t] = struct{}{}
	m.mu.Unlock()
	s.Emit(Event{Type: EventRecording, Level: slog.LevelInfo, Mount: m.name, Reason: ReasonStarted, Detail: path, Subject: path,
		Message: fmt.Sprintf("recording %s to %s", m.name, path)})
	s.wg.Add(1)
	go s.runRecording(m, rec, f)
	return path, nil
}

func (s *Server) runRecording(m *mount, rec *recording, f *os.File) {
	defer s.wg.Done()
	defer close(rec.done)
	buf := make([]byte, 32<<10)
	reason, detail, level := ReasonNone, "", slog.LevelInfo
	for reason == ReasonNone {
		n, err := rec.tap.Read(buf)
		if n > 0 {
			if _, werr := f.Write(buf[:n]); werr != nil {
				reason, detail, level = ReasonWriteError, werr.Error(), slog.LevelError
				break
			}
			rec.bytes.Add(uint64(n))
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			reason = ReasonSourceEnded
		case errors.Is(err, ErrTapClosed):
			reason = ReasonStopped
		case errors.Is(err, errTapBehind):
			reason, detail, level = ReasonTooSlow, "fell behind the stream (disk too slow): data lost", slog.LevelError
		default:
			reason, detail, level = ReasonReadError, err.Error(), slog.LevelError
		}
	}
	rec.tap.Close()
	if err := f.Close(); err != nil && level == slog.LevelInfo {
		reason, detail, level = ReasonWriteError, "close failed: "+err.Error(), slog.LevelError
	}
	m.mu.Lock()
	if m.rec == rec {
		m.rec = nil
	}
	m.mu.Unlock()
	s.Emit(Event{Type: EventRecording, Level: level, Mount: m.name, Reason: reason, Detail: detail, Subject: rec.path,
		Message: fmt.Sprintf("recording of %s to %s stopped after %d bytes: %s", m.name, rec.path, rec.bytes.Load(), cmp.Or(detail, reason.String()))})
}

// createUnique creates a new file at path, or, when that exists, at
// path with -2, -3, … before its extension: a recording never appends to
// another session's file, whichever mount or pattern named it.
func createUnique(path string) (*os.File, string, error) {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		// A device or pipe (/dev/null, a FIFO to an encoder) is written as is.
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		return f, path, err
	}
	ext := filepath.Ext(path)
	base := strings.TrimSuffix(path, ext)
	for i := 1; ; i++ {
		p := path
		if i > 1 {
			p = base + "-" + strconv.Itoa(i) + ext
		}
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if errors.Is(err, fs.ErrExist) && i < 1000 {
			continue
		}
		return f, p, err
	}
}

// strftime expands %Y %m %d %H %M %S %j %s and %%.
func strftime(pattern string, t time.Time) string {
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c != '%' || i+1 == len(pattern) {
			b.WriteByte(c)
			continue
		}
		i++
		switch pattern[i] {
		case 'Y':
			b.WriteString(strconv.Itoa(t.Year()))
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case 's':
			b.WriteString(strconv.FormatInt(t.Unix(), 10))
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(pattern[i])
		}
	}
	return b.String()
}
