package control

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
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

// checkRemotes lists what is wrong with the [[remote]] sections: a URL
// missing, two shown under the same name.
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
		if j, dup := seen[name]; dup {
			errs = append(errs, &ConfigError{File: f.Path, Line: f.lines.at("remote", i, "name"),
				Msg: fmt.Sprintf("remote %q: the name of remote %d too; give each its own name", name, j+1)})
			continue
		}
		seen[name] = i
	}
	return errs
}
