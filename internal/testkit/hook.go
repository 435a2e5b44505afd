package testkit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// HookCall is one request a Hook received.
type HookCall struct {
	Path       string
	Form       url.Values
	Keys       []string // the form's names in the order sent
	User, Pass string   // HTTP basic auth towards the hook
}

// Hook is a web service on a loopback port of the kind Icecast's URL
// authentication calls: it keeps every request's form and answers with
// the test's function.
type Hook struct {
	*httptest.Server
	mu    sync.Mutex
	calls []HookCall
}

// StartHook starts a Hook that answers with answer (nil: 200 and nothing
// more) after keeping the call; a request that is not a form POST fails
// the test. It is closed when the test ends.
func StartHook(t testing.TB, answer func(w http.ResponseWriter, r *http.Request, f url.Values)) *Hook {
	t.Helper()
	h := &Hook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f, err := url.ParseQuery(string(body))
		if err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			t.Errorf("hook got %s %q (%s): %v", r.Method, body, r.Header.Get("Content-Type"), err)
		}
		c := HookCall{Path: r.URL.Path, Form: f}
		for _, kv := range strings.Split(string(body), "&") {
			k, _, _ := strings.Cut(kv, "=")
			k, _ = url.QueryUnescape(k)
			c.Keys = append(c.Keys, k)
		}
		c.User, c.Pass, _ = r.BasicAuth()
		h.mu.Lock()
		h.calls = append(h.calls, c)
		h.mu.Unlock()
		if answer != nil {
			answer(w, r, f)
		}
	}))
	t.Cleanup(h.Close)
	return h
}

// Received waits until the hook has had n calls whose form's action is
// action, and returns them all, oldest first.
func (h *Hook) Received(t testing.TB, action string, n int) []HookCall {
	t.Helper()
	var got []HookCall
	Eventually(t, 10*time.Second, strconv.Itoa(n)+" "+action+" calls", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		got = nil
		for _, c := range h.calls {
			if c.Form.Get("action") == action {
				got = append(got, c)
			}
		}
		return len(got) >= n
	})
	return got
}

// Count is how many calls the hook has had.
func (h *Hook) Count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.calls)
}
