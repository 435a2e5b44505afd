package engine

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	ok := func(c *Config) {}
	cases := []struct {
		name string
		mod  func(*Config)
		want string // the whole message of the only error; "" = valid
	}{
		{"defaults", ok, ""},
		{"metaint negative", func(c *Config) { c.MetaInt = -1 }, "limits.metaint (--metaint) must be between 1 and 1048576, got -1"},
		{"metaint too large", func(c *Config) { c.MetaInt = 1<<20 + 1 }, "limits.metaint (--metaint) must be between 1 and 1048576, got 1048577"},
		{"metaint largest", func(c *Config) { c.MetaInt = 1 << 20 }, ""},
		{"clients negative", func(c *Config) { c.MaxClients = -1 }, "limits.clients (--max-clients) must be at least 1, got -1"},
		{"sources zero", func(c *Config) { c.MaxSources = 0 }, "limits.sources (--max-sources) must be at least 1, got 0"},
		{"listeners negative", func(c *Config) { c.MaxListeners = -3 }, "limits.max_listeners (--max-listeners) must be at least 0, got -3"},
		{"listeners none", func(c *Config) { c.MaxListeners = 0 }, ""},
		{"header timeout negative", func(c *Config) { c.HeaderTimeout = -time.Second }, "limits.header_timeout (--header-timeout) must be more than 0 and at most 24h0m0s, got -1s"},
		{"write timeout zero", func(c *Config) { c.WriteTimeout = 0 }, "limits.write_timeout (--write-timeout) must be more than 0 and at most 24h0m0s, got 0s"},
		{"source timeout huge", func(c *Config) { c.SourceTimeout = 1 << 62 }, "limits.source_timeout (--source-timeout) must be more than 0 and at most 24h0m0s, got 1281023h53m38.427387904s"},
		{"grace negative", func(c *Config) { c.Grace = -time.Millisecond }, "limits.grace (--grace) must not be negative and at most 24h0m0s, got -1ms"},
		{"queue zero", func(c *Config) { c.QueueSize = 0 }, "limits.queue_size (--queue-size) must be between 1 and 67108864, got 0"},
		{"queue negative", func(c *Config) { c.QueueSize = -1 }, "limits.queue_size (--queue-size) must be between 1 and 67108864, got -1"},
		{"queue huge", func(c *Config) { c.QueueSize = 1 << 30 }, "limits.queue_size (--queue-size) must be between 1 and 67108864, got 1073741824"},
		{"burst over queue", func(c *Config) { c.BurstSize = 1 << 20 }, "limits.burst_size (--burst-size) must be at most limits.queue_size (524288), got 1048576"},
		{"burst negative", func(c *Config) { c.BurstSize = -1 }, "limits.burst_size (--burst-size) must be at least 1, got -1"},
		{"slow policy", func(c *Config) { c.SlowListener = "kick" }, `limits.slow_listener (--slow-listener) must be "drop" or "skip", got "kick"`},
		{"header bytes small", func(c *Config) { c.MaxHeaderBytes = 512 }, "Config.MaxHeaderBytes must be between 1024 and 1048576, got 512"},
		{"mount burst", func(c *Config) { c.Mounts = map[string]MountConfig{"/a": {BurstSize: 1 << 20}} }, "mount /a: burst_size must be at most limits.queue_size (524288), got 1048576"},
		{"mount burst negative", func(c *Config) { c.Mounts = map[string]MountConfig{"/a": {BurstSize: -1}} }, "mount /a: burst_size must be at least 0, got -1"},
		{"mount grace", func(c *Config) { c.Mounts = map[string]MountConfig{"/a": {Grace: -time.Second}} }, "mount /a: grace must not be negative and at most 24h0m0s, got -1s"},
		{"mount listeners", func(c *Config) { c.Mounts = map[string]MountConfig{"/a": {MaxListeners: -1}} }, "mount /a: max_listeners must be at least 0, got -1"},
		{"mount policy", func(c *Config) { c.Mounts = map[string]MountConfig{"/a": {SlowListener: "x"}} }, `mount /a: slow_listener must be "drop" or "skip", got "x"`},
		{"mount name", func(c *Config) { c.Mounts = map[string]MountConfig{"/x\xff": {}} }, `mount "/x\xff": name is not a mount path: mount path is not valid UTF-8`},
		{"latency lowest", func(c *Config) { c.Latency = 10 * time.Millisecond }, ""},
		{"latency highest", func(c *Config) { c.Latency = time.Second }, ""},
		{"latency too low", func(c *Config) { c.Latency = 5 * time.Millisecond }, "limits.latency (--latency) must be between 10ms and 1s, got 5ms"},
		{"latency too high", func(c *Config) { c.Latency = 2 * time.Second }, "limits.latency (--latency) must be between 10ms and 1s, got 2s"},
		{"latency over write timeout", func(c *Config) { c.WriteTimeout = 500 * time.Millisecond; c.Latency = 500 * time.Millisecond },
			"limits.latency (--latency) must be less than limits.write_timeout (500ms), got 500ms"},
		{"mount latency", func(c *Config) { c.Mounts = map[string]MountConfig{"/a": {Latency: -time.Millisecond}} }, "mount /a: latency must be between 10ms and 1s, got -1ms"},
		{"mount latency own", func(c *Config) { c.Mounts = map[string]MountConfig{"/a": {Latency: 25 * time.Millisecond}} }, ""},
		{"fallback loop", func(c *Config) {
			c.Mounts = map[string]MountConfig{"/a": {Fallback: "/b"}, "/b": {Fallback: "/a"}}
		}, "fallback loop"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := Defaults()
			cfg.SourcePassword = "x"
			c.mod(&cfg)
			err := cfg.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if _, err := New(cfg); err != nil {
					t.Fatalf("New refused what Validate accepts: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want the one error %q", err, c.want)
			}
			var se *SettingError
			if c.name != "fallback loop" && !errors.As(err, &se) {
				t.Fatalf("%T is not a *SettingError", err)
			}
			// New refuses it the same way (the rule is in one place),
			// except zeros, which New first replaces with the defaults.
			_, nerr := New(cfg)
			switch {
			case strings.Contains(c.want, "got 0"):
				if nerr != nil {
					t.Fatalf("New did not fill the default: %v", nerr)
				}
			case c.name == "fallback loop": // the chain starts at either mount
				if nerr == nil || !strings.Contains(nerr.Error(), c.want) {
					t.Fatalf("New: %v", nerr)
				}
			case nerr == nil || nerr.Error() != err.Error():
				t.Fatalf("New: %v, want %v", nerr, err)
			}
		})
	}
}

// New validates after filling defaults: a zero still means "the default"
// to Go callers, while a negative value is refused.
func TestNewValidatesAfterDefaults(t *testing.T) {
	if _, err := New(Config{SourcePassword: "x"}); err != nil {
		t.Fatalf("zero config: %v", err)
	}
	_, err := New(Config{SourcePassword: "x", MetaInt: -1, HeaderTimeout: -time.Second})
	if err == nil || !strings.Contains(err.Error(), "limits.metaint") || !strings.Contains(err.Error(), "limits.header_timeout") {
		t.Fatalf("every problem should be reported: %v", err)
	}
}
