package engine

import (
	"crypto/sha256"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/icedeck/icedeck/engine/frame"
)

// File fallbacks, as icecast-kh has them: a mount's fallback may name a
// file under the webroot ("/fallback.mp3", or "/fallback-[128].mp3" to
// give its rate in kbit/s). Listeners of the mount get the file, looped
// at its rate, while the mount has no source, and go back when one
// connects, as from a fallback mount.
//
// The file is played by an internal source on a hidden mount named as the
// fallback: a goroutine writes the file, paced, into one end of a pipe
// whose other end the ordinary source path reads. So analysis, bursts,
// ICY metadata, moves and statistics are those of every mount. It runs
// while listeners are on it, and ends fileIdle after the last one left.

// fileMethod is how a file fallback's source shows (SourceSnapshot.Method).
const fileMethod = "FILE"

const (
	fileIdle = 10 * time.Second
	// filePace is how much of the file is written at a time.
	filePace = 100 * time.Millisecond
)

// fileFeeds are the file fallbacks playing, by mount.
type fileFeeds struct {
	mu    sync.Mutex
	feeds map[string]*fileFeed
}

type fileFeed struct {
	lastJoin atomic.Int64 // unix ns a listener was last sent here
}

// isFileSource reports a file fallback's internal source.
func isFileSource(src *source) bool { return src != nil && src.method == fileMethod }

// fileRate is the rate a fallback file is played at, in bytes a second:
// the kbit/s in its name's brackets ("/file-[128].mp3"), else a limit
// rate configured for its name, else its frames' bitrate, else its length
// over its duration; 0 when none is known.
func fileRate(name string, limitRate int, st frame.Stats) int {
	if i := strings.LastIndex(name, "["); i >= 0 {
		if j := strings.Index(name[i:], "]"); j > 0 {
			if k, err := strconv.Atoi(name[i+1 : i+j]); err == nil && k > 0 && k <= 100000 {
				return k * 1000 / 8
			}
		}
	}
	switch {
	case limitRate > 0:
		return limitRate / 8
	case st.Bitrate > 0:
		return st.Bitrate / 8
	case st.Duration > 0:
		return int(float64(st.Bytes) / st.Duration.Seconds())
	}
	return 0
}

// fileFallback returns the playing file fallback named name, starting
// it if the file exists under the webroot; nil when there is none.
// contentType, when not "", is the type the file must be.
func (s *Server) fileFallback(name, contentType string) *mount {
	c := s.cfg()
	if c.Webroot == "" || CheckMountName(name) != nil {
		return nil
	}
	if m := s.lookup(name); m != nil {
		m.mu.Lock()
		file := isFileSource(m.source)
		m.mu.Unlock()
		if file && s.stampFile(name) {
			return m
		}
		return nil // a mount of that name, not a file: fallbackFor's business
	}
	f := s.media(filepath.Join(c.Webroot, filepath.FromSlash(name)))
	if f.err != nil {
		return nil // no such file: not a file fallback
	}
	ct := frame.TypeOfFile(name)
	switch {
	case ct == "":
		s.warnMedia(f, name, fmt.Sprintf("fallback file %s not played: its type is unknown (the extension says it)", f.path))
		return nil
	case contentType != "" && ct != contentType: // as fallbackFor compares them
		s.warnMedia(f, name, fmt.Sprintf("fallback file %s not played: it is %s, the stream %s", f.path, ct, contentType))
		return nil
	}
	st := f.analysis(ct)
	rate := fileRate(name, c.Mounts[name].LimitRate, st)
	if rate <= 0 {
		s.warnMedia(f, name, fmt.Sprintf("fallback file %s not played: no rate to play it at (give it in the name: /file-[128].mp3)", f.path))
		return nil
	}
	// The feed is noted first, so that a listener sent here while it
	// starts finds it; one starting it at the same time shares it.
	s.dropIn.files.mu.Lock()
	if s.dropIn.files.feeds == nil {
		s.dropIn.files.feeds = map[string]*fileFeed{}
	}
	ff := s.dropIn.files.feeds[name]
	if ff == nil {
		ff = &fileFeed{}
		s.dropIn.files.feeds[name] = ff
	}
	ff.lastJoin.Store(time.Now().UnixNano())
	s.dropIn.files.mu.Unlock()
	end, pipe := net.Pipe()
	src := &source{
		id: s.nextID.Add(1), conn: end, body: end, method: fileMethod, addr: "file", ua: "icedeck file fallback",
		contentType: ct, known: frame.Known(ct), headers: map[string]string{}, connected: time.Now(),
		an: frame.NewAnalyzer(ct), hash: sha256.New(),
	}
	m, why, _ := s.attachSource(src, name)
	if m == nil {
		pipe.Close()
		end.Close()
		if why == ReasonMountBusy { // started by another listener just now
			return s.fileFallback(name, contentType)
		}
		return nil
	}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		s.detachSource(src, s.ingest(src))
		s.dropIn.files.mu.Lock()
		if s.dropIn.files.feeds[name] == ff {
			delete(s.dropIn.files.feeds, name)
		}
		s.dropIn.files.mu.Unlock()
	}()
	go func() {
		defer s.wg.Done()
		defer pipe.Close()
		s.playFile(src, ff, f.data, rate, pipe)
	}()
	return m
}

