package control

// icecast.xml, as Icecast 2.4, 2.5 and icecast-kh read it, mapped onto
// the File a TOML configuration fills: every check and every setting
// downstream is shared. What icedeck does not honour is a warning at its
// line; what is malformed is an error at its line.

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// isXMLConfig reports whether data is XML: past a byte-order mark and
// white space it starts with '<', which no TOML document can. Its root
// element then says whether it is an Icecast configuration.
func isXMLConfig(data []byte) bool {
	data = bytes.TrimLeft(bytes.TrimPrefix(data, utf8BOM), " \t\r\n")
	return len(data) > 0 && data[0] == '<'
}

// xnode is one element of the file, with the line it starts on.
type xnode struct {
	name string
	attr map[string]string // names folded to lower case, as "NAME=" is seen in the wild
	text string            // its own character data, not its children's
	kids []*xnode
	line int
	path string // "<paths><alias>", for messages
}

var xmlEncoding = regexp.MustCompile(`^<\?xml[^>]*?\sencoding\s*=\s*["']([^"']*)["']`)

// readXMLTree parses data into a tree of elements that knows each one's
// line. A file in ISO-8859-1 or windows-1252 (as its declaration says) is
// converted first, so that offsets and lines refer to what was parsed.
func readXMLTree(name string, data []byte) (*xnode, error) {
	data = bytes.TrimPrefix(data, utf8BOM)
	if m := xmlEncoding.FindSubmatch(data); m != nil {
		switch label := strings.ToLower(string(m[1])); {
		case label == "us-ascii" || label == "ascii" || normCharset(label) == "utf-8":
		case normCharset(label) == "iso-8859-1":
			data = []byte(decode8bit(string(data), false))
		case normCharset(label) == "windows-1252":
			data = []byte(decode8bit(string(data), true))
		default:
			return nil, &ConfigError{File: name, Line: 1, Msg: fmt.Sprintf("encoding %q is not supported (UTF-8, ISO-8859-1, windows-1252)", m[1])}
		}
	}
	var newlines []int64
	for i, c := range data {
		if c == '\n' {
			newlines = append(newlines, int64(i))
		}
	}
	lineAt := func(off int64) int {
		return sort.Search(len(newlines), func(i int) bool { return newlines[i] >= off }) + 1
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	// Converted above: what the declaration names is UTF-8 by now.
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	var root *xnode
	var stack []*xnode
	for {
		// Before the token is read, the offset is where it starts.
		off := d.InputOffset()
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return nil, &ConfigError{File: name, Line: se.Line, Msg: "malformed XML: " + se.Msg}
			}
			return nil, &ConfigError{File: name, Line: lineAt(d.InputOffset()), Msg: "malformed XML: " + err.Error()}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &xnode{name: t.Name.Local, line: lineAt(off), attr: map[string]string{}}
			for _, a := range t.Attr {
				n.attr[strings.ToLower(a.Name.Local)] = a.Value
			}
			switch {
			case len(stack) > 0:
				parent := stack[len(stack)-1]
				n.path = parent.path + "<" + n.name + ">"
				if parent == root {
					n.path = "<" + n.name + ">"
				}
				parent.kids = append(parent.kids, n)
			case root != nil:
				return nil, &ConfigError{File: name, Line: n.line, Msg: fmt.Sprintf("malformed XML: a second root element <%s> after </%s>", n.name, root.name)}
			default:
				root = n
				n.path = "<" + n.name + ">"
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				top := stack[len(stack)-1]
				top.text += string(t)
			} else if text := bytes.TrimLeft(t, " \t\r\n"); len(text) > 0 {
				off += int64(len(t) - len(text))
				return nil, &ConfigError{File: name, Line: lineAt(off), Msg: "malformed XML: text outside the root element"}
			}
		}
	}
	if root == nil {
		return nil, &ConfigError{File: name, Msg: "malformed XML: no root element"}
	}
	if root.name != "icecast" {
		return nil, &ConfigError{File: name, Line: root.line, Msg: fmt.Sprintf("the root element is <%s>: an Icecast configuration is <icecast>, and TOML cannot start with <", root.name)}
	}
	return root, nil
}

// parseIcecastXML reads an icecast.xml. A syntax error ends it; problems
// with values are all collected, each at its line.
func parseIcecastXML(name string, data []byte) (File, []error, error) {
	root, err := readXMLTree(name, data)
	if err != nil {
		return File{}, nil, err
	}
	r := &xmlReader{name: name, f: &File{Format: "icecast"}, lines: &keyLines{}}
	r.f.lines = r.lines
	r.root(root)
	r.finish()
	sort.SliceStable(r.f.Warnings, func(i, j int) bool { return r.f.Warnings[i].Line < r.f.Warnings[j].Line })
	return *r.f, r.errs, nil
}

// xmlReader maps the tree onto a File, recording where each setting is
// under its TOML name (table, index, key) so that every later check and
// File.Locate find the element's line.
type xmlReader struct {
	name  string
	f     *File
	lines *keyLines
	errs  []error

	logdir              string
	accessLog, errorLog *xnode
	scRoot              *xnode   // the top-level <shoutcast-mount>: the mount of shoutcast-compat sockets
	rootPort, rootBind  *xnode   // the top-level <port> and <bind-address>
	tlsFiles            []*xnode // the certificate and key elements
	compat              []*xnode // <listen-socket>s with <shoutcast-compat>1
	relaysOnDemand      bool
	relayOnDemand       []*bool // each relay's own <on-demand>; nil takes <relays-on-demand>
	master              map[string]*xnode
}

func (r *xmlReader) warn(n *xnode, format string, args ...any) {
	r.f.Warnings = append(r.f.Warnings, ConfigWarning{File: r.name, Line: n.line, Msg: n.path + ": " + fmt.Sprintf(format, args...)})
}

