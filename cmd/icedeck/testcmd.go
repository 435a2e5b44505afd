package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/icedeck/icedeck/bench"
)

// multiFlag is a repeatable flag whose values are kept whole (a title may
// hold a comma).
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// testUsage explains icedeck test; the flags follow it.
const testUsage = `Usage: icedeck test [flags] [-- COMMAND ARGS...]

Runs a relay on a free loopback port, runs COMMAND (a source client) against
it, then judges what arrived: one PASS/FAIL line per expectation, and exit
status 0 (all hold), 1 (one failed) or 2 (usage error, or COMMAND could not
be started). Placeholders in ARGS, also set as ICEDECK_URL, ICEDECK_HTTP_URL,
ICEDECK_BASE, ICEDECK_HOST, ICEDECK_PORT, ICEDECK_USER, ICEDECK_PASSWORD and
ICEDECK_MOUNT in its environment:
  {url}       icecast://source:PASSWORD@127.0.0.1:PORT/test.mp3
  {http_url}  http://127.0.0.1:PORT/test.mp3
  {base}      http://127.0.0.1:PORT
  {host} {port} {user} {password} {mount}
Without COMMAND it prints the source URL on the first line of its output and
waits for --sessions source sessions to end, or for --duration.

Faults (--fault, repeatable: the first applies to the first source attempt,
or with :N to the first N, the next to the following ones; later attempts
run clean):
  ` + bench.FaultSyntax + `

Flags:
`

// testOptions are icedeck test's command line, parsed.
type testOptions struct {
	bench    bench.Options
	timeout  time.Duration
	sessions int
	duration time.Duration
	report   string
	junit    string
	logLevel string
	exps     []bench.Expectation
	command  []string
}

