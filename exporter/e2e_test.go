package exporter

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/squid-cache-exporter/squid-cache-exporter/cachemgr"
	"github.com/squid-cache-exporter/squid-cache-exporter/collector"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/promtest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/testio"
)

// reports are every report the exporter reads: a scrape sends 5 requests.
var reports = []string{"counters", "info", "service_times", "store_id", "storedir"}

// startExporter serves /metrics for the Squid at squidURL and returns the
// metrics URL and the exporter's log.
func startExporter(t *testing.T, squidURL, password string, timeout time.Duration) (string, *testio.SyncBuffer) {
	t.Helper()
	logs := &testio.SyncBuffer{}
	logger := log.NewLogfmtLogger(logs)
	client, err := cachemgr.NewClient(squidURL, password)
	if err != nil {
		t.Fatal(err)
	}
	squid, err := collector.New(client, collector.Config{Reports: reports}, logger)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(MetricsHandler(squid, prometheus.NewRegistry(), timeout, logger))
	t.Cleanup(srv.Close)
	return srv.URL + "/metrics", logs
}

// fetch GETs url through Squid and checks the body.
func fetch(t *testing.T, client *http.Client, origin, path string) {
	t.Helper()
	resp, err := client.Get(origin + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, squidtest.Object(path)) {
		t.Fatalf("GET %s through squid: %s, %d bytes", path, resp.Status, len(body))
	}
}

func TestCountersFollowRealTraffic(t *testing.T) {
	squid := squidtest.Start(t, squidtest.Options{})
	origin := squidtest.StartOrigin(t)
	metrics, _ := startExporter(t, squid.URL, "", 5*time.Second)
	client := squid.Client()

	before, _ := promtest.Scrape(t, metrics)
	const objects, rounds = 4, 3 // each object: one miss, then hits
	for round := 0; round < rounds; round++ {
		for i := 0; i < objects; i++ {
			fetch(t, client, origin.URL, fmt.Sprintf("/object/%d", i))
		}
		promtest.Scrape(t, metrics) // scrapes between must be accounted for too
	}
	fetch(t, client, origin.URL, "/private/0") // a private object: never a hit
	fetch(t, client, origin.URL, "/private/0")
	after, text := promtest.Scrape(t, metrics)

	n := float64(objects*rounds + 2)
	m := float64(objects * (rounds - 1))
	delta := func(series string) float64 { return after[series] - before[series] }
	managerRequests := delta("squid_exporter_manager_requests_total")
	slack := managerSlack(t)
	if got := delta("squid_client_http_requests_total") - managerRequests; got < n-slack || got > n+slack {
		t.Errorf("client requests moved by %v (less %v manager requests), want %v ± %v", got+managerRequests, managerRequests, n, slack)
	}
	if got := delta("squid_client_http_hits_total"); got != m {
		t.Errorf("client hits moved by %v, want %v", got, m)
	}
	if got := delta(`squid_server_requests_total{protocol="http"}`); got != objects+2 {
		t.Errorf("server requests moved by %v, want %v", got, objects+2)
	}
	if got := delta("squid_client_http_hit_sent_bytes_total"); got < m*squidtest.ObjectSize {
		t.Errorf("hit bytes moved by %v, want at least %v", got, m*squidtest.ObjectSize)
	}
	for _, series := range []string{"squid_up", `squid_exporter_report_success{report="info"}`,
		`squid_exporter_report_success{report="counters"}`, `squid_exporter_report_success{report="storedir"}`,
		`squid_exporter_report_success{report="service_times"}`, `squid_exporter_report_success{report="store_id"}`} {
		if after[series] != 1 {
			t.Errorf("%s = %v, want 1", series, after[series])
		}
	}
	if after["squid_cache_memory_used_bytes"] <= 0 || after["squid_cache_disk_capacity_bytes"] != 64<<20 {
		t.Errorf("storage: memory used %v, disk capacity %v", after["squid_cache_memory_used_bytes"], after["squid_cache_disk_capacity_bytes"])
	}
	checkMemoryCapacity(t, after["squid_cache_memory_capacity_bytes"], after["squid_cache_memory_used_bytes"])
	if !strings.Contains(text, `squid_info{service_name="`+squid.ServiceName()+`",version="`) {
		t.Errorf("no squid_info in\n%s", text)
	}
}

