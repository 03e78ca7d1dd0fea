package main

import (
	"context"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
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
	"github.com/squid-cache-exporter/squid-cache-exporter/exporter"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/redact"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/webserver"
)

// serve runs the exporter until it fails; it returns the exit code. It
// composes: the Squid collector on /metrics, the access log's traffic
// metrics and the prober when configured, the landing page, and the HTTP
// server.
func serve(o options, logger log.Logger, slogger *slog.Logger) int {
	squid, err := squidCollector(o, logger)
	if err != nil {
		level.Error(logger).Log("msg", "cannot set up the exporter", "err", err)
		return 2
	}
	prometheus.MustRegister(versioncollector.NewCollector("squid_exporter"))
	http.Handle(o.metricsPath, exporter.MetricsHandler(squid, prometheus.DefaultGatherer, o.timeout, logger))

	links := []web.LandingLinks{{Address: o.metricsPath, Text: "Metrics"}}
	feed, traffic, err := openAccessLog(context.Background(), o.accessLog, logger)
	if err != nil {
		level.Error(logger).Log("msg", "cannot read the access log", "err", err)
		return 2
	}
	if feed != nil {
		prometheus.MustRegister(feed, traffic)
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
		for _, name := range probe.Targets() {
			links = append(links, probeLink(name))
		}
	}
	if o.metricsPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "Squid Cache Exporter",
			Description: "Prometheus exporter and blob cache prober for the Squid caching proxy",
			Version:     version.Info(),
			Links:       links,
		})
		if err != nil {
			level.Error(logger).Log("msg", "cannot build the landing page", "err", err)
			return 1
		}
		http.Handle("/", landing)
	}

	level.Info(logger).Log("msg", "starting "+program, "version", version.Info(), "squid", redact.URL(o.squidAddress),
		"reports", strings.Join(collector.EnabledReports(), ","), "password", o.passwordFile != "", "access_log", feed != nil, "probe_config", o.probe.config)
	// The address comes from o.web; timeouts bound slow and idle clients.
	if err := web.ListenAndServe(webserver.New("", nil, slogger), o.web, slogger); err != nil {
		level.Error(logger).Log("msg", "server stopped", "err", err)
		return 1
	}
	return 0
}

// squidCollector reads the enabled cache manager reports of the Squid at
// --squid.address.
func squidCollector(o options, logger log.Logger) (*collector.Squid, error) {
	password, err := readPassword(o.passwordFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read the cache manager password: %w", err)
	}
	client, err := cachemgr.NewClient(o.squidAddress, password)
	if err != nil {
		return nil, fmt.Errorf("--squid.address: %w", redact.Error(err))
	}
	return collector.New(client, collector.EnabledReports(), logger)
}

// probeLink is the landing page's link to a target's debug probe.
// exporter-toolkit fills its page with text/template, which escapes
// nothing, and target names come from the config file: the name is
// query-escaped in the URL, and both are HTML-escaped.
func probeLink(target string) web.LandingLinks {
	address := "/probe?target=" + url.QueryEscape(target) + "&debug=true"
	return web.LandingLinks{Address: html.EscapeString(address), Text: html.EscapeString("Probe " + target)}
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