func (r *xmlReader) bad(n *xnode, format string, args ...any) {
	r.errs = append(r.errs, &ConfigError{File: r.name, Line: n.line, Msg: n.path + ": " + fmt.Sprintf(format, args...)})
}

// key records that n sets table.key (index: which [[table]], -1 for a
// single one; key "" for the table itself). A later setting of the same
// key replaces the earlier, as its value does.
func (r *xmlReader) key(n *xnode, table string, index int, key string) {
	r.lines.entries = slices.DeleteFunc(r.lines.entries, func(e keyLine) bool {
		return e.table == table && e.index == index && e.key == key
	})
	r.lines.entries = append(r.lines.entries, keyLine{table: table, index: index, key: key, line: n.line})
}

// handlers handle child elements by name.
type handlers map[string]func(n *xnode)

// children hands each child element of n to its handler; one without is
// reported. Icecast takes the last of a repeated setting, and so does
// this, saying so; elements named in many may repeat.
func (r *xmlReader) children(n *xnode, h handlers, many ...string) {
	seen := map[string]*xnode{}
	for _, k := range n.kids {
		fn, ok := h[k.name]
		if !ok {
			r.warn(k, "unknown element, ignored")
			continue
		}
		if prev := seen[k.name]; prev != nil && !slices.Contains(many, k.name) {
			r.warn(k, "given again (first at line %d): this one is used", prev.line)
		}
		seen[k.name] = k
		fn(k)
	}
}

// unused is a handler for an element icedeck accepts and does not honour.
func (r *xmlReader) unused(why string) func(*xnode) {
	return func(n *xnode) { r.warn(n, "%s", why) }
}

// leaf reports child elements of an element that holds a value.
func (r *xmlReader) leaf(n *xnode) {
	for _, k := range n.kids {
		r.warn(k, "unknown element, ignored")
	}
}

// text is the element's value, trimmed.
func (r *xmlReader) text(n *xnode) string {
	r.leaf(n)
	return strings.TrimSpace(n.text)
}

// secret is a password as Icecast takes it: untrimmed.
func (r *xmlReader) secret(n *xnode) string {
	r.leaf(n)
	return n.text
}

func (r *xmlReader) int(n *xnode) (int, bool) {
	s := r.text(n)
	v, err := strconv.Atoi(s)
	if err != nil || v > 1<<31 || v < -(1<<31) {
		r.bad(n, "%q is not a whole number", s)
		return 0, false
	}
	return v, true
}

// bool takes 1/0 as Icecast 2.4 writes them, true/false, yes/no and on/off
// as icecast-kh and 2.5 do, and any other integer as C's atoi would.
func (r *xmlReader) bool(n *xnode) (bool, bool) {
	s := strings.ToLower(r.text(n))
	switch s {
	case "true", "yes", "on":
		return true, true
	case "false", "no", "off":
		return false, true
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		r.bad(n, "%q is not 1 or 0 (true or false)", s)
		return false, false
	}
	return v != 0, true
}

func (r *xmlReader) seconds(n *xnode) (Duration, bool) {
	v, ok := r.int(n)
	return Duration(time.Duration(v) * time.Second), ok
}

// amount is a byte count or a bit rate: an integer, or with icecast-kh's
// decimal k and m (64k = 64000).
func (r *xmlReader) amount(n *xnode) (Size, bool) {
	s := r.text(n)
	t, mult := strings.ToLower(s), int64(1)
	switch {
	case strings.HasSuffix(t, "k"):
		t, mult = t[:len(t)-1], 1000
	case strings.HasSuffix(t, "m"):
		t, mult = t[:len(t)-1], 1000*1000
	case strings.HasSuffix(t, "s") && strings.Trim(t[:len(t)-1], "0123456789") == "" && len(t) > 1:
		r.warn(n, "a size in seconds (icecast-kh) is not supported; the default is kept")
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(t), 10, 32) // 32 bits: v*mult cannot overflow
	if err != nil {
		r.bad(n, "%q is not a number (bytes, or with k or m)", s)
		return 0, false
	}
	return Size(v * mult), true
}

func (r *xmlReader) mountName(n *xnode) (MountName, bool) {
	var m MountName
	if err := m.UnmarshalText([]byte(r.text(n))); err != nil {
		r.bad(n, "%v", err)
		return "", false
	}
	return m, true
}

func (r *xmlReader) tls() *TLSSection {
	if r.f.TLS == nil {
		r.f.TLS = &TLSSection{}
	}
	return r.f.TLS
}

// str sets *dst to the element's text and records it as table.key.
func (r *xmlReader) str(dst *string, table, key string) func(*xnode) {
	return func(n *xnode) { *dst = r.text(n); r.key(n, table, -1, key) }
}

