package bench

import (
	"fmt"
	"os"

	"github.com/icedeck/icedeck/engine"
)

// Result is what a bench saw, to be judged.
type Result struct {
	Mount    string // the mount recorded
	Sessions []engine.Session
	Attempts []Attempt
	Titles   []Title
	Command  *CommandResult // nil when no command was run

	recordings []recording
	received   []byte
	starts     []int
	loadErr    error
	loaded     bool
}

// Result returns what the bench has seen so far; after Stop (or Settle)
// it is final.
func (b *Bench) Result() *Result {
	b.mu.Lock()
	defer b.mu.Unlock()
	return &Result{
		Mount: b.o.Mount, Sessions: b.srv.Sessions(),
		Attempts: append([]Attempt(nil), b.attempts...), Titles: append([]Title(nil), b.titles...),
		recordings: append([]recording(nil), b.recordings...),
	}
}

// Received returns the bytes received, the sessions concatenated in
// order, and the offset where each session starts. Only sessions on the
// bench's mount are recorded.
func (r *Result) Received() ([]byte, []int, error) {
	if !r.loaded {
		r.loaded = true
		r.received, r.starts, r.loadErr = r.load()
	}
	return r.received, r.starts, r.loadErr
}

func (r *Result) load() ([]byte, []int, error) {
	var all []byte
	var starts []int
	for i, s := range r.Sessions {
		if s.Mount != r.Mount {
			return nil, nil, fmt.Errorf("session %d went to %s, but only %s (the bench's mount) is recorded", i+1, s.Mount, r.Mount)
		}
		if i >= len(r.recordings) {
			return nil, nil, fmt.Errorf("session %d was not recorded", i+1)
		}
		rec := r.recordings[i]
		if rec.lost != "" {
			return nil, nil, fmt.Errorf("the recording of session %d is incomplete: %s", i+1, rec.lost)
		}
		b, err := os.ReadFile(rec.path)
		if err != nil {
			return nil, nil, fmt.Errorf("the recording of session %d: %w", i+1, err)
		}
		if uint64(len(b)) != s.Bytes {
			return nil, nil, fmt.Errorf("the recording of session %d holds %d bytes of the %d received", i+1, len(b), s.Bytes)
		}
		starts = append(starts, len(all))
		all = append(all, b...)
	}
	return all, starts, nil
}
