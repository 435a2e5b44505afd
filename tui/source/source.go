// Package source is the Source tab: what the selected mount's source sent
// and what the frame analysis made of it.
package source

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/engine/frame"
	"github.com/icedeck/icedeck/themes"
	"github.com/icedeck/icedeck/tui/common"
	"github.com/icedeck/icedeck/tui/keys"
	"github.com/icedeck/icedeck/tui/meter"
)

// Model is the source detail pane.
type Model struct {
	styles  *themes.Styles
	keys    *keys.KeyMap
	width   int
	height  int
	focused bool

	mount  engine.MountSnapshot
	pushes []engine.PushStatus // the mount's
	has    bool

	audio    engine.AudioStats // what the audio analysis measured on the mount
	hasAudio bool
	history  []float64 // its short-term loudness once a second
	now      time.Time
	offset   int
}

// New returns an empty pane.
func New(s *themes.Styles, k *keys.KeyMap) *Model { return &Model{styles: s, keys: k} }

// SetSize implements common.Component.
func (m *Model) SetSize(w, h int) { m.width, m.height = w, h }

// SetStyles implements common.Component.
func (m *Model) SetStyles(s *themes.Styles) { m.styles = s }

// SetFocused implements common.Component.
func (m *Model) SetFocused(f bool) { m.focused = f }

// SetData shows ms (has = false: no mount selected).
func (m *Model) SetData(ms engine.MountSnapshot, has bool, now time.Time) {
	if ms.Name != m.mount.Name {
		m.offset = 0
	}
	m.mount, m.has, m.now = ms, has, now
}

// SetAudio shows what the audio analysis measured on the mount given to
// SetData, and its short-term loudness history (has = false: nothing).
func (m *Model) SetAudio(st engine.AudioStats, has bool, history []float64) {
	m.audio, m.hasAudio, m.history = st, has, history
}

// SetPushes shows the pushes of the mount given to SetData.
func (m *Model) SetPushes(ps []engine.PushStatus) { m.pushes = ps }

// Scroll moves the view by delta lines.
func (m *Model) Scroll(delta int) { m.offset = max(m.offset+delta, 0) }

// Update implements common.Component.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	// The view clamps the offset to the text, so End may overshoot.
	if d, ok := m.keys.Step(k, m.height-1, 1<<20); ok {
		m.Scroll(d)
		return nil
	}
	switch {
	case key.Matches(k, m.keys.KickSource):
		if m.has && m.mount.Source != nil {
			return common.Send(common.KickSourceRequest{Mount: m.mount.Name, Addr: m.mount.Source.Addr})
		}
	case key.Matches(k, m.keys.ResetLoudness):
		if m.has && m.hasAudio {
			return common.Send(common.ResetLoudnessRequest{Mount: m.mount.Name})
		}
	}
	return nil
}

// ShortHelp implements common.Component.
func (m *Model) ShortHelp() []key.Binding {
	if m.hasAudio {
		return []key.Binding{m.keys.KickSource, m.keys.ResetLoudness}
	}
	return []key.Binding{m.keys.KickSource}
}

const labelW = 11

// View implements common.Component.
func (m *Model) View() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	lines := m.lines()
	m.offset = common.Clamp(m.offset, 0, max(len(lines)-m.height, 0))
	return common.Lines(lines[m.offset:], m.width, m.height)
}