func (r *xmlReader) root(root *xnode) {
	s, a := &r.f.Server, &r.f.Auth
	r.master = map[string]*xnode{}
	masterKey := func(n *xnode) { r.master[n.name] = n }
	r.children(root, handlers{
		"location":  r.str(&s.Location, "server", "location"),
		"admin":     r.str(&s.Admin, "server", "admin"),
		"hostname":  r.str(&s.Hostname, "server", "hostname"),
		"server-id": r.str(&s.ServerID, "server", "server_id"),
		"server_id": r.str(&s.ServerID, "server", "server_id"),
		"fileserve": func(n *xnode) {
			if on, ok := r.bool(n); ok && on {
				r.warn(n, "not honoured: icedeck serves no files from the webroot (its status pages and admin are its own)")
			}
		},
		"limits":         r.limits,
		"authentication": r.authentication,
		// Where Icecast 2.0 had it, still read by 2.4.
		"source-password": func(n *xnode) { a.SourcePassword = r.secret(n); r.key(n, "auth", -1, "source_password") },
		"listen-socket":   r.listenSocket,
		// icecast-kh's and old Icecasts' single listener.
		"port":            func(n *xnode) { r.rootPort = n },
		"bind-address":    func(n *xnode) { r.rootBind = n },
		"shoutcast-mount": func(n *xnode) { r.scRoot = n },
		"http-headers":    r.httpHeaders,
		"relay":           r.relay,
		"mount":           r.mount,
		"paths":           r.paths,
		"logging":         r.logging,
		"security":        r.security,
		"relays-on-demand": func(n *xnode) {
			r.relaysOnDemand, _ = r.bool(n)
			r.master[n.name] = n
		},
		"master-server":          masterKey,
		"master-server-port":     masterKey,
		"master-update-interval": masterKey,
		"master-username":        masterKey,
		"master-password":        masterKey,
		"master":                 r.khMaster,
		"master-ssl-port":        r.unused("not honoured: icedeck mirrors a master over http://"),
		"master-redirect":        r.unused("not honoured: icedeck does not register with a master for redirects (see [redirect])"),
		"max-redirect-slaves":    r.unused("not honoured: icedeck does not take redirect registrations"),
		"master-relay-auth":      r.unused("not honoured: relayed mounts need no source login here"),
		"master-bind":            r.unused("not honoured: the system picks the address to connect from"),
		"directory":              r.unused("not honoured: icedeck lists no streams in YP directories"),
		"include":                r.unused("not followed: icedeck reads one file; put the included settings in it"),
		"icelogin":               r.unused("not honoured: icedeck takes no ICE login sources"),
	}, "listen-socket", "relay", "mount", "http-headers")
}

// rootListener is icecast-kh's and old Icecasts' top-level <port> and
// <bind-address>: a listener when no <listen-socket> is given.
func (r *xmlReader) rootListener() {
	port, bind := r.rootPort, r.rootBind
	if port == nil && bind == nil {
		return
	}
	if len(r.f.Server.Listen)+len(r.f.Server.ShoutcastListen) > 0 || r.f.TLS != nil && len(r.f.TLS.Listen) > 0 {
		for _, n := range []*xnode{port, bind} {
			if n != nil {
				r.warn(n, "unused: the <listen-socket>s give the addresses")
			}
		}
		return
	}
	if port == nil {
		r.warn(bind, "unused without a <port>")
		return
	}
	p, ok := r.port(port)
	if !ok {
		return
	}
	host := ""
	if bind != nil {
		host = r.text(bind)
	}
	r.f.Server.Listen = append(r.f.Server.Listen, net.JoinHostPort(host, strconv.Itoa(p)))
	r.key(port, "server", -1, "listen")
}

func (r *xmlReader) port(n *xnode) (int, bool) {
	p, ok := r.int(n)
	if ok && (p < 1 || p > 65535) {
		r.bad(n, "port %d is not between 1 and 65535", p)
		return 0, false
	}
	return p, ok
}

func (r *xmlReader) limits(n *xnode) {
	l := &r.f.Limits
	count := func(dst *int, key string) func(*xnode) {
		return func(n *xnode) {
			if v, ok := r.int(n); ok {
				*dst = v
				r.key(n, "limits", -1, key)
			}
		}
	}
	size := func(dst *Size, key string) func(*xnode) {
		return func(n *xnode) {
			if v, ok := r.amount(n); ok {
				*dst = v
				r.key(n, "limits", -1, key)
			}
		}
	}
	secs := func(dst *Duration, key string) func(*xnode) {
		return func(n *xnode) {
			if v, ok := r.seconds(n); ok {
				*dst = v
				r.key(n, "limits", -1, key)
			}
		}
	}
	notSupported := r.unused("not supported by icedeck, ignored")
	r.children(n, handlers{
		"clients":        count(&l.Clients, "clients"),
		"sources":        count(&l.Sources, "sources"),
		"queue-size":     size(&l.QueueSize, "queue_size"),
		"burst-size":     size(&l.BurstSize, "burst_size"),
		"source-timeout": secs(&l.SourceTimeout, "source_timeout"),
		"header-timeout": secs(&l.HeaderTimeout, "header_timeout"),
		// Icecast's documentation: "This does not seem to be used." The
		// engine's nearest setting, the write timeout, is not the same.
		"client-timeout": r.unused("not used (Icecast 2.4 does not use it either); a listener that takes no data for limits.write_timeout (10s) is dropped"),
		"burst-on-connect": func(n *xnode) {
			if on, ok := r.bool(n); ok && !on {
				r.warn(n, "not honoured: icedeck always sends a burst on connect; make <burst-size> small instead")
			}
		},
		// icecast-kh: the per-mount limit for mounts that set none.
		"max-listeners": func(n *xnode) {
			if v, ok := r.int(n); ok {
				l.MaxListeners = max(v, 0) // -1: no limit
				r.key(n, "limits", -1, "max_listeners")
			}
		},
		"threadpool":         notSupported,
		"workers":            notSupported,
		"max-bandwidth":      notSupported,
		"min-queue-size":     notSupported,
		"inactivity-timeout": notSupported,
	})
}

func (r *xmlReader) authentication(n *xnode) {
	a := &r.f.Auth
	secret := func(dst *string, key string) func(*xnode) {
		return func(n *xnode) { *dst = r.secret(n); r.key(n, "auth", -1, key) }
	}
	r.children(n, handlers{
		"source-password": secret(&a.SourcePassword, "source_password"),
		"admin-user":      r.str(&a.AdminUser, "auth", "admin_user"),
		"admin-password":  secret(&a.AdminPassword, "admin_password"),
		"relay-user":      r.str(&a.RelayUser, "auth", "relay_user"),
		"relay-password":  secret(&a.RelayPassword, "relay_password"),
		"role":            r.unused("not honoured: Icecast 2.5's roles are not supported; use source-password and admin-user/admin-password"),
	}, "role")
}

