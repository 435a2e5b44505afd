package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/icedeck/icedeck/engine/apidoc"
	"github.com/icedeck/icedeck/engine/control"
	"github.com/icedeck/icedeck/playback"
	"github.com/icedeck/icedeck/remote"
	"github.com/icedeck/icedeck/tui"
)

// remoteSpec is one remote server asked for, by an argument or a
// [[remote]] section; from says where, for errors about it.
type remoteSpec struct {
	control.RemoteSection
	from string
}

// repeatFlag is a flag given once per value (a URL's password may hold
// a comma, so listFlag's splitting would not do).
type repeatFlag []string

func (r *repeatFlag) String() string     { return strings.Join(*r, " ") }
func (r *repeatFlag) Set(v string) error { *r = append(*r, v); return nil }

// parseRemoteArg reads NAME=URL or URL (its name is then its host:port),
// with the configuration's rules for the URL and the name. Errors show
// the URL with its password hidden.
func parseRemoteArg(arg string) (remoteSpec, error) {
	name, raw := "", arg
	// A URL has "://" before any "=" its password may hold; NAME= has none.
	if i := strings.Index(arg, "="); i >= 0 && !strings.Contains(arg[:i], "://") {
		name, raw = arg[:i], arg[i+1:]
		if name == "" {
			return remoteSpec{}, fmt.Errorf("%s: no name before \"=\" (NAME=URL, or the URL alone)", apidoc.RedactURL(raw))
		}
	}
	var u control.RemoteURL
	if err := u.UnmarshalText([]byte(raw)); err != nil {
		if name != "" {
			return remoteSpec{}, fmt.Errorf("%s: %v", name, err)
		}
		return remoteSpec{}, err
	}
	s := remoteSpec{RemoteSection: control.RemoteSection{Name: name, URL: u}}
	s.from = s.DisplayName() + "=" + apidoc.RedactURL(raw)
	if name == "" {
		s.from = apidoc.RedactURL(raw)
	}
	if err := control.CheckRemoteName(s.DisplayName()); err != nil {
		return remoteSpec{}, fmt.Errorf("%s: %v", s.from, err)
	}
	return s, nil
}

// gatherRemotes lists the servers of a configuration's [[remote]]
// sections (already checked) and the arguments, refusing two under one
// name, which the screen could not tell apart.
func gatherRemotes(f *control.File, args []string) ([]remoteSpec, error) {
	var out []remoteSpec
	if f != nil {
		for i, r := range f.Remotes {
			from := fmt.Sprintf("[[remote]] at %s:%d", f.Path, f.RemoteLine(i))
			out = append(out, remoteSpec{RemoteSection: r, from: from})
		}
	}
	for _, a := range args {
		s, err := parseRemoteArg(a)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	seen := map[string]remoteSpec{}
	for _, s := range out {
		name := s.DisplayName()
		if first, dup := seen[name]; dup {
			return nil, fmt.Errorf("two servers are named %q: %s and %s; give each its own name (NAME=URL)", name, first.from, s.from)
		}
		seen[name] = s
	}
	return out, nil
}

// remoteNames are the specs' names, for the log.
func remoteNames(specs []remoteSpec) string {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.DisplayName()
	}
	return strings.Join(names, " ")
}

