// Package source is the Source tab: what the selected mount's source sent
// and what the frame analysis made of it.
package source

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/icedeck/icedeck/engine"
	"github.com/icedeck/icedeck/engine/frame"
	"github.com/icedeck/icedeck/themes"
	"github.com/icedeck/icedeck/tui/common"
	"github.com/icedeck/icedeck/tui/health"
	"github.com/icedeck/icedeck/tui/keys"
	"github.com/icedeck/icedeck/tui/meter"
)

// Model is the source detail pane. Its text is laid out in Update
// (Refresh), so View only picks the lines in view.
type Model struct {
	styles   *themes.Styles
	keys     *keys.KeyMap
	analysed bool // an audio analysis runs at all
	width    int
	height   int

	mount  engine.MountSnapshot
	pushes []engine.PushStatus // the mount's
	has    bool
	flags  []health.Flag
	listen string // the mount's listen URL

	audio    engine.AudioStats // what the audio analysis measured on the mount
	hasAudio bool
	history  []float64 // its short-term loudness once a second
	now      time.Time
	offset   int
	text     []string // the lines, from Refresh
	labelW   int
}

// New returns an empty pane; analysed says an audio analysis runs.
func New(s *themes.Styles, k *keys.KeyMap, analysed bool) *Model {
	return &Model{styles: s, keys: k, analysed: analysed, labelW: minLabelW}
}

// SetSize implements common.Pane.
func (m *Model) SetSize(w, h int) { m.width, m.height = w, h; m.fix() }

// SetData shows ms (has = false: no mount selected), its health flags
// and the URL listeners use. Call Refresh after the Set calls.
func (m *Model) SetData(ms engine.MountSnapshot, has bool, now time.Time, flags []health.Flag, listen string) {
	if ms.Name != m.mount.Name {
		m.offset = 0
	}
	m.mount, m.has, m.now, m.flags, m.listen = ms, has, now, flags, listen
}

// SetAudio shows what the audio analysis measured on the mount given to
// SetData, and its short-term loudness history (has = false: nothing).
func (m *Model) SetAudio(st engine.AudioStats, has bool, history []float64) {
	m.audio, m.hasAudio, m.history = st, has, history
}

// SetPushes shows the pushes of the mount given to SetData.
func (m *Model) SetPushes(ps []engine.PushStatus) { m.pushes = ps }

// Refresh lays the text out again; the root calls it from Update.
func (m *Model) Refresh() {
	if m.width <= 0 {
		m.text = nil
		return
	}
	m.text = m.lines()
	m.fix()
}

func (m *Model) fix() { m.offset = common.Clamp(m.offset, 0, max(len(m.text)-m.height, 0)) }

// Scroll moves the view by delta lines.
func (m *Model) Scroll(delta int) { m.offset += delta; m.fix() }

// Bindings implements common.Pane.
func (m *Model) Bindings() []common.Binding {
	k := m.keys
	bs := common.Movement(k, m.height-1, max(len(m.text)-m.height, 0), m.Scroll)
	for i := range bs {
		bs[i] = bs[i].OffIf(len(m.text) <= m.height, "the whole Source tab is in view")
	}
	reset := common.Bind(k.ResetLoudness, func() tea.Cmd {
		return common.Send(common.ResetLoudnessRequest{Mount: m.mount.Name})
	}).OnHelp().
		OffIf(!m.analysed, "the audio analysis is off ([analysis] enabled = false)").
		OffIf(!m.has, "no mount selected").
		OffIf(!m.hasAudio, m.mount.Name+" is not measured (yet)")
	return append(bs, reset)
}

// minLabelW fits the fixed labels ("Relay state").
const minLabelW = 11

// View implements common.Pane.
func (m *Model) View(bool) string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	return common.Lines(m.text[min(m.offset, len(m.text)):], m.width, m.height)
}

