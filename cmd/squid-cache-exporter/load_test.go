package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/promtest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
)

// The binary receives Squid's access log over tcp:// at 50,000 lines a
// second (LOAD_SECONDS, default 10; the README's figure is for 60): every
// line is read and counted, and its resident memory stays under 20 MiB.
func TestBinaryCountsEveryLineUnderLoad(t *testing.T) {
	seconds := 10
	if s, err := strconv.Atoi(os.Getenv("LOAD_SECONDS")); err == nil && s > 0 {
		seconds = s
	}
	const rate, tick = 50000, 10 * time.Millisecond
	logAddr := fmt.Sprintf("127.0.0.1:%d", squidtest.FreePort(t))
	p := startBinary(t, "--squid.address=http://127.0.0.1:1", "--squid.access-log=tcp://"+logAddr)
	conn, err := net.Dial("tcp", logAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	batch := loadLines(rate * int(tick) / int(time.Second))
	perBatch := strings.Count(batch, "\n")
	sent := 0
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	for end := time.Now().Add(time.Duration(seconds) * time.Second); time.Now().Before(end); <-ticker.C {
		if _, err := conn.Write([]byte(batch)); err != nil {
			t.Fatal(err)
		}
		sent += perBatch
	}

	var s promtest.Samples
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if s, _ = promtest.Scrape(t, p.URL+"/metrics"); s["squid_exporter_access_log_lines_total"] >= float64(sent) {
			break
		}
	}
	counted := 0.0
	for series, v := range s {
		if strings.HasPrefix(series, "squid_access_requests_total{") || strings.HasPrefix(series, "squid_access_tunnels_total{") {
			counted += v
		}
	}
	peak := statusKiB(t, p.cmd.Process.Pid, "VmHWM")
	t.Logf("%d lines in %ds: %v read, %v counted, %v malformed; peak RSS %d KiB", sent, seconds,
		s["squid_exporter_access_log_lines_total"], counted, s["squid_exporter_access_log_malformed_lines_total"], peak)
	if s["squid_exporter_access_log_lines_total"] != float64(sent) || counted != float64(sent) {
		t.Errorf("sent %d lines, read %v, counted %v", sent, s["squid_exporter_access_log_lines_total"], counted)
	}
	if peak > 20<<10 {
		t.Errorf("peak resident memory %d KiB, want under 20 MiB", peak)
	}
}

// loadLines is n access log lines of a busy build cluster: blob GETs
// (hits, misses, redirects), manifests and bumped CONNECTs.
func loadLines(n int) string {
	kinds := []string{
		"1795472260.%03d   1840 10.128.2.17 TCP_MISS/200 31457280 GET https://cdn01.quay.io/quayio-production-s3/sha256/ab/%064x? - HIER_DIRECT/18.65.3.2 application/octet-stream",
		"1795472260.%03d      3 10.128.2.19 TCP_MEM_HIT/200 3145728 GET https://cdn01.quay.io/quayio-production-s3/sha256/ab/%064x? - HIER_NONE/- application/octet-stream",
		"1795472260.%03d    312 10.128.2.17 TCP_MISS/302 1187 GET https://quay.io/v2/org/app/blobs/sha256:%064x - HIER_DIRECT/3.224.72.5 text/html",
		"1795472260.%03d     95 10.128.2.21 TCP_REFRESH_UNMODIFIED/200 2143 GET https://registry.redhat.io/v2/ubi9/ubi/manifests/latest%.0x - HIER_DIRECT/23.1.2.3 application/json",
		"1795472260.%03d      0 10.128.2.19 NONE_NONE/200 0 CONNECT registry.redhat.io:443%.0x - HIER_NONE/- -",
	}
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, kinds[i%len(kinds)]+"\n", i%1000, i)
	}
	return b.String()
}
