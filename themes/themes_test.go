package themes

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"charm.land/lipgloss/v2"
)

func TestEmbeddedThemesComplete(t *testing.T) {
	want := []string{"default", "light", "high-contrast", "catppuccin-mocha", "gruvbox-dark", "dracula", "nord"}
	names := Names()
	if names[0] != Default {
		t.Fatalf("Names()[0] = %q, want %q", names[0], Default)
	}
	for _, w := range want {
		if !slices.Contains(names, w) {
			t.Errorf("embedded theme %q missing; have %v", w, names)
		}
	}
	for _, n := range names {
		th, err := Load(n, "")
		if err != nil {
			t.Fatalf("Load(%q): %v", n, err)
		}
		if th.Name != n {
			t.Errorf("Load(%q).Name = %q", n, th.Name)
		}
		for _, k := range Keys {
			if th.Colors[k] == "" {
				t.Errorf("theme %s: key %s missing", n, k)
			}
		}
		// The file's own name line must agree with its file name.
		data, _ := embedded.ReadFile("data/" + n + ".toml")
		if !strings.Contains(string(data), `name = "`+n+`"`) {
			t.Errorf("theme file %s.toml does not say name = %q", n, n)
		}
	}
	light, _ := Load("light", "")
	if light.Dark {
		t.Error("light theme reports Dark")
	}
}

func TestUserOverrideAndExtend(t *testing.T) {
	dir := t.TempDir()
	// Override one key of an embedded theme.
	write(t, dir, "nord.toml", "# mine\nerror = \"#123\"  # short form\n")
	// A new theme based on dracula, light kind.
	write(t, dir, "mine.toml", "base = \"dracula\"\nkind = \"light\"\nlive = \"#00FF00\"\n")

	nord, err := Load("nord", dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := nord.Colors["error"]; got != "#112233" {
		t.Errorf("overridden error colour = %q, want #112233", got)
	}
	if got := nord.Colors["live"]; got != "#a3be8c" {
		t.Errorf("kept live colour = %q, want nord's #a3be8c", got)
	}
	mine, err := Load("mine", dir)
	if err != nil {
		t.Fatal(err)
	}
	if mine.Colors["live"] != "#00ff00" || mine.Colors["error"] != "#ff5555" || mine.Dark {
		t.Errorf("mine = %+v", mine)
	}
	all, err := AllNames(dir)
	if err != nil {
		t.Fatal(err)
	}
	if all[len(all)-1] != "mine" || countOf(all, "nord") != 1 {
		t.Errorf("AllNames = %v", all)
	}
	// A user file without base extends the default theme.
	write(t, dir, "plain.toml", "accent = \"#abcdef\"\n")
	plain, err := Load("plain", dir)
	if err != nil {
		t.Fatal(err)
	}
	def, _ := Load("default", "")
	if plain.Colors["accent"] != "#abcdef" || plain.Colors["live"] != def.Colors["live"] {
		t.Errorf("plain = %v", plain.Colors)
	}
}

func TestBadFilesNameFileAndLine(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ body, want string }{
		{"fg = \"#fff\"\n\nlive = \"green\"\n", ":3: live: colour \"green\""},
		{"# c\nnope = \"#fff\"\n", ":2: unknown key \"nope\""},
		{"fg \"#fff\"\n", ":1: expected key = \"value\""},
		{"fg = #fff\n", ":1: value of fg must be a quoted string"},
		{"kind = \"grey\"\n", ":1: kind must be"},
		{"fg = \"#fff\" x\n", ":1: unexpected text"},
		{"base = \"bad\"\n", "base \"bad\""},
	}
	for i, c := range cases {
		write(t, dir, "bad.toml", c.body)
		_, err := Load("bad", dir)
		if err == nil {
			t.Fatalf("case %d: no error for %q", i, c.body)
		}
		path := filepath.Join(dir, "bad.toml")
		if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("case %d: error %q; want file %s and %q", i, err, path, c.want)
		}
	}
	if _, err := Load("../etc/passwd", dir); err == nil {
		t.Error("path-like theme name accepted")
	}
	if _, err := Load("no-such-theme", dir); err == nil || !strings.Contains(err.Error(), "default") {
		t.Errorf("unknown theme error = %v", err)
	}
	write(t, dir, "loop.toml", "base = \"loop\"\n")
	if _, err := Load("loop", dir); err == nil {
		t.Error("self-based theme accepted")
	}
}

func TestStylesNoColor(t *testing.T) {
	th, err := Load("dracula", "")
	if err != nil {
		t.Fatal(err)
	}
	col := NewStyles(th, false)
	if _, ok := col.Live.GetForeground().(lipgloss.NoColor); ok {
		t.Error("coloured styles: Live has no foreground")
	}
	plain := NewStyles(th, true)
	all := []lipgloss.Style{plain.Text, plain.Dim, plain.Accent, plain.Header, plain.Border, plain.TableHeader,
		plain.Row, plain.Selected, plain.SelectedDim, plain.Marked, plain.TabActive, plain.TabInactive, plain.Live,
		plain.Stalled, plain.Grace, plain.Error, plain.Warn, plain.Info, plain.MeterGreen, plain.MeterYellow,
		plain.MeterRed, plain.HelpKey, plain.HelpDesc, plain.HelpSep}
	for i, s := range all {
		if _, ok := s.GetForeground().(lipgloss.NoColor); !ok {
			t.Errorf("NO_COLOR style %d has foreground %v", i, s.GetForeground())
		}
		if _, ok := s.GetBackground().(lipgloss.NoColor); !ok {
			t.Errorf("NO_COLOR style %d has background %v", i, s.GetBackground())
		}
	}
	if !plain.Selected.GetReverse() {
		t.Error("NO_COLOR selection is not reverse video")
	}
	t.Setenv("NO_COLOR", "1")
	if !NoColorEnv() {
		t.Error("NoColorEnv false with NO_COLOR=1")
	}
	t.Setenv("NO_COLOR", "")
	if NoColorEnv() {
		t.Error("NoColorEnv true with empty NO_COLOR")
	}
}

func write(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func countOf(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}
