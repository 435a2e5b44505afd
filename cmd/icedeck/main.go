// Command icedeck is a terminal workstation for live audio streaming: an
// Icecast-compatible relay with an interface over it, or (--headless) the
// relay alone, logging every event.
package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/icedeck/icedeck/analysis"
	"github.com/icedeck/icedeck/bench"
	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/engine/control"
	"github.com/icedeck/icedeck/playback"
	"github.com/icedeck/icedeck/tui"
)

func main() {
	initGC() // gc.go
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command line, parsed.
type options struct {
	cfg       engine.Config
	ctl       control.Options
	headless  bool
	logFormat string
	logLevel  string
	report    string
	logFile   string
	theme     string
	themeDir  string
	readOnly  bool
	genSource bool
	genAdmin  bool
	remotes   []remoteSpec // --remote and [[remote]]: shown by the interface beside the engine

	args        []string         // the command line, read again on reload
	accessLog   string           // path of the access log, "" for none
	errorLog    string           // headless: the log's file instead of stderr
	configPath  string           // the TOML file loaded, "" if none
	file        *control.File    // its contents
	checkConfig bool             // validate and exit
	flagsSet    map[string]bool  // flags given on the command line, "--metaint"
	hup         <-chan os.Signal // SIGHUP: reload
}

// configError is a bad configuration file: exit status 1.
type configError struct{ err error }

func (e configError) Error() string { return e.err.Error() }

// findConfig returns the --config argument, or ./icedeck.toml when it
// exists; explicit reports that it was asked for.
func findConfig(args []string) (path string, explicit bool) {
	for i, a := range args {
		if a == "--" {
			break
		}
		for _, p := range []string{"--config", "-config"} {
			if a == p && i+1 < len(args) {
				return args[i+1], true
			}
			if v, ok := strings.CutPrefix(a, p+"="); ok {
				return v, true
			}
		}
	}
	if _, err := os.Stat("icedeck.toml"); err == nil {
		return "icedeck.toml", false
	}
	return "", false
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, a := range strings.Split(v, ",") {
		if a = strings.TrimSpace(a); a != "" {
			*l = append(*l, a)
		}
	}
	return nil
}

// sizeFlag takes bytes with an optional k/m suffix (binary: 64k = 65536).
// The range is checked with every other setting's, by the engine.
type sizeFlag struct{ n *int }

func (s sizeFlag) String() string {
	if s.n == nil {
		return ""
	}
	return strconv.Itoa(*s.n)
}
func (s sizeFlag) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s.n = n
	return nil
}

