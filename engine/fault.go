package engine

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// SourceFault is misbehaviour the engine puts on for one source request,
// so that a source client's author can see what the client does when a
// server refuses it, drops it, stops reading or answers the old way (the
// test bench's --fault). The zero value is the engine's own behaviour.
type SourceFault struct {
	// Refuse answers with this status (401, 403, 404, 503…) instead of
	// accepting the source; 0 accepts it.
	Refuse int
	// CloseAfter, when above 0, drops the connection once that many bytes
	// of the stream have been read (unread bytes are lost, as when a
	// server goes away).
	CloseAfter int64
	// Stall, when above 0, stops reading for that long once StallAfter
	// bytes have been read: the client must wait, not lose data.
	StallAfter int64
	Stall      time.Duration
	// Rate reads at most this many bytes a second (0: no limit), paced as
	// a mount's limit-rate is.
	Rate int
	// NoContinue ignores Expect: 100-continue: the client is told nothing
	// and must start sending on its own.
	NoContinue bool
	// HTTP10 answers a client that asked for 100 Continue as an HTTP/1.0
	// server would: a final 200 at once, no 100.
	HTTP10 bool
}

// sourceFault asks Config.SourceFaults what to do with an authenticated
// source request for mount.
func (s *Server) sourceFault(mount string) SourceFault {
	if f := s.cfg().SourceFaults; f != nil {
		return f(mount)
	}
	return SourceFault{}
}

// refusalHeader is what goes with a Refuse answer: a 401 challenges, as
// a real refusal of credentials does.
func (f SourceFault) refusalHeader() []string {
	if f.Refuse == http.StatusUnauthorized {
		return []string{"WWW-Authenticate", `Basic realm="icedeck"`}
	}
	return nil
}

// continueAnswer is what a client that sent Expect: 100-continue is told
// before it streams; answer is the final 200.
func (f SourceFault) continueAnswer(answer string) string {
	switch {
	case f.NoContinue:
		return ""
	case f.HTTP10:
		return answer
	}
	return "HTTP/1.1 100 Continue\r\n\r\n" + answer
}

// limitRate is the rate src's reads are held to, in bits a second: its
// mount's limit-rate, or a slow fault's when that is lower.
func (src *source) limitRate() int {
	r := src.mount.settings().LimitRate
	if f := src.fault.Rate * 8; f > 0 && (r <= 0 || f < r) {
		r = f
	}
	return r
}

// errFaultClosed ends the reads of a source dropped by a CloseAfter fault.
var errFaultClosed = errors.New("dropped by a fault")

// faulty returns the reader of src's stream, with its CloseAfter and Stall
// applied when it has them.
func (s *Server) faulty(src *source) io.Reader {
	if src.fault.CloseAfter <= 0 && src.fault.Stall <= 0 {
		return src.body
	}
	return &faultReader{s: s, src: src, f: src.fault}
}

// faultReader reads a source's stream, dropping or stalling it once the
// bytes its fault names are read.
type faultReader struct {
	s       *Server
	src     *source
	f       SourceFault
	read    int64 // bytes of the stream read so far
	stalled bool
}

func (fr *faultReader) Read(p []byte) (int, error) {
	src, f := fr.src, fr.f
	if f.CloseAfter > 0 && fr.read >= f.CloseAfter {
		fr.s.Emit(Event{Type: EventWarning, Level: slog.LevelInfo, Mount: src.mount.name, ID: src.id, Addr: src.addr, Reason: ReasonFault, Detail: "close-after",
			Message: fmt.Sprintf("source %d on %s dropped after %d bytes (fault)", src.id, src.mount.name, fr.read)})
		// The session ends here; detachSource closes the connection
		// once the mount is free for the client's next attempt.
		r := ReasonFault
		src.kicked.CompareAndSwap(nil, &r)
		return 0, errFaultClosed
	}
	if f.Stall > 0 && !fr.stalled && fr.read >= f.StallAfter {
		fr.stalled = true
		fr.stall()
	}
	// A read ends at a fault's offset, so that it takes effect after
	// exactly that many bytes.
	for _, at := range [2]int64{f.CloseAfter, f.StallAfter} {
		if left := at - fr.read; left > 0 && left < int64(len(p)) {
			p = p[:left]
		}
	}
	n, err := src.body.Read(p)
	fr.read += int64(n)
	return n, err
}

// stall stops reading for the fault's time, in short steps so that a
// kicked or shut-down source is let go at once.
func (fr *faultReader) stall() {
	src := fr.src
	fr.s.Emit(Event{Type: EventWarning, Level: slog.LevelInfo, Mount: src.mount.name, ID: src.id, Addr: src.addr, Reason: ReasonFault, Detail: "stall",
		Message: fmt.Sprintf("source %d on %s: not read for %s after %d bytes (fault)", src.id, src.mount.name, fr.f.Stall, fr.read)})
	const step = 100 * time.Millisecond
	for end := time.Now().Add(fr.f.Stall); src.kickReason() == ReasonNone; {
		left := time.Until(end)
		if left <= 0 {
			return
		}
		time.Sleep(min(left, step))
	}
}
