// Command icedeck-load measures what listeners cost a relay and what they
// get from it: it feeds one mount in real time, connects N listeners at a
// steady ramp that read everything, and reports the server's CPU time and
// resident memory (from /proc), each listener's time to first byte, and
// the latency from source to listener of every frame while it measures.
// It works against icedeck or any Icecast-compatible server (-pid).
//
//	icedeck-load -addr 127.0.0.1:8000 -password hackme -listeners 10000 -pid $(pidof icedeck)
//
// The source sends silent MPEG-1 layer III frames (48 kHz, so every frame
// of a bitrate has one size), each carrying a stamp after its side
// information: the frame's number, which the listeners look up in the
// table of when each frame was sent. With -file it loops that MP3 file
// instead, and latency is not measured. Only loopback or your own test
// hosts are valid targets.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "server address")
	mount := flag.String("mount", "/load.mp3", "mount to feed and listen to")
	password := flag.String("password", "", "source password (user source)")
	file := flag.String("file", "", "MP3 file to loop as the source instead of stamped frames (no latency then)")
	kbps := flag.Int("kbps", 128, "bitrate of the source")
	writeBytes := flag.Int("write", 418, "with -file: bytes per source write (an MP3 frame at 128 kb/s is 418)")
	n := flag.Int("listeners", 1000, "listeners to connect")
	ramp := flag.Int("ramp", 1000, "new listeners per second, evenly spaced")
	window := flag.Duration("measure", 20*time.Second, "how long to measure once all are connected")
	settle := flag.Duration("settle", 3*time.Second, "wait between the last connection and the measurement")
	pid := flag.Int("pid", 0, "server process to measure (0: none)")
	icy := flag.Bool("icy", false, "ask for ICY metadata")
	label := flag.String("label", "", "name of the run in the RESULT line")
	probeEvery := flag.Duration("probe", 20*time.Millisecond, "while listeners connect, a blocking client apart from them times a new listener's first byte this often (0: none)")
	flag.Parse()
	if *password == "" {
		fmt.Fprintln(os.Stderr, "icedeck-load: -password is required")
		os.Exit(2)
	}
	src := &source{kbps: *kbps, write: *writeBytes}
	if *file != "" {
		data, err := os.ReadFile(*file)
		if err != nil {
			fail(err)
		}
		src.file = data
	} else if err := src.frames(); err != nil {
		fail(err)
	}
	stop := make(chan struct{})
	go src.feed(src.connect(*addr, *mount, *password), stop)
	time.Sleep(2 * time.Second)

	rss0 := rss(*pid)
	r := &run{src: src, start: time.Now(), ls: make([]*listenerStats, *n)}
	ramping := make(chan struct{})
	probes := make(chan []time.Duration, 1)
	if *probeEvery > 0 {
		go func() { probes <- probe(*addr, *mount, *probeEvery, ramping) }()
	} else {
		probes <- nil
	}
	var wg sync.WaitGroup
	for i := 0; i < *n; i++ {
		// Evenly spaced, as listeners arrive: a batch at once would time
		// the load generator's own queue.
		time.Sleep(time.Until(r.start.Add(time.Duration(float64(i) * float64(time.Second) / float64(*ramp)))))
		ls := &listenerStats{}
		r.ls[i] = ls
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.listen(*addr, *mount, *icy, ls, stop); err != nil {
				ls.err = err
				r.failed.Add(1)
			}
		}()
	}
	fmt.Printf("connected %d listeners in %s\n", *n, time.Since(r.start).Round(time.Millisecond))
	close(ramping)
	probed := <-probes
	time.Sleep(*settle) // bursts settle

	before := make([]int64, *n)
	for i, ls := range r.ls {
		before[i] = ls.bytes.Load()
	}
	cpu0, t0, own0, all0 := cpuTicks(*pid), time.Now(), cpuTicks(os.Getpid()), busyTicks()
	r.measuring.Store(true)
	time.Sleep(*window)
	r.measuring.Store(false)
	cpu1, t1, own1, all1 := cpuTicks(*pid), time.Now(), cpuTicks(os.Getpid()), busyTicks()
	rss1 := rss(*pid)
	secs := t1.Sub(t0).Seconds()
	var total int64
	starved := 0
	want := float64(*kbps) * 1000 / 8 * secs
	for i, ls := range r.ls {
		got := ls.bytes.Load() - before[i]
		total += got
		// Less than 90% of real time: the player's buffer drains.
		if float64(got) < 0.9*want {
			starved++
		}
	}
	close(stop)
	wg.Wait()

	res := result{label: *label, listeners: *n, failed: int(r.failed.Load()), starved: starved,
		rate: float64(total) / secs / float64(*n) * 8 / 1000, kbps: *kbps}
	res.ttfb = percentiles(r.ttfbs())
	res.probe = percentiles(probed)
	res.latency = r.lat.percentiles()
	fmt.Printf("listeners: %d, refused or failed: %d, starved (<90%% of the rate while measured): %d\n", *n, res.failed, starved)
	if errs := r.errors(); len(errs) > 0 {
		fmt.Printf("failures: %s\n", strings.Join(errs, "; "))
	}
	fmt.Printf("average received per listener: %.1f kb/s (source sends %d kb/s)\n", res.rate, *kbps)
	fmt.Printf("time to first byte (connect to the answer's first byte): %s\n", res.ttfb)
	if len(probed) > 0 {
		fmt.Printf("time to first byte of %d blocking probes while they connected: %s\n", len(probed), res.probe)
	}
	if src.file == nil {
		fmt.Printf("latency source → listener (%d frames): %s\n", r.lat.count(), res.latency)
	}
	if *pid != 0 {
		res.cpu = float64(cpu1-cpu0) / 100 / secs * 100 // clock ticks are 1/100 s
		// What neither the server nor this program used: other work on
		// the machine, which makes the run's figures noisy.
		res.others = float64((all1-all0)-(cpu1-cpu0)-(own1-own0)) / 100 / secs * 100
		fmt.Printf("other processes: %.1f%% of one core while measuring\n", res.others)
		// The load generator's own share: with the server's, whether the
		// machine had room for both.
		res.own = float64(own1-own0) / 100 / secs * 100
		fmt.Printf("this load generator: %.1f%% of one core\n", res.own)
		res.rssKiB = float64(rss1-rss0) / float64(*n)
		fmt.Printf("server CPU: %.1f%% of one core, %.2f%% per 1000 listeners\n", res.cpu, res.cpu/float64(*n)*1000)
		fmt.Printf("server RSS: %d KiB before listeners, %d KiB with them: %.2f KiB per listener\n", rss0, rss1, res.rssKiB)
	}
	fmt.Println(res)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "icedeck-load:", err)
	os.Exit(1)
}

