package engine

import (
	"bytes"
	"fmt"
	"testing"
)

// run is a piece of a listener's body: stream[from:to] of one of the
// streams a test sent.
type run struct{ stream, from, to int }

func (r run) String() string { return fmt.Sprintf("stream %d [%d:%d]", r.stream, r.from, r.to) }

// splitRuns explains got as consecutive runs of streams, where every run
// but the first starts on a frame boundary and every run but the last ends
// on one (a listener moved between mounts). Frames of two MP3 streams can
// start with the same header bytes, so where a run ends is searched a few
// bytes back from where the bytes stop agreeing.
func splitRuns(t *testing.T, got []byte, streams [][]byte, starts []map[int]bool) []run {
	t.Helper()
	var try func(p int, first bool, depth int) []run
	try = func(p int, first bool, depth int) []run {
		if p == len(got) {
			return []run{}
		}
		if depth > 6 || len(got)-p < 16 {
			return nil
		}
		probe := got[p : p+16]
		for i, s := range streams {
			for base := 0; ; {
				k := bytes.Index(s[base:], probe)
				if k < 0 {
					break
				}
				from := base + k
				base = from + 1
				if !first && !starts[i][from] {
					continue
				}
				n := 0
				for p+n < len(got) && from+n < len(s) && got[p+n] == s[from+n] {
					n++
				}
				for back := 0; back <= 8 && back < n; back++ {
					end := p + n - back
					if end == len(got) {
						return []run{{i, from, from + n - back}}
					}
					if !starts[i][from+n-back] {
						continue
					}
					if rest := try(end, false, depth+1); rest != nil {
						return append([]run{{i, from, from + n - back}}, rest...)
					}
				}
			}
		}
		return nil
	}
	runs := try(0, true, 0)
	if runs == nil {
		t.Fatalf("the %d bytes received are not runs of the streams sent, switching at frame boundaries", len(got))
	}
	return runs
}
