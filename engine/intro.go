package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/icedeck/icedeck/engine/frame"
)

// Intros (Icecast's <intro>): a file sent to each new listener of a mount
// before the live stream, which then starts at a frame boundary. An ICY
// listener's metadata interval counts the intro's bytes too, as Icecast's
// does: a block follows every metaint bytes, whichever they are.

// maxMediaBytes bounds an intro or fallback file kept in memory: ten
// minutes of 320 kb/s.
const maxMediaBytes = 24 << 20

// mediaFile is an intro or fallback file read into memory. Its bytes
// never change: a file changed on disk becomes a new mediaFile.
type mediaFile struct {
	path string
	mod  time.Time
	size int64
	data []byte
	cfg  *Config // the configuration it was last looked at under
	err  error   // why it cannot be used, when it cannot

	mu     sync.Mutex
	stats  map[string]frame.Stats // what the analyser of each content type makes of it
	warned map[string]bool        // warnings given, so each is given once
}

// mediaCache reads each file once per configuration: a file is looked at
// again (its size and time) only under a new configuration, and read
// again only when those changed.
type mediaCache struct {
	mu    sync.Mutex
	files map[string]*mediaFile
}

// media returns the file at path, read or looked at once under the
// configuration in force.
func (s *Server) media(path string) *mediaFile {
	c := s.cfg()
	mc := &s.dropIn.media
	mc.mu.Lock()
	defer mc.mu.Unlock()
	f := mc.files[path]
	if f != nil && f.cfg == c {
		return f
	}
	fi, err := os.Stat(path)
	switch {
	case err != nil:
	case !fi.Mode().IsRegular():
		err = errors.New("not a regular file")
	case fi.Size() > maxMediaBytes:
		err = fmt.Errorf("larger than %d MiB", maxMediaBytes>>20)
	case fi.Size() == 0:
		err = errors.New("empty")
	}
	if err == nil && f != nil && f.err == nil && f.mod.Equal(fi.ModTime()) && f.size == fi.Size() {
		f.cfg = c
		return f
	}
	nf := &mediaFile{path: path, cfg: c, err: err, stats: map[string]frame.Stats{}, warned: map[string]bool{}}
	if err == nil {
		nf.mod, nf.size = fi.ModTime(), fi.Size()
		nf.data, nf.err = os.ReadFile(path)
	}
	if mc.files == nil {
		mc.files = map[string]*mediaFile{}
	}
	mc.files[path] = nf
	return nf
}

// analysis is what the analyser for contentType finds in the file,
// worked out once.
func (f *mediaFile) analysis(contentType string) frame.Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.stats[contentType]
	if !ok {
		an := frame.NewAnalyzer(contentType)
		an.Feed(f.data)
		st = an.Stats()
		f.stats[contentType] = st
	}
	return st
}

// warn emits a warning about the file once.
func (s *Server) warnMedia(f *mediaFile, mount, msg string) {
	f.mu.Lock()
	seen := f.warned[mount+"\x00"+msg]
	f.warned[mount+"\x00"+msg] = true
	f.mu.Unlock()
	if !seen {
		s.Emit(Event{Type: EventWarning, Level: slog.LevelWarn, Mount: mount, Detail: f.path, Message: mount + ": " + msg})
	}
}

// introPath is where a mount's intro is: an absolute path that exists
// as it is, else (as Icecast has it) the path under the webroot.
func introPath(c *Config, name string) string {
	if filepath.IsAbs(name) {
		if _, err := os.Stat(name); err == nil || c.Webroot == "" {
			return name
		}
	}
	if c.Webroot == "" {
		return name
	}
	return filepath.Join(c.Webroot, filepath.FromSlash(name))
}

// checkIntros reads every configured intro, warning about those that
// cannot be sent: the check at load (New; a reload should call it too).
func (s *Server) checkIntros() {
	c := s.cfg()
	for name, mc := range c.Mounts {
		if mc.Intro == "" {
			continue
		}
		if f := s.media(introPath(c, mc.Intro)); f.err != nil {
			s.warnMedia(f, name, fmt.Sprintf("intro %s not sent: %v", f.path, f.err))
		}
	}
}

