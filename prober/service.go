package prober

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/redact"
)

// DefaultOnDemandEvery spaces a target's on-demand rounds: at most one per
// 10 s adds too few pulls to move the traffic metrics, and is more than a
// helm test or a blackbox-style scrape asks.
const DefaultOnDemandEvery = 10 * time.Second

// Settings are what a command line gives the prober.
type Settings struct {
	ConfigFile string        // the probe targets (YAML)
	ProxyURL   string        // the Squid the rounds pull through
	CAFile     string        // PEM bundle trusted besides the system roots: Squid's ssl-bump CA
	LogWait    time.Duration // how long a round waits for the log; 0 is DefaultLogWait
}

// Service is the prober as a program runs it: rounds in the background,
// their verdicts as metrics, /probe for a round now, and one round of each
// target for the one-shot command. It reads Squid's access log from log,
// which must be open before the first round.
type Service struct {
	scheduler *Scheduler
}

// NewService checks the settings and loads the targets.
func NewService(s Settings, log *accesslog.Hub, logger log.Logger) (*Service, error) {
	cfg, err := LoadConfig(s.ConfigFile)
	if err != nil {
		return nil, err
	}
	proxy, err := url.Parse(s.ProxyURL)
	if err != nil { // the error quotes the URL, which may hold Squid's proxy password
		return nil, fmt.Errorf("proxy URL: %w", redact.Error(err))
	}
	roots, err := rootCAs(s.CAFile)
	if err != nil {
		return nil, err
	}
	p := &Prober{Proxy: proxy, RootCAs: roots, Log: log, LogWait: s.LogWait}
	return &Service{scheduler: &Scheduler{Prober: p, Targets: cfg.Targets, Logger: logger, OnDemandEvery: DefaultOnDemandEvery}}, nil
}

// rootCAs are the system roots plus the PEM bundle at path.
func rootCAs(path string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if path == "" {
		return pool, nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", path)
	}
	return pool, nil
}

// Run probes every target in the background until ctx ends.
func (s *Service) Run(ctx context.Context) { s.scheduler.Run(ctx) }

// Routes serves /probe and /probe/targets on mux.
func (s *Service) Routes(mux *http.ServeMux) {
	mux.Handle("/probe", s.scheduler.Handler())
	mux.Handle("/probe/targets", s.scheduler.TargetsHandler())
}

// Targets are the names of the targets, in the config's order.
func (s *Service) Targets() []string { return s.scheduler.names() }

// ProbeAll runs one round of every target, one after another, prints each
// verdict to w, and says whether all passed. Its rounds are not recorded.
func (s *Service) ProbeAll(ctx context.Context, w io.Writer) bool {
	ok := true
	for i := range s.scheduler.Targets {
		r := s.scheduler.Prober.Probe(ctx, &s.scheduler.Targets[i])
		fmt.Fprintln(w, r)
		ok = ok && r.Success
	}
	return ok
}

// Describe and Collect export the background rounds' verdicts and the
// prober's traffic through Squid.
func (s *Service) Describe(ch chan<- *prometheus.Desc) { s.scheduler.Describe(ch) }

// Collect: see Describe.
func (s *Service) Collect(ch chan<- prometheus.Metric) { s.scheduler.Collect(ch) }
