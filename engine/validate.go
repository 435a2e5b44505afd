package engine

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"
)

// Upper bounds of the settings. Each keeps a typo ("512m" for "512k", an
// extra zero) from becoming an outage, and keeps values far from where
// the engine's own arithmetic on them could overflow.
const (
	// maxMetaInt: at 1 MiB a 128 kb/s listener gets a title block only
	// every 65 s, so a larger interval defeats ICY metadata; it also stays
	// far below what players that count it in 32 bits can hold.
	maxMetaInt = 1 << 20
	// maxQueueSize: 64 MiB is about half an hour of 320 kb/s audio kept per
	// mount, beyond any useful listener lag; 32 such mounts still fit in
	// memory.
	maxQueueSize = 64 << 20
	// minHeaderBytes: real players' and sources' request heads (cookies,
	// ice-* headers) need a few hundred bytes; under 1 KiB they get 431.
	minHeaderBytes = 1 << 10
	// maxHeaderBytes: every connection still sending its head may hold
	// this much, times the client limit; 1 MiB is net/http's own default.
	maxHeaderBytes = 1 << 20
	// maxWait bounds timeouts and grace periods: a day is beyond any useful
	// wait, and adding the engine's own margins to it cannot overflow.
	maxWait = 24 * time.Hour
	// minLatency: below 10 ms a big shard's sweep takes about as long as
	// the wait, and a source's small pieces are gathered for that long
	// (source.go). maxLatency: a listener is written once per latency,
	// so its send buffer must take a latency's worth of the stream at
	// once: a second of 320 kb/s is 40 KiB of its 128.
	minLatency = 10 * time.Millisecond
	maxLatency = time.Second
)

// SettingError is one setting out of range. It names the setting as the
// configuration file and the command line do, so that either can say
// where the value came from.
type SettingError struct {
	Mount string // the [[mount]] the setting belongs to; "" for a global one
	Key   string // TOML key: "limits.metaint", or within a mount "burst_size"
	Flag  string // the command-line flag that sets it, "" if none
	Msg   string // what is wrong, with the value: "must be between 1 and 1048576, got -1"
}

func (e *SettingError) Error() string {
	name := e.Key
	if e.Flag != "" {
		name += " (" + e.Flag + ")"
	}
	if e.Mount != "" {
		mount := e.Mount
		if CheckMountName(mount) != nil {
			mount = strconv.Quote(mount) // show what is wrong with it
		}
		return fmt.Sprintf("mount %s: %s %s", mount, name, e.Msg)
	}
	return name + " " + e.Msg
}