func parseSize(v string) (int, error) {
	t := strings.ToLower(strings.TrimSpace(v))
	mult := 1
	for _, suf := range []struct {
		s string
		m int
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"kb", 1 << 10}, {"mb", 1 << 20}, {"k", 1 << 10}, {"m", 1 << 20}, {"b", 1}} {
		if strings.HasSuffix(t, suf.s) {
			t, mult = strings.TrimSuffix(t, suf.s), suf.m
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 32) // 32 bits: n*mult cannot overflow
	if err != nil {
		return 0, fmt.Errorf("%q is not a size (bytes, or with k or m: 64k)", v)
	}
	return int(n) * mult, nil
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{cfg: engine.Defaults(), args: args}
	c := &o.cfg
	// Flags over file over defaults: the file goes into cfg before the
	// flags are defined with cfg's values as their defaults.
	if path, _ := findConfig(args); path != "" {
		f, err := control.LoadConfig(path)
		if err != nil {
			return nil, configError{err}
		}
		f.Apply(c)
		if err := f.ApplyAccess(c); err != nil { // the [access] files, reread on every reload
			return nil, configError{err}
		}
		f.ApplyOptions(&o.ctl)
		o.configPath, o.file = path, &f
	}
	fs := flag.NewFlagSet("icedeck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: icedeck [flags]            interface with the relay running\n"+
			"       icedeck --headless [flags] the relay alone, logging every event\n"+
			"       icedeck watch [flags] URL  the interface over remote icedecks and Icecasts, no relay (icedeck watch --help)\n"+
			"       icedeck play URL           audition any stream URL with a level meter\n\nFlags:\n")
		fs.PrintDefaults()
	}
	var listen listFlag
	fs.BoolVar(&o.headless, "headless", false, "run the relay without the interface")
	fs.Var(&listen, "listen", "address to listen on, repeatable or comma-separated (default :8000)")
	fs.String("config", "", "TOML configuration file (default ./icedeck.toml when present); flags override it")
	fs.BoolVar(&o.checkConfig, "check-config", false, "validate the configuration and exit (0: valid, 1: not)")
	fs.StringVar(&c.SourcePassword, "source-password", envOr("ICEDECK_SOURCE_PASSWORD", c.SourcePassword), "password for sources, user 'source' (env ICEDECK_SOURCE_PASSWORD; random if unset)")
	fs.StringVar(&o.ctl.AdminUser, "admin-user", cmp.Or(o.ctl.AdminUser, "admin"), "admin user name")
	fs.StringVar(&o.ctl.AdminPassword, "admin-password", envOr("ICEDECK_ADMIN_PASSWORD", o.ctl.AdminPassword), "admin password (env ICEDECK_ADMIN_PASSWORD; random if unset)")
	fs.StringVar(&o.ctl.RelayPassword, "relay-password", envOr("ICEDECK_RELAY_PASSWORD", o.ctl.RelayPassword), "password edge servers read the stream list with, user 'relay' (env ICEDECK_RELAY_PASSWORD; unset: admin only)")
	fs.IntVar(&c.MaxListeners, "max-listeners", c.MaxListeners, "listeners per mount (0: no per-mount limit)")
	fs.IntVar(&c.MaxClients, "max-clients", c.MaxClients, "sources and listeners at once, all mounts")
	fs.IntVar(&c.MaxSources, "max-sources", c.MaxSources, "sources at once")
	fs.Var(sizeFlag{&c.BurstSize}, "burst-size", "bytes sent to a new listener at once, from a frame boundary (64k)")
	fs.Var(sizeFlag{&c.QueueSize}, "queue-size", "bytes kept per mount; a listener further behind is too slow (512k)")
	fs.DurationVar(&c.SourceTimeout, "source-timeout", c.SourceTimeout, "drop a source silent this long")
	fs.DurationVar(&c.HeaderTimeout, "header-timeout", c.HeaderTimeout, "a request head must arrive within this")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", c.WriteTimeout, "drop a listener that takes no data this long")
	fs.DurationVar(&c.Latency, "latency", c.Latency, "longest a byte waits in the server before listeners get it, 10ms to 1s (less costs CPU)")
	fs.DurationVar(&c.Grace, "grace", c.Grace, "hold listeners this long when a source leaves, resuming them if it returns")
	fs.IntVar(&c.MetaInt, "metaint", c.MetaInt, "ICY metadata interval in audio bytes (1 to 1048576)")
	slow := fs.String("slow-listener", string(cmp.Or(c.SlowListener, engine.SlowDrop)), "what to do with a listener that falls behind: drop or skip (to live)")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	logLevel, errorLog := "info", ""
	if o.file != nil {
		logLevel, errorLog = cmp.Or(o.file.Server.LogLevel, logLevel), o.file.Server.ErrorLog
	}
	fs.StringVar(&o.logLevel, "log-level", logLevel, "log level: debug, info, warn or error")
	fs.StringVar(&o.errorLog, "error-log", errorLog, "headless: append the log to this file instead of stderr (reopened on SIGHUP)")
	fs.StringVar(&o.report, "report", "", "write a JSON report of every source session to this file at exit")
	accessLog := ""
	if o.file != nil {
		accessLog = o.file.Server.AccessLog
	}
	fs.StringVar(&o.accessLog, "access-log", accessLog, "append an access log (combined log format) to this file")
	fs.StringVar(&c.RecordDir, "record-dir", c.RecordDir, "where recordings started at run time go (default: the working directory)")
	fs.StringVar(&o.logFile, "log-file", cmp.Or(errorLog, defaultLogFile()), "where the interface writes its log (headless logs to stderr)")
	fs.StringVar(&o.theme, "theme", "", "colour theme (default, light, high-contrast, catppuccin-mocha, gruvbox-dark, dracula, nord, or one of yours)")
	fs.StringVar(&o.themeDir, "theme-dir", defaultThemeDir(), "directory with your own theme files")
	fs.BoolVar(&o.readOnly, "read-only", false, "interface only watches: disconnect and move keys are off")
	var remoteArgs repeatFlag
	fs.Var(&remoteArgs, "remote", "NAME=URL (or URL): a remote icedeck or Icecast the interface shows beside this one, repeatable; with [[remote]] sections; --headless ignores them")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	o.flagsSet = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { o.flagsSet["--"+f.Name] = true })
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if len(listen) > 0 {
		c.Listen = listen
	}
	c.SlowListener = engine.SlowPolicy(*slow)
	if o.logFormat != "text" && o.logFormat != "json" {
		return nil, fmt.Errorf("--log-format is text or json, not %q", o.logFormat)
	}
	if _, err := parseLevel(o.logLevel); err != nil {
		return nil, err
	}
	if c.SourcePassword == "" {
		c.SourcePassword, o.genSource = randomPassword(), true
	}
	if o.ctl.AdminPassword == "" {
		o.ctl.AdminPassword, o.genAdmin = randomPassword(), true
	}
	remotes, err := gatherRemotes(o.file, remoteArgs)
	if err != nil {
		return nil, fmt.Errorf("--remote: %w", err)
	}
	o.remotes = remotes
	if err := o.validate(); err != nil {
		return nil, configError{err}
	}
	return o, nil
}

