package control

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// BenchmarkScrapes measures the documents a dashboard polls, rendered from
// a live engine with 8 mounts of 16 listeners each.
func BenchmarkScrapes(b *testing.B) {
	e := start(b, Options{}, nil)
	data := testkit.Media(b, "tone.mp3")
	for i := range 8 {
		mount := fmt.Sprintf("/m%d.mp3", i)
		e.connectSource(mount, "source", srcPass).Send(data[:32000], 32000, 0)
		for range 16 {
			testkit.Listen(b, e.addr, mount)
		}
	}
	testkit.Eventually(b, 10*time.Second, "128 listeners", func() bool { return e.srv.Snapshot().Listeners == 128 })
	for _, path := range []string{"/status-json.xsl", "/metrics", "/api/v1/status", "/admin/stats"} {
		b.Run(path, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.SetBasicAuth("admin", adminPass)
			req.RemoteAddr = "127.0.0.1:1234"
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				e.h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("%s: %d", path, rec.Code)
				}
				_, _ = io.Copy(io.Discard, rec.Body)
			}
		})
	}
}
