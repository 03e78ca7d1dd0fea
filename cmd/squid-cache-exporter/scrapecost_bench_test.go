package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/collector"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
)

// The scrape part of BenchmarkCosts: what one /metrics scrape costs Squid
// (its CPU, from /proc: Squid is one event loop, and while it answers the
// cache manager it serves no client) and how long /metrics takes, ours and
// boynux's squid-exporter (BOYNUX_EXPORTER, built outside this tree) at
// their defaults against the same Squid, in alternating rounds.
//
// Time runs scrapeSpeedup times faster than in the chart: a scrape every
// 30 s / scrapeSpeedup, and our --collector.slow-interval divided the same,
// so the share of scrapes that read the slow reports is the chart's.
const (
	scrapeRounds    = 3
	scrapesPerRound = 300
	chartInterval   = 30 * time.Second // the chart's serviceMonitor.interval
	scrapeSpeedup   = 300
)

// scrapeRow is one round of scrapes of one program.
type scrapeRow struct {
	program      string
	squidCPU     time.Duration // per scrape
	exporterCPU  time.Duration // per scrape
	median, p90  time.Duration // /metrics wall time
	samples      int           // lines of /metrics that are samples
	scrapes      int
	squidVersion string
}

// scrapeProgram starts one exporter against squid and returns its /metrics
// URL and process ID.
type scrapeProgram struct {
	key, name string // the benchmark's name for it, and the table's
	start     func(b *testing.B, squid *squidtest.Squid) (url string, pid int)
}

func (c *costBench) scrapePrograms() []scrapeProgram {
	ours := func(key, name string, slow time.Duration, flags ...string) scrapeProgram {
		return scrapeProgram{key, name, func(b *testing.B, squid *squidtest.Squid) (string, int) {
			return startExporter(b, c.ours, append([]string{"--web.listen-address=127.0.0.1:%d", "--squid.address=" + squid.URL,
				"--squid.access-log=" + squid.AccessLog, "--collector.slow-interval=" + slow.String()}, flags...)...)
		}}
	}
	programs := []scrapeProgram{
		ours("ours", "squid-cache-exporter", collector.DefaultSlowInterval/scrapeSpeedup),
		ours("ours-every-report", "squid-cache-exporter --collector.slow-interval=0", 0),
		// The floor: one request a scrape, whatever the interval.
		ours("ours-counters-only", "squid-cache-exporter, counters alone", 0,
			"--no-collector.info", "--no-collector.service_times", "--no-collector.store_id", "--no-collector.storedir"),
	}
	if peer := os.Getenv("BOYNUX_EXPORTER"); peer != "" {
		programs = append(programs, scrapeProgram{"boynux", "boynux squid-exporter", func(b *testing.B, squid *squidtest.Squid) (string, int) {
			return startExporter(b, peer, "-listen=127.0.0.1:%d", "-squid-hostname=127.0.0.1", fmt.Sprintf("-squid-port=%d", squid.Port))
		}})
	}
	return programs
}

// scrapeCosts runs the rounds and keeps their rows.
func (c *costBench) scrapeCosts(b *testing.B) {
	// A store-ID helper Squid never asks: mgr:store_id has its
	// statistics, as in the chart, and no request waits for it.
	squid := squidtest.Start(b, squidtest.Options{StoreID: squidtest.StripQueryStoreID, Extra: []string{"store_id_access deny all"}})
	version := squidVersion(b)
	for round := range scrapeRounds {
		for _, p := range c.scrapePrograms() {
			b.Run(fmt.Sprintf("scrape/%s/round%d", p.key, round+1), func(b *testing.B) {
				row := c.scrapeRound(b, squid, p)
				row.squidVersion = version
				b.ReportMetric(float64(row.squidCPU.Nanoseconds())/1e3, "squid-cpu-µs/scrape")
				b.ReportMetric(float64(row.median.Nanoseconds())/1e6, "metrics-ms")
				c.scrapes = append(c.scrapes, row)
			})
		}
	}
}