// validate asks the engine, which fills in the defaults and checks every
// setting (engine.Config.Validate), so that --check-config, the flags and
// the file agree with what a start would do. A bad value from the file is
// reported at its line; one from a flag names the flag.
func (o *options) validate() error {
	_, err := engine.New(o.cfg) // listens on nothing until served
	if err != nil && o.file != nil {
		err = o.file.Locate(err, func(flag string) bool { return o.flagsSet[flag] })
	}
	return err
}

// randomPassword is used when none is configured: never a well-known default.
func randomPassword() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY34679"
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// newLogger logs at level, which a reload may change.
func newLogger(w io.Writer, format string, level *slog.LevelVar) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func parseLevel(level string) (slog.Level, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return 0, fmt.Errorf("--log-level: %v", err)
	}
	return lv, nil
}

// shutdownSignals end icedeck cleanly, writing the report. SIGHUP reloads
// the configuration instead, as it does Icecast's.
var shutdownSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "play" {
		return runPlay(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "test" {
		return runTest(args[1:], os.Stdin, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "watch" {
		return runWatch(args[1:], stderr)
	}
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ce configError
	if errors.As(err, &ce) {
		fmt.Fprintln(stderr, "icedeck:", err)
		return 1
	}
	if err != nil {
		fmt.Fprintln(stderr, "icedeck:", err)
		return 2
	}
	if o.checkConfig {
		if o.file != nil {
			for _, w := range o.file.Warnings {
				fmt.Fprintln(stderr, "icedeck: warning:", w.String())
			}
		}
		fmt.Fprintf(stdout, "icedeck: configuration OK (%s)\n", cmp.Or(o.configPath, "no file, flags and defaults"))
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), shutdownSignals...)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	o.hup = hup
	tuneGC(ctx, gcEvery)
	if !o.headless {
		return runInterface(ctx, o, stderr)
	}
	return runHeadless(ctx, o, stderr)
}

// station is the relay with its control plane, listening: both modes
// start and stop it the same way.
type station struct {
	o    *options
	srv  *engine.Server
	ctl  *control.Handler
	log  *slog.Logger
	errc chan error // a listener that stopped serving

	reloading sync.Mutex // one reload at a time: SIGHUP and the API may race
	level     slog.LevelVar
	access    *logFile  // nil without an access log
	logTo     io.Writer // the log's writer: a *logFile is reopened on reload
	analysis  *analysis.Manager
}

// startStation builds the relay and its control plane, logging to logTo,
// and opens every listening socket (a busy port is an error here, before
// an interface takes the screen), then serves.
func startStation(o *options, logTo io.Writer) (*station, error) {
	st := &station{o: o, logTo: logTo}
	lv, err := parseLevel(o.logLevel)
	if err != nil {
		return nil, err
	}
	st.level.Set(lv)
	log := newLogger(logTo, o.logFormat, &st.level)
	st.log = log
	o.cfg.Logger = log
	if o.file != nil {
		logWarnings(log, o.file)
	}
	if o.accessLog != "" {
		// Closed by the process's end: the log is written until the last
		// request. SIGHUP reopens it, for logrotate.
		st.access = &logFile{path: o.accessLog, mode: 0o644}
		if err := st.access.open(); err != nil {
			log.Error("cannot open the access log; going on without it", "file", o.accessLog, "err", err)
			st.access = nil
		} else {
			o.cfg.AccessLog = st.access
		}
	}
	o.ctl.Reload = st.reload
	srv, err := engine.New(o.cfg)
	if err != nil {
		return nil, err
	}
	o.ctl.Logger = log
	st.analysis = startAnalysis(o, srv, log)
	ctl := control.New(srv, o.ctl)
	srv.Handle(ctl)
	lns, err := openListeners(o)
	if err != nil {
		return nil, err
	}
	st.srv, st.ctl, st.errc = srv, ctl, make(chan error, len(lns))
	if f := o.file; f != nil && f.Server.User != "" {
		if os.Geteuid() != 0 {
			log.Info("not started as root: the configured user is not taken", "user", f.Server.User)
		} else if err := changeOwner(f.Server.User, f.Server.Group); err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, err
		} else {
			log.Info("sockets and logs open: running as the configured user", "user", f.Server.User, "group", f.Server.Group)
		}
	}
	for _, ln := range lns {
		go func() {
			if err := ln.serve(srv); err != nil {
				st.errc <- err
			}
		}()
	}
	if o.genSource {
		log.Warn("no source password configured: generated one for this run", "source_user", o.cfg.SourceUser, "source_password", o.cfg.SourcePassword)
	}
	if o.genAdmin {
		log.Warn("no admin password configured: generated one for this run", "admin_user", o.ctl.AdminUser, "admin_password", o.ctl.AdminPassword)
	}
	addrs := make([]string, 0, len(lns))
	for _, ln := range lns {
		addrs = append(addrs, ln.Addr().String())
	}
	log.Info("icedeck relay listening", "addrs", strings.Join(addrs, " "))
	log.Info("send a stream with", "ffmpeg", fmt.Sprintf("ffmpeg -re -i input.mp3 -c:a libmp3lame -b:a 128k -f mp3 -content_type audio/mpeg icecast://%s:PASSWORD@%s/live.mp3",
		o.cfg.SourceUser, hostPort(lns[0].Addr().String())))
	return st, nil
}

// stop ends event streams, shuts the relay down (five seconds for its
// connections to finish) and writes the report. It returns the exit code.
func (st *station) stop() int {
	st.ctl.Close() // or Shutdown waits for the event streams
	st.analysis.Stop()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	code := 0
	if err := st.srv.Shutdown(sctx); err != nil {
		st.log.Error("shutdown did not finish", "err", err)
		code = 1
	} else {
		st.log.Info("shut down cleanly")
	}
	if st.o.report != "" {
		if err := bench.WriteReport(st.o.report, bench.NewReport(st.srv)); err != nil {
			st.log.Error("could not write report", "file", st.o.report, "err", err)
			code = 1
		}
	}
	return code
}

func runHeadless(ctx context.Context, o *options, stderr io.Writer) int {
	var logTo io.Writer = stderr
	if o.errorLog != "" {
		lf := &logFile{path: o.errorLog, mode: 0o640}
		if err := lf.open(); err != nil {
			fmt.Fprintln(stderr, "icedeck: error log:", err)
			return 1
		}
		logTo = lf
	}
	st, err := startStation(o, logTo)
	if err != nil {
		fmt.Fprintln(stderr, "icedeck:", err)
		return 1
	}
	if len(o.remotes) > 0 {
		// One configuration serves both modes: its [[remote]] sections
		// must not stop a headless start, nor be taken for watched.
		st.log.Warn("remote servers are shown by the interface only: headless ignores them", "remotes", remoteNames(o.remotes))
	}
	code := 0
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-o.hup:
			_ = st.reload() // the outcome is logged as an event
		case err := <-st.errc:
			st.log.Error("server stopped", "err", err)
			code, done = 1, true
		}
	}
	return max(code, st.stop())
}

