package main

import (
	"io"
	"os"
	"slices"
	"sync"

	"github.com/icedeck/icedeck/engine/control"
)

// reload rereads the command line and the configuration file as at start
// and applies them to the running station: the engine's settings, the
// control plane's, the log level. The access and error logs are reopened,
// as Icecast does on SIGHUP, so logrotate can move them. A file with an
// error is refused with the reason and the old settings stay.
func (st *station) reload() error {
	st.reloading.Lock()
	defer st.reloading.Unlock()
	o, err := parseFlags(st.o.args, io.Discard)
	if err != nil {
		st.srv.ReloadRefused(err)
		return err
	}
	// A password generated for this run stays until one is configured.
	if o.genSource {
		o.cfg.SourcePassword, o.genSource = st.o.cfg.SourcePassword, st.o.genSource
	}
	if o.genAdmin {
		o.ctl.AdminPassword, o.genAdmin = st.o.ctl.AdminPassword, st.o.genAdmin
	}
	o.cfg.Logger, o.ctl.Logger, o.ctl.Reload = st.log, st.log, st.reload
	o.cfg.AccessLog = st.o.cfg.AccessLog
	if st.access != nil {
		if err := st.access.open(); err != nil {
			st.log.Error("cannot reopen the access log; writing to the old file", "file", st.access.path, "err", err)
		}
	}
	if lf, ok := st.logTo.(*logFile); ok {
		if err := lf.open(); err != nil {
			st.log.Error("cannot reopen the log; writing to the old file", "file", lf.path, "err", err)
		}
	}
	if err := st.srv.Reconfigure(o.cfg); err != nil {
		if o.file != nil {
			err = o.file.Locate(err, func(flag string) bool { return o.flagsSet[flag] })
		}
		return err
	}
	st.reloadAnalysis(o)
	st.ctl.Reconfigure(o.ctl)
	if lv, err := parseLevel(o.logLevel); err == nil {
		st.level.Set(lv)
	}
	if o.file != nil {
		logWarnings(st.log, o.file)
	}
	if !o.headless && !slices.EqualFunc(o.remotes, st.o.remotes, func(a, b remoteSpec) bool { return a.RemoteSection == b.RemoteSection }) {
		// The interface was given its clients at start; they stay.
		st.log.Warn("the remote servers changed: the interface shows the new ones at the next start", "remotes", remoteNames(o.remotes))
	}
	o.hup = st.o.hup
	st.o = o
	return nil
}

// logFile is a log file that can be reopened under the writers using it.
type logFile struct {
	path string
	mode os.FileMode
	mu   sync.Mutex
	f    *os.File
}

// open opens the path, again on reload for a file logrotate moved away;
// on failure the file open before stays in use.
func (l *logFile) open() error {
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, l.mode)
	if err != nil {
		return err
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}

// logWarnings logs what the configuration asks for that icedeck does not
// honour, each with its file and line.
func logWarnings(log interface{ Warn(string, ...any) }, f *control.File) {
	for _, w := range f.Warnings {
		log.Warn("configuration: " + w.String())
	}
}

// terminalAlive reports whether the process still has its controlling
// terminal: after a hangup, opening /dev/tty fails.
func terminalAlive() bool {
	f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}
