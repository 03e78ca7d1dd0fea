package main

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/promtest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
)

// BenchmarkCosts is what the access log costs the binary, as a separate
// process, in CPU: at Squid's pace, 2,000 lines a second each in its own
// write (buffered_logs off: the tcp:// module and the stdio log send every
// line as it is made), over tcp:// and into a followed file; and in bulk,
// 1,000,000 lines as fast as they can be read. CPU is the process's own,
// from /proc, nothing subtracted. The lines are real Squid 5.7 lines
// (accesslog/testdata). make bench-costs; docs/performance.md.
//
// KONFLUX_EXPORTER, the path of konflux-ci/caching's squid-per-site-exporter
// (built outside this repository), adds its figures beside ours: it reads
// only its stdin, which its chart makes a FIFO that Squid's stdio log
// writes, so it gets a pipe, its echo of every line drained by this
// process. BENCH_COSTS_EXPORTER measures another build of ours instead of
// this tree's. Each measurement first waits, up to BENCH_COSTS_LOAD_WAIT
// (default 10m), for a 1-minute load average below BENCH_COSTS_MAX_LOAD
// (default 1.2), and says the load it ran at. It takes minutes, so it runs
// only with BENCH_COSTS=1, as make bench-costs sets.
func BenchmarkCosts(b *testing.B) {
	if os.Getenv("BENCH_COSTS") == "" {
		b.Skip("minutes long, and waits for a quiet machine: BENCH_COSTS=1 (make bench-costs)")
	}
	c := newCostBench(b)
	b.Run("steady/tcp/ours", func(b *testing.B) { c.steadyOurs(b, "tcp") })
	b.Run("steady/file/ours", func(b *testing.B) { c.steadyOurs(b, "file") })
	if c.peer != "" {
		b.Run("steady/pipe/konflux", func(b *testing.B) { c.steadyPeer(b) })
	}
	b.Run("bulk/tcp/ours", func(b *testing.B) { c.bulkOurs(b, "tcp") })
	b.Run("bulk/file/ours", func(b *testing.B) { c.bulkOurs(b, "file") })
	if c.peer != "" {
		b.Run("bulk/pipe/konflux", func(b *testing.B) { c.bulkPeer(b) })
	}
	c.scrapeCosts(b)
	c.print()
	c.printScrapes()
}

const (
	costRate      = 2000      // lines a second, one per write
	costBulkLines = 1_000_000 // lines read in bulk
)

type costBench struct {
	ours, peer string
	seconds    int      // of each steady run
	lines      [][]byte // real lines, each with its newline
	bulk       []byte   // costBulkLines of them
	maxLoad    float64
	loadWait   time.Duration
	rows       []costRow
	scrapes    []scrapeRow
}

// costRow is one measurement.
type costRow struct {
	program, source string
	lines           int
	cpu             time.Duration
	wall            time.Duration // bulk: first byte offered to the last line counted
	idle            float64       // µs of CPU a second with no lines, before a steady run; -1 when not measured
	load            [2]float64    // 1-minute load average before and after
	slowest         float64       // bulk: the slowest and fastest runs, lines/s
	fastest         float64
}

func newCostBench(b *testing.B) *costBench {
	c := &costBench{ours: binary, peer: os.Getenv("KONFLUX_EXPORTER"), seconds: 10, maxLoad: 1.2, loadWait: 10 * time.Minute}
	if p := os.Getenv("BENCH_COSTS_EXPORTER"); p != "" {
		c.ours = p
	}
	if s, err := strconv.Atoi(os.Getenv("BENCH_COSTS_SECONDS")); err == nil && s > 0 {
		c.seconds = s
	}
	if f, err := strconv.ParseFloat(os.Getenv("BENCH_COSTS_MAX_LOAD"), 64); err == nil {
		c.maxLoad = f
	}
	if d, err := time.ParseDuration(os.Getenv("BENCH_COSTS_LOAD_WAIT")); err == nil {
		c.loadWait = d
	}
	for _, path := range []string{"../../accesslog/testdata/squid-5.7-access.log", "../../accesslog/testdata/squid-5.7-probe-access.log"} {
		text, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		for l := range bytes.Lines(text) {
			c.lines = append(c.lines, l)
		}
	}
	bulk := make([]byte, 0, costBulkLines*140)
	for i := range costBulkLines {
		bulk = append(bulk, c.lines[i%len(c.lines)]...)
	}
	c.bulk = bulk
	return c
}

