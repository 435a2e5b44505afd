package control

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/internal/testkit"
)

const (
	srcPass   = "hackme"
	adminPass = "adm1n"
)

type env struct {
	t    testing.TB
	srv  *engine.Server
	h    *Handler
	addr string
	base string
}

// start runs an engine with the control plane on a loopback port.
func start(t testing.TB, opts Options, mod func(*engine.Config)) *env {
	t.Helper()
	cfg := engine.Defaults()
	cfg.SourcePassword = srcPass
	opts.AdminPassword = adminPass
	cfg.Logger = testkit.Logger(t)
	if opts.Logger == nil {
		opts.Logger = cfg.Logger
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := New(s, opts)
	s.Handle(h)
	a := testkit.Serve(t, s)
	t.Cleanup(h.Close) // before the shutdown: cleanups run last first
	return &env{t: t, srv: s, h: h, addr: a, base: "http://" + a}
}

// get makes a request with optional Basic credentials (user "" = none)
// and returns the status, headers and body.
func (e *env) get(path, user, pass string, hdr ...string) (int, http.Header, string) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.base+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func (e *env) admin(path string) (int, string) {
	e.t.Helper()
	code, _, body := e.get(path, "admin", adminPass)
	return code, body
}

// connectSource connects a PUT source for audio/mpeg with the given
// credentials and returns once the engine lists it on mount.
func (e *env) connectSource(mount, user, pass string, header ...string) *testkit.Source {
	e.t.Helper()
	s, r := testkit.ConnectSource(e.t, e.addr, testkit.SourceRequest{
		Mount: mount, User: user, Password: pass, ContentType: "audio/mpeg", Header: header,
	})
	if s == nil {
		e.t.Fatalf("source %s not accepted: %d %q", mount, r.Code, r.Head)
	}
	testkit.Eventually(e.t, 5*time.Second, "source on "+mount, func() bool {
		m := findMount(e.srv.Snapshot(), mount)
		return m != nil && m.Source != nil
	})
	return s
}

func (e *env) listenerIDs(mount string) []uint64 {
	m := findMount(e.srv.Snapshot(), mount)
	if m == nil {
		return nil
	}
	var ids []uint64
	for _, l := range m.Listeners {
		ids = append(ids, l.ID)
	}
	return ids
}

func findMount(snap engine.Snapshot, name string) *engine.MountSnapshot {
	for i := range snap.Mounts {
		if snap.Mounts[i].Name == name {
			return &snap.Mounts[i]
		}
	}
	return nil
}