func (r *xmlReader) listenSocket(n *xnode) {
	var port, bind, sc *xnode
	var ssl, compat bool
	r.children(n, handlers{
		"port":         func(k *xnode) { port = k },
		"bind-address": func(k *xnode) { bind = k },
		"ssl":          func(k *xnode) { ssl, _ = r.bool(k) },
		"tls": func(k *xnode) {
			switch v := strings.ToLower(r.text(k)); v {
			case "rfc2818":
				ssl = true
			case "auto", "auto_no_plain", "rfc2817":
				r.warn(k, "%q is not supported: a port speaks TLS from the first byte (rfc2818) or not at all", v)
			case "disabled":
			default:
				ssl, _ = r.bool(k)
			}
		},
		"shoutcast-mount":  func(k *xnode) { sc = k },
		"shoutcast-compat": func(k *xnode) { compat, _ = r.bool(k) },
		"queue-len":        r.unused("not honoured: the system's listen backlog is used"),
		"so-sndbuf":        r.unused("not honoured: the system's send buffer size is used"),
		"so-mss":           r.unused("not honoured"),
	})
	p := 8000 // icecast-kh's default
	if port != nil {
		var ok bool
		if p, ok = r.port(port); !ok {
			return
		}
	} else {
		port = n
	}
	host := ""
	if bind != nil {
		host = r.text(bind)
	}
	addr := net.JoinHostPort(host, strconv.Itoa(p))
	s := &r.f.Server
	switch {
	case compat:
		s.ShoutcastListen = append(s.ShoutcastListen, addr)
		r.key(port, "server", -1, "shoutcast_listen")
		r.compat = append(r.compat, n)
	case ssl:
		t := r.tls()
		t.Listen = append(t.Listen, addr)
		if r.lines.table("tls", -1) == 0 {
			r.key(n, "tls", -1, "")
		}
		r.key(port, "tls", -1, "listen")
	default:
		s.Listen = append(s.Listen, addr)
		if r.lines.exact("server", -1, "listen") == 0 {
			r.key(port, "server", -1, "listen")
		}
	}
	if sc == nil || compat {
		return
	}
	// As Icecast: Shoutcast sources for this mount on the next port.
	mount, ok := r.mountName(sc)
	if !ok {
		return
	}
	if p == 65535 {
		r.bad(sc, "the Shoutcast port would be %d+1, above 65535", p)
		return
	}
	if s.ShoutcastMount != "" && s.ShoutcastMount != mount {
		r.warn(sc, "icedeck takes Shoutcast sources for one mount: %s (line %d) is used on every Shoutcast port", s.ShoutcastMount, r.lines.exact("server", -1, "shoutcast_mount"))
	} else {
		s.ShoutcastMount = mount
		r.key(sc, "server", -1, "shoutcast_mount")
	}
	s.ShoutcastListen = append(s.ShoutcastListen, net.JoinHostPort(host, strconv.Itoa(p+1)))
	r.key(sc, "server", -1, "shoutcast_listen")
}

func (r *xmlReader) httpHeaders(n *xnode) {
	r.children(n, handlers{"header": func(h *xnode) {
		r.leaf(h)
		name, value := h.attr["name"], h.attr["value"]
		if t := h.attr["type"]; t != "" && t != "normal" {
			r.warn(h, "type=%q headers are not honoured; this header is not sent", t)
			return
		}
		if name == "" {
			r.bad(h, "a <header> needs a name=")
			return
		}
		if st := h.attr["status"]; st != "" {
			r.warn(h, "status=%q is not honoured: the header goes with every listener response", st)
		}
		if r.f.Headers == nil {
			r.f.Headers = map[string]string{}
		}
		r.f.Headers[name] = value
		r.key(h, "headers", -1, name)
	}}, "header")
}

