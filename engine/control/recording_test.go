package control

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/internal/testkit"
)

// Recording starts and stops through the API; the file holds the stream.
func TestRecordingThroughAPI(t *testing.T) {
	dir := t.TempDir()
	e := start(t, Options{}, func(c *engine.Config) { c.RecordDir = dir })
	mp3 := testkit.Media(t, "tone.mp3")
	src := e.connectSource("/rec.mp3", "source", srcPass)
	src.Send(mp3[:20000], 20000, 0)
	testkit.Eventually(t, 2*time.Second, "mount up", func() bool { return e.srv.Recording("/rec.mp3") == false && len(e.srv.Snapshot().Mounts) == 1 })

	call := func(method string) (int, map[string]any) {
		req, _ := http.NewRequest(method, e.base+"/api/v1/recording?mount=/rec.mp3", nil)
		req.SetBasicAuth("admin", adminPass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, doc
	}
	code, doc := call(http.MethodPost)
	file, _ := doc["file"].(string)
	if code != http.StatusCreated || doc["recording"] != true || filepath.Dir(file) != dir {
		t.Fatalf("start: %d %v", code, doc)
	}
	src.Send(mp3[20000:40000], 20000, 0)
	testkit.Eventually(t, 2*time.Second, "recorded", func() bool {
		b, _ := os.ReadFile(file)
		return bytes.HasSuffix(b, mp3[39000:40000])
	})
	if code, doc := call(http.MethodGet); code != 200 || doc["file"] != file {
		t.Fatalf("status: %d %v", code, doc)
	}
	if code, doc := call(http.MethodDelete); code != 200 || doc["recording"] != false {
		t.Fatalf("stop: %d %v", code, doc)
	}
	if code, _ := call(http.MethodDelete); code != http.StatusConflict {
		t.Fatalf("second stop: %d, want 409", code)
	}
	b, _ := os.ReadFile(file)
	if i := bytes.Index(mp3, b[:64]); i < 0 || !bytes.Equal(b, mp3[i:40000]) {
		t.Fatalf("recording of %d bytes is not the stream up to the stop", len(b))
	}
}
