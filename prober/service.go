package prober

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
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
	// ReloadInterval is how often Run checks the config and CA files for
	// changes; 0 is DefaultReloadInterval.
	ReloadInterval time.Duration
}

// Service is the prober as a program runs it: rounds in the background,
// their verdicts as metrics, /probe for a round now, and one round of each
// target for the one-shot command. It reads Squid's access log from log,
// which must be open before the first round. Its config and CA files are
// re-read while it runs: see reload.go.
type Service struct {
	settings  Settings
	scheduler *Scheduler
	logger    log.Logger
	reloads   reloads
}

// NewService checks the settings and loads the targets.
func NewService(s Settings, log *accesslog.Hub, logger log.Logger) (*Service, error) {
	f := readFiles(s)
	cfg, roots, err := f.load(s)
	if err != nil {
		return nil, err
	}
	proxy, err := url.Parse(s.ProxyURL)
	if err != nil { // the error quotes the URL, which may hold Squid's proxy password
		return nil, fmt.Errorf("proxy URL: %w", redact.Error(err))
	}
	p := &Prober{Proxy: proxy, RootCAs: roots, Log: log, LogWait: s.LogWait}
	svc := &Service{settings: s, logger: logger,
		scheduler: &Scheduler{Prober: p, Targets: cfg.Targets, Logger: logger, OnDemandEvery: DefaultOnDemandEvery}}
	svc.reloads.loaded(f.version(), time.Now())
	return svc, nil
}

// rootCAs are the system roots plus the PEM bundle pem, read from path.
func rootCAs(pem []byte, path string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if path == "" {
		return pool, nil
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", path)
	}
	return pool, nil
}

// Run probes every target in the background, and applies changes to the
// config and CA files, until ctx ends.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { s.watch(ctx) })
	s.scheduler.Run(ctx)
	wg.Wait()
}

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
	for _, t := range s.scheduler.targets() {
		r := s.scheduler.Prober.Probe(ctx, &t)
		fmt.Fprintln(w, r)
		ok = ok && r.Success
	}
	return ok
}

// Describe and Collect export the background rounds' verdicts, the
// prober's traffic through Squid, and whether the last reload applied.
func (s *Service) Describe(ch chan<- *prometheus.Desc) { s.scheduler.Describe(ch) }

// Collect: see Describe.
func (s *Service) Collect(ch chan<- prometheus.Metric) {
	s.scheduler.Collect(ch)
	s.reloads.collect(ch)
}