// introUnfit says why an intro analysed as the mount's content type does
// not fit the live stream ("" when it does): it must be frames of that
// type, and of the source's codec, sample rate and channels where both
// are known.
func introUnfit(in, live frame.Stats, contentType string) string {
	if !frame.Known(contentType) {
		return "" // relayed as opaque bytes: nothing to check it against
	}
	switch {
	case in.Frames == 0 || in.SkippedBytes*10 > in.Bytes:
		return "is not " + contentType
	case in.Codec != "" && live.Codec != "" && in.Codec != live.Codec:
		return fmt.Sprintf("is %s, the stream %s", in.Codec, live.Codec)
	case in.SampleRate > 0 && live.SampleRate > 0 && in.SampleRate != live.SampleRate:
		return fmt.Sprintf("is at %d Hz, the stream at %d Hz", in.SampleRate, live.SampleRate)
	case in.Channels > 0 && live.Channels > 0 && in.Channels != live.Channels:
		return fmt.Sprintf("has %d channels, the stream %d", in.Channels, live.Channels)
	}
	return ""
}

// sendIntro writes the response head and the requested mount's intro to
// a new listener, on the listener's own goroutine before it joins a
// shard (the fan-out never sees the intro), and then places it in the
// live stream at a frame boundary. *head becomes nil once written; it
// reports false when the listener is gone, its ending recorded. Without
// an intro, or with one that does not fit, it does nothing.
func (s *Server) sendIntro(l *listener, req *http.Request, head *[]byte) bool {
	c := s.cfg()
	m := l.mount
	name := c.Mounts[s.aliased(req.URL.Path)].Intro
	if name == "" {
		return true
	}
	f := s.media(introPath(c, name))
	if f.err != nil {
		s.warnMedia(f, m.name, fmt.Sprintf("intro %s not sent: %v", f.path, f.err))
		return true
	}
	m.mu.Lock()
	ct, src, full := m.contentType, m.source, m.maxListeners() > 0 && len(m.listeners) >= m.maxListeners()
	m.mu.Unlock()
	if full {
		return true // refused in a moment, with a status the intro would have preceded
	}
	var live frame.Stats
	if src != nil {
		src.mu.Lock()
		live = src.stats
		src.mu.Unlock()
	}
	if why := introUnfit(f.analysis(ct), live, ct); why != "" {
		s.warnMedia(f, m.name, fmt.Sprintf("intro %s not sent: it %s", f.path, why))
		return true
	}
	if err := s.writeIntro(l, *head, f.data); err != nil {
		reason := ReasonWriteError
		switch {
		case isClosedErr(err):
			reason = ReasonClientClosed
		case errors.Is(err, os.ErrDeadlineExceeded):
			reason = ReasonTimeout
		}
		dur, sent := time.Since(l.connectedAt()), l.bytesSent.Load()
		s.finish(l.conn, ending{kind: KindListener, reason: reason, level: slog.LevelInfo, event: EventListenerLeft, mount: m.name, addr: l.addr,
			message: fmt.Sprintf("listener %s left %s during its intro: %s after %s, %d bytes", l.addr, m.name, reason, dur.Round(time.Second), sent),
			request: l.request, referer: l.referer, ua: l.ua, status: http.StatusOK, bytes: sent, dur: dur})
		return false
	}
	*head = nil
	st := m.startFor(int(m.burst.Load()))
	l.pending[0], l.pending[1] = nil, st.headers
	l.placeAt(st)
	return true
}

// introPiece bounds each write of an intro, so that the write timeout
// counts from the last progress, as the shards' does.
const introPiece = 16 << 10

// writeIntro writes head and intro to the listener's connection with ICY
// blocks spliced in as the shards do, leaving the listener's metadata
// count where the intro ends.
func (s *Server) writeIntro(l *listener, head, intro []byte) error {
	m := l.mount
	timeout := s.cfg().WriteTimeout
	write := func(b []byte) error {
		_ = l.conn.SetWriteDeadline(time.Now().Add(timeout))
		n, err := l.conn.Write(b)
		l.bytesSent.Add(uint64(n))
		m.bytesOut.Add(uint64(n))
		s.bytesOut.Add(uint64(n))
		return err
	}
	defer l.conn.SetWriteDeadline(time.Time{}) // the shard's writes are non-blocking
	if err := write(head); err != nil {
		return err
	}
	for len(intro) > 0 {
		n := min(len(intro), introPiece)
		if l.icy {
			n = min(n, l.metaLeft)
		}
		if err := write(intro[:n]); err != nil {
			return err
		}
		intro = intro[n:]
		if !l.icy {
			continue
		}
		if l.metaLeft -= n; l.metaLeft == 0 {
			blk := m.meta.Load()
			b := blk.bytes
			if blk.gen == l.metaGen {
				b = zeroMeta
			}
			l.metaGen = blk.gen
			if err := write(b); err != nil {
				return err
			}
			l.metaLeft = m.metaInt
		}
	}
	return nil
}
