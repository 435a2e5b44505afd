package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// headless is the built icedeck running --headless for a test.
type headless struct {
	cmd  *exec.Cmd
	logs *testkit.Buffer
}

// startHeadless runs icedeck --headless in dir with args (source password
// pw, admin password apw) and returns once it listens; it is killed when
// the test ends unless stopped before.
func startHeadless(t *testing.T, dir string, args ...string) *headless {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	h := &headless{cmd: exec.Command(bin, append([]string{"--headless"}, args...)...), logs: &testkit.Buffer{}}
	h.cmd.Dir = dir
	h.cmd.Env = append(os.Environ(), "ICEDECK_SOURCE_PASSWORD=pw", "ICEDECK_ADMIN_PASSWORD=apw")
	h.cmd.Stderr = h.logs
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.cmd.Process.Kill(); _ = h.cmd.Wait() })
	testkit.Eventually(t, 10*time.Second, "icedeck listening", func() bool {
		return strings.Contains(h.logs.String(), "icedeck relay listening")
	})
	return h
}

// stop ends icedeck with SIGINT, as an operator does, and fails the test
// if it does not exit cleanly.
func (h *headless) stop(t *testing.T) {
	t.Helper()
	if err := h.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Wait(); err != nil {
		t.Fatalf("icedeck did not exit cleanly: %v\n%s", err, h.logs.String())
	}
}

