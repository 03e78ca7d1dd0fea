package dashboards

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/traffic"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/testenv"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.yaml.in/yaml/v3"

	"github.com/squid-cache-exporter/squid-cache-exporter/cachemgr"
	"github.com/squid-cache-exporter/squid-cache-exporter/cdnurl"
	"github.com/squid-cache-exporter/squid-cache-exporter/collector"
	"github.com/squid-cache-exporter/squid-cache-exporter/exporter"
	"github.com/squid-cache-exporter/squid-cache-exporter/icap"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/promtest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/quaytest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
	"github.com/squid-cache-exporter/squid-cache-exporter/prober"
)

const rulesFile = "../alerts/squid-cache-exporter.rules.yml"

// helperBinary is the store-ID helper, built where Squid's user can run it.
var helperBinary string

func TestMain(m *testing.M) {
	os.Exit(squidtest.RunWithHelper(m, "../cmd/squid-store-id-helper", &helperBinary))
}

// A real Prometheus scrapes the real exporter, in front of a real Squid
// with the prober running, and loads the rules. Every expression of the
// dashboard and the rules must parse; every dashboard and recording
// expression must return data; and every metric they name must be one the
// exporter exports or a rule records.
func TestExpressionsAgainstRealPrometheus(t *testing.T) {
	metricsURLs := startStack(t)
	rulesPath, _ := filepath.Abs(rulesFile)
	config := fmt.Sprintf("global: {scrape_interval: 1s, evaluation_interval: 1s}\nrule_files: [%q]\nscrape_configs:\n", rulesPath)
	for job, metricsURL := range metricsURLs {
		u, _ := url.Parse(metricsURL)
		config += fmt.Sprintf("  - job_name: %s\n    static_configs: [{targets: [%q], labels: {namespace: proxy, pod: squid-0}}]\n", job, u.Host)
	}
	prom := promtest.StartServer(t, config)

	// Wait until rates have two points and the probe has run twice.
	waitFor(t, prom, `squid:request_hit_ratio:rate5m`, `squid_probe_rounds_total >= 2`, `squid:cache_memory_usage:ratio`,
		`rate(squid_store_id_check_duration_seconds_count[10s]) > 0`, `rate(squid_icap_request_duration_seconds_count[10s]) > 0`,
		`squid_cache_dir_lru_reference_age_seconds`, // once a blob is on disk
		// A blob hit's series starts with the first hit, and its rate needs
		// two scrapes of it: on a slower Squid that is after the rounds.
		`squid:blob_hit_ratio:rate5m`,
		// Blob bytes from the origin in the hour: the private blob's.
		`squid:blob_evicted_refetch_bytes:ratio_rate1h`)

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

	exported := map[string]bool{}
	for _, metricsURL := range metricsURLs {
		_, text := promtest.Scrape(t, metricsURL)
		for _, line := range strings.Split(text, "\n") {
			if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
				name = strings.Fields(name)[0]
				exported[name] = true
				if strings.Contains(line, " histogram") {
					exported[name+"_bucket"], exported[name+"_count"], exported[name+"_sum"] = true, true, true
				}
			}
		}
	}
	checkMetricsReference(t, exported)
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
				t.Errorf("%q names %s, which neither the exporter nor a helper exports, and no rule records", expr, name)
			}
		}
	}
}

var metricName = regexp.MustCompile(`\bsquid[_:][a-z0-9_:]*`) // a series name, not a job matcher such as .*squid.*

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

// startStack runs Squid, with the store-ID helper and the ICAP service,
// before the quay emulation; the exporter with its prober; and a trickle of
// client traffic through Squid. It returns each component's metrics URL by
// job name.
func startStack(t *testing.T) map[string]string {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	logger := log.NewNopLogger()
	icapMetrics := prometheus.NewRegistry()
	icapListener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cdnURLs, _ := cdnurl.New(quaytest.CDNPattern)
	go (&icap.Server{URLs: cdnURLs, Logger: logger, Metrics: icap.NewMetrics(icapMetrics)}).Serve(ctx, icapListener)
	helperMetrics := fmt.Sprintf("127.0.0.1:%d", squidtest.FreePort(t))
	extra := squidtest.PrivateBlobs(t, helperBinary+" --web.listen-address="+helperMetrics, quaytest.CDNPattern, icapListener.Addr().String(), squidtest.Origins{})
	counter, err := traffic.New([]traffic.Registry{{Name: "quay.io", Hosts: []string{quaytest.RegistryName, "*.quay.test"}},
		{Name: "registry.access.redhat.com", Hosts: []string{quaytest.PublicName}}})
	if err != nil {
		t.Fatal(err)
	}
	env := testenv.Start(t, testenv.Options{Extra: extra, Tap: counter.Observe,
		Users: map[string]string{"alice": "alice-pw"}, Private: []string{"org/private"}})
	quay, squid, bump, hub := env.Quay, env.Squid, env.Bump, env.Log
	public, _ := quay.RandomBlob(64 << 10)
	viaCDN, _ := quay.RandomBlob(64 << 10)
	private, _ := quay.RandomBlob(64 << 10)
	proxy, _ := url.Parse(squid.URL)
	target := func(name, blob string) prober.Target {
		return prober.Target{Name: name, Blob: blob, HitCodes: prober.DefaultHitCodes, Interval: 2 * time.Second, Timeout: 2 * time.Second}
	}
	// A private blob with its leak check, which the shipped setup passes.
	privateTarget := target("quay-private", quay.Registry+"/org/private@"+private.String())
	privateTarget.Private, privateTarget.LeakCheck, privateTarget.Credentials = true, true, env.DockerConfig(t, "alice", "alice-pw")
	scheduler := &prober.Scheduler{
		Prober: &prober.Prober{Proxy: proxy, RootCAs: bump.Pool(), Log: hub},
		Targets: []prober.Target{target("public", quay.Public+"/ubi9/ubi@"+public.String()),
			target("quay", quay.Registry+"/org/public@"+viaCDN.String()), privateTarget},
		Logger: logger,
	}
	go scheduler.Run(ctx)

	client, err := cachemgr.NewClient(squid.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	squidCollector, err := collector.New(client, collector.Config{Reports: []string{"counters", "info", "service_times", "store_id", "storedir"}}, logger)
	if err != nil {
		t.Fatal(err)
	}
	global := prometheus.NewRegistry()
	global.MustRegister(scheduler, counter)
	exporterSrv := httptest.NewServer(exporter.MetricsHandler(squidCollector, global, 5*time.Second, logger))
	t.Cleanup(exporterSrv.Close)
	icapSrv := httptest.NewServer(promhttp.HandlerFor(icapMetrics, promhttp.HandlerOpts{}))
	t.Cleanup(icapSrv.Close)

	origin := squidtest.StartOrigin(t)
	go func() { // builds pulling: a few objects, each a miss and then hits
		c := squid.Client()
		for i := 0; ctx.Err() == nil; i++ {
			path := fmt.Sprintf("/layer/%d", i%5)
			if i%10 == 0 { // and a blob the origin marks private, which Squid fetches each time: refetches
				path = "/private/v2/app/blobs/sha256:" + strings.Repeat("ab", 32)
			}
			if resp, err := c.Get(origin.URL + path); err == nil {
				resp.Body.Close()
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	return map[string]string{
		"squid":    exporterSrv.URL + "/metrics",
		"icap":     icapSrv.URL + "/metrics",
		"store_id": "http://" + helperMetrics + "/metrics",
	}
}
