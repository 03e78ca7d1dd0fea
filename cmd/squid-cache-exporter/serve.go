package main

import (
	"context"
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
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/webserver"
)

// serve runs the exporter until it fails; it returns the exit code.
func serve(o options, logger log.Logger, slogger *slog.Logger) int {
	password, err := readPassword(o.passwordFile)
	if err != nil {
		level.Error(logger).Log("msg", "cannot read the cache manager password", "err", err)
		return 2
	}
	client, err := cachemgr.NewClient(o.squidAddress, password)
	if err != nil {
		level.Error(logger).Log("msg", "bad --squid.address", "err", err)
		return 2
	}
	squid, err := collector.New(client, collector.EnabledReports(), logger)
	if err != nil {
		level.Error(logger).Log("msg", "bad collector flags", "err", err)
		return 2
	}
	prometheus.MustRegister(versioncollector.NewCollector("squid_exporter"))
	http.Handle(o.metricsPath, exporter.MetricsHandler(squid, prometheus.DefaultGatherer, o.timeout, logger))

	links := []web.LandingLinks{{Address: o.metricsPath, Text: "Metrics"}}
	if o.probe.config != "" {
		scheduler, start, err := newScheduler(o, logger)
		if err != nil {
			level.Error(logger).Log("msg", "cannot set up the prober", "err", err)
			return 2
		}
		if err := start(context.Background()); err != nil {
			level.Error(logger).Log("msg", "cannot read the access log", "err", err)
			return 2
		}
		go scheduler.Run(context.Background())
		prometheus.MustRegister(scheduler)
		http.Handle("/probe", scheduler.Handler())
		http.Handle("/probe/targets", scheduler.TargetsHandler())
		for _, t := range scheduler.Targets {
			links = append(links, probeLink(t.Name))
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

	level.Info(logger).Log("msg", "starting "+program, "version", version.Info(), "squid", o.squidAddress,
		"reports", strings.Join(collector.EnabledReports(), ","), "password", o.passwordFile != "", "probe_config", o.probe.config)
	// The address comes from o.web; timeouts bound slow and idle clients.
	if err := web.ListenAndServe(webserver.New("", nil), o.web, slogger); err != nil {
		level.Error(logger).Log("msg", "server stopped", "err", err)
		return 1
	}
	return 0
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
