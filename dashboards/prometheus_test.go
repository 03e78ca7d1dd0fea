package dashboards

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
	"github.com/squid-cache-exporter/squid-cache-exporter/cachemgr"
	"github.com/squid-cache-exporter/squid-cache-exporter/collector"
	"github.com/squid-cache-exporter/squid-cache-exporter/exporter"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/pkitest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/promtest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/quaytest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/squidtest"
	"github.com/squid-cache-exporter/squid-cache-exporter/prober"
)

const rulesFile = "../alerts/squid-cache-exporter.rules.yml"

// A real Prometheus scrapes the real exporter, in front of a real Squid
// with the prober running, and loads the rules. Every expression of the
// dashboard and the rules must parse; every dashboard and recording
// expression must return data; and every metric they name must be one the
// exporter exports or a rule records.
func TestExpressionsAgainstRealPrometheus(t *testing.T) {
	metricsURL := startStack(t)
	rulesPath, _ := filepath.Abs(rulesFile)
	u, _ := url.Parse(metricsURL)
	prom := promtest.StartServer(t, fmt.Sprintf(`
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q]
scrape_configs:
  - job_name: squid
    static_configs:
      - targets: [%q]
        labels: {namespace: proxy, pod: squid-0}
`, rulesPath, u.Host))

	// Wait until rates have two points and the probe has run twice.
	waitFor(t, prom, `squid:request_hit_ratio:rate5m`, `squid_probe_rounds_total >= 2`, `squid:cache_memory_usage:ratio`)

	d, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	recorded, alerts := loadRules(t)
	for _, expr := range d.Exprs() {
		checkExpr(t, prom, "dashboard", substitute(expr), true)
	}
	for record, expr := range recorded {
		checkExpr(t, prom, "recording rule "+record, expr, true)
	}
	for alert, expr := range alerts {
		checkExpr(t, prom, "alert "+alert, expr, false) // healthy: most return nothing
	}

	_, text := promtest.Scrape(t, metricsURL)
	exported := map[string]bool{}
	for _, line := range strings.Split(text, "\n") {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			exported[strings.Fields(name)[0]] = true
		}
	}
	var all []string
	all = append(all, d.Exprs()...)
	for _, e := range recorded {
		all = append(all, e)
	}
	for _, e := range alerts {
		all = append(all, e)
	}
	for _, expr := range all {
		for _, name := range metricName.FindAllString(expr, -1) {
			if !exported[name] && recorded[name] == "" {
				t.Errorf("%q names %s, which the exporter does not export and no rule records", expr, name)
			}
		}
	}
}

var metricName = regexp.MustCompile(`\bsquid[a-z0-9_:]*`)

// substitute fills in the dashboard's variables as Grafana would.
func substitute(expr string) string {
	r := strings.NewReplacer("$namespace", ".*", "$job", ".*", "$instance", ".*", "$__rate_interval", "10s")
	return r.Replace(expr)
}

func checkExpr(t *testing.T, prom *promtest.Server, what, expr string, wantData bool) {
	t.Helper()
	n, err := prom.Query(expr)
	switch {
	case err != nil:
		t.Errorf("%s: %q: %v", what, expr, err)
	case wantData && n == 0:
		t.Errorf("%s: %q returned no series", what, expr)
	}
}

func waitFor(t *testing.T, prom *promtest.Server, exprs ...string) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for _, expr := range exprs {
		for {
			if n, err := prom.Query(expr); err == nil && n > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no data for %q after 45s", expr)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
}

// loadRules returns the recording rules (name to expression) and the
// alerts (name to expression).
func loadRules(t *testing.T) (recorded, alerts map[string]string) {
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct{ Record, Alert, Expr string }
		}
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	recorded, alerts = map[string]string{}, map[string]string{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				recorded[r.Record] = r.Expr
			} else {
				alerts[r.Alert] = r.Expr
			}
		}
	}
	return recorded, alerts
}

// startStack runs Squid before the quay emulation, the exporter with its
// prober, and a trickle of client traffic through Squid; it returns the
// exporter's metrics URL.
func startStack(t *testing.T) string {
	quay := quaytest.Start(t, nil)
	bump := pkitest.NewCA(t, "bump CA")
	squid := squidtest.Start(t, squidtest.Options{Hosts: quay.Hosts, BumpCA: bump, OriginCA: quay.CA})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	logger := log.NewNopLogger()

	hub := &accesslog.Hub{}
	go (&accesslog.Follower{Path: squid.AccessLog, Hub: hub, Logger: logger}).Follow(ctx)
	blob, _ := quay.RandomBlob(64 << 10)
	proxy, _ := url.Parse(squid.URL)
	scheduler := &prober.Scheduler{
		Prober: &prober.Prober{Proxy: proxy, RootCAs: bump.Pool(), Log: hub},
		Targets: []prober.Target{{Name: "public", Blob: quay.Public + "/ubi9/ubi@" + blob.String(),
			HitCodes: prober.DefaultHitCodes, Interval: 2 * time.Second, Timeout: 2 * time.Second}},
		Logger: logger,
	}
	go scheduler.Run(ctx)

	client, err := cachemgr.NewClient(squid.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	squidCollector, err := collector.New(client, []string{"counters", "info", "storedir"}, logger)
	if err != nil {
		t.Fatal(err)
	}
	global := prometheus.NewRegistry()
	global.MustRegister(scheduler)
	srv := httptest.NewServer(exporter.MetricsHandler(squidCollector, global, 5*time.Second, logger))
	t.Cleanup(srv.Close)

	origin := squidtest.StartOrigin(t)
	go func() { // builds pulling: a few objects, each a miss and then hits
		c := squid.Client()
		for i := 0; ctx.Err() == nil; i++ {
			if resp, err := c.Get(fmt.Sprintf("%s/layer/%d", origin.URL, i%5)); err == nil {
				resp.Body.Close()
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	return srv.URL + "/metrics"
}
