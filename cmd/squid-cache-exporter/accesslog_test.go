package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/promtest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
)

// With --squid.access-log.token-file, the binary counts the lines that
// carry Squid's token, echoes them without it, and closes a connection at
// a line that lacks it, counting nothing of it.
func TestBinaryCountsOnlyTokenedLines(t *testing.T) {
	const token = "9e4b7c1d2a3f405e8b6c7d8e9f0a1b2c"
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logAddr := fmt.Sprintf("127.0.0.1:%d", squidtest.FreePort(t))
	p := startBinary(t, "--squid.address=http://127.0.0.1:1", "--squid.access-log=tcp://"+logAddr,
		"--squid.access-log.token-file="+tokenFile, "--squid.access-log.echo")
	line := loadLines(1)

	sendLog(t, logAddr, token+" "+line)
	s := scrapeUntil(t, p, "squid_exporter_access_log_lines_total", 1)
	// The line is counted as read, then by the traffic counter: a scrape
	// can come between.
	for deadline := time.Now().Add(5 * time.Second); requests(s) < 1 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		s, _ = promtest.Scrape(t, p.URL+"/metrics")
	}
	if got := requests(s); got != 1 {
		t.Errorf("squid_access_requests_total: %v, want 1", got)
	}
	sendLog(t, logAddr, line)
	s = scrapeUntil(t, p, `squid_exporter_access_log_rejected_connections_total{reason="token"}`, 1)
	if s["squid_exporter_access_log_lines_total"] != 1 || requests(s) != 1 {
		t.Errorf("after a line without the token: %v lines read, %v requests counted, want 1 and 1",
			s["squid_exporter_access_log_lines_total"], requests(s))
	}

	p.cmd.Process.Kill() // so that its output is complete and ours to read
	p.cmd.Wait()
	out := p.logs.String()
	if strings.Contains(out, token) {
		t.Errorf("the token reached the output:\n%s", out)
	}
	if strings.Count(out, line) != 1 || !strings.Contains(out, "reason=token") {
		t.Errorf("want the tokened line echoed once without its token, and the refusal logged:\n%s", out)
	}
}

// sendLog writes lines on a connection of its own, as Squid's tcp module
// does, and closes it.
func sendLog(t *testing.T, addr, lines string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(lines)); err != nil {
		t.Fatal(err)
	}
}

// scrapeUntil scrapes p until series reaches want, for up to 10 s.
func scrapeUntil(t *testing.T, p *exporterProcess, series string, want float64) promtest.Samples {
	t.Helper()
	var s promtest.Samples
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if s, _ = promtest.Scrape(t, p.URL+"/metrics"); s[series] >= want {
			return s
		}
	}
	t.Fatalf("%s = %v, want %v", series, s[series], want)
	return nil
}

// requests sums squid_access_requests_total over its series.
func requests(s promtest.Samples) float64 {
	var sum float64
	for series, v := range s {
		if strings.HasPrefix(series, "squid_access_requests_total{") {
			sum += v
		}
	}
	return sum
}
