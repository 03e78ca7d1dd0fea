// Command squid-cache-exporter exports a Squid caching proxy's state to
// Prometheus.
package main

import (
	"fmt"
	"net/http"
	"os"
	"runtime/debug"
	"strings"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/squid-cache-exporter/squid-cache-exporter/cachemgr"
	"github.com/squid-cache-exporter/squid-cache-exporter/collector"
	"github.com/squid-cache-exporter/squid-cache-exporter/exporter"
)

const program = "squid-cache-exporter"

func main() {
	app := kingpin.CommandLine
	app.Name, app.Help = program, "Exports a Squid caching proxy's state to Prometheus."
	var (
		squidAddress = app.Flag("squid.address", "Squid's http_port, where its cache manager answers.").
				Default("http://127.0.0.1:3128").String()
		passwordFile = app.Flag("squid.password-file", "File holding the cache manager password (cachemgr_passwd).").
				String()
		timeout = app.Flag("squid.timeout", "Longest a scrape of Squid may take; a shorter Prometheus scrape timeout wins.").
			Default("10s").Duration()
		metricsPath = app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
		webConfig   = kingpinflag.AddFlags(app, ":9301")
		logLevel    = app.Flag("log.level", "Only log messages with the given severity or above: debug, info, warn, error.").
				Default("info").Enum("debug", "info", "warn", "error")
		logFormat = app.Flag("log.format", "Output format of log messages: logfmt, json.").
				Default("logfmt").Enum("logfmt", "json")
	)
	app.DefaultEnvars() // every flag also reads SQUID_CACHE_EXPORTER_<FLAG>
	app.Version(version.Print(program))
	app.HelpFlag.Short('h')
	kingpin.MustParse(app.Parse(os.Args[1:]))
	if os.Getenv("GOGC") == "" {
		// The live heap is about 4 MiB; collecting at 50% growth instead of
		// 100% costs little CPU and keeps the sidecar under 20 MiB resident.
		debug.SetGCPercent(50)
	}

	logger, slogger, err := newLogger(*logLevel, *logFormat)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	password, err := readPassword(*passwordFile)
	if err != nil {
		level.Error(logger).Log("msg", "cannot read the cache manager password", "err", err)
		os.Exit(2)
	}
	client, err := cachemgr.NewClient(*squidAddress, password)
	if err != nil {
		level.Error(logger).Log("msg", "bad --squid.address", "err", err)
		os.Exit(2)
	}
	squid, err := collector.New(client, collector.EnabledReports(), logger)
	if err != nil {
		level.Error(logger).Log("msg", "bad collector flags", "err", err)
		os.Exit(2)
	}

	prometheus.MustRegister(versioncollector.NewCollector("squid_exporter"))
	http.Handle(*metricsPath, exporter.MetricsHandler(squid, prometheus.DefaultGatherer, *timeout, logger))
	if *metricsPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "Squid Cache Exporter",
			Description: "Prometheus exporter for the Squid caching proxy",
			Version:     version.Info(),
			Links:       []web.LandingLinks{{Address: *metricsPath, Text: "Metrics"}},
		})
		if err != nil {
			level.Error(logger).Log("msg", "cannot build the landing page", "err", err)
			os.Exit(1)
		}
		http.Handle("/", landing)
	}

	level.Info(logger).Log("msg", "starting "+program, "version", version.Info(), "squid", *squidAddress,
		"reports", strings.Join(collector.EnabledReports(), ","), "password", *passwordFile != "")
	server := &http.Server{}
	if err := web.ListenAndServe(server, webConfig, slogger); err != nil {
		level.Error(logger).Log("msg", "server stopped", "err", err)
		os.Exit(1)
	}
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
