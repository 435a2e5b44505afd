// Package themes holds icedeck's colour themes as embedded data files and
// turns a Theme into one Styles value that the interface passes down.
//
// A theme file is flat TOML: one `key = "value"` per line, `#` comments and
// blank lines allowed. Colours are "#rrggbb" or "#rgb". The keys are listed in
// Keys; `name` and `kind` ("dark" or "light") are metadata. A file in the user
// directory named <name>.toml overrides keys of the embedded theme of that
// name, or adds a new theme; keys it leaves out come from the theme named by
// its optional `base` key, else from "default".
package themes

import (
	"bufio"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

//go:embed data/*.toml
var embedded embed.FS

// Default is the theme used when none is named.
const Default = "default"

// Keys lists every colour key a theme defines, in file order.
var Keys = []string{
	"fg", "dim", "accent",
	"header_fg", "header_bg", "table_header", "row",
	"selected_fg", "selected_bg", "marked",
	"tab_active_fg", "tab_active_bg", "tab_inactive",
	"live", "stalled", "grace", "error", "warn", "info",
	"meter_green", "meter_yellow", "meter_red",
	"help_key", "help_desc", "border",
}

// Theme is a named set of colours, each "#rrggbb".
type Theme struct {
	Name   string
	Dark   bool
	Colors map[string]string // key (see Keys) → "#rrggbb"
	Source string            // file the theme came from, for messages
}

// Color returns the colour for key, or "" when the theme has none.
func (t Theme) Color(key string) string { return t.Colors[key] }

// Names returns the embedded theme names, "default" first, the rest sorted.
func Names() []string {
	entries, err := fs.ReadDir(embedded, "data")
	if err != nil {
		return []string{Default}
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".toml"); ok && n != Default {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return append([]string{Default}, names...)
}

// AllNames returns the embedded names followed by the names of any extra
// themes in userDir (files <name>.toml). A missing userDir is not an error.
func AllNames(userDir string) ([]string, error) {
	names := Names()
	if userDir == "" {
		return names, nil
	}
	entries, err := os.ReadDir(userDir)
	if errors.Is(err, fs.ErrNotExist) {
		return names, nil
	}
	if err != nil {
		return names, fmt.Errorf("themes: reading %s: %w", userDir, err)
	}
	var extra []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".toml"); ok && !e.IsDir() && !slices.Contains(names, n) {
			extra = append(extra, n)
		}
	}
	slices.Sort(extra)
	return append(names, extra...), nil
}

// Load returns the theme called name: the embedded one, overridden or
// extended by userDir/<name>.toml when that file exists. An empty name means
// Default. A malformed file gives an error naming the file and line.
func Load(name, userDir string) (Theme, error) {
	return load(name, userDir, 0)
}

func load(name, userDir string, depth int) (Theme, error) {
	if name == "" {
		name = Default
	}
	if depth > 4 {
		return Theme{}, fmt.Errorf("themes: %q: base chain too deep (a theme's base refers back to itself?)", name)
	}
	if strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return Theme{}, fmt.Errorf("themes: %q is not a theme name (no path separators)", name)
	}
	var t parsed
	found := false
	if data, err := embedded.ReadFile("data/" + name + ".toml"); err == nil {
		p, err := parse(data, "embedded:"+name+".toml")
		if err != nil {
			return Theme{}, err
		}
		t, found = p, true
	}
	if userDir != "" {
		path := filepath.Join(userDir, name+".toml")
		data, err := os.ReadFile(path)
		switch {
		case err == nil:
			u, err := parse(data, path)
			if err != nil {
				return Theme{}, err
			}
			if !found {
				baseName := u.base
				if baseName == "" {
					baseName = Default
				}
				if baseName == name {
					return Theme{}, fmt.Errorf("%s: base %q is the theme itself", path, baseName)
				}
				b, err := load(baseName, userDir, depth+1)
				if err != nil {
					return Theme{}, fmt.Errorf("%s: base %q: %w", path, baseName, err)
				}
				t = parsed{Theme: b}
			}
			t = merge(t, u)
			t.Source = path
			found = true
		case !errors.Is(err, fs.ErrNotExist):
			return Theme{}, fmt.Errorf("themes: reading %s: %w", path, err)
		}
	}
	if !found {
		return Theme{}, fmt.Errorf("themes: no theme %q (have %s)", name, strings.Join(Names(), ", "))
	}
	t.Name = name
	return t.Theme, nil
}

