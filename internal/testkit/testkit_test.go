package testkit

import (
	"bufio"
	"net"
	"slices"
	"strings"
	"testing"
)

// answer runs a one-connection server that reads a request head, keeps it
// in got, and writes reply; it returns the address.
func answer(t *testing.T, reply string, got chan<- string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		head, _ := readBlock(bufio.NewReader(c))
		got <- head
		_, _ = c.Write([]byte(reply))
	}()
	return ln.Addr().String()
}

func TestSourceReadsPastContinue(t *testing.T) {
	got := make(chan string, 1)
	addr := answer(t, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\nServer: fake\r\n\r\n", got)
	src, r := ConnectSource(t, addr, SourceRequest{Method: "SOURCE", Mount: "/a.mp3", User: "source", Password: "pw",
		ContentType: "audio/mpeg", Header: []string{"Expect", "100-continue"}})
	if src == nil || r.Code != 200 || !strings.Contains(src.Head, "100 Continue") || !strings.HasSuffix(src.Head, "Server: fake") {
		t.Fatalf("source %v, answer %+v", src, r)
	}
	req := <-got
	for _, want := range []string{"SOURCE /a.mp3 HTTP/1.1\r\n", "User-Agent: icedeck-test\r\n", "Authorization: Basic c291cmNlOnB3\r\n",
		"Content-Type: audio/mpeg\r\n", "Expect: 100-continue\r\n"} {
		if !strings.Contains(req, want) {
			t.Errorf("request lacks %q:\n%s", want, req)
		}
	}
}

func TestSourceRefused(t *testing.T) {
	got := make(chan string, 1)
	addr := answer(t, "HTTP/1.0 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\n\r\nwrong password\n", got)
	src, r := ConnectSource(t, addr, SourceRequest{Mount: "/a.mp3", Header: []string{"User-Agent", "mine"}})
	if src != nil || r.Code != 401 || r.Body != "wrong password\n" || !strings.Contains(r.Head, "WWW-Authenticate") {
		t.Fatalf("source %v, answer %+v", src, r)
	}
	if req := <-got; !strings.HasPrefix(req, "PUT /a.mp3 ") || strings.Count(req, "User-Agent") != 1 || strings.Contains(req, "Authorization") {
		t.Errorf("request:\n%s", req)
	}
	addr = answer(t, "HTTP/1.0 403 Forbidden\r\n\r\n", got)
	if c, err := DialSource(addr, SourceRequest{Mount: "/a.mp3"}); c != nil || err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("DialSource refused: %v, %v", c, err)
	}
}

func TestSplitICY(t *testing.T) {
	title := "StreamTitle='A';"
	block := append([]byte{1}, title...)
	block = append(block, make([]byte, 16-len(title))...)
	body := slices.Concat([]byte("abcd"), block, []byte("efgh"), []byte{0}, []byte("ij"))
	audio, metas := SplitICY(t, body, 4)
	if string(audio) != "abcdefghij" || !slices.Equal(metas, []string{title}) {
		t.Fatalf("audio %q, metas %q", audio, metas)
	}
	// Still arriving: the cut-off block waits for its end.
	part := slices.Concat([]byte("abcd"), block[:5])
	if metas := ICYTitles(part, 4); len(metas) != 0 {
		t.Fatalf("titles of a partial block: %q", metas)
	}
	if _, _, cut := splitICY(part, 4); cut == nil || !strings.Contains(cut.Error(), "truncated") {
		t.Fatalf("cut: %v", cut)
	}
}
