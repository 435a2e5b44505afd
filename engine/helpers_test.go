package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/icedeck/icedeck/internal/testkit"
)

const testPassword = "hackme"

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// startServer runs an engine on a loopback port for the test.
func startServer(t testing.TB, mod func(*Config)) (*Server, string) {
	t.Helper()
	cfg := Defaults()
	cfg.SourcePassword = testPassword
	cfg.Logger = testkit.Logger(t)
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, testkit.Serve(t, s)
}

// connectSource connects a source as user "source" with the engine tests'
// password. Refused, it returns nil and the answer.
func connectSource(t testing.TB, addr, method, mount, contentType string, header ...string) (*testkit.Source, testkit.Response) {
	t.Helper()
	return testkit.ConnectSource(t, addr, testkit.SourceRequest{
		Method: method, Mount: mount, User: "source", Password: testPassword, ContentType: contentType, Header: header,
	})
}

func mountSnap(s *Server, name string) *MountSnapshot {
	for _, m := range s.Snapshot().Mounts {
		if m.Name == name {
			return &m
		}
	}
	return nil
}

// findEvent reports the first kept event matching typ and mount.
func findEvent(s *Server, typ EventType, mount string) *Event {
	for _, e := range s.Events(0) {
		if e.Type == typ && (mount == "" || e.Mount == mount) {
			return &e
		}
	}
	return nil
}
