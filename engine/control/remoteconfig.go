package control

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"
)

// RemoteSection is one [[remote]]: another server the console shows
// beside the local engine (the remote package reads it). The engine and
// the control plane do nothing with it.
type RemoteSection struct {
	Name string    `toml:"name"` // on screen; "" for the URL's host:port
	URL  RemoteURL `toml:"url"`  // http://[user:password@]host:port, or https://
	// User and Password are the admin credentials, over those in the URL;
	// with none, an Icecast is only read (status-json.xsl).
	User     string     `toml:"user"`
	Password string     `toml:"password"`
	Kind     RemoteKind `toml:"kind"` // "auto" (default), "icedeck" or "icecast"
}

// RemoteURL is a server's address as a URL, credentials allowed, nothing
// after the host.
type RemoteURL string

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *RemoteURL) UnmarshalText(b []byte) error {
	s := string(b)
	err := checkURL(s, false, true)
	if err == nil {
		u, _ := url.Parse(s)
		if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
			err = errors.New("has a path: give the server's address alone (http://host:8000)")
		}
	}
	if err != nil {
		return fmt.Errorf("url %q: %v", redactURL(s), err)
	}
	*r = RemoteURL(s)
	return nil
}

// RemoteKind is what a remote server is: "auto" finds out.
type RemoteKind string

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *RemoteKind) UnmarshalText(b []byte) error {
	switch v := strings.ToLower(string(b)); v {
	case "auto", "icedeck", "icecast":
		*k = RemoteKind(v)
		return nil
	}
	return fmt.Errorf("kind is \"auto\", \"icedeck\" or \"icecast\", not %q", b)
}

// DisplayName is the name the server is shown with: its own, else its
// address.
func (r RemoteSection) DisplayName() string {
	if r.Name != "" {
		return r.Name
	}
	u, err := url.Parse(string(r.URL))
	if err != nil {
		return string(r.URL)
	}
	return u.Host
}

// LocalName is what the console calls the engine in its own process; no
// remote server may be called so.
const LocalName = "local"

// CheckRemoteName says what is wrong with a remote server's name, the
// rule for [[remote]] and the command line alike: the console shows a
// remote mount as NAME/mount, so a "/" would make it ambiguous, a space
// would read as two columns, and "local" is the engine in the console's
// own process.
func CheckRemoteName(name string) error {
	switch {
	case name == "":
		return errors.New("remote name is empty")
	case strings.Contains(name, "/"):
		return fmt.Errorf("remote name %q: a name cannot have \"/\" in it (its mounts are shown as NAME/mount)", name)
	case strings.EqualFold(name, LocalName):
		return fmt.Errorf("remote name %q: the name of the engine in this process; give the server another", name)
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		return fmt.Errorf("remote name %q: has spaces or control characters", name)
	}
	return nil
}

// checkRemotes lists what is wrong with the [[remote]] sections: a URL
// missing, a name the console cannot show, two shown under the same name.
func (f File) checkRemotes() []error {
	var errs []error
	seen := map[string]int{}
	for i, r := range f.Remotes {
		if r.URL == "" {
			errs = append(errs, &ConfigError{File: f.Path, Line: f.lines.at("remote", i, "url"),
				Msg: fmt.Sprintf("remote %d: url is required (http://admin:password@host:8000)", i+1)})
			continue
		}
		name := r.DisplayName()
		if err := CheckRemoteName(name); err != nil {
			key := "name"
			if r.Name == "" {
				key = "url" // the name is the URL's host
			}
			errs = append(errs, &ConfigError{File: f.Path, Line: f.lines.at("remote", i, key), Msg: err.Error()})
			continue
		}
		if j, dup := seen[name]; dup {
			errs = append(errs, &ConfigError{File: f.Path, Line: f.lines.at("remote", i, "name"),
				Msg: fmt.Sprintf("remote %q: the name of remote %d too; give each its own name", name, j+1)})
			continue
		}
		seen[name] = i
	}
	return errs
}

// RemoteLine is the line of the i-th [[remote]], 0 when unknown: for the
// command line's errors about it.
func (f File) RemoteLine(i int) int {
	if f.lines == nil {
		return 0
	}
	return f.lines.table("remote", i)
}