func defaultLogFile() string {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return filepath.Join(os.TempDir(), "icedeck.log")
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "icedeck", "icedeck.log")
}

func defaultThemeDir() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "icedeck", "themes")
}

// runInterface runs the relay with the interface over it. Everything that
// would print — the log, a library's complaints on stderr — goes to the log
// file, never over the screen.
func runInterface(ctx context.Context, o *options, stderr io.Writer) int {
	lf, err := openInterfaceLog(o.logFile)
	if err != nil {
		fmt.Fprintln(stderr, "icedeck:", err)
		return 1
	}
	defer lf.Close()
	st, err := startStation(o, lf)
	if err != nil {
		fmt.Fprintln(stderr, "icedeck:", err)
		return 1
	}
	srv, log := st.srv, st.log
	log.Info("icedeck started with the interface", "addrs", o.cfg.Listen)
	ctx, hungUp := context.WithCancel(ctx)
	defer hungUp()
	go func() {
		for range o.hup {
			// Closing the terminal sends SIGHUP too: with the terminal
			// gone, end as SIGTERM would rather than run on unseen.
			if !terminalAlive() {
				log.Info("the terminal hung up: shutting down")
				hungUp()
				return
			}
			_ = st.reload() // the interface shows the outcome from its event
		}
	}()
	restore := stderrToLog(o.logFile, log)
	remotes, err := dialRemotes(o.remotes, "", 0, log)
	if err != nil { // the URLs and names were checked with the flags: not expected
		log.Error("remote servers not shown", "err", err)
	}
	player := playback.NewPlayer(playback.Options{Logger: log})
	uiErr := tui.Run(ctx, tui.Options{Engine: srv, Remotes: remotes, Auditioner: tui.NewAuditioner(srv, player), Recorder: srv, Analyzer: st.analysis,
		Theme: o.theme, ThemeDir: o.themeDir, ReadOnly: o.readOnly, LogFile: o.logFile,
		// v shows the admin password, in this mode otherwise only in the log; a reload may change it.
		Admin: func() (string, string) {
			st.reloading.Lock()
			defer st.reloading.Unlock()
			return st.o.ctl.AdminUser, st.o.ctl.AdminPassword
		}})
	_ = player.Close()
	closeRemotes(remotes)
	_ = restore()
	code := st.stop()
	if uiErr != nil {
		fmt.Fprintln(stderr, "icedeck:", uiErr)
		code = 1
	}
	return code
}

