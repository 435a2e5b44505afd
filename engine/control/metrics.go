package control

import (
	"strings"

	"github.com/icedeck/icedeck/engine"
	"github.com/prometheus/client_golang/prometheus"
)

// collector turns one engine Snapshot per scrape into metrics, so every
// value in a scrape comes from the same instant. Hidden mounts are left
// out: /metrics needs no credentials.
type collector struct{ h *Handler }

var mountLabel = []string{"mount"}

// metric descriptions are immutable, so package-level values are safe.
var (
	descUp           = prometheus.NewDesc("icedeck_up", "1 while the control plane is attached to a running engine.", nil, nil)
	descStart        = prometheus.NewDesc("icedeck_start_time_seconds", "When the engine started, Unix seconds.", nil, nil)
	descSources      = prometheus.NewDesc("icedeck_sources", "Sources connected.", nil, nil)
	descListenersAll = prometheus.NewDesc("icedeck_listeners", "Network listeners on all mounts.", nil, nil)
	descBytesIn      = prometheus.NewDesc("icedeck_received_bytes_total", "Bytes received from all sources.", nil, nil)
	descBytesOut     = prometheus.NewDesc("icedeck_sent_bytes_total", "Bytes sent to all listeners.", nil, nil)

	descListeners   = prometheus.NewDesc("icedeck_mount_listeners", "Listeners on the mount.", mountLabel, nil)
	descPeak        = prometheus.NewDesc("icedeck_mount_listener_peak", "Most listeners the mount has had at once.", mountLabel, nil)
	descSourceUp    = prometheus.NewDesc("icedeck_mount_source_connected", "1 when a source feeds the mount.", mountLabel, nil)
	descMountOut    = prometheus.NewDesc("icedeck_mount_sent_bytes_total", "Bytes sent to the mount's listeners.", mountLabel, nil)
	descSlowDrops   = prometheus.NewDesc("icedeck_mount_slow_listener_drops_total", "Listeners dropped or skipped for being too slow.", mountLabel, nil)
	descMaxLag      = prometheus.NewDesc("icedeck_mount_listener_lag_max_bytes", "Largest lag behind live among the mount's listeners.", mountLabel, nil)
	descSrcIn       = prometheus.NewDesc("icedeck_source_received_bytes_total", "Bytes received from the mount's current source (resets when it reconnects).", mountLabel, nil)
	descFrames      = prometheus.NewDesc("icedeck_source_frames_total", "Frames (MPEG/ADTS) or pages (Ogg) from the current source.", mountLabel, nil)
	descSyncLosses  = prometheus.NewDesc("icedeck_source_sync_losses_total", "Times frame sync was lost in the current source's stream.", mountLabel, nil)
	descSkipped     = prometheus.NewDesc("icedeck_source_skipped_bytes_total", "Bytes of the current source's stream that were no valid frame.", mountLabel, nil)
	descBitrate     = prometheus.NewDesc("icedeck_source_bitrate_bits_per_second", "Measured bitrate over the last ten seconds.", mountLabel, nil)
	descRealtime    = prometheus.NewDesc("icedeck_source_realtime_ratio", "Audio duration received divided by wall time (1 is real time).", mountLabel, nil)
	descSrcStalls   = prometheus.NewDesc("icedeck_source_stalls_total", "Gaps over 500 ms between reads from the current source.", mountLabel, nil)
	descDisconnects = prometheus.NewDesc("icedeck_mount_recent_disconnects", "Recent disconnects kept for the mount, by reason.", []string{"mount", "reason"}, nil)
	descClients     = prometheus.NewDesc("icedeck_clients", "Connections open: sources, listeners, admin and status requests, unfinished request heads.", nil, nil)
	descEndings     = prometheus.NewDesc("icedeck_connections_ended_total", "Connections ended or refused, by what they were and why.", []string{"kind", "reason"}, nil)
	allDescriptions = append([]*prometheus.Desc{descUp, descStart, descSources, descListenersAll, descBytesIn, descBytesOut, descListeners, descPeak, descSourceUp, descMountOut, descSlowDrops, descMaxLag, descSrcIn, descFrames, descSyncLosses, descSkipped, descBitrate, descRealtime, descSrcStalls, descDisconnects, descClients, descEndings}, audioDescriptions...)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescriptions {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	collect(ch, c.h.eng.Summary(), c.h.o().Audio)
}

// collect sends snap's metrics. /metrics must answer whatever a client
// managed to put in a mount name: every label value is made valid UTF-8,
// a mount whose label collides with one already sent is left out, and a
// metric the library still refuses is reported through the registry
// (which logs it and serves the rest) instead of panicking.
func collect(ch chan<- prometheus.Metric, snap engine.Snapshot, audio func(string) (engine.AudioStats, bool)) {
	send := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels []string) {
		for i, l := range labels {
			labels[i] = strings.ToValidUTF8(l, "\uFFFD")
		}
		m, err := prometheus.NewConstMetric(d, t, v, labels...)
		if err != nil {
			m = prometheus.NewInvalidMetric(d, err)
		}
		ch <- m
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) { send(d, prometheus.GaugeValue, v, labels) }
	counter := func(d *prometheus.Desc, v float64, labels ...string) { send(d, prometheus.CounterValue, v, labels) }
	gauge(descUp, 1)
	gauge(descStart, float64(snap.Started.UnixNano())/1e9)
	gauge(descSources, float64(snap.Sources))
	gauge(descListenersAll, float64(snap.Listeners))
	counter(descBytesIn, float64(snap.BytesIn))
	counter(descBytesOut, float64(snap.BytesOut))
	gauge(descClients, float64(snap.Clients))
	for _, e := range snap.Endings {
		counter(descEndings, float64(e.Count), e.Kind.String(), e.Reason.String())
	}
	seen := map[string]bool{}
	for _, m := range snap.Mounts {
		label := strings.ToValidUTF8(m.Name, "\uFFFD")
		if m.Hidden || seen[label] {
			continue
		}
		seen[label] = true
		gauge(descListeners, float64(m.ListenerCount), m.Name)
		gauge(descPeak, float64(m.ListenerPeak), m.Name)
		counter(descMountOut, float64(m.BytesOut), m.Name)
		counter(descSlowDrops, float64(m.SlowDrops), m.Name)
		gauge(descMaxLag, float64(m.MaxLag), m.Name)
		collectAudio(m, audio, gauge, counter) // audio.go
		reasons := map[string]int{}
		for _, d := range m.Disconnects {
			reasons[d.Reason.String()]++
		}
		for r, n := range reasons {
			gauge(descDisconnects, float64(n), m.Name, r)
		}
		src := m.Source
		if src == nil {
			gauge(descSourceUp, 0, m.Name)
			continue
		}
		gauge(descSourceUp, 1, m.Name)
		counter(descSrcIn, float64(src.BytesIn), m.Name)
		counter(descFrames, float64(src.Frames.Frames), m.Name)
		counter(descSyncLosses, float64(src.Frames.SyncLosses), m.Name)
		counter(descSkipped, float64(src.Frames.SkippedBytes), m.Name)
		counter(descSrcStalls, float64(src.Stalls), m.Name)
		gauge(descBitrate, float64(src.Bitrate10s), m.Name)
		gauge(descRealtime, src.Realtime, m.Name)
	}
}
