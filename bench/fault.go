package bench

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/icedeck/icedeck/engine"
)

// Fault is one --fault: misbehaviour for Count source attempts in a row.
type Fault struct {
	engine.SourceFault
	Count int    // attempts it applies to, at least 1
	Spec  string // as given, for reports: "refuse=503:2"
}

// FaultSyntax lists the faults ParseFault reads.
const FaultSyntax = "refuse=401|403|404|503[:N], close-after=BYTES[:N], stall=BYTES:DURATION[:N], slow=BYTES_PER_SEC[:N], no-continue[:N], http10[:N]"

// ParseFault reads a --fault value (see FaultSyntax); :N makes it apply
// to the next N attempts instead of one.
func ParseFault(spec string) (Fault, error) {
	f := Fault{Spec: spec, Count: 1}
	name, val, hasVal := strings.Cut(spec, "=")
	if !hasVal {
		name, val, _ = strings.Cut(spec, ":") // no-continue:2
		if val != "" {
			val = ":" + val
		}
	}
	parts := strings.Split(val, ":")
	want := map[string]int{"refuse": 1, "close-after": 1, "stall": 2, "slow": 1, "no-continue": 0, "http10": 0}
	n, known := want[name]
	if !known {
		return f, fmt.Errorf("--fault %q: unknown fault %q (one of %s)", spec, name, FaultSyntax)
	}
	switch {
	case n == 0 && hasVal:
		return f, fmt.Errorf("--fault %q: %s takes no value", spec, name)
	case n == 0:
		parts = parts[1:] // the empty text before ":N"
	case !hasVal:
		return f, fmt.Errorf("--fault %q: expected %s", spec, FaultSyntax)
	}
	switch {
	case len(parts) == n+1:
		c, err := strconv.Atoi(parts[n])
		if err != nil || c < 1 {
			return f, fmt.Errorf("--fault %q: the count after the last colon must be a number of attempts, at least 1", spec)
		}
		f.Count = c
	case len(parts) != n:
		return f, fmt.Errorf("--fault %q: expected %s", spec, FaultSyntax)
	}
	num := func(s, what string, least int64) (int64, error) {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < least {
			return 0, fmt.Errorf("--fault %q: %s must be a whole number of at least %d, not %q", spec, what, least, s)
		}
		return v, nil
	}
	var err error
	switch name {
	case "refuse":
		var code int64
		if code, err = num(parts[0], "the status", 400); err == nil && code > 599 {
			err = fmt.Errorf("--fault %q: the status must be a 4xx or 5xx one (401, 403, 404, 503)", spec)
		}
		f.Refuse = int(code)
	case "close-after":
		f.CloseAfter, err = num(parts[0], "the byte count", 1)
	case "stall":
		if f.StallAfter, err = num(parts[0], "the byte count", 0); err == nil {
			f.Stall, err = time.ParseDuration(parts[1])
			if err != nil || f.Stall <= 0 {
				err = fmt.Errorf("--fault %q: the stall must be a duration such as 2s or 500ms, not %q", spec, parts[1])
			}
		}
	case "slow":
		var rate int64
		rate, err = num(parts[0], "the rate in bytes a second", 1)
		f.Rate = int(min(rate, 1<<28)) // bits a second must fit the limiter's int
	case "no-continue":
		f.NoContinue = true
	case "http10":
		f.HTTP10 = true
	}
	return f, err
}