func (m *Model) lines() []string {
	s := m.styles
	var out []string
	add := func(label, value string) {
		out = append(out, s.TableHeader.Render(common.Fit(label, labelW))+" "+value)
	}
	if !m.has {
		return []string{s.Dim.Render("  no mount selected")}
	}
	ms := &m.mount
	src := ms.Source
	if rs := ms.Relay; rs != nil {
		add("Relay", s.Text.Render("relayed from "+common.Redact(rs.Upstream))+s.Dim.Render(relayKind(rs)))
		if len(rs.Upstreams) > 1 {
			ups := make([]string, len(rs.Upstreams))
			for i, u := range rs.Upstreams {
				ups[i] = strconv.Itoa(i+1) + ". " + common.Redact(u)
			}
			add("Upstreams", s.Dim.Render(strings.Join(ups, "  ")))
		}
		st := s.Text
		switch rs.State {
		case engine.RelayLive:
			st = s.Live
		case engine.RelayRetrying:
			st = s.Warn
		}
		line := st.Render(string(rs.State)) + s.Text.Render(" · "+plural(rs.Attempts, "failed attempt", "failed attempts"))
		if rs.LastError != "" {
			// While live, the last error is history: the session it ended
			// or the upstream tried before this one.
			errStyle := s.Warn
			if rs.State == engine.RelayLive {
				errStyle = s.Dim
			}
			line += s.Text.Render(" · last error: ") + errStyle.Render(rs.LastError)
		}
		add("Relay state", line)
	}
	for i := range m.pushes {
		add("Push", pushLine(s, &m.pushes[i]))
	}
	if src == nil {
		msg := "no source connected"
		switch {
		case ms.State == engine.StateGrace && !ms.GraceUntil.IsZero():
			msg += "; listeners held until " + ms.GraceUntil.Format("15:04:05") +
				" (" + common.Duration(ms.GraceUntil.Sub(m.now)) + " left)"
		case ms.Relay != nil && ms.Relay.State == engine.RelayIdle:
			msg = "the relay connects when a listener arrives"
		case ms.Relay != nil:
			msg = "waiting for the upstream"
		}
		return append(out, s.Grace.Render("  "+msg))
	}
	f := &src.Frames
	codec := common.Join(" · ",
		common.Join(" ", f.Codec, mpegVersion(f)),
		hz(f.SampleRate), channels(f.Channels),
		container(f.Container), src.ContentType)
	if !src.Known {
		codec = common.Join(" · ", src.ContentType, "not analysed (unknown format)")
	}
	add("Codec", s.Text.Render(codec))
	if m.hasAudio {
		meters := m.audioLines(add) // adds its labelled lines first
		out = append(out, meters...)
	}
	frames := "frames " + strconv.FormatUint(f.Frames, 10)
	if f.Container == "ogg" {
		frames = "pages " + strconv.FormatUint(f.Frames, 10)
	}
	add("Frames", s.Text.Render(frames)+"  "+
		count(s, "sync losses", f.SyncLosses)+"  "+count(s, "CRC errors", f.CRCErrors)+"  "+
		s.Dim.Render("skipped "+common.Bytes(f.SkippedBytes)+"  tags "+common.Bytes(f.TagBytes)))
	rt := strconv.FormatFloat(src.Realtime, 'f', 2, 64) + "×"
	rtStyle := s.Text
	if src.Realtime > 0 && (src.Realtime < 0.95 || src.Realtime > 1.10) {
		rtStyle = s.Warn
	}
	stalls := s.Text
	if src.Stalls > 0 {
		stalls = s.Warn
	}
	add("Timing", s.Text.Render("audio "+common.Duration(f.Duration)+"  realtime ")+rtStyle.Render(rt)+"  "+
		stalls.Render("stalls "+strconv.Itoa(src.Stalls))+
		s.Dim.Render("  longest gap "+src.LongestGap.Round(time.Millisecond).String()))
	rate := "declared " + kbps(src.Ice.Bitrate) + " · measured " + kbps(src.Bitrate1s) + " (1s) " + kbps(src.Bitrate10s) + " (10s)"
	if f.MinBitrate > 0 {
		rate += " · frames " + common.Kbps(f.MinBitrate) + "–" + common.Kbps(f.MaxBitrate) + " kb/s"
	} else if f.Bitrate > 0 {
		rate += " · nominal " + kbps(f.Bitrate)
	}
	add("Bitrate", s.Text.Render(rate))
	if w := m.width - labelW - 1; w > 0 && len(src.History) > 0 {
		peak := slices.Max(src.History)
		tail := " peak " + kbps(peak)
		spark := common.Sparkline(src.History, max(w-len(tail)-1, 1))
		add("History", s.Accent.Render(spark)+s.Dim.Render(tail))
	}
	add("Received", s.Text.Render(common.Bytes(src.BytesIn)+" ("+strconv.FormatUint(src.BytesIn, 10)+" bytes)"))
	add("SHA-256", s.Dim.Render(src.SHA256))
	add("Address", s.Text.Render(src.Addr+" "+src.Method+" · connected "+common.Since(m.now, src.Connected)+
		" · last data "+common.Since(m.now, src.LastData)+" ago"))
	add("Agent", s.Text.Render(src.UserAgent))
	if ms.Title != "" {
		add("Title", s.Text.Render(ms.Title))
	}
	for _, h := range iceHeaders(src.Headers) {
		add(h[0], s.Text.Render(h[1]))
	}
	return out
}

