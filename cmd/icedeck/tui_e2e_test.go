package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icedeck/icedeck/internal/testkit"
)

// The operator's first session, on the real binary in a real terminal: a
// source arrives and a garbage one is flagged in the table; two listeners
// appear, the filter finds one by its user agent and d disconnects it (it
// is really gone); T sets the title the server then serves; c puts the
// listen URL on the terminal's clipboard with OSC 52 (tmux keeps what
// OSC 52 sends as a paste buffer).
func TestInterfaceEndToEnd(t *testing.T) {
	ff := testkit.NeedTool(t, "ffmpeg")
	curl := testkit.NeedTool(t, "curl")
	t.Parallel()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	log := filepath.Join(t.TempDir(), "icedeck.log")
	tm := testkit.StartTmux(t, 100, 30, fmt.Sprintf("%s --listen %s --source-password e2epass --log-file %s", bin, addr, log))
	tm.Run("set-option", "-s", "set-clipboard", "on")
	tm.WaitScreen("the header", "icedeck", "0 sources")

	src := exec.Command(ff, "-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i", "sine=f=1000:d=60", "-c:a", "libmp3lame", "-b:a", "128k",
		"-f", "mp3", "-content_type", "audio/mpeg", "icecast://source:e2epass@"+addr+"/e2e.mp3")
	if err := src.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Process.Kill(); _ = src.Wait() })
	tm.WaitScreen("the mount live", "/e2e.mp3", "live", "1 source")

	// Bytes that are no MP3, sent as one at 128 kb/s: the table flags the
	// mount whichever row is selected, and the header counts it.
	noise := make([]byte, 64<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	garbage, r := testkit.ConnectSource(t, addr, testkit.SourceRequest{Method: "PUT", Mount: "/noise.mp3", User: "source", Password: "e2epass", ContentType: "audio/mpeg"})
	if garbage == nil {
		t.Fatalf("garbage source refused: %s", r.Head)
	}
	garbage.Feed(noise, 1600, 100*time.Millisecond)
	scr := tm.WaitScreen("the garbage flagged", "/noise.mp3", "sync", "1 mount needs attention")
	if row := screenRow(scr, "/noise.mp3"); !strings.Contains(row, "sync") {
		t.Errorf("the garbage mount's row lacks the sync flag: %q", row)
	}

	listen := func(agent string) (*exec.Cmd, *strings.Builder, chan error) {
		c := exec.Command(curl, "-s", "-A", agent, "-o", "/dev/null", "-w", "%{size_download}", "http://"+addr+"/e2e.mp3")
		var got strings.Builder
		c.Stdout = &got
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		t.Cleanup(func() { _ = c.Process.Kill() })
		return c, &got, done
	}
	_, got, done := listen("curl-e2e")
	_, _, otherDone := listen("vlc-e2e")
	tm.WaitScreen("both listeners in the Listeners tab", "curl-e2e", "vlc-e2e", "2 listeners")

	// The filter finds the one, by its user agent.
	tm.Keys("Tab", "/")
	tm.WaitScreen("the filter prompt", "filter listeners (address, user agent):")
	tm.Keys("-l", "curl")
	tm.Keys("Enter")
	scr = tm.WaitScreen("the filtered list", "Listeners 1/2", "/curl  1 of 2 listeners")
	if strings.Contains(scr, "vlc-e2e") {
		t.Fatalf("the filter left the other listener:\n%s", scr)
	}
	tm.Keys("d")
	tm.WaitScreen("the confirmation", "Disconnect listener")
	tm.Keys("y")
	select {
	case err := <-done:
		// curl ends normally when the server closes a stream of unknown length.
		if err != nil {
			t.Fatalf("curl: %v", err)
		}
		if got.String() == "0" {
			t.Fatal("the listener received nothing before the kick")
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("the listener's connection is still open after the kick; screen:\n%s", tm.Screen())
	}
	select {
	case err := <-otherDone:
		t.Fatalf("the listener the filter hid was disconnected too: %v", err)
	default:
	}
	tm.Keys("Escape")
	tm.WaitScreen("the other listener left alone", "vlc-e2e", "1 listener")

	// T sets the title of the selected mount, as /admin/metadata would.
	tm.Keys("T")
	tm.WaitScreen("the title prompt", "Title of /e2e.mp3:")
	tm.Keys("C-u")
	tm.Keys("-l", "Tone <1 kHz> & more")
	tm.Keys("Enter")
	tm.WaitScreen("the title set", `title of /e2e.mp3 set: "Tone <1 kHz> & more"`)
	testkit.Eventually(t, 5*time.Second, "the title in status-json.xsl", func() bool {
		return statusTitle(t, addr, "/e2e.mp3") == "Tone <1 kHz> & more"
	})

	// c: the listen URL through OSC 52, kept by tmux as a paste buffer.
	tm.Keys("c")
	tm.WaitScreen("the copy said", "copied http://"+addr+"/e2e.mp3")
	testkit.Eventually(t, 5*time.Second, "a paste buffer from OSC 52", func() bool {
		return strings.TrimSpace(tm.Run("list-buffers", "-F", "#{buffer_size}")) != ""
	})
	if buf := tm.Run("show-buffer"); buf != "http://"+addr+"/e2e.mp3" {
		t.Errorf("the clipboard holds %q", buf)
	}

	// Quitting with a source connected asks first.
	tm.Keys("q")
	tm.WaitScreen("the quit confirmation", "Quit icedeck and stop the server?")
	tm.Keys("y")
	tm.WaitScreen("a clean exit", "EXIT=0")
}

// screenRow is the line of a captured screen that shows name.
func screenRow(screen, name string) string {
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, name+" ") {
			return l
		}
	}
	return ""
}

