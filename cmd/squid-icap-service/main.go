// Command squid-icap-service is an ICAP REQMOD service for Squid: it removes
// Authorization from requests for CDN blob URLs, so that Squid may cache
// their responses, and leaves every other request alone. At /respmod it
// makes storable the blobs that registries named by --self-serving-registry
// serve themselves, and the manifests by digest of --manifests-by-digest,
// for requests the store-ID helper verified. At /learn it remembers which
// blob a registry's redirect named for a CDN URL that names none (Artifact
// Registry, ECR), and answers the store-ID helper's lookups.
//
//	icap_enable on
//	icap_service blob_reqmod reqmod_precache icap://127.0.0.1:1344/reqmod bypass=off
//	adaptation_access blob_reqmod allow cdn_blobs
package main

import (
	"context"
	"fmt"
	"net"
	"os"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/squid-cache-exporter/squid-cache-exporter/cdnurl"
	"github.com/squid-cache-exporter/squid-cache-exporter/icap"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/logging"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/webserver"
	"github.com/squid-cache-exporter/squid-cache-exporter/learned"
	table "github.com/squid-cache-exporter/squid-cache-exporter/registries"
)

func main() {
	app := kingpin.New("squid-icap-service", "ICAP REQMOD service: drops Authorization from CDN blob requests so Squid may cache them.")
	listen := app.Flag("icap.listen-address", "Address to serve ICAP on.").Default("127.0.0.1:1344").String()
	patterns := app.Flag("url-pattern", "Regular expression of the CDN blob URLs (repeatable); replaces the CDNs of the built-in registries (quay.io, docker.io, ghcr.io).").Strings()
	selfServing := app.Flag("self-serving-registry", "host[:port] of a registry that serves private blobs itself (repeatable): at /respmod, its 200s to verified blob GETs are made storable.").Strings()
	manifests := app.Flag("manifests-by-digest", "host[:port] of a registry whose manifests fetched by digest are shared (repeatable): at /respmod, its 200s to verified manifest GETs are made storable.").Strings()
	secretFile := app.Flag("learn.secret-file", "File holding the secret Squid sends at /learn (adaptation_meta "+icap.SecretHeader+"); read again when Squid's changes. Empty: /learn learns nothing.").String()
	digestsAddr := app.Flag("digests.listen-address", "Answer the store-ID helper's digest lookups here (loopback). Empty: no lookups.").Default("127.0.0.1:1345").String()
	metricsAddr := app.Flag("web.listen-address", "Serve metrics here. The default is the loopback only; a sidecar scraped by Prometheus sets :9302.").Default("127.0.0.1:9302").String()
	logLevel := app.Flag("log.level", "debug, info, warn or error.").Default("info").Enum("debug", "info", "warn", "error")
	logFormat := app.Flag("log.format", "logfmt or json.").Default("logfmt").Enum("logfmt", "json")
	app.DefaultEnvars()
	kingpin.MustParse(app.Parse(os.Args[1:]))
	logger, slogger, err := logging.New(*logLevel, *logFormat)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	urls, err := cdnurl.New(*patterns...)
	var registries *cdnurl.Registries
	if err == nil {
		registries, err = cdnurl.NewRegistries(*selfServing, *manifests)
	}
	learner := &icap.Learner{Store: &learned.Store{}}
	if err == nil {
		learner.URLs, err = cdnurl.NewLearned(table.Default)
	}
	if *secretFile != "" {
		learner.Secret = &icap.SecretFile{Path: *secretFile}
	}
	if err != nil {
		level.Error(logger).Log("msg", "bad flag", "err", err)
		os.Exit(2)
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		level.Error(logger).Log("msg", "cannot listen for ICAP", "err", err)
		os.Exit(1)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	server := &icap.Server{URLs: urls, Registries: registries, Learner: learner, Logger: logger, Metrics: icap.NewMetrics(reg)}
	if *digestsAddr != "" {
		go func() {
			err := webserver.New(*digestsAddr, learner.Store.Handler(), slogger).ListenAndServe()
			level.Error(logger).Log("msg", "digest lookup server stopped", "err", err)
		}()
	}
	go func() {
		err := webserver.New(*metricsAddr, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), slogger).ListenAndServe()
		level.Error(logger).Log("msg", "metrics server stopped", "err", err)
	}()
	level.Info(logger).Log("msg", "serving ICAP", "address", *listen)
	if err := server.Serve(context.Background(), l); err != nil {
		level.Error(logger).Log("msg", "ICAP server stopped", "err", err)
		os.Exit(1)
	}
}
