package playback

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// PlayURL auditions the stream at url on the sound card until ctx is
// cancelled (returns nil) or the stream ends (nil) or fails (the error). It
// uses the same Player code path as the TUI and writes a one-line meter to
// out, refreshed 10 times a second with a carriage return, e.g.
//
//	L ▮▮▮▮▮▮▮▮▮▮▮▮------ -12.3 dB  R ▮▮▮▮▮▮▮▮▮▮▮▮------ -11.9 dB  128k MP3 44.1kHz  title
//
// The output's state (or why there is no device) is printed once on a line
// of its own first. ICY metadata is not requested (Icy-MetaData is not sent),
// so the body is pure audio; the format comes from the Content-Type.
func PlayURL(ctx context.Context, url string, out io.Writer) error {
	p := NewPlayer(Options{})
	defer p.Close()
	return playURL(ctx, p, url, out)
}

func playURL(ctx context.Context, p *Player, url string, out io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "icedeck-play")
	// No Icy-MetaData header: the server then sends no metadata blocks.
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	label := resp.Header.Get("Icy-Name")
	if label == "" {
		label = url
	}
	p.Play(resp.Body, resp.Header.Get("Content-Type"), label)
	defer p.Stop()

	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	outputShown := ""
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(out)
			return nil
		case <-t.C:
		}
		st := p.Status()
		if st.Output != outputShown && !strings.HasPrefix(st.Output, "opening") && !strings.HasPrefix(st.Output, "audio output not") {
			fmt.Fprintf(out, "\r\x1b[K%s\n", st.Output)
			outputShown = st.Output
		}
		fmt.Fprintf(out, "\r\x1b[K%s", MeterLine(st, 12))
		switch st.State {
		case "ended":
			fmt.Fprintln(out)
			return nil
		case "error":
			fmt.Fprintln(out)
			return fmt.Errorf("%s: %s", label, st.Err)
		}
	}
}

// MeterLine renders st as one line: a bar of width cells and the peak level
// per channel, then bitrate, codec, sample rate and title (or the state or
// error when not playing). The bar spans -60..0 dBFS.
func MeterLine(st Status, width int) string {
	var b strings.Builder
	for c, name := range []string{"L", "R"} {
		if c > 0 {
			b.WriteString("  ")
		}
		fmt.Fprintf(&b, "%s %s %s", name, bar(st.Levels.PeakDB[c], width), dbText(st.Levels.PeakDB[c]))
	}
	b.WriteString("  ")
	if st.Bitrate > 0 {
		fmt.Fprintf(&b, "%dk ", (st.Bitrate+500)/1000)
	}
	if st.Codec != "" {
		b.WriteString(st.Codec)
	}
	if st.SampleRate > 0 {
		fmt.Fprintf(&b, " %skHz", strings.TrimSuffix(fmt.Sprintf("%.1f", float64(st.SampleRate)/1000), ".0"))
	}
	switch {
	case st.State == "error":
		b.WriteString("  error: " + st.Err)
	case st.State != "playing":
		b.WriteString("  " + st.State)
	case st.Silent:
		fmt.Fprintf(&b, "  silent for %ds", int(st.SilentFor.Seconds()))
	case st.Title != "":
		b.WriteString("  " + st.Title)
	}
	if st.Muted {
		b.WriteString("  [muted]")
	}
	return b.String()
}

func dbText(db float64) string {
	if db <= FloorDB {
		return " -inf dB"
	}
	return fmt.Sprintf("%5.1f dB", db)
}

func bar(db float64, width int) string {
	const lo = -60.0
	n := 0
	if db > lo {
		n = int((db - lo) / -lo * float64(width))
	}
	n = min(max(n, 0), width)
	return strings.Repeat("▮", n) + strings.Repeat("-", width-n)
}