// scrapeRound starts the program, warms it (its first scrapes open
// connections and read every report), then scrapes it scrapesPerRound
// times at the sped-up interval.
func (c *costBench) scrapeRound(b *testing.B, squid *squidtest.Squid, p scrapeProgram) scrapeRow {
	url, pid := p.start(b, squid)
	client := &http.Client{}
	for range 3 {
		getMetrics(b, client, url)
	}
	row := scrapeRow{program: p.name, scrapes: scrapesPerRound}
	c.quiet(b)
	every := chartInterval / scrapeSpeedup
	walls := make([]time.Duration, 0, scrapesPerRound)
	squidStart, exporterStart, start := squid.CPUTime(), cpuTime(b, pid), time.Now()
	for i := range scrapesPerRound {
		time.Sleep(time.Until(start.Add(time.Duration(i) * every)))
		t := time.Now()
		row.samples = getMetrics(b, client, url)
		walls = append(walls, time.Since(t))
	}
	row.squidCPU = (squid.CPUTime() - squidStart) / scrapesPerRound
	row.exporterCPU = (cpuTime(b, pid) - exporterStart) / scrapesPerRound
	slices.Sort(walls)
	row.median, row.p90 = walls[len(walls)/2], walls[len(walls)*9/10]
	return row
}

// getMetrics scrapes url as Prometheus does and returns its samples.
func getMetrics(b *testing.B, client *http.Client, url string) int {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("%s: %v %v", url, resp.Status, err)
	}
	samples := 0
	for l := range strings.Lines(string(body)) {
		if !strings.HasPrefix(l, "#") {
			samples++
		}
	}
	return samples
}

// startExporter runs program with args, the first of which has a %d for
// its free port, and waits for its /metrics.
func startExporter(b *testing.B, program string, args ...string) (string, int) {
	port := squidtest.FreePort(b)
	args[0] = fmt.Sprintf(args[0], port)
	cmd := exec.Command(program, args...)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitHTTP(b, url)
	return url + "/metrics", cmd.Process.Pid
}

func squidVersion(b *testing.B) string {
	out, err := exec.Command(squidtest.Binary(b), "-v").Output()
	if err != nil {
		b.Fatal(err)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimPrefix(line, "Squid Cache: ")
}

// printScrapes writes the scrape table: each program's rounds, ranges.
func (c *costBench) printScrapes() {
	if len(c.scrapes) == 0 {
		return
	}
	fmt.Printf("\nA scrape's cost: %d rounds of %d scrapes each, one every %v (the chart's %v, %dx faster; "+
		"our slow reports every %v for the chart's %v), %s\n", scrapeRounds, scrapesPerRound, chartInterval/scrapeSpeedup,
		chartInterval, scrapeSpeedup, collector.DefaultSlowInterval/scrapeSpeedup, collector.DefaultSlowInterval, c.scrapes[0].squidVersion)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "program\tSquid CPU µs/scrape\t/metrics ms, median\t/metrics ms, p90\texporter CPU µs/scrape\tsamples\t")
	var names []string
	for _, r := range c.scrapes {
		if !slices.Contains(names, r.program) {
			names = append(names, r.program)
		}
	}
	for _, name := range names {
		var squid, median, p90, exporter []float64
		samples := 0
		for _, r := range c.scrapes {
			if r.program == name {
				squid = append(squid, float64(r.squidCPU.Nanoseconds())/1e3)
				median = append(median, float64(r.median.Nanoseconds())/1e6)
				p90 = append(p90, float64(r.p90.Nanoseconds())/1e6)
				exporter = append(exporter, float64(r.exporterCPU.Nanoseconds())/1e3)
				samples = r.samples
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t\n", name, span(squid, "%.0f"), span(median, "%.2f"), span(p90, "%.2f"), span(exporter, "%.0f"), samples)
	}
	tw.Flush()
	if os.Getenv("BOYNUX_EXPORTER") == "" {
		fmt.Println("(BOYNUX_EXPORTER=/path/to/squid-exporter adds boynux's figures)")
	}
}

// span prints the lowest and highest of values.
func span(values []float64, format string) string {
	lo, hi := slices.Min(values), slices.Max(values)
	if fmt.Sprintf(format, lo) == fmt.Sprintf(format, hi) {
		return fmt.Sprintf(format, lo)
	}
	return fmt.Sprintf(format+"–"+format, lo, hi)
}
