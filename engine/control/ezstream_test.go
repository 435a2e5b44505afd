package control

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/internal/testkit"
)

// ezstream, a real libshout-based source client: it probes without
// credentials, streams, and pushes each track's title to /admin/metadata
// with the source's own credentials. An ICY listener must see that title.
func TestEzstreamUpdatesTitle(t *testing.T) {
	ez := testkit.NeedTool(t, "ezstream")
	ff := testkit.NeedTool(t, "ffmpeg")
	e := start(t, Options{}, func(c *engine.Config) { c.MetaInt = 1024 })
	dir := t.TempDir()
	track := filepath.Join(dir, "track.mp3")
	if out, err := exec.Command(ff, "-v", "error", "-f", "lavfi", "-i", "sine=f=440:d=3", "-c:a", "libmp3lame", "-b:a", "128k",
		"-metadata", "artist=Ez Artist", "-metadata", "title=Ez Song", track).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	host, port, _ := strings.Cut(e.addr, ":")
	conf := filepath.Join(dir, "ezstream.xml")
	xml := fmt.Sprintf(`<ezstream>
  <servers><server><protocol>HTTP</protocol><hostname>%s</hostname><port>%s</port><password>%s</password><tls>none</tls></server></servers>
  <streams><stream><mountpoint>/ez.mp3</mountpoint><format>MP3</format></stream></streams>
  <intakes><intake><type>file</type><filename>%s</filename><stream_once>1</stream_once></intake></intakes>
  <metadata><format_str>@a@ - @t@</format_str></metadata>
</ezstream>`, host, port, srcPass, track)
	if err := os.WriteFile(conf, []byte(xml), 0o600); err != nil { // ezstream refuses group/world-readable configs
		t.Fatal(err)
	}
	cmd := exec.Command(ez, "-c", conf)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	testkit.Eventually(t, 5*time.Second, "ezstream connected", func() bool { return len(e.srv.Snapshot().Mounts) == 1 })
	l := testkit.Listen(t, e.addr, "/ez.mp3", "Icy-MetaData", "1")
	testkit.Eventually(t, 10*time.Second, "the track's title in an ICY block", func() bool {
		return slices.Contains(testkit.ICYTitles(l.Bytes(), 1024), "StreamTitle='Ez Artist - Ez Song';")
	})
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ezstream: %v\n%s", err, out)
	}
	var probed bool
	for _, ev := range e.srv.Events(0) {
		probed = probed || (ev.Type == engine.EventSourceRejected && ev.Reason == engine.ReasonNoCredentials)
	}
	if !probed {
		t.Error("ezstream's libshout probe without credentials was not seen")
	}
}
