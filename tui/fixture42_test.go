package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/engine/frame"
)

// fixture42 is the operator's station of the issue: 42 mounts (14
// channels in MP3, AAC and Opus) and 2,000 listeners, with the troubles
// the table must show without selecting a mount: a garbage source that
// just connected (sync losses, skipped bytes), CRC errors, a source far
// from real time, a stalled one, a silent one, one in grace. Every value
// follows from the mount's index, so screens are the same on every run.
func fixture42() engine.Snapshot {
	channels := []string{"ambient", "blues", "classic", "country", "dance", "folk", "jazz", "kids", "latin", "live", "metal", "news", "soul", "talk"}
	titles := []string{"Nina Simone - Sinnerman", "Miles Davis - So What", "Aphex Twin - Xtal", "Dolly Parton - Jolene", "Daft Punk - Around the World",
		"Joni Mitchell - River", "Bill Evans - Peace Piece", "", "Celia Cruz - La Vida Es un Carnaval", "Live from the Blue Room - second set, the long improvised one",
		"Sepultura - Roots Bloody Roots", "Headlines at noon", "Aretha Franklin - Respect", "Morning talk"}
	uas := []string{"VLC/3.0.20 LibVLC/3.0.20", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", "curl/8.5.0", "mpv 0.37.0", "iTunes/12.12 (Macintosh)"}
	type kind struct {
		ext, ct, codec, container string
		rate                      int
		hz                        int
	}
	kinds := []kind{
		{".aac", "audio/aac", "AAC-LC", "adts", 64000, 48000},
		{".mp3", "audio/mpeg", "MP3", "mpeg", 128000, 44100},
		{".opus", "audio/ogg", "Opus", "ogg", 96000, 48000},
	}
	var mounts []engine.MountSnapshot
	total, id := 0, uint64(1000)
	for ci, ch := range channels {
		for ki, k := range kinds {
			i := ci*3 + ki
			name := "/" + ch + k.ext
			n := (i*37)%31 + 3 // 3..33 listeners; the rest goes to /live.mp3
			if name == "/live.mp3" {
				n = 0
			}
			ms := engine.MountSnapshot{
				Name: name, State: engine.StateLive, ContentType: k.ct, Title: titles[ci],
				ListenerCount: n, ListenerPeak: n + i%9, BytesOut: uint64(n) * 16000 * 3600,
				Source: &engine.SourceSnapshot{
					ID: uint64(i + 1), Addr: fmt.Sprintf("203.0.113.%d:%d", 10+i, 50000+i), UserAgent: "Lavf/60.16.100", Method: "PUT",
					Connected: t0.Add(-time.Duration(3600+i*97) * time.Second), ContentType: k.ct, Known: true,
					Ice:     engine.IceInfo{Name: strings.ToUpper(ch[:1]) + ch[1:] + " Radio", Bitrate: k.rate},
					BytesIn: uint64(k.rate/8) * 3600, SHA256: strings.Repeat(fmt.Sprintf("%02x", i), 32), LastData: t0.Add(-40 * time.Millisecond),
					Bitrate1s: k.rate - 400, Bitrate10s: k.rate, Realtime: 1.0,
					Frames: frame.Stats{Container: k.container, Codec: k.codec, SampleRate: k.hz, Channels: 2, Bitrate: k.rate,
						Frames: uint64(3600 * 38), Duration: time.Hour, Streams: 1},
				},
			}
			switch name {
			case "/dance.mp3": // a garbage source, connected 40 s ago
				ms.Source.Connected = t0.Add(-40 * time.Second)
				ms.Source.Frames.SyncLosses, ms.Source.Frames.SkippedBytes = 39, 48213
				ms.Title = ""
			case "/folk.aac":
				ms.Source.Connected = t0.Add(-50 * time.Second)
				ms.Source.Frames.CRCErrors = 3
			case "/latin.opus":
				ms.Source.Realtime = 0.82
			case "/metal.mp3":
				ms.State, ms.Source.Stalled, ms.Source.Stalls, ms.Source.Bitrate1s = engine.StateStalled, true, 4, 0
			case "/news.aac":
				ms.State, ms.SilentSince = engine.StateSilent, t0.Add(-25*time.Second)
			case "/talk.opus":
				ms.State, ms.Source, ms.GraceUntil = engine.StateGrace, nil, t0.Add(12*time.Second)
			}
			mounts = append(mounts, ms)
			total += n
		}
	}
	// /live.mp3 carries the rest of the 2,000; every listener is listed.
	for i := range mounts {
		ms := &mounts[i]
		if ms.Name == "/live.mp3" {
			ms.ListenerCount = 2000 - total
			ms.ListenerPeak = ms.ListenerCount + 12
			total += ms.ListenerCount
		}
		ms.Listeners = make([]engine.ListenerSnapshot, ms.ListenerCount)
		for j := range ms.Listeners {
			id++
			ms.Listeners[j] = engine.ListenerSnapshot{
				ID: id, Addr: fmt.Sprintf("192.0.2.%d:%d", 10+j%200, 40000+j), UserAgent: uas[j%len(uas)],
				Connected: t0.Add(-time.Duration(j*j%7200+5) * time.Second), BytesSent: uint64(16000 * (j*j%7200 + 5)),
				Lag: int64(j % 5 * 4096), ICY: j%2 == 0,
			}
		}
	}
	sources := 0
	for _, ms := range mounts {
		if ms.Source != nil {
			sources++
		}
	}
	return engine.Snapshot{
		Time: t0, Started: t0.Add(-(5*time.Hour + 4*time.Minute)), Addrs: []string{"[::]:8000"}, ServerID: "icedeck",
		Sources: sources, Listeners: total, BytesIn: 2 << 30, BytesOut: 90 << 30,
		Mounts: mounts,
	}
}