// parsed is a Theme plus the file-only fields.
type parsed struct {
	Theme
	base    string
	hasKind bool
}

func merge(dst parsed, src parsed) parsed {
	out := dst
	out.Colors = make(map[string]string, len(Keys))
	for k, v := range dst.Colors {
		out.Colors[k] = v
	}
	for k, v := range src.Colors {
		out.Colors[k] = v
	}
	if src.hasKind {
		out.Dark = src.Dark
	}
	return out
}

// Parse reads one theme file on its own (no base theme is applied). file is
// used in error messages only.
func Parse(data []byte, file string) (Theme, error) {
	p, err := parse(data, file)
	return p.Theme, err
}

func parse(data []byte, file string) (parsed, error) {
	p := parsed{Theme: Theme{Dark: true, Colors: map[string]string{}, Source: file}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		errf := func(format string, a ...any) error {
			return fmt.Errorf("%s:%d: %s", file, line, fmt.Sprintf(format, a...))
		}
		k, v, ok := strings.Cut(text, "=")
		if !ok {
			return p, errf("expected key = \"value\", got %q", text)
		}
		k = strings.TrimSpace(k)
		v = strings.TrimSpace(v)
		// Allow a trailing comment after the quoted value.
		if strings.HasPrefix(v, `"`) {
			if end := strings.Index(v[1:], `"`); end >= 0 {
				rest := strings.TrimSpace(v[end+2:])
				if rest != "" && rest[0] != '#' {
					return p, errf("unexpected text after value: %q", rest)
				}
				v = v[:end+2]
			}
		}
		s, err := strconv.Unquote(v)
		if err != nil || !strings.HasPrefix(v, `"`) {
			return p, errf("value of %s must be a quoted string, got %s", k, v)
		}
		switch k {
		case "name":
			p.Name = s
		case "base":
			p.base = s
		case "kind":
			switch s {
			case "dark":
				p.Dark = true
			case "light":
				p.Dark = false
			default:
				return p, errf("kind must be \"dark\" or \"light\", got %q", s)
			}
			p.hasKind = true
		default:
			if !slices.Contains(Keys, k) {
				return p, errf("unknown key %q (known: %s)", k, strings.Join(Keys, ", "))
			}
			c, err := normHex(s)
			if err != nil {
				return p, errf("%s: %v", k, err)
			}
			p.Colors[k] = c
		}
	}
	if err := sc.Err(); err != nil {
		return p, fmt.Errorf("%s:%d: %w", file, line+1, err)
	}
	return p, nil
}

// normHex checks a "#rgb" or "#rrggbb" colour and returns it as "#rrggbb".
func normHex(s string) (string, error) {
	if !strings.HasPrefix(s, "#") || (len(s) != 4 && len(s) != 7) {
		return "", fmt.Errorf("colour %q is not #rrggbb", s)
	}
	for _, c := range s[1:] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return "", fmt.Errorf("colour %q is not #rrggbb", s)
		}
	}
	s = strings.ToLower(s)
	if len(s) == 4 {
		s = string([]byte{'#', s[1], s[1], s[2], s[2], s[3], s[3]})
	}
	return s, nil
}

// NoColorEnv reports whether the NO_COLOR convention (https://no-color.org)
// asks for no colours: the variable is set and not empty.
func NoColorEnv() bool { return os.Getenv("NO_COLOR") != "" }