func (r *xmlReader) paths(n *xnode) {
	s, acc := &r.f.Server, &r.f.Access
	file := func(dst *string, table, key string) func(*xnode) {
		return func(n *xnode) { *dst = r.text(n); r.key(n, table, -1, key) }
	}
	cert := func(n *xnode) {
		t := r.tls()
		r.tlsFiles = append(r.tlsFiles, n)
		t.Cert = r.text(n)
		r.key(n, "tls", -1, "cert")
		if r.lines.table("tls", -1) == 0 {
			r.key(n, "tls", -1, "")
		}
	}
	ciphers := r.unused("not honoured: icedeck offers Go's TLS 1.2 and 1.3 cipher suites")
	r.children(n, handlers{
		// Icecast uses basedir only to chroot, which <security> reports.
		"basedir":   func(n *xnode) { r.text(n) },
		"logdir":    func(n *xnode) { r.logdir = r.text(n) },
		"webroot":   file(&s.Webroot, "server", "webroot"),
		"adminroot": r.unused("unused: icedeck serves its own admin pages"),
		"pidfile":   r.unused("not written: icedeck writes no pid file"),
		"alias": func(n *xnode) {
			r.leaf(n)
			src, dst := n.attr["source"], n.attr["destination"]
			if dst == "" {
				dst = n.attr["dest"] // icecast-kh's name, and AzuraCast's
			}
			if src == "" || dst == "" {
				r.bad(n, "an alias needs source= and destination= (or dest=)")
				return
			}
			if n.attr["port"] != "" || n.attr["bind-address"] != "" {
				r.warn(n, "port= and bind-address= are not honoured: the alias applies on every address")
			}
			if s.Aliases == nil {
				s.Aliases = map[string]string{}
			}
			s.Aliases[src] = dst
			r.key(n, "server.aliases", -1, src)
		},
		"x-forwarded-for": func(n *xnode) {
			v := r.text(n)
			p, err := netip.ParsePrefix(v)
			if err != nil {
				a, aerr := netip.ParseAddr(v)
				if aerr != nil {
					r.bad(n, "%q is not an address or a CIDR range", v)
					return
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			s.TrustedProxies = append(s.TrustedProxies, p)
			r.key(n, "server", -1, "trusted_proxies")
		},
		"deny-ip":         file(&acc.DenyIPFile, "access", "deny_ip_file"),
		"ban-file":        file(&acc.DenyIPFile, "access", "deny_ip_file"),
		"banfile":         file(&acc.DenyIPFile, "access", "deny_ip_file"),
		"allow-ip":        file(&acc.AllowIPFile, "access", "allow_ip_file"),
		"deny-agents":     file(&acc.DenyAgentsFile, "access", "deny_agents_file"),
		"ssl-certificate": cert,
		"ssl_certificate": cert,
		"tls-certificate": cert,
		"ssl-private-key": func(n *xnode) {
			r.tlsFiles = append(r.tlsFiles, n)
			r.tls().Key = r.text(n)
			r.key(n, "tls", -1, "key")
		},
		"ssl-allowed-ciphers": ciphers,
		"tls-allowed-ciphers": ciphers,
		"ssl-cafile":          r.unused("not honoured: icedeck asks no client certificates"),
		"mime-types":          r.unused("not honoured: icedeck serves no files"),
	}, "alias", "x-forwarded-for")
}

func (r *xmlReader) logging(n *xnode) {
	// icecast-kh also writes <accesslog><name>…</name>…</accesslog>.
	named := func(dst **xnode) func(*xnode) {
		return func(n *xnode) {
			if len(n.kids) == 0 {
				*dst = n
				return
			}
			h := handlers{"name": func(k *xnode) { *dst = k }, "level": r.logLevel}
			for _, k := range []string{"ip", "type", "archive", "exclude_ext", "display", "querystr", "size", "duration"} {
				h[k] = r.unused("not honoured")
			}
			r.children(n, h)
		}
	}
	notHonoured := r.unused("not honoured: icedeck does not rotate or trim its logs")
	r.children(n, handlers{
		"accesslog":             named(&r.accessLog),
		"errorlog":              named(&r.errorLog),
		"loglevel":              r.logLevel,
		"logsize":               notHonoured,
		"logarchive":            notHonoured,
		"playlistlog":           r.unused("not written: icedeck keeps no playlist log (the event feed and the report carry titles)"),
		"accesslog_ip":          r.unused("not honoured: the access log always has the address"),
		"accesslog_exclude_ext": r.unused("not honoured"),
		"accesslog_lines":       r.unused("not honoured"),
		"errorlog_lines":        r.unused("not honoured"),
		"playlistlog_lines":     r.unused("not honoured"),
		"preroll-log":           r.unused("not written"),
	})
}

func (r *xmlReader) logLevel(n *xnode) {
	v, ok := r.int(n)
	if !ok {
		return
	}
	levels := []string{"error", "warn", "info", "debug"}
	if v < 1 || v > len(levels) {
		r.bad(n, "loglevel is 1 (error), 2 (warn), 3 (info) or 4 (debug), not %d", v)
		return
	}
	r.f.Server.LogLevel = levels[v-1]
	r.key(n, "server", -1, "log_level")
}

func (r *xmlReader) security(n *xnode) {
	s := &r.f.Server
	r.children(n, handlers{
		"chroot": func(n *xnode) {
			if on, ok := r.bool(n); ok && on {
				r.warn(n, "not honoured: icedeck does not chroot (to <basedir>); run it in a container or under systemd's RootDirectory=")
			}
		},
		"changeowner": func(n *xnode) {
			r.children(n, handlers{
				"user":  r.str(&s.User, "server", "user"),
				"group": r.str(&s.Group, "server", "group"),
			})
		},
	})
}

// upstreamXML is one server a <relay> pulls from.
type upstreamXML struct {
	server, mount, uri string
	port               int
	user, pass         *string
	line               *xnode
}

func (u upstreamXML) url() string {
	if u.uri != "" {
		return u.uri
	}
	cred := ""
	if u.user != nil || u.pass != nil {
		user, pass := "relay", ""
		if u.user != nil {
			user = *u.user
		}
		if u.pass != nil {
			pass = *u.pass
		}
		cred = url.UserPassword(user, pass).String() + "@"
	}
	return "http://" + cred + net.JoinHostPort(u.server, strconv.Itoa(u.port)) + u.mount
}

// upstream reads the settings of one upstream into u: a <relay>'s own, or
// those of icecast-kh's <master>/<host> and 2.5's <upstream> inside it.
func (r *xmlReader) upstream(u *upstreamXML, icy **bool) handlers {
	return handlers{
		"server":   func(n *xnode) { u.server = r.text(n) },
		"ip":       func(n *xnode) { u.server = r.text(n) },
		"port":     func(n *xnode) { u.port, _ = r.port(n) },
		"mount":    func(n *xnode) { u.mount = r.text(n) },
		"uri":      func(n *xnode) { u.uri = r.text(n) },
		"username": func(n *xnode) { v := r.text(n); u.user = &v },
		"password": func(n *xnode) { v := r.secret(n); u.pass = &v },
		"relay-shoutcast-metadata": func(n *xnode) {
			if v, ok := r.bool(n); ok {
				*icy = &v
			}
		},
		"relay-icy-metadata": func(n *xnode) {
			if v, ok := r.bool(n); ok {
				*icy = &v
			}
		},
		"bind":    r.unused("not honoured: the system picks the address to connect from"),
		"timeout": r.unused("not honoured: icedeck's connect timeout is used"),
		"tls":     r.unused("not honoured: an upstream is http://"),
	}
}

func (r *xmlReader) relay(n *xnode) {
	i := len(r.f.Relays)
	r.key(n, "relay", i, "")
	var rs RelaySection
	// Icecast's defaults: the relay's own upstream settings are also the
	// defaults of every <master>, <host> or <upstream> inside it.
	def := upstreamXML{server: "127.0.0.1", port: 8000, mount: "/", line: n}
	var hosts []upstreamXML
	var local *xnode
	var onDemand *bool
	enabled := true
	h := r.upstream(&def, &rs.ICYMetadata)
	sub := func(k *xnode) {
		if k.attr["type"] == "default" {
			r.children(k, r.upstream(&def, &rs.ICYMetadata))
			return
		}
		u := def
		u.uri, u.line = "", k
		r.children(k, r.upstream(&u, &rs.ICYMetadata))
		hosts = append(hosts, u)
	}
	h["master"], h["host"], h["upstream"] = sub, sub, sub
	h["local-mount"] = func(k *xnode) { local = k }
	h["on-demand"] = func(k *xnode) {
		if v, ok := r.bool(k); ok {
			onDemand = &v
		}
	}
	h["retry-delay"] = func(k *xnode) {
		v, ok := r.seconds(k)
		switch {
		case !ok:
		case time.Duration(v) > maxRelayRetry:
			r.warn(k, "icedeck's first retry is at most %s; that is used (later retries double)", maxRelayRetry)
			rs.Retry = Duration(maxRelayRetry)
		default:
			rs.Retry = v
		}
	}
	h["enable"] = func(k *xnode) { enabled, _ = r.bool(k) }
	h["run-on"] = r.unused("not honoured: a relay that loses its upstream stops at once")
	r.children(n, h, "master", "host", "upstream")
	drop := func() {
		r.lines.entries = slices.DeleteFunc(r.lines.entries, func(e keyLine) bool { return e.table == "relay" && e.index == i })
	}
	if !enabled {
		r.warn(n, "not started: <enable>0")
		drop()
		return
	}
	if len(hosts) == 0 {
		hosts = []upstreamXML{def}
	}
	for _, u := range hosts {
		rs.Upstreams = append(rs.Upstreams, u.url())
	}
	r.key(hosts[0].line, "relay", i, "upstreams")
	switch {
	case local != nil:
		rs.Mount, _ = r.mountName(local)
		r.key(local, "relay", i, "mount")
	case hosts[0].uri == "":
		// As Icecast: the local mount is the upstream's.
		if err := rs.Mount.UnmarshalText([]byte(hosts[0].mount)); err != nil {
			r.bad(n, "no <local-mount>, and the upstream's mount is not one here: %v", err)
		}
	default:
		r.bad(n, "a relay with an <upstream><uri> needs a <local-mount>")
	}
	if rs.Mount == "" {
		drop() // reported above
		return
	}
	r.f.Relays = append(r.f.Relays, rs)
	r.relayOnDemand = append(r.relayOnDemand, onDemand)
}

// khMaster is icecast-kh's <master> section: the <master-*> settings
// under shorter names.
func (r *xmlReader) khMaster(n *xnode) {
	as := func(name string) func(*xnode) {
		return func(k *xnode) { k.name = name; r.master[name] = k }
	}
	r.children(n, handlers{
		"server":      as("master-server"),
		"port":        as("master-server-port"),
		"username":    as("master-username"),
		"password":    as("master-password"),
		"interval":    as("master-update-interval"),
		"on-demand":   func(k *xnode) { r.relaysOnDemand, _ = r.bool(k); r.master["relays-on-demand"] = k },
		"ssl-port":    r.unused("not honoured: icedeck mirrors a master over http://"),
		"bind":        r.unused("not honoured: the system picks the address to connect from"),
		"relay-auth":  r.unused("not honoured: relayed mounts need no source login here"),
		"retry-delay": r.unused("not honoured: icedeck retries after 2 s, doubling"),
		"redirect":    r.unused("not honoured: icedeck does not register with a master for redirects (see [redirect])"),
		"run-on":      r.unused("not honoured"),
	})
}

func (r *xmlReader) mount(n *xnode) {
	switch t := n.attr["type"]; t {
	case "", "normal":
	case "default":
		r.defaultMount(n)
		return
	default:
		r.bad(n, "type=%q: a mount is type=\"normal\" or type=\"default\"", t)
		return
	}
	i := len(r.f.Mounts)
	var m MountSection
	r.key(n, "mount", i, "")
	r.children(n, r.mountHandlers(&m, i))
	drop := func() {
		r.lines.entries = slices.DeleteFunc(r.lines.entries, func(e keyLine) bool {
			return (e.table == "mount" || e.table == "mount.auth") && e.index == i
		})
	}
	if m.Name == "" && slices.ContainsFunc(n.kids, func(k *xnode) bool { return k.name == "mount-name" }) {
		drop() // its name was reported
		return
	}
	if strings.ContainsAny(string(m.Name), mountPattern) {
		r.warn(n, "mount-name %q is a pattern: patterns are not supported, this <mount> is not applied", m.Name)
		drop()
		return
	}
	r.f.Mounts = append(r.f.Mounts, m)
}

// defaultMount is <mount type="default">: Icecast's settings for every
// mount without a <mount> of its own. Those with a global counterpart set
// it; the rest cannot be expressed and are reported.
func (r *xmlReader) defaultMount(n *xnode) {
	var scratch MountSection
	h := r.mountHandlers(&scratch, -1)
	l := &r.f.Limits
	for _, k := range n.kids {
		switch _, known := h[k.name]; {
		case k.name == "max-listeners":
			if v, ok := r.int(k); ok {
				l.MaxListeners = max(v, 0)
				r.key(k, "limits", -1, "max_listeners")
			}
		case k.name == "burst-size":
			if v, ok := r.amount(k); ok {
				l.BurstSize = v
				r.key(k, "limits", -1, "burst_size")
			}
		case known:
			r.warn(k, "not applied: from <mount type=\"default\"> icedeck takes only max-listeners and burst-size; set this in each <mount>")
		default:
			r.warn(k, "unknown element, ignored")
		}
	}
}

// mountPattern has the characters that make an icecast-kh mount-name a
// pattern matching many mounts.
const mountPattern = "*?[$"

func (r *xmlReader) mountHandlers(m *MountSection, i int) handlers {
	str := func(dst *string, key string) func(*xnode) {
		return func(n *xnode) { *dst = r.text(n); r.key(n, "mount", i, key) }
	}
	boolean := func(dst *bool, key string) func(*xnode) {
		return func(n *xnode) {
			if v, ok := r.bool(n); ok {
				*dst = v
				r.key(n, "mount", i, key)
			}
		}
	}
	notSupported := r.unused("not supported by icedeck, ignored")
	return handlers{
		"mount-name": func(n *xnode) {
			if v := r.text(n); strings.ContainsAny(v, mountPattern) {
				m.Name = MountName(v) // a pattern: reported by the caller
				return
			}
			m.Name, _ = r.mountName(n)
			r.key(n, "mount", i, "name")
		},
		"username": str(&m.Username, "username"),
		"password": func(n *xnode) { m.Password = r.secret(n); r.key(n, "mount", i, "password") },
		"max-listeners": func(n *xnode) {
			if v, ok := r.int(n); ok {
				m.MaxListeners = max(v, 0) // Icecast's -1: no limit of its own
				r.key(n, "mount", i, "max_listeners")
			}
		},
		"max-listener-duration": func(n *xnode) {
			if v, ok := r.seconds(n); ok {
				m.MaxListenerDuration = v
				r.key(n, "mount", i, "max_listener_duration")
			}
		},
		// Kept as written, icecast-kh's file fallbacks (/file-[128].mp3)
		// included: the engine resolves them.
		"fallback-mount": func(n *xnode) {
			m.Fallback, _ = r.mountName(n)
			r.key(n, "mount", i, "fallback")
		},
		"fallback-override": func(n *xnode) {
			var v bool
			switch s := strings.ToLower(strings.TrimSpace(n.text)); s {
			case "all": // Icecast 2.5
				v = true
			case "none":
			case "own":
				r.warn(n, "\"own\" is not honoured: every listener moved to the fallback comes back")
				v = true
			default:
				var ok bool
				if v, ok = r.bool(n); !ok {
					return
				}
			}
			m.FallbackOverride = &v
			r.key(n, "mount", i, "fallback_override")
		},
		"fallback-when-full": func(n *xnode) {
			if on, ok := r.bool(n); ok && on {
				r.warn(n, "not honoured: a listener over max-listeners is refused, not sent to the fallback")
			}
		},
		"dump-file": str(&m.DumpFile, "dump_file"),
		"intro":     str(&m.Intro, "intro"),
		"hidden":    boolean(&m.Hidden, "hidden"),
		"public": func(n *xnode) {
			if v, ok := r.bool(n); ok {
				m.Public = &v
				r.key(n, "mount", i, "public")
			}
		},
		"charset": func(n *xnode) {
			if err := m.Charset.UnmarshalText([]byte(r.text(n))); err != nil {
				r.bad(n, "%v", err)
			}
			r.key(n, "mount", i, "charset")
		},
		"stream-name":        str(&m.StreamName, "stream_name"),
		"stream-description": str(&m.StreamDesc, "stream_description"),
		"stream-url":         str(&m.URL, "url"),
		"genre":              str(&m.Genre, "genre"),
		"bitrate":            str(&m.Bitrate, "bitrate"),
		"limit-rate": func(n *xnode) {
			if v, ok := r.amount(n); ok {
				m.LimitRate = v
				r.key(n, "mount", i, "limit_rate")
			}
		},
		"burst-size": func(n *xnode) {
			if v, ok := r.amount(n); ok {
				m.BurstSize = v
				r.key(n, "mount", i, "burst_size")
			}
		},
		"on-connect":     str(&m.OnConnect, "on_connect"),
		"on-disconnect":  str(&m.OnDisconnect, "on_disconnect"),
		"authentication": func(n *xnode) { r.mountAuth(n, m, i) },
		"http-headers":   r.unused("not honoured: icedeck sends the global <http-headers> on every mount"),
		// Icecast takes these from the source; so does icedeck.
		"type":                  r.unused("not honoured: the content type is the source's"),
		"subtype":               r.unused("not honoured: the content type is the source's"),
		"queue-size":            r.unused("not honoured per mount: <limits><queue-size> applies to every mount"),
		"source-timeout":        r.unused("not honoured per mount: <limits><source-timeout> applies to every mount"),
		"mp3-metadata-interval": r.unused("not honoured per mount: icedeck's metaint applies to every mount"),
		"metadata-interval":     r.unused("not honoured per mount: icedeck's metaint applies to every mount"),
		"max-stream-duration":   notSupported,
		"max-bandwidth":         notSupported,
		"cluster-password":      notSupported,
		"no-mount":              notSupported,
		"redirect":              notSupported,
		"redirect-to":           notSupported,
	}
}

// mountAuth is <authentication> in a <mount>: type="url" is Icecast's
// URL authentication; the others are reported.
func (r *xmlReader) mountAuth(n *xnode, m *MountSection, i int) {
	switch t := n.attr["type"]; t {
	case "url":
	case "htpasswd":
		r.warn(n, "type=\"htpasswd\" is not honoured: listeners are admitted without a password (use type=\"url\")")
		return
	default:
		r.warn(n, "type=%q is not honoured: listeners are admitted without it (use type=\"url\")", t)
		return
	}
	a := &URLAuthSection{}
	opt := func(dst *string, key string) func(*xnode, string) {
		return func(o *xnode, v string) { *dst = v; r.key(o, "mount.auth", i, key) }
	}
	options := map[string]func(*xnode, string){
		"listener_add":    opt(&a.ListenerAdd, "listener_add"),
		"add":             opt(&a.ListenerAdd, "listener_add"), // icecast-kh
		"listener_remove": opt(&a.ListenerRemove, "listener_remove"),
		"remove":          opt(&a.ListenerRemove, "listener_remove"),
		"mount_add":       opt(&a.MountAdd, "mount_add"),
		"mount_remove":    opt(&a.MountRemove, "mount_remove"),
		"username":        opt(&a.Username, "username"),
		"password":        opt(&a.Password, "password"),
		"auth_header":     opt(&a.AuthHeader, "auth_header"),
		// Icecast writes the header with its colon; the engine wants its name.
		"timelimit_header": func(o *xnode, v string) {
			a.TimelimitHeader = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), ":"))
			r.key(o, "mount.auth", i, "timelimit_header")
		},
		"header_prefix": opt(&a.HeaderPrefix, "header_prefix"),
		"headers": func(o *xnode, v string) {
			for _, h := range strings.Split(v, ",") {
				if h = strings.TrimSpace(h); h != "" {
					a.Headers = append(a.Headers, h)
				}
			}
			r.key(o, "mount.auth", i, "headers")
		},
		"stream_auth": func(o *xnode, _ string) {
			r.warn(o, "option \"stream_auth\" is not honoured: sources log in with the mount's or the global password")
		},
	}
	r.children(n, handlers{"option": func(o *xnode) {
		r.leaf(o)
		name := o.attr["name"]
		if fn, ok := options[name]; ok {
			fn(o, o.attr["value"])
			return
		}
		r.warn(o, "option %q is not honoured", name)
	}}, "option")
	m.Auth = a
}

