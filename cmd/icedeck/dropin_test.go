package main

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// debianConfig is Debian's own /etc/icecast2/icecast.xml with the port
// and log directory changed, nothing else.
func debianConfig(t *testing.T, port, logdir string) string {
	t.Helper()
	b, err := os.ReadFile("/etc/icecast2/icecast.xml")
	if err != nil {
		testkit.NeedTool(t, "icecast2") // skips, or fails under CI, with the reason
		t.Fatalf("icecast2 is installed but its configuration is not readable: %v", err)
	}
	x := string(b)
	for old, repl := range map[string]string{"<port>8000</port>": "<port>" + port + "</port>", "<logdir>/var/log/icecast2</logdir>": "<logdir>" + logdir + "</logdir>"} {
		if !strings.Contains(x, old) {
			t.Fatalf("Debian's icecast.xml no longer has %s", old)
		}
		x = strings.Replace(x, old, repl, 1)
	}
	path := filepath.Join(t.TempDir(), "icecast.xml")
	if err := os.WriteFile(path, []byte(x), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// An Icecast operator's first step: icedeck started with Debian's own
// icecast.xml takes an ffmpeg source with that file's password, serves a
// listener, answers "/" with the status page as its <alias> says, opens
// the admin with its admin credentials, and writes the access log where
// its <logdir> and <accesslog> say.
func TestDebianIcecastXML(t *testing.T) {
	t.Parallel()
	ff := testkit.NeedTool(t, "ffmpeg")
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	_, port, _ := net.SplitHostPort(addr)
	logdir := t.TempDir()
	conf := debianConfig(t, port, logdir)
	cmd := exec.Command(bin, "--headless", "--config", conf)
	var logs testkit.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	errorLog := filepath.Join(logdir, "error.log")
	testkit.Eventually(t, 10*time.Second, "listening", func() bool {
		b, _ := os.ReadFile(errorLog)
		return strings.Contains(string(b), "icedeck relay listening")
	})

	src := exec.Command(ff, "-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i", "sine=f=440:d=30", "-c:a", "libmp3lame", "-b:a", "128k",
		"-f", "mp3", "-content_type", "audio/mpeg", "-ice_name", "Debian test", "icecast://source:hackme@"+addr+"/debian.mp3")
	if err := src.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Process.Kill(); _ = src.Wait() })
	testkit.Eventually(t, 10*time.Second, "the mount on the status page at /", func() bool {
		r := testkit.RawRequest(t, addr, "GET / HTTP/1.0\r\n\r\n")
		return r.Code == http.StatusOK && strings.Contains(r.Body, "/debian.mp3") && strings.Contains(r.Body, "Debian test")
	})

	l := listenTo(t, addr, "/debian.mp3", true)
	l.waitBytes(t, 32000, 10*time.Second)
	probe := exec.Command(ff, "-v", "error", "-f", "mp3", "-i", "pipe:", "-f", "null", "-")
	probe.Stdin = strings.NewReader(string(l.bytes()))
	if out, err := probe.CombinedOutput(); err != nil || len(out) > 0 {
		t.Fatalf("the listener's bytes do not decode as MP3: %v %s", err, out)
	}
	if r := testkit.RawRequest(t, addr, "GET /admin/stats HTTP/1.0\r\nAuthorization: "+testkit.Basic("admin", "hackme")+"\r\n\r\n"); r.Code != http.StatusOK || !strings.Contains(r.Body, "<location>Earth</location>") {
		t.Fatalf("admin with the file's credentials: %d\n%s", r.Code, r.Body)
	}
	// <sources>2</sources> is in force: a second source is taken, a third is not.
	second := rawSource(t, addr, "/second.mp3", "hackme")
	defer second.Close()
	if c, r := testkit.ConnectSource(t, addr, testkit.SourceRequest{Mount: "/third.mp3", User: "source", Password: "hackme", ContentType: "audio/mpeg"}); c != nil || r.Code == http.StatusOK {
		t.Fatalf("a third source with <sources>2</sources>: %d", r.Code)
	}
	testkit.Eventually(t, 5*time.Second, "the access log", func() bool {
		b, _ := os.ReadFile(filepath.Join(logdir, "access.log"))
		return strings.Contains(string(b), `"GET /admin/stats HTTP/1.0" 200`)
	})
	if b, _ := os.ReadFile(errorLog); !strings.Contains(string(b), "configuration: ") {
		t.Errorf("the error log names no configuration warning (adminroot, logsize … are not honoured):\n%s", b)
	}
}