// pushLine describes a push: "→ target · live · 1.2 MB sent", or
// "→ target · retrying, 3 failed: target answered 401 Unauthorized".
func pushLine(s *themes.Styles, p *engine.PushStatus) string {
	line := s.Text.Render("→ " + common.Redact(p.Target) + " · ")
	switch p.State {
	case engine.PushLive:
		// A live push's last error is history; what it sent is not.
		return line + s.Live.Render(string(p.State)) + s.Text.Render(" · "+common.Bytes(p.BytesSent)+" sent")
	case engine.PushRetrying:
		line += s.Warn.Render(string(p.State))
	case engine.PushWaiting:
		// Failures before the source left say nothing about the next one.
		return line + s.Dim.Render(string(p.State)+" for a source")
	default:
		line += s.Text.Render(string(p.State))
	}
	if p.Attempts > 0 {
		line += s.Text.Render(", " + strconv.Itoa(p.Attempts) + " failed")
	}
	if p.LastError != "" && (p.State == engine.PushRetrying || p.Attempts > 0) {
		// Retrying: why. Connecting again after failures: why the last
		// one failed.
		errStyle := s.Warn
		if p.State != engine.PushRetrying {
			errStyle = s.Dim
		}
		line += s.Text.Render(": ") + errStyle.Render(p.LastError)
	}
	return line
}

