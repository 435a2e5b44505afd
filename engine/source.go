package engine

import (
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/icedeck/icedeck/engine/frame"
)

const (
	slabSize = 64 << 10
	minRead  = 4 << 10
	// A stall is the source falling behind real time: listeners would
	// have waited stallGap for audio. Gaps are judged against the audio
	// the source had sent ahead (its credit), so an Ogg muxer's page a
	// second, each carrying a second of audio, is healthy; credit is
	// capped so that a source running a little fast for hours still
	// shows a real stall.
	stallGap  = 500 * time.Millisecond
	maxCredit = 5 * time.Second
	// stalledAfter is how long a source that cannot be timed (an opaque
	// stream) must be silent to count as stalled.
	stalledAfter = 2 * time.Second
	historySecs  = 600
)

// source is a connected source client and the instrumentation of what it
// sent. Stats fields are guarded by mu; the read loop is the only writer.
type source struct {
	id          uint64
	conn        net.Conn
	body        io.Reader // the request's bufio.Reader, de-chunked when the client chunks
	mount       *mount
	method      string
	request     string // request line, for the access log
	addr, ua    string
	contentType string
	known       bool
	headers     map[string]string
	ice         IceInfo
	connected   time.Time
	an          frame.Analyzer
	kicked      atomic.Pointer[Reason]
	hold        time.Duration // keep listeners at least this long when it ends (relays reconnect)
	fault       SourceFault   // the test bench's misbehaviour (fault.go)

	mu         sync.Mutex
	hash       hash.Hash
	stats      frame.Stats
	lastData   time.Time
	credit     time.Duration // audio received ahead of the clock at lastData
	stalls     int
	longestGap time.Duration
	secBytes   [historySecs]uint64
	secStamp   [historySecs]int64
}

func (src *source) kick(r Reason) {
	src.kicked.CompareAndSwap(nil, &r)
	_ = src.conn.Close()
}

// A source's reads become chunks of at least minPublish bytes, or of
// whatever arrived within maxHold of the last chunk: how a client segments
// its writes must not matter. A source sending 1-byte segments filled the ring's slots in
// a third of a second, and a listener of a big shard, which takes at most
// maxVecs chunks a sweep, starved. At most 1/maxHold small chunks a second
// stay well inside both.
const (
	minPublish = 1 << 10
	maxHold    = 10 * time.Millisecond
)

// piece is one read from a source: a run of a slab whose capacity reaches
// to the slab's end, so that adjacent pieces join without a copy.
type piece struct {
	data []byte
	err  error
}

// readPieces reads the source's body into shared slabs, so the audio is
// copied once: from the kernel into the mount's memory. It ends after
// handing on the read that failed.
func (s *Server) readPieces(src *source, out chan<- piece) {
	var slab []byte
	off := 0
	limit := s.newSourceLimit(src) // the mount's limit-rate
	body := s.faulty(src)          // the test bench's close or stall (fault.go)
	for {
		if len(slab)-off < minRead {
			slab, off = make([]byte, slabSize), 0
		}
		_ = src.conn.SetReadDeadline(time.Now().Add(s.cfg().SourceTimeout))
		n, err := body.Read(limit.window(slab[off:]))
		out <- piece{data: slab[off : off+n], err: err}
		off += n
		limit.took(n)
		if err != nil {
			return
		}
	}
}

// ingest publishes the source's stream as chunks until it ends.
func (s *Server) ingest(src *source) Reason {
	m := src.mount
	pieces := make(chan piece, 1) // the reader's last send never blocks
	go s.readPieces(src, pieces)
	hold := time.NewTimer(maxHold)
	hold.Stop()
	var pend []byte       // read, not yet published; one run of one slab
	pendSync := int32(-1) // first start point in pend for the current header generation
	first := true
	var lastGen uint64 // the analyzer's header generation; the mount keeps its own
	var lastPub time.Time
	held := false
	flush := func() {
		if len(pend) == 0 {
			return
		}
		if held {
			hold.Stop()
			held = false
		}
		m.publish(&chunk{data: pend[:len(pend):len(pend)], sync: pendSync, gen: m.headerGen(), first: first})
		first = false
		pend, pendSync = nil, -1
		lastPub = time.Now()
	}
	for {
		var p piece
		select {
		case p = <-pieces:
		case <-hold.C:
			held = false
			flush()
			continue
		}
		if n := len(p.data); n > 0 {
			if len(pend) > 0 && !adjacent(pend, p.data) {
				flush()
			}
			sync := src.an.Feed(p.data)
			if hdr, gen := src.an.Headers(); gen != lastGen {
				lastGen = gen
				m.hdrs.Store(&headerSet{gen: m.headerGen() + 1, pages: hdr})
				// What came before belongs to the previous generation: a
				// reader of the new one must not start there.
				pendSync = -1
			}
			if sync >= 0 && pendSync < 0 {
				pendSync = int32(len(pend) + sync)
			}
			if len(pend) == 0 {
				pend = p.data
			} else {
				pend = pend[:len(pend)+n]
			}
			s.bytesIn.Add(uint64(n))
			src.account(p.data[:n:n])
			// A small piece waits only when the last chunk went out less
			// than maxHold ago: a source writing frames at their pace has
			// each published at once, a flood of tiny writes is gathered.
			switch since := time.Since(lastPub); {
			case len(pend) >= minPublish || since >= maxHold:
				flush()
			case !held:
				hold.Reset(maxHold - since)
				held = true
			}
		}
		if p.err != nil {
			flush()
			if r := src.kickReason(); r != ReasonNone {
				return r
			}
			switch {
			case errors.Is(p.err, io.EOF):
				return ReasonClientClosed
			case errors.Is(p.err, os.ErrDeadlineExceeded):
				return ReasonTimeout
			case isClosedErr(p.err):
				return ReasonClientClosed
			default:
				return ReasonReadError
			}
		}
	}
}