// finish settles what depends on several elements: log paths under
// <logdir>, Shoutcast-compatible sockets, the master and relays' on-demand.
func (r *xmlReader) finish() {
	s := &r.f.Server
	r.rootListener()
	logPath := func(n *xnode, dst *string, key string) {
		if n == nil {
			return
		}
		p := r.text(n)
		if p != "" && !filepath.IsAbs(p) && r.logdir != "" {
			p = filepath.Join(r.logdir, p)
		}
		*dst = p
		r.key(n, "server", -1, key)
	}
	logPath(r.accessLog, &s.AccessLog, "access_log")
	logPath(r.errorLog, &s.ErrorLog, "error_log")

	if len(r.compat) > 0 {
		// A shoutcast-compat socket takes sources for the top-level
		// <shoutcast-mount>, "/stream" by default, as Icecast.
		mount, ok := MountName("/stream"), true
		if r.scRoot != nil {
			mount, ok = r.mountName(r.scRoot)
		}
		switch {
		case !ok:
		case s.ShoutcastMount == "":
			s.ShoutcastMount = mount
			if r.scRoot != nil {
				r.key(r.scRoot, "server", -1, "shoutcast_mount")
			}
		case s.ShoutcastMount != mount:
			r.warn(r.compat[0], "icedeck takes Shoutcast sources for one mount: %s is used on every Shoutcast port, not %s", s.ShoutcastMount, mount)
		}
	} else if r.scRoot != nil {
		r.warn(r.scRoot, "unused: no <listen-socket> takes Shoutcast sources (give it <shoutcast-mount> or <shoutcast-compat>1)")
	}

	if t := r.f.TLS; t != nil && len(t.Listen) == 0 {
		r.warn(r.tlsFiles[0], "unused: no <listen-socket> has <ssl>1")
	}

	for i, od := range r.relayOnDemand {
		r.f.Relays[i].OnDemand = r.relaysOnDemand
		if od != nil {
			r.f.Relays[i].OnDemand = *od
		}
	}

	server := r.master["master-server"]
	if server == nil {
		for _, k := range []string{"master-server-port", "master-update-interval", "master-username", "master-password"} {
			if n := r.master[k]; n != nil {
				r.warn(n, "unused without <master-server>")
			}
		}
		return
	}
	ms := &MasterSection{OnDemand: r.relaysOnDemand}
	port := 8000
	if n := r.master["master-server-port"]; n != nil {
		var ok bool
		if port, ok = r.port(n); !ok {
			return
		}
	}
	ms.URL = "http://" + net.JoinHostPort(r.text(server), strconv.Itoa(port))
	r.key(server, "master", -1, "")
	r.key(server, "master", -1, "url")
	if n := r.master["master-username"]; n != nil {
		ms.User = r.text(n)
		r.key(n, "master", -1, "user")
	}
	if n := r.master["master-password"]; n != nil {
		ms.Password = r.secret(n)
		r.key(n, "master", -1, "password")
	}
	if n := r.master["master-update-interval"]; n != nil {
		ms.UpdateInterval, _ = r.seconds(n)
		r.key(n, "master", -1, "update_interval")
	}
	r.f.Master = ms
}