// Validate checks every setting's range, on a configuration whose
// defaults are filled in (New fills them, then calls it): there a zero
// count, size or timeout is an error, not "the default". Every problem is
// reported, each as a *SettingError (joined with errors.Join), except a
// fallback loop, which names the whole chain.
func (c Config) Validate() error {
	var errs []error
	bad := func(mount, key, flag, format string, args ...any) {
		errs = append(errs, &SettingError{Mount: mount, Key: key, Flag: flag, Msg: fmt.Sprintf(format, args...)})
	}
	between := func(mount, key, flag string, v, lo, hi int) {
		if v < lo || v > hi {
			bad(mount, key, flag, "must be between %d and %d, got %d", lo, hi, v)
		}
	}
	atLeast := func(mount, key, flag string, v, lo int) {
		if v < lo {
			bad(mount, key, flag, "must be at least %d, got %d", lo, v)
		}
	}
	// lo is 0 for grace periods (none) and 1 ns for timeouts, where 0
	// would close every connection at once.
	wait := func(mount, key, flag string, v, lo time.Duration) {
		if v < lo || v > maxWait {
			what := "must not be negative"
			if lo > 0 {
				what = "must be more than 0"
			}
			bad(mount, key, flag, "%s and at most %s, got %s", what, maxWait, v)
		}
	}
	// A burst is taken from the queue, so it cannot be larger.
	burst := func(mount, key, flag string, v, lo, queue int) {
		switch {
		case v < lo:
			bad(mount, key, flag, "must be at least %d, got %d", lo, v)
		case v > queue:
			bad(mount, key, flag, "must be at most limits.queue_size (%d), got %d", queue, v)
		}
	}
	// A listener is written to once per latency, and one that took no
	// byte for the write timeout is dropped: the latency must be shorter.
	latency := func(mount, key, flag string, v time.Duration) {
		switch {
		case v < minLatency || v > maxLatency:
			bad(mount, key, flag, "must be between %s and %s, got %s", minLatency, maxLatency, v)
		case c.WriteTimeout > 0 && v >= c.WriteTimeout:
			bad(mount, key, flag, "must be less than limits.write_timeout (%s), got %s", c.WriteTimeout, v)
		}
	}
	policy := func(mount, key, flag string, p SlowPolicy) {
		if p != "" && p != SlowDrop && p != SlowSkip {
			bad(mount, key, flag, "must be %q or %q, got %q", SlowDrop, SlowSkip, p)
		}
	}

	atLeast("", "limits.clients", "--max-clients", c.MaxClients, 1)
	atLeast("", "limits.sources", "--max-sources", c.MaxSources, 1)
	atLeast("", "limits.max_listeners", "--max-listeners", c.MaxListeners, 0)
	between("", "limits.queue_size", "--queue-size", c.QueueSize, 1, maxQueueSize)
	queue := c.QueueSize
	if queue < 1 || queue > maxQueueSize {
		queue = maxQueueSize // reported above; not again through every burst
	}
	burst("", "limits.burst_size", "--burst-size", c.BurstSize, 1, queue)
	between("", "limits.metaint", "--metaint", c.MetaInt, 1, maxMetaInt)
	wait("", "limits.source_timeout", "--source-timeout", c.SourceTimeout, 1)
	wait("", "limits.header_timeout", "--header-timeout", c.HeaderTimeout, 1)
	wait("", "limits.write_timeout", "--write-timeout", c.WriteTimeout, 1)
	wait("", "limits.grace", "--grace", c.Grace, 0)
	latency("", "limits.latency", "--latency", c.Latency)
	policy("", "limits.slow_listener", "--slow-listener", c.SlowListener)
	// Not in the file or on the command line: only Go callers set it.
	between("", "Config.MaxHeaderBytes", "", c.MaxHeaderBytes, minHeaderBytes, maxHeaderBytes)

	names := make([]string, 0, len(c.Mounts))
	for name := range c.Mounts {
		names = append(names, name)
	}
	sort.Strings(names) // the same report every time
	for _, name := range names {
		mc := c.Mounts[name]
		if err := CheckMountName(name); err != nil {
			bad(name, "name", "", "is not a mount path: %v", err)
		}
		atLeast(name, "max_listeners", "", mc.MaxListeners, 0)
		// 0 takes the global burst.
		burst(name, "burst_size", "", mc.BurstSize, 0, queue)
		wait(name, "grace", "", mc.Grace, 0)
		if mc.Latency != 0 { // 0 takes the global latency
			latency(name, "latency", "", mc.Latency)
		}
		policy(name, "slow_listener", "", mc.SlowListener)
		if err := checkAuth(mc.Auth); err != nil {
			bad(name, "auth", "", "%v", err)
		}
	}
	if err := checkFallbacks(c.Mounts); err != nil {
		errs = append(errs, err)
	}
	if _, err := compilePolicy(&c); err != nil {
		errs = append(errs, err)
	}
	for _, rc := range c.Relays {
		if err := checkRelay(rc); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Master != nil {
		if err := checkMaster(c.Master); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Redirect != nil {
		if err := checkRedirect(c.Redirect); err != nil {
			errs = append(errs, err)
		}
	}
	for _, pc := range c.Pushes {
		if err := checkPush(pc); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