// dialRemotes starts a client of each server; none waits for its server.
// kind, when not empty, replaces each one's own. On an error the clients
// already started are closed.
func dialRemotes(specs []remoteSpec, kind remote.Kind, interval time.Duration, log *slog.Logger) ([]*remote.Client, error) {
	var cs []*remote.Client
	for _, s := range specs {
		k := remote.Kind(s.Kind)
		if kind != "" {
			k = kind
		}
		c, err := remote.Dial(s.Name, string(s.URL), remote.Options{Kind: k, User: s.User, Password: s.Password,
			Interval: interval, Logger: log})
		if err != nil {
			closeRemotes(cs)
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, nil
}

func closeRemotes(cs []*remote.Client) {
	for _, c := range cs {
		_ = c.Close()
	}
}

// watchOptions are icedeck watch's command line, parsed.
type watchOptions struct {
	remotes  []remoteSpec
	kind     remote.Kind // "" when not given: each server's own
	interval time.Duration
	theme    string
	themeDir string
	readOnly bool
	logFile  string
}

const watchUsage = "Usage: icedeck watch [flags] URL|NAME=URL ..."

// usageError is a command line to say the usage after: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }

// parseWatch reads icedeck watch's flags and servers. Flags may come
// before, between or after the servers. A bad configuration file is a
// configError, a bad command line a usageError.
func parseWatch(args []string, stderr io.Writer) (*watchOptions, error) {
	w := &watchOptions{}
	fs := flag.NewFlagSet("icedeck watch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, watchUsage+`

Shows remote icedecks and Icecast servers (2.4, 2.5, icecast-kh) in the
interface, side by side, without running a relay. URL is
http[s]://[admin:PASSWORD@]host:port; NAME is how the server is shown (its
host:port when not given). An Icecast without admin credentials is only read
(status-json.xsl), read-only. Servers that do not answer are retried.

Flags:
`)
		fs.PrintDefaults()
	}
	configPath := fs.String("config", "", "also watch the [[remote]] servers of this TOML file (./icedeck.toml is not read unless named)")
	kind := fs.String("kind", "auto", "what the servers are: auto (ask), icedeck or icecast; given, it applies to all, [[remote]] kinds included")
	fs.DurationVar(&w.interval, "interval", 2*time.Second, "how often each server is read (an icedeck's events come at once; a slow or failing server is read less often)")
	fs.StringVar(&w.theme, "theme", "", "colour theme (default, light, high-contrast, catppuccin-mocha, gruvbox-dark, dracula, nord, or one of yours)")
	fs.StringVar(&w.themeDir, "theme-dir", defaultThemeDir(), "directory with your own theme files")
	fs.BoolVar(&w.readOnly, "read-only", false, "only watch: disconnect, move and title keys are off")
	fs.StringVar(&w.logFile, "log-file", defaultLogFile(), "where the remote clients log (never on the screen)")
	var servers []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return nil, err
		}
		if rest = fs.Args(); len(rest) == 0 {
			break
		}
		servers, rest = append(servers, rest[0]), rest[1:]
	}
	kindSet := false
	fs.Visit(func(f *flag.Flag) { kindSet = kindSet || f.Name == "kind" })
	if kindSet {
		k, err := remote.ParseKind(*kind)
		if err != nil {
			return nil, usageError{fmt.Errorf("--kind: %v", err)}
		}
		w.kind = k
	}
	if w.interval < 100*time.Millisecond {
		return nil, usageError{fmt.Errorf("--interval %s: at least 100ms", w.interval)}
	}
	var file *control.File
	if *configPath != "" {
		f, err := control.LoadConfig(*configPath)
		if err != nil {
			return nil, configError{err}
		}
		file = &f
	}
	specs, err := gatherRemotes(file, servers)
	if err != nil {
		return nil, usageError{err}
	}
	if len(specs) == 0 {
		return nil, usageError{errors.New("no server to watch: give URLs, or --config with [[remote]] sections")}
	}
	w.remotes = specs
	return w, nil
}

// runWatch is icedeck watch: the interface over remote servers only.
func runWatch(args []string, stderr io.Writer) int {
	w, err := parseWatch(args, stderr)
	var ce configError
	var ue usageError
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ce):
		fmt.Fprintln(stderr, "icedeck watch:", err)
		return 1
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "icedeck watch: %v\n%s   (icedeck watch --help for the flags)\n", err, watchUsage)
		return 2
	case err != nil: // the flag package has said it, with the flags
		return 2
	}
	lf, err := openInterfaceLog(w.logFile)
	if err != nil {
		fmt.Fprintln(stderr, "icedeck watch:", err)
		return 1
	}
	defer lf.Close()
	log := slog.New(slog.NewTextHandler(lf, nil))
	clients, err := dialRemotes(w.remotes, w.kind, w.interval, log)
	if err != nil {
		fmt.Fprintln(stderr, "icedeck watch:", err)
		return 2
	}
	defer closeRemotes(clients)
	log.Info("icedeck watch started", "servers", remoteNames(w.remotes), "interval", w.interval)

	ctx, stop := signal.NotifyContext(context.Background(), append(shutdownSignals, syscall.SIGHUP)...)
	defer stop() // SIGHUP too: there is nothing to reload, and it comes when the terminal closes
	restore := stderrToLog(w.logFile, log)
	player := playback.NewPlayer(playback.Options{Logger: log})
	uiErr := tui.Run(ctx, tui.Options{Remotes: clients, Auditioner: tui.NewAuditioner(nil, player),
		Theme: w.theme, ThemeDir: w.themeDir, ReadOnly: w.readOnly, LogFile: w.logFile})
	_ = player.Close()
	_ = restore()
	log.Info("icedeck watch ended")
	if uiErr != nil {
		fmt.Fprintln(stderr, "icedeck watch:", uiErr)
		return 1
	}
	return 0
}
