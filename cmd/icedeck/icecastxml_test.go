package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// --check-config reads Debian's own icecast.xml (the fixture is that file
// verbatim), accepts it and says, on stderr, each element icedeck does
// not honour with its file and line; a malformed icecast.xml is refused
// with exit status 1 at the line of the problem.
func TestCheckConfigIcecastXML(t *testing.T) {
	t.Parallel()
	debian, err := filepath.Abs(filepath.Join("..", "..", "engine", "control", "testdata", "debian-icecast.xml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	code, stderr := runBinary(t, dir, "--check-config", "--config", debian)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	want := []string{
		"19: <limits><client-timeout>: ",
		"190: <fileserve>: ",
		"200: <paths><adminroot>: unused: icedeck serves its own admin pages",
		"226: <logging><logsize>: ",
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines on stderr, want %d warnings:\n%s", len(lines), len(want), stderr)
	}
	for i, w := range want {
		if prefix := "icedeck: warning: " + debian + ":" + w; !strings.HasPrefix(lines[i], prefix) {
			t.Errorf("line %d:\n %q\ndoes not start with\n %q", i+1, lines[i], prefix)
		}
	}

	bad := filepath.Join(dir, "bad.xml")
	if err := os.WriteFile(bad, []byte("<icecast>\n  <limits>\n    <clients>lots</clients>\n  </limits>\n</icecast>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stderr = runBinary(t, dir, "--check-config", "--config", bad)
	if want := "icedeck: " + bad + `:3: <limits><clients>: "lots" is not a whole number`; code != 1 || strings.TrimSpace(stderr) != want {
		t.Fatalf("exit %d, stderr:\n%s\nwant exit 1 and:\n%s", code, stderr, want)
	}
}

// Started with an icecast.xml, icedeck logs each warning (file, line,
// element) before it serves, and takes the file's source password.
func TestStartLogsIcecastXMLWarnings(t *testing.T) {
	t.Parallel()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	_, port, _ := net.SplitHostPort(addr)
	conf := filepath.Join(t.TempDir(), "icecast.xml")
	xml := fmt.Sprintf("<icecast>\n  <authentication><source-password>xml-pw</source-password></authentication>\n"+
		"  <listen-socket><bind-address>127.0.0.1</bind-address><port>%s</port></listen-socket>\n"+
		"  <limits>\n    <client-timeout>30</client-timeout>\n  </limits>\n</icecast>\n", port)
	if err := os.WriteFile(conf, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless", "--config", conf, "--log-format", "json")
	cmd.Env = append(os.Environ(), "ICEDECK_SOURCE_PASSWORD=", "ICEDECK_ADMIN_PASSWORD=apw")
	var logs testkit.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	testkit.Eventually(t, 10*time.Second, "listening", func() bool { return strings.Contains(logs.String(), "icedeck relay listening") })
	warning := `"level":"WARN","msg":"configuration: ` + conf + `:5: <limits><client-timeout>: `
	if !strings.Contains(logs.String(), warning) {
		t.Errorf("no %s in the log:\n%s", warning, logs.String())
	}
	src, r := testkit.ConnectSource(t, addr, testkit.SourceRequest{Mount: "/x.mp3", User: "source", Password: "xml-pw", ContentType: "audio/mpeg"})
	if src == nil {
		t.Fatalf("the file's source password was refused: %d %q", r.Code, r.Head)
	}
	src.Close()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, logs.String())
	}
}