// steadyOurs runs the binary on source (tcp or file) and writes costRate
// lines a second to it, one per write, for c.seconds.
func (c *costBench) steadyOurs(b *testing.B, source string) {
	p, w := c.startOurs(b, source)
	defer w.Close()
	primed := c.prime(b, p, w)
	row := costRow{program: "squid-cache-exporter", source: source}
	row.load[0] = c.quiet(b)
	idle := cpuTime(b, p.pid)
	time.Sleep(3 * time.Second)
	row.idle = float64((cpuTime(b, p.pid) - idle).Microseconds()) / 3
	start := cpuTime(b, p.pid)
	row.lines = steady(b, w, c.lines, c.seconds)
	time.Sleep(200 * time.Millisecond) // the last lines read
	row.cpu = cpuTime(b, p.pid) - start
	row.load[1] = load1(b)
	p.waitLines(b, primed+row.lines)
	c.report(b, row)
}

// steadyPeer is steadyOurs for the konflux exporter on its stdin.
func (c *costBench) steadyPeer(b *testing.B) {
	p := c.startPeer(b)
	defer p.stdin.Close()
	if _, err := p.stdin.Write(bytes.Join(c.lines, nil)); err != nil {
		b.Fatal(err)
	}
	p.waitEchoed(b, len(c.lines))
	row := costRow{program: "konflux per-site exporter", source: "stdin pipe"}
	row.load[0] = c.quiet(b)
	idle := cpuTime(b, p.pid)
	time.Sleep(3 * time.Second)
	row.idle = float64((cpuTime(b, p.pid) - idle).Microseconds()) / 3
	start := cpuTime(b, p.pid)
	row.lines = steady(b, p.stdin, c.lines, c.seconds)
	p.waitEchoed(b, len(c.lines)+row.lines)
	row.cpu = cpuTime(b, p.pid) - start
	row.load[1] = load1(b)
	c.report(b, row)
}