func parseTestFlags(args []string, stderr io.Writer) (*testOptions, error) {
	o := &testOptions{}
	fs := flag.NewFlagSet("icedeck test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, testUsage)
		fs.PrintDefaults()
	}
	var faults, titles, headers multiFlag
	fs.StringVar(&o.bench.Listen, "listen", "127.0.0.1:0", "address to listen on (default: a free loopback port)")
	fs.StringVar(&o.bench.Password, "source-password", "", "source password (default: a fresh random one)")
	fs.StringVar(&o.bench.Mount, "mount", bench.DefaultMount, "the mount clients are given ({mount}); its sessions are recorded for --expect-file")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "longest wait for COMMAND to exit, or for the sessions without one")
	fs.IntVar(&o.sessions, "sessions", 0, "without COMMAND: wait for this many source sessions to end (default 1 unless --duration)")
	fs.DurationVar(&o.duration, "duration", 0, "without COMMAND: run this long, then judge")
	fs.StringVar(&o.report, "report", "", "write the JSON report (sessions, attempts, titles, verdicts) to this file")
	fs.StringVar(&o.junit, "junit", "", "write a JUnit XML file (one testcase per expectation) for CI systems")
	fs.StringVar(&o.logLevel, "log-level", "info", "the relay's log on stderr: debug, info, warn or error")
	fs.Var(&faults, "fault", "misbehave for a source attempt, repeatable (see above)")
	exit := fs.Int("expect-exit", 0, "COMMAND's exit status")
	file := fs.String("expect-file", "", "the bytes received (sessions concatenated) equal this file's")
	partial := fs.Bool("allow-partial", false, "--expect-file: a contiguous run of the file is enough")
	skipTags := fs.Bool("skip-tags", false, "--expect-file: ID3v2, ID3v1 and APE tags aside")
	sum := fs.String("expect-sha256", "", "SHA-256 (hex) of the bytes received")
	nbytes := fs.String("expect-bytes", "", "bytes received: N or MIN..MAX")
	codec := fs.String("expect-codec", "", "codec found in the stream: "+strings.Join(bench.Codecs, ", "))
	bitrate := fs.String("expect-bitrate", "", "bitrate: 128k (give or take 5%) or MIN..MAX")
	rate := fs.String("expect-sample-rate", "", "sample rate in Hz")
	channels := fs.String("expect-channels", "", "channels")
	ctype := fs.String("expect-content-type", "", "Content-Type the client declared")
	losses := fs.String("expect-sync-losses", "", "times the frame analysis lost sync: N or MIN..MAX (default 0 with --expect-codec)")
	crc := fs.String("expect-crc-errors", "", "Ogg pages and FLAC frames with a bad checksum: N or MIN..MAX")
	realtime := fs.String("expect-realtime", "", "audio seconds over wall seconds: MIN..MAX (a paced client is near 1)")
	gap := fs.Duration("expect-max-gap", 0, "longest wait between two reads of the stream, e.g. 500ms")
	fs.Var(&titles, "expect-title", "a title update seen (repeatable; in this order)")
	method := fs.String("expect-method", "", "PUT or SOURCE")
	ua := fs.String("expect-user-agent", "", "regular expression the User-Agent matches")
	nsessions := fs.String("expect-sessions", "", "source sessions: N or MIN..MAX (default: at least one, or the --sessions waited for)")
	mount := fs.String("expect-mount", "", "the mount every session used")
	fs.Var(&headers, "expect-header", "NAME=VALUE: a request header every session sent (repeatable)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	o.command = fs.Args()
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, spec := range faults {
		f, err := bench.ParseFault(spec)
		if err != nil {
			return nil, err
		}
		o.bench.Faults = append(o.bench.Faults, f)
	}
	if _, err := parseLevel(o.logLevel); err != nil {
		return nil, err
	}
	if len(o.command) == 0 {
		if set["expect-exit"] {
			return nil, errors.New("--expect-exit needs a COMMAND")
		}
		if o.sessions == 0 && o.duration == 0 {
			o.sessions = 1
		}
	} else if set["sessions"] || set["duration"] {
		return nil, errors.New("--sessions and --duration are for a run without COMMAND (with one, its exit ends the run)")
	}

	// The expectations, in the order they are printed.
	var errs []error
	add := func(e bench.Expectation, err error) {
		if err != nil {
			errs = append(errs, err)
			return
		}
		o.exps = append(o.exps, e)
	}
	rangeOf := func(flagName, v string, num func(string) (float64, error)) (bench.Range, error) {
		r, err := bench.ParseRange(v, num)
		if err != nil {
			err = fmt.Errorf("--%s: %v", flagName, err)
		}
		return r, err
	}
	intOf := func(flagName, v string) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("--%s: %q is not a positive whole number", flagName, v)
		}
		return n, nil
	}
	if len(o.command) > 0 {
		add(bench.ExpectExit(*exit), nil)
	}
	// By default a run needs a session: at least one, or the --sessions
	// waited for.
	least := float64(max(o.sessions, 1))
	r, err := bench.Range{Min: least, Max: math.Inf(1), Text: strconv.Itoa(int(least)) + ".."}, error(nil)
	if *nsessions != "" {
		r, err = rangeOf("expect-sessions", *nsessions, bench.Count)
	}
	add(bench.ExpectSessions(r), err)
	if *mount != "" {
		add(bench.ExpectMount(*mount), nil)
	}
	if *method != "" {
		m := strings.ToUpper(*method)
		if m != "PUT" && m != "SOURCE" {
			errs = append(errs, fmt.Errorf("--expect-method: PUT or SOURCE, not %q", *method))
		}
		add(bench.ExpectMethod(m), nil)
	}
	if *ua != "" {
		re, err := regexp.Compile(*ua)
		if err != nil {
			errs = append(errs, fmt.Errorf("--expect-user-agent: %v", err))
		} else {
			add(bench.ExpectUserAgent(re), nil)
		}
	}
	for _, h := range headers {
		name, value, ok := strings.Cut(h, "=")
		if !ok || strings.TrimSpace(name) == "" {
			errs = append(errs, fmt.Errorf("--expect-header %q: NAME=VALUE", h))
			continue
		}
		add(bench.ExpectHeader(strings.TrimSpace(name), value), nil)
	}
	if *ctype != "" {
		add(bench.ExpectContentType(*ctype), nil)
	}
	if *codec != "" {
		c := strings.ToLower(*codec)
		if !strings.Contains(" "+strings.Join(bench.Codecs, " ")+" ", " "+c+" ") {
			errs = append(errs, fmt.Errorf("--expect-codec: one of %s, not %q", strings.Join(bench.Codecs, ", "), *codec))
		}
		add(bench.ExpectCodec(c), nil)
	}
	if *rate != "" {
		n, err := intOf("expect-sample-rate", *rate)
		add(bench.ExpectSampleRate(n), err)
	}
	if *channels != "" {
		n, err := intOf("expect-channels", *channels)
		add(bench.ExpectChannels(n), err)
	}
	if *bitrate != "" {
		r, err := bench.ParseBitrate(*bitrate)
		if err != nil {
			err = fmt.Errorf("--expect-bitrate: %v", err)
		}
		add(bench.ExpectBitrate(r), err)
	}
	if *nbytes != "" {
		r, err := rangeOf("expect-bytes", *nbytes, bench.Count)
		add(bench.ExpectBytes(r), err)
	}
	if *sum != "" {
		if b, err := hexSum(*sum); err != nil {
			errs = append(errs, err)
		} else {
			add(bench.ExpectSHA256(b), nil)
		}
	}
	if *file != "" {
		add(bench.ExpectFile(*file, bench.CompareOptions{AllowPartial: *partial, SkipTags: *skipTags}), nil)
	} else if *partial || *skipTags {
		errs = append(errs, errors.New("--allow-partial and --skip-tags go with --expect-file"))
	}
	if *losses == "" && *codec != "" {
		*losses = "0"
	}
	if *losses != "" {
		r, err := rangeOf("expect-sync-losses", *losses, bench.Count)
		add(bench.ExpectSyncLosses(r), err)
	}
	if *crc != "" {
		r, err := rangeOf("expect-crc-errors", *crc, bench.Count)
		add(bench.ExpectCRCErrors(r), err)
	}
	if *realtime != "" {
		r, err := rangeOf("expect-realtime", *realtime, bench.Number)
		add(bench.ExpectRealtime(r), err)
	}
	if set["expect-max-gap"] {
		if *gap <= 0 {
			errs = append(errs, errors.New("--expect-max-gap: a duration above 0, such as 500ms"))
		}
		add(bench.ExpectMaxGap(*gap), nil)
	}
	if len(titles) > 0 {
		add(bench.ExpectTitles(titles...), nil)
	}
	return o, errors.Join(errs...)
}

