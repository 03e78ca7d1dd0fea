// Command squid-store-id-helper is Squid's store_id_program for private
// registry blobs: a CDN blob URL the CDN authorizes is filed under the URL
// without its signed query, so every client's pull shares one cache entry.
//
//	store_id_program /usr/local/bin/squid-store-id-helper --ca-file=/etc/ssl/certs/ca-certificates.crt
//	store_id_children 1 startup=1 idle=1 concurrency=100
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/squid-cache-exporter/squid-cache-exporter/cdnurl"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/hostsfile"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/logging"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/webserver"
	"github.com/squid-cache-exporter/squid-cache-exporter/learned"
	table "github.com/squid-cache-exporter/squid-cache-exporter/registries"
	"github.com/squid-cache-exporter/squid-cache-exporter/storeid"
)

func main() {
	app := kingpin.New("squid-store-id-helper", "Squid store_id_program: one cache key for every authorized signed URL of a CDN blob.")
	patterns := app.Flag("url-pattern", "Regular expression of the CDN blob URLs to share (repeatable); replaces the CDNs of the built-in registries (quay.io, docker.io, ghcr.io).").Strings()
	selfServing := app.Flag("self-serving-registry", "host[:port] of a registry that serves private blobs itself (repeatable): its blob GETs are shared once a HEAD with the client's Authorization is answered 200. Needs store_id_extras "+storeid.ExtrasFormat+".").Strings()
	manifests := app.Flag("manifests-by-digest", "host[:port] of a registry whose manifests fetched by digest are shared (repeatable), once a HEAD of the manifest with the client's Authorization is answered 200. A manifest by tag never is.").Strings()
	digestsURL := app.Flag("digests-url", "Where the ICAP service answers digest lookups, for CDN URLs that name no digest (Artifact Registry, ECR). Empty: such URLs are not shared.").Default("http://127.0.0.1:1345").String()
	caFile := app.Flag("ca-file", "PEM bundle to trust for the CDN, besides the system roots.").String()
	hostsFile := app.Flag("hosts-file", "Resolve names from this hosts file first (Squid's hosts_file).").String()
	timeout := app.Flag("check-timeout", "Longest an authorization check may take; past it the request is not shared.").Default("5s").Duration()
	metricsAddr := app.Flag("web.listen-address", "Serve metrics here (with store_id_children 1).").String()
	logLevel := app.Flag("log.level", "debug, info, warn or error.").Default("info").Enum("debug", "info", "warn", "error")
	logFormat := app.Flag("log.format", "logfmt or json.").Default("logfmt").Enum("logfmt", "json")
	kingpin.MustParse(app.Parse(os.Args[1:]))
	// Squid reads replies on stdout; logs go to stderr, into cache.log.
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
	var learnedURLs *cdnurl.Learned
	if err == nil {
		learnedURLs, err = cdnurl.NewLearned(table.Default)
	}
	checker := &storeid.Checker{}
	if err == nil {
		err = checkClient(*caFile, *hostsFile, *timeout, checker)
	}
	if err != nil {
		level.Error(logger).Log("msg", "cannot start", "err", err)
		os.Exit(2)
	}
	reg := prometheus.NewRegistry()
	helper := &storeid.Helper{URLs: urls, Check: checker.Authorized, Registries: registries, CheckRegistry: checker.RegistryAuthorized,
		Timeout: *timeout, Logger: logger, Metrics: storeid.NewMetrics(reg)}
	if *digestsURL != "" {
		lookups := &learned.Client{BaseURL: *digestsURL, HTTP: &http.Client{Timeout: *timeout}}
		helper.Learned, helper.Digest = learnedURLs, lookups.Lookup
	}
	if *metricsAddr != "" {
		go func() {
			err := webserver.New(*metricsAddr, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), slogger).ListenAndServe()
			level.Warn(logger).Log("msg", "not serving metrics (another helper child may have the port)", "err", err)
		}()
	}
	if err := helper.Serve(context.Background(), os.Stdin, os.Stdout); err != nil {
		level.Error(logger).Log("msg", "reading from squid", "err", err)
		os.Exit(1)
	}
}

// checkClient sets up the checker's HTTP client: straight to the CDN (never
// through a proxy), trusting caFile too.
func checkClient(caFile, hostsFile string, timeout time.Duration, c *storeid.Checker) error {
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return err
		}
		if !roots.AppendCertsFromPEM(pem) {
			return errors.New("--ca-file holds no PEM certificate")
		}
	}
	transport := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     time.Minute,
	}
	if hostsFile != "" {
		hosts, err := hostsfile.Load(hostsFile)
		if err != nil {
			return err
		}
		transport.DialContext = hostsfile.DialContext(hosts)
	}
	c.Client = &http.Client{Transport: transport, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return nil
}
