package playback

import (
	"math"
	"sync"
	"time"
)

// FloorDB is the lowest level the meter reports: digital silence and
// anything quieter read FloorDB (never -Inf), so callers can draw bars
// without special cases.
const FloorDB = -120.0

// Meter ballistics and thresholds.
const (
	meterWindow      = 50 * time.Millisecond   // peak/RMS integration window
	peakHoldTime     = 1500 * time.Millisecond // how long a peak stays held
	silenceThreshold = -60.0                   // dBFS; a window below this on both channels is silent
	ClipLevel        = 0.999                   // |sample| at or over this counts as a clip (the analysis counts the same)
)

// Levels is a stereo meter reading in dBFS (0 = full scale), index 0 = left.
// PeakDB is the largest |sample| in the last 50 ms window, RMSDB its RMS
// (a full-scale sine reads 0 dBFS peak and -3 dBFS RMS), HoldDB the highest
// peak of the last 1.5 s. All are FloorDB (-120) when silent or idle.
type Levels struct {
	PeakDB, RMSDB, HoldDB [2]float64
}

// meter measures decoded audio before volume. It keeps time in samples,
// so it runs at the pace of whatever consumes the audio (device or clock).
type meter struct {
	mu           sync.Mutex
	rate         int
	win          int // frames per window
	silenceAfter time.Duration

	// current window
	cnt  int
	peak [2]float64
	sum  [2]float64

	// published
	levels      Levels
	hold        [2]float64
	holdAge     [2]int // frames since hold was set
	silentFrame int64  // consecutive frames in silent windows
	clips       uint64
	frames      int64
}

func newMeter(rate int, silenceAfter time.Duration) *meter {
	m := &meter{rate: rate, win: int(int64(rate) * int64(meterWindow) / int64(time.Second)), silenceAfter: silenceAfter}
	m.resetLocked()
	return m
}

func toDB(v float64) float64 {
	if v <= 0 {
		return FloorDB
	}
	return max(20*math.Log10(v), FloorDB)
}

func (m *meter) resetLocked() {
	m.cnt = 0
	m.peak, m.sum = [2]float64{}, [2]float64{}
	m.hold = [2]float64{}
	m.holdAge = [2]int{}
	for c := range 2 {
		m.levels.PeakDB[c], m.levels.RMSDB[c], m.levels.HoldDB[c] = FloorDB, FloorDB, FloorDB
	}
	m.silentFrame, m.clips, m.frames = 0, 0, 0
}

// reset clears all readings (a new stream).
func (m *meter) reset() {
	m.mu.Lock()
	m.resetLocked()
	m.mu.Unlock()
}

// add measures interleaved stereo frames.
func (m *meter) add(pcm []float32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := 0; i+1 < len(pcm); i += 2 {
		for c := range 2 {
			v := float64(pcm[i+c])
			a := math.Abs(v)
			if a > m.peak[c] {
				m.peak[c] = a
			}
			m.sum[c] += v * v
			if a >= ClipLevel {
				m.clips++
			}
		}
		m.cnt++
		if m.cnt == m.win {
			m.publishLocked()
		}
	}
	m.frames += int64(len(pcm) / 2)
}

func (m *meter) publishLocked() {
	silent := true
	for c := range 2 {
		m.levels.PeakDB[c] = toDB(m.peak[c])
		m.levels.RMSDB[c] = toDB(math.Sqrt(m.sum[c] / float64(m.cnt)))
		m.holdAge[c] += m.cnt
		if m.peak[c] >= m.hold[c] || m.holdAge[c] > int(int64(m.rate)*int64(peakHoldTime)/int64(time.Second)) {
			m.hold[c] = m.peak[c]
			m.holdAge[c] = 0
		}
		m.levels.HoldDB[c] = toDB(m.hold[c])
		if m.levels.PeakDB[c] >= silenceThreshold {
			silent = false
		}
	}
	if silent {
		m.silentFrame += int64(m.cnt)
	} else {
		m.silentFrame = 0
	}
	m.cnt = 0
	m.peak, m.sum = [2]float64{}, [2]float64{}
}

type meterReading struct {
	levels    Levels
	silentFor time.Duration
	silent    bool
	clips     uint64
	frames    int64
}

func (m *meter) read() meterReading {
	m.mu.Lock()
	defer m.mu.Unlock()
	sf := time.Duration(m.silentFrame) * time.Second / time.Duration(m.rate)
	return meterReading{levels: m.levels, silentFor: sf, silent: sf >= m.silenceAfter, clips: m.clips, frames: m.frames}
}