func hexSum(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if ok, _ := regexp.MatchString(`^[0-9a-f]{64}$`, s); !ok {
		return "", fmt.Errorf("--expect-sha256: 64 hex digits, not %q", s)
	}
	return s, nil
}

// runTest is icedeck test: see testUsage.
func runTest(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := parseTestFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "icedeck test:", err)
		return 2
	}
	var level slog.LevelVar
	lv, _ := parseLevel(o.logLevel)
	level.Set(lv)
	o.bench.Logger = newLogger(stderr, "text", &level)
	started := time.Now()
	b, err := bench.Start(o.bench)
	if err != nil {
		fmt.Fprintln(stderr, "icedeck test:", err)
		return 2
	}
	defer b.Close()
	ctx, stop := signal.NotifyContext(context.Background(), shutdownSignals...)
	defer stop()

	var cmdRes *bench.CommandResult
	if len(o.command) > 0 {
		cmdRes, err = b.Run(ctx, o.command, bench.RunOptions{Timeout: o.timeout, Stdin: stdin, Stdout: stdout, Stderr: stderr})
		if err != nil {
			fmt.Fprintf(stderr, "icedeck test: the client could not be started: %v\n", err)
			return 2
		}
		// The client has gone: its connections end in a moment.
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_ = b.Settle(sctx)
		cancel()
	} else {
		fmt.Fprintln(stdout, b.SourceURL())
		// --duration, when given, is how long the run lasts; else
		// --timeout bounds the wait for the sessions.
		limit := o.timeout
		if o.duration > 0 {
			limit = o.duration
		}
		wctx, cancel := context.WithTimeout(ctx, limit)
		if o.sessions > 0 {
			if err := b.WaitSessions(wctx, o.sessions); err != nil && o.duration == 0 && ctx.Err() == nil {
				fmt.Fprintf(stderr, "icedeck test: waited %s for %d source session(s) to end; judging what arrived\n", limit, o.sessions)
			}
		} else {
			<-wctx.Done()
		}
		cancel()
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "icedeck test: interrupted; judging what arrived")
	}
	if err := b.Stop(); err != nil {
		fmt.Fprintln(stderr, "icedeck test: the relay did not shut down cleanly:", err)
	}
	res := b.Result()
	res.Command = cmdRes
	verdicts := bench.Judge(res, o.exps)
	bench.WriteVerdicts(stdout, verdicts, res)
	code := 0
	if !bench.Passed(verdicts) {
		code = 1
	}
	rep := b.Report(res, verdicts)
	if o.report != "" {
		if err := bench.WriteReport(o.report, rep); err != nil {
			fmt.Fprintln(stderr, "icedeck test: report:", err)
			code = max(code, 1)
		}
	}
	if o.junit != "" {
		if err := bench.WriteJUnit(o.junit, rep, started); err != nil {
			fmt.Fprintln(stderr, "icedeck test: JUnit file:", err)
			code = max(code, 1)
		}
	}
	return code
}
