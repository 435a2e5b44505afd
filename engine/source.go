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
	stallGap = 500 * time.Millisecond // a gap this long counts as a stall
	// stalledAfter is how long a source must be silent before its mount is
	// shown as stalled: longer than stallGap, because Ogg muxers send a page
	// per second and that is healthy.
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

	mu         sync.Mutex
	hash       hash.Hash
	stats      frame.Stats
	lastData   time.Time
	stalls     int
	longestGap time.Duration
	secBytes   [historySecs]uint64
	secStamp   [historySecs]int64
}

func (src *source) kick(r Reason) {
	src.kicked.CompareAndSwap(nil, &r)
	_ = src.conn.Close()
}

// ingest reads the stream until it ends, publishing each read as a chunk.
// It reads straight into shared slabs, so the audio is copied once: from
// the kernel into the mount's memory.
func (s *Server) ingest(src *source) Reason {
	m := src.mount
	var slab []byte
	off := 0
	first := true
	var lastGen uint64 // the analyzer's header generation; the mount keeps its own
	for {
		if len(slab)-off < minRead {
			slab, off = make([]byte, slabSize), 0
		}
		_ = src.conn.SetReadDeadline(time.Now().Add(s.cfg.SourceTimeout))
		n, err := src.body.Read(slab[off:])
		if n > 0 {
			data := slab[off : off+n : off+n]
			off += n
			sync := src.an.Feed(data)
			if hdr, gen := src.an.Headers(); gen != lastGen {
				lastGen = gen
				m.hdrs.Store(&headerSet{gen: m.headerGen() + 1, pages: hdr})
			}
			m.publish(&chunk{data: data, sync: int32(sync), gen: m.headerGen(), first: first})
			first = false
			s.bytesIn.Add(uint64(n))
			src.account(data)
		}
		if err != nil {
			if r := src.kickReason(); r != "" {
				return r
			}
			switch {
			case errors.Is(err, io.EOF):
				return ReasonClientClosed
			case errors.Is(err, os.ErrDeadlineExceeded):
				return ReasonTimeout
			case isClosedErr(err):
				return ReasonClientClosed
			default:
				return ReasonReadError
			}
		}
	}
}

func (src *source) kickReason() Reason {
	if r := src.kicked.Load(); r != nil {
		return *r
	}
	return ""
}

func (src *source) account(data []byte) {
	now := time.Now()
	src.mu.Lock()
	src.hash.Write(data)
	if !src.lastData.IsZero() {
		if gap := now.Sub(src.lastData); gap > stallGap {
			src.stalls++
			src.longestGap = max(src.longestGap, gap)
		} else if gap > src.longestGap {
			src.longestGap = gap
		}
	}
	src.lastData = now
	sec := now.Unix()
	i := sec % historySecs
	if src.secStamp[i] != sec {
		src.secStamp[i], src.secBytes[i] = sec, 0
	}
	src.secBytes[i] += uint64(len(data))
	old := src.stats.Title
	src.stats = src.an.Stats()
	title := src.stats.Title
	src.mu.Unlock()
	if title != "" && title != old {
		src.mount.srv.setTitle(src.mount, title, "", "in-band")
	}
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
	ice := IceInfo{
		Name:        get("Ice-Name"),
		Description: get("Ice-Description"),
		URL:         get("Ice-Url"),
		Genre:       get("Ice-Genre"),
		Public:      get("Ice-Public"),
		AudioInfo:   get("Ice-Audio-Info"),
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
	if b, err := strconv.Atoi(strings.TrimSpace(get("Ice-Bitrate"))); err == nil && b > 0 {
		ice.Bitrate = b * 1000
	}
	return ice
}
