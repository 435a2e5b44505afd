package engine

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// testCert is a self-signed certificate for 127.0.0.1, written as PEM.
type testCert struct {
	cert, key, both string // files: certificate, key, and the two in one (as Icecast's <ssl-certificate>)
	x509            *x509.Certificate
	pool            *x509.CertPool
}

func newTestCert(t *testing.T, name string) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	parsed, _ := x509.ParseCertificate(der)
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	dir := t.TempDir()
	c := testCert{cert: filepath.Join(dir, "cert.pem"), key: filepath.Join(dir, "key.pem"), both: filepath.Join(dir, "both.pem"),
		x509: parsed, pool: x509.NewCertPool()}
	c.pool.AddCert(parsed)
	for f, b := range map[string][]byte{c.cert: certPEM, c.key: keyPEM, c.both: append(certPEM, keyPEM...)} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// tlsServing serves a Server's TLS side with testkit.Serve.
type tlsServing struct{ *Server }

func (s tlsServing) Serve(ln net.Listener) error { return s.ServeTLS(ln) }

// startTLSServer runs an engine with cert on a plain and a TLS port.
func startTLSServer(t *testing.T, cert testCert, mod func(*Config)) (s *Server, plain, secure string) {
	t.Helper()
	s, plain = startServer(t, func(c *Config) {
		c.TLSCert = cert.both // the key in the same file, as Icecast's
		if mod != nil {
			mod(c)
		}
	})
	return s, plain, testkit.Serve(t, tlsServing{s})
}

func dialTLS(t *testing.T, addr string, pool *x509.CertPool) *tls.Conn {
	t.Helper()
	c, err := tlsDialer(pool)(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*tls.Conn)
}

// tlsDialer connects over TLS, trusting pool, as testkit's clients' Dial.
func tlsDialer(pool *x509.CertPool) func(string) (net.Conn, error) {
	return func(addr string) (net.Conn, error) {
		return tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	}
}

// listenTLS is testkit.Listen over TLS.
func listenTLS(t *testing.T, addr string, pool *x509.CertPool, mount string, header ...string) *testkit.Listener {
	t.Helper()
	return testkit.ListenOn(t, dialTLS(t, addr, pool), addr, mount, header...)
}

// sourceTLS connects a source over TLS with method: PUT (with Expect, as
// ffmpeg sends it) or SOURCE (as libshout does).
func sourceTLS(t *testing.T, addr string, pool *x509.CertPool, method, mount string) *testkit.Source {
	t.Helper()
	header := []string{"Ice-Name", "over TLS"}
	if method == "PUT" {
		header = append(header, "Expect", "100-continue")
	}
	src, r := testkit.ConnectSource(t, addr, testkit.SourceRequest{Method: method, Mount: mount, User: "source", Password: testPassword,
		ContentType: "audio/mpeg", Header: header, Dial: tlsDialer(pool)})
	if src == nil {
		t.Fatalf("source over TLS refused: %+v", r)
	}
	return src
}