// bulkOurs offers the binary costBulkLines at once, bulkRuns times:
// written to its receiver as fast as it reads, or a whole file renamed into
// the followed path.
func (c *costBench) bulkOurs(b *testing.B, source string) {
	dir := b.TempDir()
	path := filepath.Join(dir, "access.log")
	var p *costProcess
	var w io.WriteCloser
	read := 0
	if source == "tcp" {
		p, w = c.startOurs(b, source)
		defer w.Close()
		read = c.prime(b, p, w)
	} else {
		// Followed before it exists: each file is read from its start
		// once it is renamed into place.
		p = c.startOursOn(b, path)
		prime := filepath.Join(dir, "access.log.prime")
		if err := os.WriteFile(prime, bytes.Join(c.lines, nil), 0o644); err != nil {
			b.Fatal(err)
		}
		if err := os.Rename(prime, path); err != nil {
			b.Fatal(err)
		}
		p.waitLines(b, len(c.lines))
		read = len(c.lines)
	}
	c.bulkRuns(b, costRow{program: "squid-cache-exporter", source: source + " bulk"}, p, func() {
		if source == "tcp" {
			if _, err := w.Write(c.bulk); err != nil {
				b.Fatal(err)
			}
		} else {
			// The file, written before the run, is renamed in. Asking
			// the binary costs it CPU: first wait, from outside, until
			// it has read the whole file.
			if err := os.Rename(path+".full", path); err != nil {
				b.Fatal(err)
			}
			waitRead(b, p.pid, path, int64(len(c.bulk)))
		}
		read += costBulkLines
		p.waitLines(b, read)
	}, func() {
		if source == "file" {
			if err := os.WriteFile(path+".full", c.bulk, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// bulkPeer writes costBulkLines to the konflux exporter's stdin as fast as
// it reads them, bulkRuns times; it has read a line when it has echoed it.
func (c *costBench) bulkPeer(b *testing.B) {
	p := c.startPeer(b)
	defer p.stdin.Close()
	echoed := 0
	c.bulkRuns(b, costRow{program: "konflux per-site exporter", source: "stdin pipe bulk"}, p, func() {
		if _, err := p.stdin.Write(c.bulk); err != nil {
			b.Fatal(err)
		}
		echoed += costBulkLines
		p.waitEchoed(b, echoed)
	}, func() {})
}

// bulkRuns is the number of bulk runs; the median is reported.
const bulkRuns = 3

// bulkRuns measures run, after setup, bulkRuns times, and reports the
// median run, by lines a second.
func (c *costBench) bulkRuns(b *testing.B, row costRow, p *costProcess, run, setup func()) {
	row.lines, row.idle = costBulkLines, -1
	var rows []costRow
	for range bulkRuns {
		setup()
		r := row
		r.load[0] = c.quiet(b)
		cpu := cpuTime(b, p.pid)
		start := time.Now()
		run()
		r.wall = time.Since(start)
		r.cpu = cpuTime(b, p.pid) - cpu
		r.load[1] = load1(b)
		b.Logf("%s, %s: %.0f lines/s, %.2f µs of CPU a line; load %.2f → %.2f", r.program, r.source, r.rate(), r.perLine(), r.load[0], r.load[1])
		rows = append(rows, r)
	}
	slices.SortFunc(rows, func(x, y costRow) int { return cmp.Compare(x.rate(), y.rate()) })
	median := rows[len(rows)/2]
	median.slowest, median.fastest = rows[0].rate(), rows[len(rows)-1].rate()
	c.report(b, median)
}

func (c *costBench) report(b *testing.B, row costRow) {
	b.ReportMetric(row.perLine(), "cpu-µs/line")
	if row.wall > 0 {
		b.ReportMetric(row.rate(), "lines/s")
	}
	b.Logf("%s, %s: %d lines, %v CPU, %.2f µs a line; load %.2f → %.2f", row.program, row.source, row.lines,
		row.cpu.Round(time.Millisecond), row.perLine(), row.load[0], row.load[1])
	c.rows = append(c.rows, row)
}

func (r costRow) perLine() float64 { return float64(r.cpu.Nanoseconds()) / 1e3 / float64(r.lines) }
func (r costRow) rate() float64    { return float64(r.lines) / r.wall.Seconds() }

// print writes the table the make target ends with.
func (c *costBench) print() {
	if len(c.rows) == 0 {
		return
	}
	fmt.Printf("\nAccess log costs: %d lines/s one per write for %d s, and %d lines in bulk (CPU from /proc, nothing subtracted)\n",
		costRate, c.seconds, costBulkLines)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "program\tsource\tlines\tCPU µs/line\tlines/s (median of 3: slowest–fastest)\tidle CPU µs/s\tload before → after\t")
	for _, r := range c.rows {
		rate, idle := "", ""
		if r.wall > 0 {
			rate = fmt.Sprintf("%.0f (%.0f–%.0f)", r.rate(), r.slowest, r.fastest)
		}
		if r.idle >= 0 {
			idle = fmt.Sprintf("%.0f", r.idle)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.2f\t%s\t%s\t%.2f → %.2f\t\n", r.program, r.source, r.lines, r.perLine(),
			rate, idle, r.load[0], r.load[1])
	}
	tw.Flush()
	if c.peer == "" {
		fmt.Println("(KONFLUX_EXPORTER=/path/to/squid-per-site-exporter adds the konflux exporter's figures)")
	}
}

// quiet waits until the 1-minute load average is below maxLoad, for at
// most loadWait, and returns it.
func (c *costBench) quiet(b *testing.B) float64 {
	deadline := time.Now().Add(c.loadWait)
	for {
		l := load1(b)
		if l < c.maxLoad || time.Now().After(deadline) {
			if l >= c.maxLoad {
				b.Logf("load average %.2f after waiting %v for it to fall below %.2f: measuring anyway", l, c.loadWait, c.maxLoad)
			}
			return l
		}
		time.Sleep(5 * time.Second)
	}
}

func load1(b *testing.B) float64 {
	text, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		b.Fatal(err)
	}
	l, err := strconv.ParseFloat(strings.Fields(string(text))[0], 64)
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// steady writes costRate lines a second to w, each in its own write, for
// seconds, and returns how many it wrote.
func steady(b *testing.B, w io.Writer, lines [][]byte, seconds int) int {
	every := time.Second / costRate
	n := costRate * seconds
	start := time.Now()
	for i := range n {
		time.Sleep(time.Until(start.Add(time.Duration(i) * every)))
		if _, err := w.Write(lines[i%len(lines)]); err != nil {
			b.Fatal(err)
		}
	}
	return n
}

// costProcess is a program under measurement.
type costProcess struct {
	pid    int
	url    string        // ours: where /metrics is
	stdin  *os.File      // the konflux exporter's
	echoed *atomic.Int64 // lines the konflux exporter echoed
	logs   *bytes.Buffer // ours
}

// startOurs starts the binary on source and returns where to write lines.
func (c *costBench) startOurs(b *testing.B, source string) (*costProcess, io.WriteCloser) {
	if source == "file" {
		path := filepath.Join(b.TempDir(), "access.log")
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			b.Fatal(err)
		}
		p := c.startOursOn(b, path)
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		return p, f
	}
	addr := fmt.Sprintf("127.0.0.1:%d", squidtest.FreePort(b))
	p := c.startOursOn(b, "tcp://"+addr)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	return p, conn.(*net.TCPConn)
}

func (c *costBench) startOursOn(b *testing.B, accessLog string) *costProcess {
	addr := fmt.Sprintf("127.0.0.1:%d", squidtest.FreePort(b))
	cmd := exec.Command(c.ours, "--web.listen-address="+addr, "--squid.address=http://127.0.0.1:1", "--squid.access-log="+accessLog)
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	p := &costProcess{pid: cmd.Process.Pid, url: "http://" + addr, logs: logs}
	waitHTTP(b, p.url)
	return p
}

func (c *costBench) startPeer(b *testing.B) *costProcess {
	addr := fmt.Sprintf("127.0.0.1:%d", squidtest.FreePort(b))
	stdin, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	r, stdout, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(c.peer, "-web.listen-address="+addr, "-web.tls-required=false")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, devNull
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stdin.Close()
	stdout.Close()
	devNull.Close()
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); r.Close() })
	p := &costProcess{pid: cmd.Process.Pid, url: "http://" + addr, stdin: w, echoed: &atomic.Int64{}}
	go func() {
		buf := make([]byte, 256<<10)
		for {
			n, err := r.Read(buf)
			p.echoed.Add(int64(bytes.Count(buf[:n], []byte("\n"))))
			if err != nil {
				return
			}
		}
	}()
	waitHTTP(b, p.url)
	return p
}

