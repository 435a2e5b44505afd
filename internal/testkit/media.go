package testkit

import (
	"embed"
	"os"
	"path"
	"path/filepath"
	"testing"
)

// The media are embedded so that a test finds them whatever its package's
// directory; media/gen.sh regenerates them.
//
//go:embed media
var media embed.FS

// Media returns the contents of a shared test media file (media/name).
func Media(t testing.TB, name string) []byte {
	t.Helper()
	b, err := media.ReadFile(path.Join("media", name))
	if err != nil {
		t.Fatalf("test media: %v", err)
	}
	return b
}

// MediaPath returns the path of a copy of a shared test media file, for a
// program that reads it from disk; the copy goes with the test.
func MediaPath(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, Media(t, name), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Testdata returns the contents of testdata/name in the directory of the
// package under test: the fixtures only that package uses.
func Testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