// relayKind says how a relay came to be, when not by hand.
func relayKind(rs *engine.RelayStatus) string {
	var k []string
	if rs.OnDemand {
		k = append(k, "on demand")
	}
	if rs.FromMaster {
		k = append(k, "mirrored from the master")
	}
	if len(k) == 0 {
		return ""
	}
	return " (" + strings.Join(k, ", ") + ")"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// iceHeaders returns the ice-* and icy-* request headers, sorted by name.
func iceHeaders(h map[string]string) [][2]string {
	var out [][2]string
	for k, v := range h {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "ice-") || strings.HasPrefix(lk, "icy-") {
			out = append(out, [2]string{lk, v})
		}
	}
	slices.SortFunc(out, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return out
}

func count(s *themes.Styles, label string, n uint64) string {
	t := label + " " + strconv.FormatUint(n, 10)
	if n > 0 {
		return s.Warn.Render(t)
	}
	return s.Text.Render(t)
}

func kbps(bps int) string {
	if bps <= 0 {
		return "–"
	}
	return common.Kbps(bps) + " kb/s"
}

func hz(r int) string {
	if r <= 0 {
		return ""
	}
	return strconv.Itoa(r) + " Hz"
}

func channels(n int) string {
	switch n {
	case 0:
		return ""
	case 1:
		return "mono"
	case 2:
		return "stereo"
	}
	return strconv.Itoa(n) + " channels"
}

func mpegVersion(f *frame.Stats) string {
	if f.Version == "" {
		return ""
	}
	return "MPEG-" + f.Version
}

func container(c string) string {
	if c == "" {
		return ""
	}
	return c + " container"
}

// loudnessFloor is the bottom of the loudness history's scale (LUFS);
// its top is 0, so each of the eight block heights is 5 LU.
const loudnessFloor = -40.0

// audioLines are the audio analysis's readings: loudness, peaks, phase,
// a level meter per channel and the loudness of the last five minutes.
// Labelled lines go through add; the meter's own lines are returned.
func (m *Model) audioLines(add func(label, value string)) []string {
	s, st := m.styles, &m.audio
	switch st.State {
	case "undecodable":
		add("Audio", s.Error.Render("undecodable: "+st.Error))
		return nil
	case "starting":
		add("Audio", s.Dim.Render("decoding…"))
		return nil
	case "off", "over max_mounts":
		add("Audio", s.Dim.Render("not analysed ("+st.State+")"))
		return nil
	}
	lufs := func(v float64) string { return common.Level(v) }
	short := s.Text
	if st.ShortTermLUFS > -9 {
		short = s.Warn
	}
	add("Loudness", s.Text.Render("M "+lufs(st.MomentaryLUFS)+"  ")+short.Render("S "+lufs(st.ShortTermLUFS))+
		s.Text.Render("  I "+lufs(st.IntegratedLUFS)+" LUFS · range "+lufs(st.LoudnessRangeLU)+" LU"))
	tp := s.Text
	if st.TruePeakDBTP > -1 {
		tp = s.Error
	}
	clipped := s.Text.Render(" · clipped " + strconv.FormatUint(st.ClippedSamples, 10))
	if st.ClippedSamples > 0 {
		clipped = s.Error.Render(" · clipped " + strconv.FormatUint(st.ClippedSamples, 10))
	}
	add("Peaks", tp.Render("true "+lufs(st.TruePeakDBTP)+" dBTP")+s.Text.Render(" · sample "+lufs(st.SamplePeakDBFS)+" dBFS")+clipped)
	phase := s.Text.Render("correlation " + signed(st.Correlation, 2) + " · balance " + signed(st.BalanceDB, 1) + " dB")
	switch {
	case st.PhaseWarning:
		phase += s.Warn.Render(" · out of phase: mono listeners hear little")
	case st.Mono && st.Channels == 2:
		phase += s.Dim.Render(" · mono (both channels the same)")
	case st.Channels == 1:
		phase = s.Text.Render("mono stream")
	}
	add("Phase", phase)
	if st.Silent {
		what := "silent for " + common.Duration(st.SilentFor)
		if st.DigitalSilence {
			what += " (digital silence)"
		}
		add("Silence", s.Error.Render(what))
	}
	var out []string
	names := []string{"L", "R"}
	if st.Channels == 1 {
		names = []string{"M"}
	}
	for i, n := range names {
		out = append(out, strings.Repeat(" ", labelW-1)+meter.Bar(n, st.Levels[i], math.NaN(), "", max(m.width-labelW+1, 0), s))
	}
	if w := m.width - labelW - 1; w > 0 && len(m.history) > 0 {
		tail := " short-term LUFS, " + common.Duration(time.Duration(len(m.history))*time.Second) + ", " + strconv.Itoa(int(loudnessFloor)) + "…0"
		cells := max(w-len(tail), 1)
		spark := common.SparklineRange(squeeze(m.history, cells), loudnessFloor, 0, cells)
		out = append(out, s.TableHeader.Render(common.Fit("Trend", labelW))+" "+s.Accent.Render(spark)+s.Dim.Render(tail))
	}
	return out
}

// squeeze averages v into at most n values, so the whole history fits
// (NaN, nothing measured, counts for nothing; all NaN stays NaN).
func squeeze(v []float64, n int) []float64 {
	if len(v) <= n {
		return v
	}
	out := make([]float64, n)
	for i := range out {
		var sum float64
		k := 0
		for _, x := range v[i*len(v)/n : (i+1)*len(v)/n] {
			if !math.IsNaN(x) {
				sum += x
				k++
			}
		}
		out[i] = math.NaN()
		if k > 0 {
			out[i] = sum / float64(k)
		}
	}
	return out
}

// signed formats v with a sign and digits decimals; "–" for NaN.
func signed(v float64, digits int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	if v >= 0 {
		return "+" + strconv.FormatFloat(v, 'f', digits, 64)
	}
	return strconv.FormatFloat(v, 'f', digits, 64)
}