func (m *Model) lines() []string {
	s := m.styles
	var out []string
	if !m.has {
		return []string{s.Dim.Render("  no mount selected")}
	}
	ms := &m.mount
	src := ms.Source
	// Labels are never cut: the column is as wide as the longest
	// (icy-metadata, ice-description), within reason.
	m.labelW = minLabelW
	if src != nil {
		for k := range src.Headers {
			if lk := strings.ToLower(k); strings.HasPrefix(lk, "ice-") || strings.HasPrefix(lk, "icy-") {
				m.labelW = max(m.labelW, min(len(k), 24))
			}
		}
	}
	labelW := m.labelW
	add := func(label, value string) {
		out = append(out, s.TableHeader.Render(common.Fit(label, labelW))+" "+value)
	}
	if m.listen != "" {
		add("Listen", s.Accent.Render(m.listen)+s.Dim.Render("  (c copies)"))
	}
	if len(m.flags) > 0 {
		for _, f := range m.flags {
			add("Health", f.Level.Style(s).Render(f.Word)+s.Text.Render(" "+f.Why))
		}
	}
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
	u := ms.Unknown
	notTold := s.Dim.Render("not told by this server")
	switch {
	case u.Has(engine.UnknownFrames):
		codec = src.ContentType
	case !src.Known:
		codec = common.Join(" · ", src.ContentType, "not analysed (unknown format)")
	}
	add("Codec", s.Text.Render(codec))
	if m.hasAudio {
		meters := m.audioLines(add, labelW) // adds its labelled lines first
		out = append(out, meters...)
	}
	frames := "frames " + strconv.FormatUint(f.Frames, 10)
	if f.Container == "ogg" {
		frames = "pages " + strconv.FormatUint(f.Frames, 10)
	}
	if u.Has(engine.UnknownFrames) {
		add("Frames", notTold)
	} else {
		add("Frames", s.Text.Render(frames)+"  "+
			count(s, "sync losses", f.SyncLosses)+"  "+count(s, "CRC errors", f.CRCErrors)+"  "+
			s.Dim.Render("skipped "+common.Bytes(f.SkippedBytes)+"  tags "+common.Bytes(f.TagBytes)))
	}
	rt := strconv.FormatFloat(src.Realtime, 'f', 2, 64) + "×"
	rtStyle := s.Text
	if src.Realtime > 0 && (src.Realtime < health.PaceLow || src.Realtime > health.PaceHigh) {
		rtStyle = s.Warn
	}
	stalls := s.Text
	if src.Stalls > 0 {
		stalls = s.Warn
	}
	if u.Has(engine.UnknownSource) || u.Has(engine.UnknownFrames) {
		add("Timing", notTold)
	} else {
		add("Timing", s.Text.Render("audio "+common.Duration(f.Duration)+"  realtime ")+rtStyle.Render(rt)+"  "+
			stalls.Render("stalls "+strconv.Itoa(src.Stalls))+
			s.Dim.Render("  longest gap "+src.LongestGap.Round(time.Millisecond).String()))
	}
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
	if u.Has(engine.UnknownBytes) {
		add("Received", notTold)
	} else {
		add("Received", s.Text.Render(common.Bytes(src.BytesIn)+" ("+strconv.FormatUint(src.BytesIn, 10)+" bytes)"))
	}
	if !u.Has(engine.UnknownSource) {
		add("SHA-256", s.Dim.Render(src.SHA256))
	}
	addr := src.Addr + " " + src.Method
	if u.Has(engine.UnknownSourceClient) {
		addr = "–"
	}
	last := " · last data " + common.Since(m.now, src.LastData) + " ago"
	if u.Has(engine.UnknownSource) {
		last = ""
	}
	add("Address", s.Text.Render(addr+" · connected "+common.Since(m.now, src.Connected)+last))
	if !u.Has(engine.UnknownSourceClient) {
		add("Agent", s.Text.Render(src.UserAgent))
	}
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
func (m *Model) audioLines(add func(label, value string), labelW int) []string {
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
		spark := common.SparklineRange(common.Squeeze(m.history, cells), loudnessFloor, 0, cells)
		out = append(out, s.TableHeader.Render(common.Fit("Trend", labelW))+" "+s.Accent.Render(spark)+s.Dim.Render(tail))
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