// Stamped frames: MPEG-1 layer III at 48 kHz, no padding, no CRC, joint
// stereo; the 32 bytes of side information are zero (no audio data: a
// silent frame any decoder accepts), then the stamp.
const (
	sideInfo   = 32
	stampAt    = 4 + sideInfo
	stampMagic = "IDLT"
	stampLen   = len(stampMagic) + 8
	frameDur   = 1152 * time.Second / 48000 // 24 ms
	sentSlots  = 1 << 16                    // 26 minutes of frames
)

var bitrates = []int{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320}

type source struct {
	kbps, write int
	file        []byte
	frame       []byte // template of a stamped frame
	sent        [sentSlots]atomic.Int64
	epoch       time.Time
}

func (s *source) frames() error {
	idx := slices.Index(bitrates, s.kbps)
	if idx <= 0 {
		return fmt.Errorf("-kbps %d is not an MPEG-1 layer III bitrate (%v)", s.kbps, bitrates[1:])
	}
	f := make([]byte, 144*s.kbps*1000/48000)
	f[0], f[1], f[2], f[3] = 0xFF, 0xFB, byte(idx<<4|1<<2), 0x40 // 48 kHz; joint stereo
	copy(f[stampAt:], stampMagic)
	s.frame = f
	return nil
}

// connect starts the source; its clock starts with it.
func (s *source) connect(addr, mount, password string) net.Conn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		fail(err)
	}
	auth := base64.StdEncoding.EncodeToString([]byte("source:" + password))
	fmt.Fprintf(c, "PUT %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\nContent-Type: audio/mpeg\r\nIce-Name: load\r\nUser-Agent: icedeck-load\r\n\r\n", mount, addr, auth)
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.Contains(line, "200") {
		fail(fmt.Errorf("source refused: %q %v", line, err))
	}
	s.epoch = time.Now()
	return c
}

// feed sends the stream in real time: stamped frames, one per write, or
// the file in writes of s.write bytes.
func (s *source) feed(c net.Conn, stop chan struct{}) {
	piece, interval := len(s.frame), frameDur
	if s.file != nil {
		piece = s.write
		interval = time.Duration(float64(piece*8) / float64(s.kbps*1000) * float64(time.Second))
	}
	off := 0
	for k := int64(0); ; k++ {
		// On a schedule from the start, so the rate does not drift with
		// the wake-ups.
		select {
		case <-stop:
			c.Close()
			return
		case <-time.After(time.Until(s.epoch.Add(time.Duration(k) * interval))):
		}
		var b []byte
		if s.file != nil {
			end := min(off+piece, len(s.file))
			b, off = s.file[off:end], end%len(s.file)
		} else {
			binary.BigEndian.PutUint64(s.frame[stampAt+len(stampMagic):], uint64(k))
			s.sent[k%sentSlots].Store(int64(time.Since(s.epoch)))
			b = s.frame
		}
		if _, err := c.Write(b); err != nil {
			fail(fmt.Errorf("source write: %v", err))
		}
	}
}