// stampFile notes that a listener is being sent to the file fallback
// name, so that it is not ended as idle under it; false when it is
// ending.
func (s *Server) stampFile(name string) bool {
	s.dropIn.files.mu.Lock()
	defer s.dropIn.files.mu.Unlock()
	ff := s.dropIn.files.feeds[name]
	if ff == nil {
		return false
	}
	ff.lastJoin.Store(time.Now().UnixNano())
	return true
}

// playFile writes data over and over into w at rate bytes a second, a
// burst ahead so that the first listener starts at once, until the
// source is ended or fileIdle has passed with nobody listening.
func (s *Server) playFile(src *source, ff *fileFeed, data []byte, rate int, w net.Conn) {
	m := src.mount
	piece := max(rate*int(filePace/time.Millisecond)/1000, 512)
	ahead := int(m.burst.Load())
	start := time.Now()
	sent, pos := 0, 0
	for src.kickReason() == ReasonNone {
		due := start.Add(time.Duration(float64(sent-ahead) / float64(rate) * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		m.mu.Lock()
		idle := len(m.listeners) == 0
		m.mu.Unlock()
		if idle && time.Since(time.Unix(0, ff.lastJoin.Load())) > fileIdle {
			s.dropIn.files.mu.Lock() // no listener is being sent here from now on
			if s.dropIn.files.feeds[m.name] == ff {
				delete(s.dropIn.files.feeds, m.name)
			}
			s.dropIn.files.mu.Unlock()
			src.kick(ReasonIdle)
			return
		}
		n := min(piece, len(data)-pos)
		if _, err := w.Write(data[pos : pos+n]); err != nil {
			return
		}
		sent += n
		pos = (pos + n) % len(data)
	}
}

// fallbackListen is where a listener asking for a mount that has no
// source goes, as Icecast sends it: the first live mount on the mount's
// fallback chain, or a fallback file; nil for none.
func (s *Server) fallbackListen(name string) *mount {
	c := s.cfg()
	next := c.Mounts[name].Fallback
	for depth := 0; next != "" && depth < 16; depth++ {
		if m := s.lookup(next); m != nil && !m.ended.Load() && !isFileSourceOf(m) {
			return m
		}
		if m := s.fileFallback(next, ""); m != nil {
			return m
		}
		next = c.Mounts[next].Fallback
	}
	return nil
}

func isFileSourceOf(m *mount) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return isFileSource(m.source)
}

// startFileFallback starts the fallback file m's listeners are to move
// to when its source has gone, when its chain leads to one before any
// live mount, so that fallbackFor finds it playing.
func (s *Server) startFileFallback(m *mount) {
	c := s.cfg()
	m.mu.Lock()
	next, ct := m.cfg.Fallback, m.contentType
	m.mu.Unlock()
	for depth := 0; next != "" && depth < 16; depth++ {
		if fb := s.lookup(next); fb != nil && fb != m && !fb.ended.Load() && !isFileSourceOf(fb) {
			return
		}
		if s.fileFallback(next, ct) != nil {
			return
		}
		next = c.Mounts[next].Fallback
	}
}

// listenerSettings applies the requested mount's settings to a new listener on
// m: the way back when m is a fallback it was sent to, and the time it
// may stay (max-listener-duration).
func (s *Server) listenerSettings(l *listener, requested string) {
	mc := s.cfg().Mounts[requested]
	if l.mount.name != requested && !mc.FallbackStay {
		l.home = requested
	}
	if mc.MaxListenerDuration > 0 {
		l.until = l.connected + int64(mc.MaxListenerDuration)
	}
}