// checkMemoryCapacity holds the memory cache's capacity against the
// harness's cache_mem 16 MB. With SMP workers, storedir gives it exactly.
// One process shows it only in info, as a used percentage rounded to 0.1:
// derived from that, it may be off by 0.05 points of the percentage.
func checkMemoryCapacity(t *testing.T, capacity, used float64) {
	t.Helper()
	const want = 16 << 20
	tolerance := 0.0
	if squidtest.Workers(t) == 1 {
		tolerance = want * 0.0005 / (used / capacity)
	}
	if math.IsNaN(capacity) || math.Abs(capacity-want) > tolerance {
		t.Errorf("memory cache capacity %v, want %v ± %.0f", capacity, want, tolerance)
	}
}

// managerSlack is how far the client requests less the exporter's own may
// be off. One Squid process answers a scrape's reports in order, so the
// counters report, sent first, never counts the others: exact. Under SMP
// each worker serves its share of them while the coordinator gathers the
// counters, which may then count the scrape's other reports already; so
// the first and the last scrape may each be off by those.
func managerSlack(t *testing.T) float64 {
	if squidtest.Workers(t) > 1 {
		return float64(len(reports) - 1)
	}
	return 0
}

func TestSquidDownAndBack(t *testing.T) {
	squid := squidtest.Start(t, squidtest.Options{})
	metrics, logs := startExporter(t, squid.URL, "", 5*time.Second)
	if s, _ := promtest.Scrape(t, metrics); s["squid_up"] != 1 {
		t.Fatalf("squid_up = %v before the stop", s["squid_up"])
	}

	squid.Stop()
	down, _ := promtest.Scrape(t, metrics) // fails the test unless 200
	if down["squid_up"] != 0 {
		t.Errorf("squid_up = %v with squid stopped, want 0", down["squid_up"])
	}
	if down.HasPrefix("squid_client_http") || down.HasPrefix("squid_cache_") {
		t.Error("stale Squid values exported while Squid is down")
	}
	if !strings.Contains(logs.String(), "cannot connect to squid") {
		t.Errorf("log does not say Squid is unreachable:\n%s", logs)
	}

	squid.Restart()
	if up, _ := promtest.Scrape(t, metrics); up["squid_up"] != 1 {
		t.Errorf("squid_up = %v after restart, want 1", up["squid_up"])
	}
}

func TestCacheManagerPassword(t *testing.T) {
	const password = "s3cret-Passw0rd"
	squid := squidtest.Start(t, squidtest.Options{Password: password})
	tests := []struct {
		name, password string
		up             float64
		wantLog        string
	}{
		{"right password", password, 1, ""},
		{"wrong password", "not-it", 0, "refused the password (401"},
		{"no password", "", 0, "refused the password (401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			metrics, logs := startExporter(t, squid.URL, tt.password, 5*time.Second)
			s, text := promtest.Scrape(t, metrics)
			if s["squid_up"] != tt.up {
				t.Errorf("squid_up = %v, want %v", s["squid_up"], tt.up)
			}
			if !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("log does not contain %q:\n%s", tt.wantLog, logs)
			}
			if strings.Contains(logs.String()+text, password) {
				t.Error("the password reached a log line or a metric")
			}
		})
	}
}

func TestManagerAccessDenied(t *testing.T) {
	squid := squidtest.Start(t, squidtest.Options{Extra: []string{"http_access deny manager"}})
	metrics, logs := startExporter(t, squid.URL, "", 5*time.Second)
	s, _ := promtest.Scrape(t, metrics)
	if s["squid_up"] != 0 {
		t.Errorf("squid_up = %v, want 0", s["squid_up"])
	}
	if !strings.Contains(logs.String(), "denied access (403") || !strings.Contains(logs.String(), "http_access allow") {
		t.Errorf("log does not say how to allow the exporter:\n%s", logs)
	}
}

func TestHungSquidTimesOut(t *testing.T) {
	squid := squidtest.Start(t, squidtest.Options{})
	metrics, logs := startExporter(t, squid.URL, "", 10*time.Second)
	squid.Pause()
	defer squid.Resume()

	// Prometheus announces its scrape timeout; the exporter answers in time.
	req, _ := http.NewRequest(http.MethodGet, metrics, nil)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "1.5")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if took := time.Since(start); resp.StatusCode != 200 || took > 1500*time.Millisecond {
		t.Fatalf("answered %s after %v, want 200 within the scrape timeout", resp.Status, took)
	}
	s, err := promtest.Parse(string(body))
	if err != nil {
		t.Fatal(err)
	}
	if s["squid_up"] != 0 || !strings.Contains(logs.String(), "did not answer in time") {
		t.Errorf("squid_up = %v; log:\n%s", s["squid_up"], logs)
	}
	squid.Resume()
	if s, _ := promtest.Scrape(t, metrics); s["squid_up"] != 1 {
		t.Errorf("squid_up = %v after Squid resumed, want 1", s["squid_up"])
	}
}