func waitHTTP(b *testing.B, url string) {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(url + "/"); err == nil {
			resp.Body.Close()
			return
		}
	}
	b.Fatalf("%s did not answer", url)
}

// prime sends every kind of line once, as Squid's first lines would, so
// that the receiver holds its read buffer and every series of the traffic
// metrics exists: a scrape then allocates the same each time. It returns
// the lines sent.
func (c *costBench) prime(b *testing.B, p *costProcess, w io.Writer) int {
	if _, err := w.Write(bytes.Join(c.lines, nil)); err != nil {
		b.Fatal(err)
	}
	p.waitLines(b, len(c.lines))
	return len(c.lines)
}

func (p *costProcess) scrape(b *testing.B) promtest.Samples {
	s, _ := promtest.Scrape(b, p.url+"/metrics")
	return s
}

// waitLines waits until the binary has read n lines.
func (p *costProcess) waitLines(b *testing.B, n int) {
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		s := p.scrape(b)
		got := s["squid_exporter_access_log_lines_total"]
		if got >= float64(n) {
			if m := s["squid_exporter_access_log_malformed_lines_total"]; m != 0 || got != float64(n) {
				b.Fatalf("read %v lines (%v malformed), want %d", got, m, n)
			}
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("read %v lines, want %d\n%s", got, n, p.logs)
		}
	}
}

// waitRead waits until pid has read path up to size, as its file
// descriptor's offset in /proc/PID/fdinfo says.
func waitRead(b *testing.B, pid int, path string, size int64) {
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
		for _, fd := range fds {
			if target, _ := os.Readlink(fd); target != path {
				continue
			}
			info, err := os.ReadFile(strings.Replace(fd, "/fd/", "/fdinfo/", 1))
			if err != nil {
				continue
			}
			for l := range strings.Lines(string(info)) {
				if pos, ok := strings.CutPrefix(l, "pos:"); ok {
					if n, _ := strconv.ParseInt(strings.TrimSpace(pos), 10, 64); n >= size {
						return
					}
				}
			}
		}
	}
	b.Fatalf("%d did not read %s to its end", pid, path)
}

func (p *costProcess) waitEchoed(b *testing.B, n int) {
	for deadline := time.Now().Add(60 * time.Second); p.echoed.Load() < int64(n); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("the konflux exporter echoed %d lines, want %d", p.echoed.Load(), n)
		}
	}
}

// cpuTime is the CPU time pid has used, user and system: the sum of its
// threads' time on a CPU (/proc/PID/task/*/schedstat, in ns). A Go
// program does not end its threads, but should one end, the ticks of
// /proc/PID/stat (10 ms, the ended threads included) decide: cpuTime
// returns whichever is larger.
func cpuTime(b *testing.B, pid int) time.Duration {
	threads := squidtest.ThreadsCPU(fmt.Sprintf("/proc/%d", pid))
	text, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command is in parentheses and may hold spaces: count fields
	// from after it. utime and stime are fields 14 and 15.
	fields := strings.Fields(string(text[bytes.LastIndexByte(text, ')')+1:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return max(threads, time.Duration(utime+stime)*time.Second/clockTicks)
}

// clockTicks is USER_HZ, 100 on Linux on every architecture Go supports.
const clockTicks = 100