type run struct {
	src       *source
	start     time.Time
	ls        []*listenerStats
	failed    atomic.Int64
	measuring atomic.Bool
	lat       histogram
}

type listenerStats struct {
	bytes atomic.Int64
	ttfb  atomic.Int64 // ns; 0 until the first byte
	err   error        // set before the listener's goroutine ends
}

func (r *run) listen(addr, mount string, icy bool, ls *listenerStats, stop chan struct{}) error {
	t0 := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	go func() { <-stop; c.Close() }()
	req := "GET " + mount + " HTTP/1.0\r\nUser-Agent: icedeck-load\r\n"
	if icy {
		req += "Icy-MetaData: 1\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		return err
	}
	// A stamp cut between two reads is found with the end of the last
	// one, kept before the buffer.
	const carry = stampLen - 1
	buf := make([]byte, carry+4096)
	kept := 0
	status := false
	for {
		k, err := c.Read(buf[carry:])
		if k > 0 {
			now := time.Now()
			got := buf[carry : carry+k]
			if ls.ttfb.Load() == 0 {
				ls.ttfb.Store(int64(now.Sub(t0)))
			}
			if !status {
				// The answer's first line is in the first read.
				line, _, _ := bytes.Cut(got, []byte("\r\n"))
				if f := strings.Fields(string(line)); len(f) < 2 || f[1] != "200" {
					return fmt.Errorf("answer %q", line)
				}
				status = true
			}
			ls.bytes.Add(int64(k))
			if r.src.file == nil {
				region := buf[carry-kept : carry+k]
				r.stamps(region, now)
				kept = min(carry, len(region))
				copy(buf[carry-kept:carry], region[len(region)-kept:])
			}
		}
		if err != nil {
			select {
			case <-stop:
				return nil
			default:
				if !status {
					return err
				}
				return fmt.Errorf("after %d bytes: %w", ls.bytes.Load(), err)
			}
		}
	}
}

// stamps times every stamp in b, received at now, while measuring.
func (r *run) stamps(b []byte, now time.Time) {
	if !r.measuring.Load() {
		return
	}
	at := int64(now.Sub(r.src.epoch))
	for {
		i := bytes.Index(b, []byte(stampMagic))
		if i < 0 || i+stampLen > len(b) {
			return
		}
		k := binary.BigEndian.Uint64(b[i+len(stampMagic):])
		if sent := r.src.sent[k%sentSlots].Load(); sent > 0 || k == 0 {
			r.lat.add(time.Duration(at - sent))
		}
		b = b[i+stampLen:]
	}
}

// probe times a new listener's first byte every interval until done,
// from a thread of its own with blocking system calls: the N listeners'
// goroutines, woken by thousands at each of the server's sweeps, can be
// scheduled late, and their TTFB then times the load generator as well.
// A probe that gets no byte within 5 s counts as 5 s.
func probe(addr, mount string, every time.Duration, done chan struct{}) []time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() {
		fmt.Fprintf(os.Stderr, "icedeck-load: -probe needs an IPv4 address:port, not %q\n", addr)
		return nil
	}
	sa := &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	req := []byte("GET " + mount + " HTTP/1.0\r\nUser-Agent: icedeck-load-probe\r\n\r\n")
	var out []time.Duration
	var b [512]byte
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return out
		case <-tick.C:
		}
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
		if err != nil {
			continue
		}
		tv := syscall.NsecToTimeval(int64(5 * time.Second))
		_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
		t0 := time.Now()
		got := false
		if syscall.Connect(fd, sa) == nil {
			if k, err := syscall.Write(fd, req); err == nil && k == len(req) {
				// Raw: the thread waits in the kernel, not for the scheduler.
				// The runtime's preemption signal interrupts it (a socket
				// with a receive timeout is not restarted): read again.
				k, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
				for e == syscall.EINTR {
					k, _, e = syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
				}
				got = e == 0 && k > 0
			}
		}
		d := time.Since(t0)
		if !got {
			d = 5 * time.Second
		}
		out = append(out, d)
		syscall.Close(fd)
	}
}

