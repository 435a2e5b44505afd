package control

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"unicode"

	"github.com/icedeck/icedeck/engine"
)

// The listener policy's files, as Icecast's <deny-ip>, <allow-ip> and
// <deny-agents> name them: one entry a line, blank lines and lines
// starting with # skipped. They are read at start and again on every
// reload, so an operator edits them and sends SIGHUP.

// ReadAccess reads the files [access] names: the addresses or CIDR
// ranges refused and admitted, and the user agents refused ("*" patterns
// as they are written; the engine matches them). A line that is not an
// address or range is an error naming the file and line.
func (f File) ReadAccess() (deny, allow []netip.Prefix, agents []string, err error) {
	deny, allow, agents, err = f.readAccess()
	var ce *ConfigError
	if errors.As(err, &ce) && ce.Line == 0 && f.lines != nil {
		// The file itself (missing, unreadable, empty allow list): say
		// which setting named it, where.
		for _, k := range []struct{ key, element, path string }{
			{"deny_ip_file", "<paths><deny-ip>", f.Access.DenyIPFile},
			{"allow_ip_file", "<paths><allow-ip>", f.Access.AllowIPFile},
			{"deny_agents_file", "<paths><deny-agents>", f.Access.DenyAgentsFile},
		} {
			if k.path != "" && k.path == ce.File {
				name := "access." + k.key
				if f.Format == "icecast" {
					name = k.element
				}
				err = &ConfigError{File: f.Path, Line: f.lines.at("access", -1, k.key), Msg: fmt.Sprintf("%s: %s: %s", name, k.path, ce.Msg)}
			}
		}
	}
	return deny, allow, agents, err
}

func (f File) readAccess() (deny, allow []netip.Prefix, agents []string, err error) {
	a := f.Access
	if a.DenyIPFile != "" {
		if deny, err = readPrefixes(a.DenyIPFile); err != nil {
			return nil, nil, nil, err
		}
	}
	if a.AllowIPFile != "" {
		if allow, err = readPrefixes(a.AllowIPFile); err != nil {
			return nil, nil, nil, err
		}
		if len(allow) == 0 {
			// An empty allow list admits everyone to the engine; the file
			// meant to admit only some, and an empty one none.
			return nil, nil, nil, &ConfigError{File: a.AllowIPFile, Msg: "lists no address: every client would be refused (remove allow_ip_file to admit all)"}
		}
	}
	if a.DenyAgentsFile != "" {
		err = eachLine(a.DenyAgentsFile, func(line int, s string) error {
			if strings.ContainsFunc(s, unicode.IsControl) {
				return &ConfigError{File: a.DenyAgentsFile, Line: line, Msg: fmt.Sprintf("%q has a control character", s)}
			}
			agents = append(agents, s)
			return nil
		})
		if err != nil {
			return nil, nil, nil, err
		}
	}
	return deny, allow, agents, nil
}

// ApplyAccess reads the [access] files into cfg's listener policy; a list
// whose file is not named keeps what cfg holds. The command line calls it
// after Apply, at start and on every reload.
func (f File) ApplyAccess(cfg *engine.Config) error {
	deny, allow, agents, err := f.ReadAccess()
	if err != nil {
		return err
	}
	a := f.Access
	if a.DenyIPFile != "" {
		cfg.DenyIPs = deny
	}
	if a.AllowIPFile != "" {
		cfg.AllowIPs = allow
	}
	if a.DenyAgentsFile != "" {
		cfg.DenyAgents = agents
	}
	return nil
}

// readPrefixes reads a file of addresses and CIDR ranges.
func readPrefixes(path string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	err := eachLine(path, func(line int, s string) error {
		p, err := parsePrefix(s)
		if err != nil {
			return &ConfigError{File: path, Line: line, Msg: fmt.Sprintf("%q is not an IP address or CIDR range (192.0.2.7, 192.0.2.0/24, 2001:db8::/32)", s)}
		}
		out = append(out, p)
		return nil
	})
	return out, err
}

// parsePrefix reads an address (a range of one) or a CIDR range; a range
// written with host bits set ("192.0.2.7/24") is taken as its network.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// eachLine calls fn with each entry of an access file: its lines trimmed,
// blank ones and # comments skipped.
func eachLine(path string, fn func(line int, s string) error) error {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is said once, by the ConfigError
		}
		return &ConfigError{File: path, Msg: err.Error()}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for n := 1; sc.Scan(); n++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if err := fn(n, s); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return &ConfigError{File: path, Msg: err.Error()}
	}
	return nil
}