// runTool runs a program and returns its standard output, failing the test
// with its standard error when it fails.
func runTool(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// startTool starts a client program for the test, keeping its output;
// it is killed when the test ends if it has not.
func startTool(t *testing.T, cmd *exec.Cmd) *testkit.Buffer {
	t.Helper()
	var out testkit.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return &out
}

// statusSource is the one source of a status-json.xsl document, as far
// as these tests read it.
type statusSource struct {
	ListenURL  string `json:"listenurl"`
	ServerName string `json:"server_name"`
	Genre      string `json:"genre"`
	ServerType string `json:"server_type"`
}

// oneSource reads the source of a status-json.xsl document; ok is false
// while there is none.
func oneSource(doc []byte) (src statusSource, ok bool) {
	var d struct {
		Icestats struct {
			Source statusSource `json:"source"`
		} `json:"icestats"`
	}
	err := json.Unmarshal(doc, &d)
	return d.Icestats.Source, err == nil && d.Icestats.Source.ServerType != ""
}

// ffmpegSpeaksTLS says whether this ffmpeg can send over TLS (the tls
// protocol among its outputs).
func ffmpegSpeaksTLS(t *testing.T, ff string) bool {
	t.Helper()
	_, outputs, _ := strings.Cut(string(runTool(t, ff, "-hide_banner", "-protocols")), "Output:")
	return strings.Contains("\n"+outputs+"\n", "\n  tls\n")
}

// The binary with a [tls] section and an openssl-made self-signed
// certificate: ffmpeg sends over TLS (openssl s_client does when this
// ffmpeg cannot), curl --cacert reads the status and admin documents (with
// https:// listen URLs) and the stream over https; the stream is the
// file's bytes. Plain HTTP to the TLS port gets a clear 400, openssl
// s_client with TLS 1.1 is refused while TLS 1.2 is verified, and a
// certificate renewed in its files is presented after SIGHUP.
func TestTLSWithRealClients(t *testing.T) {
	t.Parallel()
	openssl := testkit.NeedTool(t, "openssl")
	curl := testkit.NeedTool(t, "curl")
	ff := testkit.NeedTool(t, "ffmpeg")
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	runTool(t, openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
		"-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost")
	in := filepath.Join(dir, "in.mp3")
	runTool(t, ff, "-v", "error", "-f", "lavfi", "-i", "sine=f=440:d=4", "-c:a", "libmp3lame", "-b:a", "128k", "-write_xing", "0", in)
	file, _ := os.ReadFile(in)

	plain, secure := freePort(t), freePort(t)
	conf := filepath.Join(dir, "icedeck.toml")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "[tls]\nlisten = [%q]\ncert = %q\nkey = %q\n", secure, cert, key), 0o600); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(dir, "report.json")
	deck := startHeadless(t, dir, "--config", conf, "--listen", plain, "--report", report)
	https := func(path string, args ...string) []byte {
		t.Helper()
		return runTool(t, curl, append([]string{"-sSf", "--max-time", "10", "--cacert", cert, "https://" + secure + path}, args...)...)
	}

	var src *exec.Cmd
	if ffmpegSpeaksTLS(t, ff) {
		src = exec.Command(ff, "-nostdin", "-v", "error", "-re", "-i", in, "-c", "copy", "-f", "mp3", "-write_xing", "0",
			"-content_type", "audio/mpeg", "-ice_name", "Over TLS", "-tls", "1", "icecast://source:pw@"+secure+"/tls.mp3")
	} else {
		t.Log("this ffmpeg has no TLS output: openssl s_client sends the SOURCE")
		head := "SOURCE /tls.mp3 HTTP/1.0\r\nAuthorization: " + testkit.Basic("source", "pw") + "\r\nContent-Type: audio/mpeg\r\nIce-Name: Over TLS\r\n\r\n"
		src = exec.Command(openssl, "s_client", "-quiet", "-no_ign_eof", "-nocommands", "-connect", secure, "-CAfile", cert)
		stdin, err := src.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		go func() { // at 128 kb/s, as ffmpeg -re sends it
			defer stdin.Close()
			if _, err := io.WriteString(stdin, head); err != nil {
				return
			}
			for off := 0; off < len(file); off += 4000 {
				time.Sleep(250 * time.Millisecond)
				if _, err := stdin.Write(file[off:min(off+4000, len(file))]); err != nil {
					return
				}
			}
		}()
	}
	srcOut := startTool(t, src)
	var status statusSource
	testkit.Eventually(t, 10*time.Second, "the mount in status-json.xsl over https", func() bool {
		var ok bool
		status, ok = oneSource(https("/status-json.xsl"))
		return ok
	})
	if status.ListenURL != "https://"+secure+"/tls.mp3" || status.ServerName != "Over TLS" {
		t.Errorf("status-json.xsl over https: %+v", status)
	}
	if stats := string(https("/admin/stats", "-u", "admin:apw")); !strings.Contains(stats, "<listenurl>https://"+secure+"/tls.mp3</listenurl>") {
		t.Errorf("/admin/stats over https:\n%s", stats)
	}
	heardFile := filepath.Join(dir, "heard.mp3")
	listener := exec.Command(curl, "-sSf", "--max-time", "20", "--cacert", cert, "-o", heardFile, "https://"+secure+"/tls.mp3")
	if err := listener.Start(); err != nil {
		t.Fatal(err)
	}
	if err := src.Wait(); err != nil {
		t.Fatalf("source over TLS: %v\n%s", err, srcOut.String())
	}
	if err := listener.Wait(); err != nil { // ends with the source
		t.Fatalf("curl over https: %v", err)
	}
	heard, _ := os.ReadFile(heardFile)
	// The listener starts at the first frame, past the file's ID3 tag.
	if !bytes.HasSuffix(file, heard) || len(heard) < len(file)-1024 {
		t.Errorf("curl heard %d bytes over https; want the end of the %d the source sent", len(heard), len(file))
	}

	code := runTool(t, curl, "-s", "-o", filepath.Join(dir, "plain.txt"), "-w", "%{http_code}", "http://"+secure+"/status-json.xsl")
	if body, _ := os.ReadFile(filepath.Join(dir, "plain.txt")); string(code) != "400" || !strings.Contains(string(body), "use https://") {
		t.Errorf("plain HTTP to the TLS port: %s %q", code, body)
	}
	old := exec.Command(openssl, "s_client", "-connect", secure, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
	old.Stdin = strings.NewReader("")
	if out, err := old.CombinedOutput(); err == nil || !strings.Contains(string(out), "alert protocol version") {
		t.Errorf("openssl s_client -tls1_1: %v\n%s", err, out)
	}
	handshake := func(args ...string) string {
		t.Helper()
		c := exec.Command(openssl, append([]string{"s_client", "-connect", secure, "-CAfile", cert, "-verify_return_error"}, args...)...)
		c.Stdin = strings.NewReader("")
		out, err := c.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Verify return code: 0 (ok)") {
			t.Errorf("openssl s_client %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := handshake("-tls1_2"); !strings.Contains(out, "subject=CN = localhost") {
		t.Errorf("TLS 1.2 handshake:\n%s", out)
	}

	// A certificate renewed in place is presented after SIGHUP.
	runTool(t, openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
		"-days", "1", "-subj", "/CN=renewed", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost")
	reloads := strings.Count(deck.logs.String(), "config.reload")
	if err := deck.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the reload logged", func() bool { return strings.Count(deck.logs.String(), "config.reload") > reloads })
	if out := handshake(); !strings.Contains(out, "subject=CN = renewed") {
		t.Errorf("after SIGHUP with a renewed certificate:\n%s", out)
	}

	deck.stop(t)
	for _, want := range []string{"TLS listening", "client offered only unsupported versions", "plain HTTP on a TLS port"} {
		if !strings.Contains(deck.logs.String(), want) {
			t.Errorf("the log does not say %q:\n%s", want, deck.logs.String())
		}
	}
	sum := sha256.Sum256(file)
	if se := onlySession(t, report); se.Mount != "/tls.mp3" || se.Bytes != uint64(len(file)) || se.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("session %+v; the source sent %d bytes, sha256 %x", se, len(file), sum)
	}
}