// openInterfaceLog opens the log file of a process whose interface has
// the terminal, creating its directory.
func openInterfaceLog(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	return f, nil
}

// stderrToLog sends stderr (a sound library's complaints) to the log file
// while the interface has the screen; the function returned puts it back.
func stderrToLog(path string, log *slog.Logger) (restore func() error) {
	restore, err := playback.RedirectStderr(path)
	if err != nil {
		log.Warn("stderr stays on the terminal; library messages may show over the screen", "err", err)
		return func() error { return nil }
	}
	return restore
}

// runPlay auditions a stream URL with a one-line meter until Ctrl+C or the
// end of the stream.
func runPlay(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, "Usage: icedeck play URL   (e.g. icedeck play http://localhost:8000/live.mp3)")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), shutdownSignals...)
	defer stop()
	// Keep the sound libraries' complaints off the meter line.
	logPath := defaultLogFile()
	_ = os.MkdirAll(filepath.Dir(logPath), 0o755)
	if restore, err := playback.RedirectStderr(logPath); err == nil {
		defer restore()
	}
	if err := playback.PlayURL(ctx, args[0], stdout); err != nil {
		// stderr is the log file until we return: say it where it is seen.
		fmt.Fprintln(stdout)
		fmt.Fprintln(stdout, "icedeck play:", err)
		return 1
	}
	fmt.Fprintln(stdout)
	return 0
}

// hostPort turns a listening address into one a client on this machine
// can use: an unspecified host becomes localhost.
func hostPort(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
