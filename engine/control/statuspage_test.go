package control

import (
	"encoding/xml"
	"net/http"
	"strings"
	"testing"
)

// /status.xsl is Icecast's public page (the stock icecast.xml aliases "/"
// to it): every public live mount with its listen link, values from the
// source escaped, hidden mounts left out. MOUNT.m3u is its playlist.
func TestStatusPageAndPlaylist(t *testing.T) {
	e := start(t, Options{}, nil)
	e.connectSource("/live.mp3", "source", srcPass, "Ice-Name", `<script>alert("x")</script> FM`, "Ice-Genre", "Jazz & Blues")
	code, hdr, body := e.get("/status.xsl", "", "")
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("status page: %d %s", code, hdr.Get("Content-Type"))
	}
	// Well-formed enough for an XML parser once the doctype is set aside:
	// escaping held, no raw markup from the source.
	d := xml.NewDecoder(strings.NewReader(strings.TrimPrefix(body, "<!DOCTYPE html>\n")))
	d.Strict, d.AutoClose, d.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch v := tok.(type) {
		case xml.StartElement:
			if v.Name.Local == "script" {
				t.Fatalf("the source's name became markup:\n%s", body)
			}
		case xml.CharData:
			text.Write(v)
		}
	}
	for _, want := range []string{"Mount point /live.mp3", `<script>alert("x")</script> FM`, "Jazz & Blues", "http://" + e.addr + "/live.mp3"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("status page text lacks %q:\n%s", want, text.String())
		}
	}
	code, hdr, body = e.get("/live.mp3.m3u", "", "")
	if code != http.StatusOK || hdr.Get("Content-Type") != "audio/x-mpegurl" || body != "http://"+e.addr+"/live.mp3\r\n" {
		t.Fatalf("playlist: %d %q %q", code, hdr.Get("Content-Type"), body)
	}
	if code, _, _ := e.get("/nothing.mp3.m3u", "", ""); code != http.StatusNotFound {
		t.Fatalf("playlist of no mount: %d", code)
	}
}