// statusTitle is a mount's title as status-json.xsl serves it.
func statusTitle(t *testing.T, addr, mount string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/status-json.xsl")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var doc struct {
		Icestats struct {
			Source json.RawMessage `json:"source"`
		} `json:"icestats"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatalf("status-json.xsl: %v", err)
	}
	// One source is an object, several an array (as Icecast writes it).
	var sources []struct {
		ListenURL string `json:"listenurl"`
		Title     string `json:"title"`
	}
	if err := json.Unmarshal(doc.Icestats.Source, &sources); err != nil {
		sources = sources[:0]
		var one struct {
			ListenURL string `json:"listenurl"`
			Title     string `json:"title"`
		}
		if json.Unmarshal(doc.Icestats.Source, &one) == nil {
			sources = append(sources, one)
		}
	}
	for _, s := range sources {
		if strings.HasSuffix(s.ListenURL, mount) {
			return s.Title
		}
	}
	return ""
}

// SIGHUP reloads the configuration, but closing the terminal the
// interface runs in (here: killing the tmux server, which hangs up its
// terminal) sends SIGHUP too: then icedeck shuts down cleanly and writes
// its report.
func TestInterfaceTerminalClosedWritesReport(t *testing.T) {
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	addr := freePort(t)
	report := filepath.Join(dir, "report.json")
	tm := testkit.StartTmux(t, 80, 24, fmt.Sprintf("%s --listen %s --source-password huppw --admin-password hupadmin --log-file %s --report %s",
		bin, addr, filepath.Join(dir, "icedeck.log"), report))
	tm.WaitScreen("the header", "icedeck", "0 sources")

	data := testkit.Media(t, "tone.mp3")[:40000]
	src := rawSource(t, addr, "/term.mp3", "huppw")
	src.Send(data, len(data), 0)
	waitBytesIn(t, addr, "hupadmin", "/term.mp3", len(data))
	tm.WaitScreen("the source", "/term.mp3", "1 source")

	// SIGHUP with the terminal still there reloads, and says so.
	pane := strings.TrimSpace(tm.Run("list-panes", "-F", "#{pane_pid}"))
	out, err := exec.Command("pgrep", "-P", pane, "-f", bin).Output()
	if err != nil {
		t.Fatalf("icedeck's pid under pane %s: %v", pane, err)
	}
	if err := exec.Command("kill", "-HUP", strings.Fields(string(out))[0]).Run(); err != nil {
		t.Fatal(err)
	}
	tm.WaitScreen("the reload said", "configuration reloaded", "/term.mp3")

	tm.Run("kill-server")
	testkit.Eventually(t, 10*time.Second, "the report", func() bool {
		b, err := os.ReadFile(report)
		return err == nil && len(b) > 0 && b[len(b)-1] == '\n' // written whole
	})
	checkReport(t, report, "/term.mp3", data)
}