// Everything Icecast serves works over TLS: a source (PUT as ffmpeg sends
// it, SOURCE as libshout does), listeners with and without ICY metadata,
// and the control plane (every request of a kept-alive connection); and
// what the listeners get is what the source sent, byte for byte.
func TestTLSServesSourcesListenersAndControl(t *testing.T) {
	t.Parallel()
	cert := newTestCert(t, "icedeck test")
	s, plain, secure := startTLSServer(t, cert, func(c *Config) { c.MetaInt = 4096 })
	s.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls=%v path=%s", r.TLS != nil, r.URL.Path)
	}))
	mp3 := testkit.Media(t, "tone.mp3")

	src := sourceTLS(t, secure, cert.pool, "PUT", "/secure.mp3")
	src.Send(mp3[:1000], 0, 0)
	testkit.Eventually(t, 5*time.Second, "mount up", func() bool { return mountSnap(s, "/secure.mp3") != nil })
	icy := listenTLS(t, secure, cert.pool, "/secure.mp3", "Icy-MetaData", "1")
	bare := listenTLS(t, secure, cert.pool, "/secure.mp3")
	clear := testkit.Listen(t, plain, "/secure.mp3")
	if !strings.Contains(icy.Head, "icy-metaint: 4096\r\n") || !strings.Contains(icy.Head, "icy-name: over TLS\r\n") {
		t.Errorf("ICY listener's head over TLS:\n%s", icy.Head)
	}
	if err := s.SetTitle("/secure.mp3", "Über TLS", ""); err != nil {
		t.Fatal(err)
	}
	src.Send(mp3[1000:], 2999, 0) // odd pieces: records and frames split anywhere
	testkit.Eventually(t, 5*time.Second, "every byte in", func() bool {
		m := mountSnap(s, "/secure.mp3")
		return m != nil && m.Source != nil && m.Source.BytesIn == uint64(len(mp3))
	})
	src.Close()
	audio, metas := testkit.SplitICY(t, icy.Wait(t, 10*time.Second), 4096)
	for name, got := range map[string][]byte{"ICY over TLS": audio, "plain over TLS": bare.Wait(t, 10*time.Second), "plain HTTP": clear.Wait(t, 10*time.Second)} {
		if sha(got) != sha(mp3) {
			t.Errorf("%s listener: %d bytes sha %s; the source sent %d bytes sha %s", name, len(got), sha(got), len(mp3), sha(mp3))
		}
	}
	if !slicesContainsTitle(metas, "StreamTitle='Über TLS';") {
		t.Errorf("ICY listener over TLS got metadata %q", metas)
	}

	// SOURCE, as libshout sends it, over TLS.
	legacy := sourceTLS(t, secure, cert.pool, "SOURCE", "/legacy.mp3")
	legacy.Send(mp3[:5000], 0, 0)
	testkit.Eventually(t, 5*time.Second, "SOURCE over TLS streams", func() bool {
		m := mountSnap(s, "/legacy.mp3")
		return m != nil && m.Source != nil && m.Source.Method == "SOURCE" && m.Source.SHA256 == sha(mp3[:5000])
	})

	// The control plane: each request on one kept-alive TLS connection
	// knows it came over TLS; a plain one knows it did not.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cert.pool}, MaxConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	for i, path := range []string{"/status-json.xsl", "/admin/stats", "/api/v1/mounts"} {
		resp, err := client.Get("https://" + secure + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "tls=true path="+path || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
			t.Errorf("request %d over TLS: %q", i, b)
		}
	}
	resp, err := http.Get("http://" + plain + "/status-json.xsl")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "tls=false path=/status-json.xsl" {
		t.Errorf("plain request: %q", b)
	}
}

func slicesContainsTitle(metas []string, want string) bool {
	for _, m := range metas {
		if strings.HasPrefix(m, want) {
			return true
		}
	}
	return false
}