func (r *run) ttfbs() []time.Duration {
	var ds []time.Duration
	for _, ls := range r.ls {
		if ls != nil && ls.ttfb.Load() > 0 {
			ds = append(ds, time.Duration(ls.ttfb.Load()))
		}
	}
	return ds
}

// errors counts the listeners' failures by kind.
func (r *run) errors() []string {
	count := map[string]int{}
	for _, ls := range r.ls {
		if ls != nil && ls.err != nil {
			msg := ls.err.Error()
			var ne net.Error
			if errors.As(ls.err, &ne) && ne.Timeout() {
				msg = "timeout"
			}
			count[msg]++
		}
	}
	var out []string
	for msg, n := range count {
		out = append(out, fmt.Sprintf("%d × %s", n, msg))
	}
	slices.Sort(out)
	return out
}

// histogram counts latencies in 1 ms buckets up to 30 s; striped, since
// every listener adds to it.
type histogram struct {
	stripe [8][30001]atomic.Int64
	next   atomic.Uint32
}

func (h *histogram) add(d time.Duration) {
	ms := min(max(int(d/time.Millisecond), 0), 30000)
	h.stripe[h.next.Add(1)%8][ms].Add(1)
}

func (h *histogram) merged() []int64 {
	out := make([]int64, 30001)
	for s := range h.stripe {
		for i := range out {
			out[i] += h.stripe[s][i].Load()
		}
	}
	return out
}

func (h *histogram) count() int64 {
	var n int64
	for _, c := range h.merged() {
		n += c
	}
	return n
}

func (h *histogram) percentiles() pct {
	b := h.merged()
	var n int64
	for _, c := range b {
		n += c
	}
	if n == 0 {
		return pct{}
	}
	at := func(q float64) time.Duration {
		want := int64(q*float64(n-1)) + 1
		var sum int64
		for i, c := range b {
			if sum += c; sum >= want {
				return time.Duration(i) * time.Millisecond
			}
		}
		return 30 * time.Second
	}
	last := 0
	for i, c := range b {
		if c > 0 {
			last = i
		}
	}
	return pct{ok: true, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: time.Duration(last) * time.Millisecond}
}

type pct struct {
	ok                 bool
	p50, p90, p99, max time.Duration
}

func (p pct) String() string {
	if !p.ok {
		return "none"
	}
	r := func(d time.Duration) string {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64)
	}
	return fmt.Sprintf("p50 %s ms, p90 %s ms, p99 %s ms, max %s ms", r(p.p50), r(p.p90), r(p.p99), r(p.max))
}

func percentiles(ds []time.Duration) pct {
	if len(ds) == 0 {
		return pct{}
	}
	slices.Sort(ds)
	at := func(q float64) time.Duration { return ds[int(q*float64(len(ds)-1))] }
	return pct{ok: true, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: ds[len(ds)-1]}
}

type result struct {
	label                      string
	listeners, failed, starved int
	kbps                       int
	rate, cpu, rssKiB, others  float64
	own                        float64 // this program's CPU
	ttfb, probe, latency       pct
}

// String is one line for tables: every figure of the run.
func (r result) String() string {
	ms := func(d time.Duration) string {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64)
	}
	return fmt.Sprintf("RESULT label=%s listeners=%d kbps=%d failed=%d starved=%d rate_kbps=%.1f cpu_pct=%.1f cpu_per_1000=%.2f rss_kib_per_listener=%.2f ttfb_p50_ms=%s ttfb_p99_ms=%s probe_ttfb_p50_ms=%s probe_ttfb_p99_ms=%s latency_p50_ms=%s latency_p99_ms=%s latency_max_ms=%s others_cpu_pct=%.1f load_cpu_pct=%.1f",
		cmpOr(r.label, "-"), r.listeners, r.kbps, r.failed, r.starved, r.rate, r.cpu, r.cpu/float64(r.listeners)*1000, r.rssKiB,
		ms(r.ttfb.p50), ms(r.ttfb.p99), ms(r.probe.p50), ms(r.probe.p99), ms(r.latency.p50), ms(r.latency.p99), ms(r.latency.max), r.others, r.own)
}

func cmpOr(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func cpuTicks(pid int) int64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		fail(err)
	}
	// Fields after the command name (which may hold spaces): utime is 14th, stime 15th.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// busyTicks is the CPU time all processes used, from /proc/stat: user,
// nice, system, irq, softirq and steal, in clock ticks.
func busyTicks() int64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		fail(err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	var t int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, _ := strconv.ParseInt(f[i], 10, 64)
		t += v
	}
	return t
}

func rss(pid int) int64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		fail(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			v, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return v
		}
	}
	return 0
}
