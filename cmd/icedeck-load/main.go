// Command icedeck-load measures what listeners cost a relay: it feeds one
// mount in real time, connects N listeners that read everything, and reads
// the server's CPU time and resident memory from /proc while they listen.
// It works against icedeck or any Icecast-compatible server (-pid).
//
//	icedeck-load -addr 127.0.0.1:8000 -password hackme -file tone.mp3 -listeners 10000 -pid $(pidof icedeck)
//
// Only loopback or your own test hosts are valid targets.
package main

import (
	"bufio"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "server address")
	mount := flag.String("mount", "/load.mp3", "mount to feed and listen to")
	password := flag.String("password", "", "source password (user source)")
	file := flag.String("file", "", "MP3 file to loop as the source")
	kbps := flag.Int("kbps", 128, "rate to send the file at")
	frameBytes := flag.Int("write", 418, "bytes per source write (an MP3 frame at 128 kb/s is 418)")
	n := flag.Int("listeners", 1000, "listeners to connect")
	ramp := flag.Int("ramp", 2000, "new listeners per second")
	window := flag.Duration("measure", 20*time.Second, "how long to measure once all are connected")
	pid := flag.Int("pid", 0, "server process to measure (0: none)")
	icy := flag.Bool("icy", false, "ask for ICY metadata")
	flag.Parse()
	if *file == "" || *password == "" {
		fmt.Fprintln(os.Stderr, "icedeck-load: -file and -password are required")
		os.Exit(2)
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		fail(err)
	}
	stop := make(chan struct{})
	go feed(*addr, *mount, *password, data, *kbps, *frameBytes, stop)
	time.Sleep(2 * time.Second)

	rss0 := rss(*pid)
	var bytesIn, dropped atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < *n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if listen(*addr, *mount, *icy, &bytesIn, stop) != nil {
				dropped.Add(1)
			}
		}()
		if i%100 == 99 {
			time.Sleep(time.Duration(100 * float64(time.Second) / float64(*ramp)))
		}
	}
	fmt.Printf("connected %d listeners in %s\n", *n, time.Since(start).Round(time.Millisecond))
	time.Sleep(3 * time.Second) // bursts settle

	cpu0, t0, b0 := cpuTicks(*pid), time.Now(), bytesIn.Load()
	time.Sleep(*window)
	cpu1, t1, b1 := cpuTicks(*pid), time.Now(), bytesIn.Load()
	rss1 := rss(*pid)
	secs := t1.Sub(t0).Seconds()
	perListenerRate := float64(b1-b0) / secs / float64(*n) * 8 / 1000
	fmt.Printf("listeners: %d, dropped or refused: %d\n", *n, dropped.Load())
	fmt.Printf("average received per listener: %.1f kb/s (source sends %d kb/s)\n", perListenerRate, *kbps)
	if *pid != 0 {
		cpu := float64(cpu1-cpu0) / 100 / secs * 100 // clock ticks are 1/100 s
		fmt.Printf("server CPU: %.1f%% of one core, %.2f%% per 1000 listeners\n", cpu, cpu/float64(*n)*1000)
		fmt.Printf("server RSS: %d KiB before listeners, %d KiB with them: %.2f KiB per listener\n",
			rss0, rss1, float64(rss1-rss0)/float64(*n))
	}
	close(stop)
	wg.Wait()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "icedeck-load:", err)
	os.Exit(1)
}

// feed sends data in a loop at kbps, in writes of frameBytes.
func feed(addr, mount, password string, data []byte, kbps, frameBytes int, stop chan struct{}) {
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
	interval := time.Duration(float64(frameBytes*8) / float64(kbps*1000) * float64(time.Second))
	tick := time.NewTicker(interval)
	defer tick.Stop()
	off := 0
	for {
		select {
		case <-stop:
			c.Close()
			return
		case <-tick.C:
		}
		end := min(off+frameBytes, len(data))
		if _, err := c.Write(data[off:end]); err != nil {
			fail(fmt.Errorf("source write: %v", err))
		}
		off = end % len(data)
	}
}

func listen(addr, mount string, icy bool, total *atomic.Int64, stop chan struct{}) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	go func() { <-stop; c.Close() }()
	req := "GET " + mount + " HTTP/1.0\r\nUser-Agent: icedeck-load\r\n"
	if icy {
		req += "Icy-MetaData: 1\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		return err
	}
	buf := make([]byte, 2048)
	for {
		k, err := c.Read(buf)
		total.Add(int64(k))
		if err != nil {
			select {
			case <-stop:
				return nil
			default:
				return err
			}
		}
	}
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