// adjacent says b starts where a ends, in the same slab.
func adjacent(a, b []byte) bool {
	return len(b) > 0 && cap(a) > len(a) && &a[:len(a)+1][len(a)] == &b[0]
}

func (src *source) kickReason() Reason {
	if r := src.kicked.Load(); r != nil {
		return *r
	}
	return ReasonNone
}

func (src *source) account(data []byte) {
	now := time.Now()
	src.mu.Lock()
	src.hash.Write(data)
	oldDur, oldTitle := src.stats.Duration, src.stats.Title
	src.stats = src.an.Stats()
	if !src.lastData.IsZero() {
		gap := now.Sub(src.lastData)
		src.longestGap = max(src.longestGap, gap)
		switch {
		case oldDur > 0: // timed: judged against the audio sent ahead
			if gap-src.credit > stallGap {
				src.stalls++
			}
		case src.stats.Duration == 0: // nothing to time the stream by
			if gap > stalledAfter {
				src.stalls++
			}
		}
		// (The gap before a stream's first timed audio is its encoder's
		// start-up, not a fall behind real time.)
		src.credit = max(0, src.credit-gap)
	}
	src.lastData = now
	src.credit = min(src.credit+src.stats.Duration-oldDur, maxCredit)
	sec := now.Unix()
	i := sec % historySecs
	if src.secStamp[i] != sec {
		src.secStamp[i], src.secBytes[i] = sec, 0
	}
	src.secBytes[i] += uint64(len(data))
	title := src.stats.Title
	src.mu.Unlock()
	if title != "" && title != oldTitle {
		src.mount.srv.setTitle(src.mount, title, "", "in-band")
	}
}

// stalledAt says whether listeners are waiting for audio at now; mu held.
func (src *source) stalledAt(now time.Time) bool {
	switch {
	case src.lastData.IsZero():
		return false
	case src.stats.Duration > 0:
		return now.Sub(src.lastData)-src.credit > stallGap
	}
	return now.Sub(src.lastData) > stalledAfter
}

// bytesAt returns the bytes received in the whole second sec.
func (src *source) bytesAt(sec int64) uint64 {
	i := sec % historySecs
	if src.secStamp[i] != sec {
		return 0
	}
	return src.secBytes[i]
}

func (src *source) snapshot(now time.Time) *SourceSnapshot {
	src.mu.Lock()
	defer src.mu.Unlock()
	ss := &SourceSnapshot{
		ID: src.id, Addr: src.addr, UserAgent: src.ua, Method: src.method,
		Connected: src.connected, ContentType: src.contentType, Known: src.known,
		Headers: src.headers, Ice: src.ice, BytesIn: src.stats.Bytes, SHA256: sumSoFar(src.hash),
		LastData: src.lastData, Stalls: src.stalls, LongestGap: src.longestGap, Frames: src.stats,
		Stalled: src.stalledAt(now),
	}
	// Whole seconds only: the current one is still filling.
	cur := now.Unix()
	start := src.connected.Unix()
	ss.Bitrate1s = int(src.bytesAt(cur-1) * 8)
	var sum uint64
	span := int64(0)
	for s := cur - 1; s >= cur-10 && s >= start; s-- {
		sum += src.bytesAt(s)
		span++
	}
	if span > 0 {
		ss.Bitrate10s = int(sum * 8 / uint64(span))
	}
	from := max(start, cur-historySecs+1)
	if cur-from > 0 {
		ss.History = make([]int, 0, cur-from)
		for s := from; s < cur; s++ {
			ss.History = append(ss.History, int(src.bytesAt(s)*8))
		}
	}
	if wall := now.Sub(src.connected); wall > 0 && src.stats.Duration > 0 {
		ss.Realtime = src.stats.Duration.Seconds() / wall.Seconds()
	}
	return ss
}

// sumSoFar returns the hex SHA-256 of what h has seen, leaving h as it is.
func sumSoFar(h hash.Hash) string {
	state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return ""
	}
	c := sha256.New()
	if err := c.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		return ""
	}
	return hex.EncodeToString(c.Sum(nil))
}

// parseIce collects what a source declares about its stream.
func parseIce(get func(string) string) IceInfo {
	first := func(names ...string) string {
		for _, n := range names {
			if v := CleanText(get(n)); v != "" {
				return v
			}
		}
		return ""
	}
	// Icecast's order of preference; a relay's upstream answers with icy-*.
	ice := IceInfo{
		Name:        first("Ice-Name", "Icy-Name", "X-Audiocast-Name"),
		Description: first("Ice-Description", "Icy-Description", "X-Audiocast-Description"),
		URL:         first("Ice-Url", "Icy-Url", "X-Audiocast-Url"),
		Genre:       first("Ice-Genre", "Icy-Genre", "X-Audiocast-Genre"),
		Public:      first("Ice-Public", "Icy-Pub", "X-Audiocast-Public", "Icy-Public"),
		AudioInfo:   first("Ice-Audio-Info"),
	}
	for _, kv := range strings.Split(ice.AudioInfo, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		n, _ := strconv.Atoi(v)
		switch strings.ToLower(k) {
		case "ice-samplerate", "samplerate":
			ice.SampleRate = n
		case "ice-channels", "channels":
			ice.Channels = n
		case "ice-bitrate", "bitrate":
			ice.Bitrate = n * 1000
		}
	}
	if b, err := strconv.Atoi(first("Ice-Bitrate", "Icy-Br", "X-Audiocast-Bitrate")); err == nil && b > 0 {
		ice.Bitrate, ice.BitrateStated = b*1000, true
	}
	return ice
}