// A TLS port refuses what is not TLS 1.2 or later with a clear answer and
// a logged reason, never a hang: plain HTTP gets a plain 400 saying to use
// https://, TLS 1.1 fails its handshake, and a client that sends nothing
// is closed at the header timeout.
func TestTLSRefusesClearly(t *testing.T) {
	t.Parallel()
	cert := newTestCert(t, "icedeck test")
	s, _, secure := startTLSServer(t, cert, func(c *Config) { c.HeaderTimeout = 500 * time.Millisecond })
	rejected := func(detail string) *Event {
		var found *Event
		testkit.Eventually(t, 5*time.Second, "a rejection saying "+detail, func() bool {
			for _, e := range s.Events(0) {
				if e.Type == EventRequestRejected && strings.Contains(e.Detail, detail) {
					found = &e
					return true
				}
			}
			return false
		})
		return found
	}

	r := testkit.RawRequest(t, secure, "GET /status-json.xsl HTTP/1.1\r\nHost: x\r\n\r\n")
	if r.Code != 400 || !strings.Contains(r.Body, "use https://") {
		t.Errorf("plain HTTP to the TLS port: %d %q %q", r.Code, r.Head, r.Body)
	}
	if e := rejected("plain HTTP on a TLS port"); e.Reason != ReasonBadRequest {
		t.Errorf("event %+v", e)
	}

	_, err := tls.Dial("tcp", secure, &tls.Config{RootCAs: cert.pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	if err == nil {
		t.Fatal("a TLS 1.1 handshake succeeded")
	}
	rejected("TLS handshake failed: tls: client offered only unsupported versions")

	c, err := net.Dial("tcp", secure)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("silent client: read %d, %v; want the connection closed", n, err)
	}
	if e := rejected("not complete within 500ms"); e.Reason != ReasonHeadTimeout {
		t.Errorf("event %+v", e)
	}

	// A client that does not trust the certificate fails, and the server
	// logs it (why, when the client's alert arrives before its close).
	raw, err := net.Dial("tcp", secure)
	if err != nil {
		t.Fatal(err)
	}
	if err := tls.Client(raw, &tls.Config{ServerName: "127.0.0.1"}).Handshake(); err == nil {
		t.Fatal("an untrusted certificate was accepted")
	}
	raw.Close()
	testkit.Eventually(t, 5*time.Second, "the refused handshake logged", func() bool {
		for _, e := range s.Events(0) {
			if e.Type == EventRequestRejected && e.Addr == raw.LocalAddr().String() {
				return true
			}
		}
		return false
	})
}

// TLS connections count against the client limit from accept, handshake
// or not, and one over the limit is closed at once, without a handshake
// that would hold up the accept loop.
func TestTLSCountsAgainstTheClientLimit(t *testing.T) {
	t.Parallel()
	cert := newTestCert(t, "icedeck test")
	s, _, secure := startTLSServer(t, cert, func(c *Config) { c.MaxClients = 1 })
	idle, err := net.Dial("tcp", secure) // connected, no handshake yet
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "the idle connection counted", func() bool { return s.Summary().Clients == 1 })
	if _, err := tls.Dial("tcp", secure, &tls.Config{RootCAs: cert.pool, ServerName: "127.0.0.1"}); err == nil {
		t.Fatal("a second TLS client was let in over the limit of 1")
	}
	testkit.Eventually(t, 5*time.Second, "server full counted", func() bool {
		for _, e := range s.Summary().Endings {
			if e.Kind == KindRequest && e.Reason == ReasonServerFull && e.Count == 1 {
				return true
			}
		}
		return false
	})
	idle.Close()
	testkit.Eventually(t, 5*time.Second, "room again", func() bool { return s.Summary().Clients == 0 })
	c := dialTLS(t, secure, cert.pool)
	if v := c.ConnectionState().Version; v < tls.VersionTLS12 {
		t.Errorf("negotiated %x", v)
	}
}

// A TLS listener that stops reading is dropped like any, and holds up
// nobody meanwhile: its writes go through a queue, never a blocking TLS
// write in the shard (a TLS write cut short by a deadline breaks the
// connection for good).
func TestTLSStalledListenerBlocksNobody(t *testing.T) {
	t.Parallel()
	cert := newTestCert(t, "icedeck test")
	s, plain, secure := startTLSServer(t, cert, func(c *Config) {
		c.BurstSize, c.WriteTimeout = 4<<10, time.Second
	})
	src, _ := connectSource(t, plain, "PUT", "/busy.mp3", "audio/mpeg")
	mp3 := testkit.Media(t, "tone.mp3")
	src.Send(mp3[:1000], 0, 0)
	testkit.Eventually(t, 5*time.Second, "mount up", func() bool { return mountSnap(s, "/busy.mp3") != nil })
	stalled := dialTLS(t, secure, cert.pool)
	fmt.Fprintf(stalled, "GET /busy.mp3 HTTP/1.1\r\nHost: x\r\n\r\n") // and never reads
	testkit.Eventually(t, 5*time.Second, "stalled listener joined", func() bool {
		m := mountSnap(s, "/busy.mp3")
		return m != nil && m.ListenerCount == 1
	})
	reader := listenTLS(t, secure, cert.pool, "/busy.mp3")
	var sent []byte
	for len(sent) < 2<<20 { // 2 MiB, far past the queue and every socket buffer
		sent = append(sent, mp3[1000:]...)
	}
	src.Send(sent, 16<<10, 5*time.Millisecond) // about 3 MB/s: a reading listener keeps up
	// It joined after the first 1000 bytes: it has their end, then the rest.
	testkit.Eventually(t, 10*time.Second, "the reading listener has it all", func() bool { return len(reader.Bytes()) >= len(sent) })
	testkit.Eventually(t, 10*time.Second, "the reading listener has what the source sent", func() bool {
		got := reader.Bytes()
		return bytes.HasSuffix(got, sent) && bytes.HasSuffix(mp3[:1000], got[:len(got)-len(sent)])
	})
	testkit.Eventually(t, 10*time.Second, "the stalled one dropped", func() bool {
		for _, e := range s.Events(0) {
			if e.Type == EventListenerLeft && (e.Reason == ReasonTooSlow || e.Reason == ReasonTimeout) {
				return true
			}
		}
		return false
	})
}

