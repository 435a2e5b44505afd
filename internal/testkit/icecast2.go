package testkit

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The credentials of every Icecast StartIcecast runs.
const (
	IcecastSourcePassword = "ic-source-pw"
	IcecastAdminPassword  = "ic-admin-pw" // user "admin"
	IcecastRelayPassword  = "ic-relay-pw" // user "relay"
)

// Icecast is one icecast2 process (Debian's, 2.4.4) run by a test with a
// configuration it wrote, on a free loopback port.
type Icecast struct {
	Addr string // 127.0.0.1:port
	Dir  string // its configuration (icecast.xml) and logs

	t     testing.TB
	bin   string
	token string // its <location>: tells it from another on the same port
	out   *Buffer

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// StartIcecast runs icecast2 with extra inside <icecast> (<mount>,
// <master-server>, <relay>, …) and returns once it answers. Icecast
// refuses to run as root, so as root it runs as the icecast2 user (or
// nobody). It is stopped when the test ends, its output and error log
// shown if the test failed.
func StartIcecast(t testing.TB, extra string) *Icecast {
	t.Helper()
	bin := NeedTool(t, "icecast2")
	// A port found free may be taken by another test's server before this
	// one binds it; Icecast then exits, and it is tried on another port.
	for range 5 {
		if ic := tryIcecast(t, bin, extra); ic != nil {
			return ic
		}
	}
	t.Fatal("icecast2 did not start on any of five ports")
	return nil
}

func tryIcecast(t testing.TB, bin, extra string) *Icecast {
	t.Helper()
	dir := t.TempDir()
	port := FreePort(t)
	ic := &Icecast{Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir, t: t, bin: bin, out: &Buffer{},
		token: fmt.Sprintf("test-%d-%d", port, time.Now().UnixNano())}
	conf := fmt.Sprintf(`<icecast>
  <location>%s</location>
  <admin>test@localhost</admin>
  <hostname>127.0.0.1</hostname>
  <limits>
    <clients>200</clients>
    <sources>20</sources>
    <queue-size>524288</queue-size>
    <client-timeout>30</client-timeout>
    <header-timeout>15</header-timeout>
    <source-timeout>10</source-timeout>
    <burst-on-connect>1</burst-on-connect>
    <burst-size>65535</burst-size>
  </limits>
  <authentication>
    <source-password>%s</source-password>
    <relay-user>relay</relay-user>
    <relay-password>%s</relay-password>
    <admin-user>admin</admin-user>
    <admin-password>%s</admin-password>
  </authentication>
  <listen-socket>
    <port>%d</port>
    <bind-address>127.0.0.1</bind-address>
  </listen-socket>
  <fileserve>1</fileserve>
  <paths>
    <basedir>/usr/share/icecast2</basedir>
    <logdir>%s</logdir>
    <webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging>
    <accesslog>access.log</accesslog>
    <errorlog>error.log</errorlog>
    <loglevel>4</loglevel>
  </logging>
  <security><chroot>0</chroot></security>
%s
</icecast>
`, ic.token, IcecastSourcePassword, IcecastRelayPassword, IcecastAdminPassword, port, dir, extra)
	if err := os.WriteFile(filepath.Join(dir, "icecast.xml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// t.TempDir's parent is 0700: the icecast user must reach the
		// directory to read its configuration and write its logs.
		for _, d := range []string{filepath.Dir(dir), dir} {
			if err := os.Chmod(d, 0o777); err != nil {
				t.Fatal(err)
			}
		}
	}
	ic.run()
	t.Cleanup(func() {
		ic.Stop()
		if t.Failed() {
			errlog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			if len(errlog) > 4000 {
				errlog = errlog[len(errlog)-4000:]
			}
			t.Logf("icecast on %s: output:\n%s\nerror.log (end):\n%s", ic.Addr, ic.out.String(), errlog)
		}
	})
	if !ic.wait() {
		t.Logf("icecast2 exited at start on port %d; trying another:\n%s", port, ic.out.String())
		return nil
	}
	return ic
}

// run starts the process.
func (ic *Icecast) run() {
	cmd := exec.Command(ic.bin, "-c", filepath.Join(ic.Dir, "icecast.xml"))
	cmd.Stdout, cmd.Stderr = ic.out, ic.out
	if os.Geteuid() == 0 {
		uid, gid := icecastUser(ic.t)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, NoSetGroups: true}}
	}
	if err := cmd.Start(); err != nil {
		ic.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	ic.mu.Lock()
	ic.cmd, ic.exited = cmd, exited
	ic.mu.Unlock()
}

// wait returns true once this Icecast answers, false if it exited first.
func (ic *Icecast) wait() bool {
	ic.mu.Lock()
	exited := ic.exited
	ic.mu.Unlock()
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-exited:
			return false
		default:
		}
		resp, err := client.Get("http://" + ic.Addr + "/status-json.xsl")
		if err != nil {
			continue
		}
		var st struct{ Icestats struct{ Location string } }
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err == nil && st.Icestats.Location == ic.token {
			return true
		}
	}
	ic.t.Fatalf("icecast2 did not answer on %s within 10 s:\n%s", ic.Addr, ic.out.String())
	return false
}

