package main

import (
	"cmp"
	"fmt"
	"net"
	"strconv"

	"github.com/icedeck/icedeck/engine"
)

// defaultShoutcastMount is where Shoutcast sources go when the file names
// their addresses but no mount, as Icecast's default <shoutcast-mount>.
const defaultShoutcastMount = "/stream"

// listening is an open socket and the protocol the relay serves on it.
type listening struct {
	net.Listener
	kind  string // "http", "tls" or "shoutcast"
	mount string // for "shoutcast": the mount its sources feed
}

// serve serves the socket until the relay shuts down.
func (l listening) serve(srv *engine.Server) error {
	switch l.kind {
	case "tls":
		return srv.ServeTLS(l.Listener)
	case "shoutcast":
		return srv.ServeShoutcast(l.Listener, l.mount)
	}
	return srv.Serve(l.Listener)
}

// openListeners opens every socket the configuration asks for: the
// listen addresses (HTTP), [tls] listen (TLS only, as an Icecast
// listen-socket with ssl), and the Shoutcast source ports (the addresses
// [server] shoutcast_listen names, or, with only shoutcast_mount, the
// first listen address's port + 1, as Icecast's <shoutcast-mount>). All
// are open or none: a busy port is an error before anything is served.
func openListeners(o *options) ([]listening, error) {
	var lns []listening
	open := func(addr, kind, mount string) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			if kind == "http" {
				return engine.ListenError(addr, err)
			}
			return fmt.Errorf("listen on %s (%s sockets of the configuration file): %w", addr, kind, err)
		}
		lns = append(lns, listening{Listener: ln, kind: kind, mount: mount})
		return nil
	}
	err := func() error {
		for _, a := range o.cfg.Listen {
			if err := open(a, "http", ""); err != nil {
				return err
			}
		}
		f := o.file
		if f == nil {
			return nil
		}
		if f.TLS != nil { // the file's check makes sure it has a certificate
			for _, a := range f.TLS.Listen {
				if err := open(a, "tls", ""); err != nil {
					return err
				}
			}
		}
		mount := cmp.Or(string(f.Server.ShoutcastMount), defaultShoutcastMount)
		addrs := f.Server.ShoutcastListen
		if len(addrs) == 0 && f.Server.ShoutcastMount != "" {
			a, err := nextPort(o.cfg.Listen[0], lns[0].Addr())
			if err != nil {
				return err
			}
			addrs = []string{a}
		}
		for _, a := range addrs {
			if err := open(a, "shoutcast", mount); err != nil {
				return err
			}
		}
		return nil
	}()
	if err != nil {
		for _, l := range lns {
			l.Close()
		}
		return nil, err
	}
	for _, l := range lns {
		switch l.kind {
		case "tls":
			o.cfg.Logger.Info("TLS listening", "addr", l.Addr().String())
		case "shoutcast":
			o.cfg.Logger.Info("Shoutcast (ICY) sources taken", "addr", l.Addr().String(), "mount", l.mount)
		}
	}
	return lns, nil
}

// nextPort is the address Icecast takes Shoutcast sources on: the host
// of the first listen address, its port + 1 (the port it got, when it
// asked for any).
func nextPort(configured string, bound net.Addr) (string, error) {
	host, _, err := net.SplitHostPort(configured)
	if err != nil {
		return "", fmt.Errorf("shoutcast_mount: listen address %q: %v", configured, err)
	}
	port := bound.(*net.TCPAddr).Port + 1
	if port > 65535 {
		return "", fmt.Errorf("shoutcast_mount: the Shoutcast port would be %d, above 65535 (name it with shoutcast_listen)", port)
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}