// A certificate swapped at reload is the one new handshakes see, while a
// listener already connected over TLS keeps streaming; a bad one is
// refused, naming its file, and changes nothing.
func TestTLSCertificateReload(t *testing.T) {
	t.Parallel()
	first, second := newTestCert(t, "first"), newTestCert(t, "second")
	s, plain, secure := startTLSServer(t, first, nil)
	both := x509.NewCertPool()
	both.AddCert(first.x509)
	both.AddCert(second.x509)
	peer := func() string {
		c := dialTLS(t, secure, both)
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if got := peer(); got != "first" {
		t.Fatalf("certificate %q, want first", got)
	}
	mp3 := testkit.Media(t, "tone.mp3")
	src, _ := connectSource(t, plain, "PUT", "/live.mp3", "audio/mpeg")
	src.Send(mp3[:1000], 0, 0)
	testkit.Eventually(t, 5*time.Second, "mount up", func() bool { return mountSnap(s, "/live.mp3") != nil })
	l := listenTLS(t, secure, first.pool, "/live.mp3")
	src.Send(mp3[1000:20000], 4000, 0)

	cfg := s.Config()
	cfg.TLSCert, cfg.TLSKey = second.cert, second.key // and the key apart this time
	if err := s.reloadCertificate(&cfg); err != nil {
		t.Fatal(err)
	}
	if got := peer(); got != "second" {
		t.Fatalf("after the reload: certificate %q, want second", got)
	}
	src.Send(mp3[20000:], 4000, 0)
	src.Close()
	if got := l.Wait(t, 10*time.Second); sha(got) != sha(mp3) {
		t.Fatalf("the listener connected before the reload got %d bytes (sha %s), the source sent %d (sha %s)", len(got), sha(got), len(mp3), sha(mp3))
	}

	bad := filepath.Join(t.TempDir(), "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.TLSCert, cfg.TLSKey = bad, ""
	if err := s.reloadCertificate(&cfg); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("a bad certificate: %v, want an error naming %s", err, bad)
	}
	cfg.TLSCert = ""
	if err := s.reloadCertificate(&cfg); err == nil {
		t.Fatal("the certificate was dropped while TLS listeners are open")
	}
	if got := peer(); got != "second" {
		t.Fatalf("after refused reloads: certificate %q, want second", got)
	}
}

// A certificate that cannot be used is a start error naming its file.
func TestNewRefusesBadCertificate(t *testing.T) {
	cert := newTestCert(t, "x")
	missing := filepath.Join(t.TempDir(), "missing.pem")
	for _, c := range []struct{ cert, key, want string }{
		{missing, "", missing},
		{cert.cert, "", cert.cert},     // no key in the file
		{cert.key, cert.key, cert.key}, // no certificate in it
	} {
		cfg := Defaults()
		cfg.SourcePassword, cfg.TLSCert, cfg.TLSKey = "pw", c.cert, c.key
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("TLSCert %s, TLSKey %q: %v, want an error naming %s", c.cert, c.key, err, c.want)
		}
	}
	cfg := Defaults()
	cfg.SourcePassword, cfg.TLSCert, cfg.TLSKey = "pw", cert.cert, cert.key
	if _, err := New(cfg); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{SourcePassword: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	if err := s.ServeTLS(ln); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("ServeTLS without a certificate: %v", err)
	}
}