func icecastUser(t testing.TB) (uint32, uint32) {
	for _, name := range []string{"icecast2", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return uint32(uid), uint32(gid)
	}
	t.Fatal("running as root and there is neither an icecast2 nor a nobody user to run icecast2 as")
	return 0, 0
}

// Stop ends Icecast: SIGTERM, then SIGKILL after 5 s.
func (ic *Icecast) Stop() {
	ic.mu.Lock()
	cmd, exited := ic.cmd, ic.exited
	ic.mu.Unlock()
	select {
	case <-exited:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// Restart stops Icecast and runs it again, same configuration and port,
// returning once it answers.
func (ic *Icecast) Restart() {
	ic.t.Helper()
	ic.Stop()
	ic.run()
	if !ic.wait() {
		ic.t.Fatalf("icecast2 on %s did not start again:\n%s", ic.Addr, ic.out.String())
	}
}

// IcecastStats is what tests read of Icecast's /admin/stats.
type IcecastStats struct {
	Sources []struct {
		Mount     string `xml:"mount,attr"`
		Listeners int    `xml:"listeners"`
		Title     string `xml:"title"`
	} `xml:"source"`
}

// Stats reads /admin/stats; the zero value when Icecast does not answer.
func (ic *Icecast) Stats() IcecastStats {
	ic.t.Helper()
	var st IcecastStats
	body, code, err := ic.Admin("stats", nil)
	if err != nil || code != http.StatusOK {
		return st
	}
	if err := xml.Unmarshal(body, &st); err != nil {
		ic.t.Logf("icecast stats: %v", err)
	}
	return st
}

// Listeners is the listener count Icecast shows for mount, -1 when the
// mount is not there.
func (ic *Icecast) Listeners(mount string) int {
	for _, s := range ic.Stats().Sources {
		if s.Mount == mount {
			return s.Listeners
		}
	}
	return -1
}

// SetTitle changes a mount's title, as ezstream does.
func (ic *Icecast) SetTitle(mount, title string) {
	ic.t.Helper()
	body, code, err := ic.Admin("metadata", url.Values{"mode": {"updinfo"}, "mount": {mount}, "song": {title}})
	if err != nil {
		ic.t.Fatal(err)
	}
	if code != http.StatusOK || !bytes.Contains(body, []byte("<return>1</return>")) {
		ic.t.Fatalf("icecast metadata update: %d %s", code, body)
	}
}

// Admin runs /admin/cmd?q with the admin's credentials and returns the
// answer's body and status.
func (ic *Icecast) Admin(cmd string, q url.Values) ([]byte, int, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+ic.Addr+"/admin/"+cmd+"?"+q.Encode(), nil)
	if err != nil {
		return nil, 0, err
	}
	req.SetBasicAuth("admin", IcecastAdminPassword)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return body, resp.StatusCode, err
}
