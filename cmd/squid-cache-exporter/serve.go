package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/squid-cache-exporter/squid-cache-exporter/cachemgr"
	"github.com/squid-cache-exporter/squid-cache-exporter/collector"
	"github.com/squid-cache-exporter/squid-cache-exporter/dashboards"
	"github.com/squid-cache-exporter/squid-cache-exporter/exporter"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/redact"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/webserver"
	"github.com/squid-cache-exporter/squid-cache-exporter/statuspage"
)

// serve runs the exporter until it fails; it returns the exit code. It
// composes: the Squid collector on /metrics, the access log's traffic
// metrics and the prober when configured, the landing page, and the HTTP
// server.
func serve(o options, logger log.Logger, slogger *slog.Logger) int {
	client, err := managerClient(o)
	var squid *collector.Squid
	reports := collector.FlagConfig()
	if err == nil {
		squid, err = collector.New(client, reports, logger)
	}
	if err != nil {
		level.Error(logger).Log("msg", "cannot set up the exporter", "err", err)
		return 2
	}
	prometheus.MustRegister(versioncollector.NewCollector("squid_exporter"))
	http.Handle(o.metricsPath, exporter.MetricsHandler(squid, prometheus.DefaultGatherer, o.timeout, logger))

	sources := statuspage.Sources{Squid: statuspage.FromManager(client, o.squidAddress)}
	feed, traffic, err := openAccessLog(context.Background(), o.accessLog, logger)
	if err != nil {
		level.Error(logger).Log("msg", "cannot read the access log", "err", err)
		return 2
	}
	if feed != nil {
		prometheus.MustRegister(feed, traffic)
		sources.Blobs = traffic.Blobs
	}
	if o.probe.config != "" {
		probe, err := newProber(o, feed, logger)
		if err != nil {
			level.Error(logger).Log("msg", "cannot set up the prober", "err", err)
			return 2
		}
		prometheus.MustRegister(probe)
		probe.Routes(http.DefaultServeMux)
		go probe.Run(context.Background())
		reloadOnHangup(probe)
		sources.Verdicts = probe.Verdicts
	}
	http.HandleFunc("/dashboard.json", serveDashboard)
	if o.metricsPath != "/" {
		page := statusPage(o, sources)
		go page.Run(context.Background())
		http.Handle("/", page)
	}

	level.Info(logger).Log("msg", "starting "+program, "version", version.Info(), "squid", redact.URL(o.squidAddress),
		"reports", strings.Join(reports.Reports, ","), "slow_interval", reports.SlowInterval, "password", o.passwordFile != "", "access_log", feed != nil, "probe_config", o.probe.config)
	// The address comes from o.web; timeouts bound slow and idle clients.
	if err := web.ListenAndServe(webserver.New("", nil, slogger), o.web, slogger); err != nil {
		level.Error(logger).Log("msg", "server stopped", "err", err)
		return 1
	}
	return 0
}

// managerClient is the cache manager client of the Squid at --squid.address.
func managerClient(o options) (*cachemgr.Client, error) {
	password, err := readPassword(o.passwordFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read the cache manager password: %w", err)
	}
	client, err := cachemgr.NewClient(o.squidAddress, password)
	if err != nil {
		return nil, fmt.Errorf("--squid.address: %w", redact.Error(err))
	}
	return client, nil
}

// statusPage is the page at /: exporter-toolkit's landing page with
// Squid's state, the verdicts and the hit ratios.
func statusPage(o options, s statuspage.Sources) *statuspage.Page {
	links := []web.LandingLinks{
		{Address: o.metricsPath, Text: "Metrics"},
		{Address: "/dashboard.json", Text: "Grafana dashboard", Description: "JSON to import"},
	}
	if s.Verdicts != nil {
		links = append(links, web.LandingLinks{Address: "/probe/targets", Text: "Probe targets"})
	}
	return statuspage.New(web.LandingConfig{
		Name:        "Squid Cache Exporter",
		Description: "Prometheus exporter and blob cache prober for the Squid caching proxy",
		Version:     version.Info(),
		Links:       links,
	}, s)
}

// serveDashboard serves the Grafana dashboard the exporter was built with.
func serveDashboard(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="squid-cache-exporter.json"`)
	w.Write(dashboards.JSON)
}

// readPassword reads the cache manager password; an empty path means none.
// Only the file name may be logged, never its content.
func readPassword(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
