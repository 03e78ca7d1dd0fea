package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"sync/atomic"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/redact"
	"github.com/squid-cache-exporter/squid-cache-exporter/prober"
)

// newScheduler builds the prober from the flags. start begins reading the
// access log, which must happen before the first round.
func newScheduler(o options, logger log.Logger) (*prober.Scheduler, func(context.Context) error, error) {
	cfg, err := prober.LoadConfig(o.probe.config)
	if err != nil {
		return nil, nil, err
	}
	proxy := o.probe.proxy
	if proxy == "" {
		proxy = o.squidAddress
	}
	proxyURL, err := url.Parse(proxy)
	if err != nil { // the error quotes the URL, which may hold Squid's proxy password
		return nil, nil, fmt.Errorf("--probe.proxy-url: %w", redact.Error(err))
	}
	roots, err := rootCAs(o.probe.caFile)
	if err != nil {
		return nil, nil, err
	}
	if err := checkLogSource(o.probe); err != nil {
		return nil, nil, err
	}
	hub := &accesslog.Hub{}
	registerLogMetrics(hub)
	p := &prober.Prober{Proxy: proxyURL, RootCAs: roots, Log: hub, LogWait: o.probe.logWait}
	start := func(ctx context.Context) error { return startLogSources(ctx, o.probe, hub, logger) }
	return &prober.Scheduler{Prober: p, Targets: cfg.Targets, Logger: logger}, start, nil
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
		return nil, fmt.Errorf("--probe.ca-file: %w", err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--probe.ca-file: %s holds no PEM certificate", path)
	}
	return pool, nil
}

// checkLogSource wants exactly one source of the access log: a file and a
// receiver fed by the same Squid would deliver every line twice, and a
// round would take its first pull's line for its second.
func checkLogSource(o probeOptions) error {
	switch {
	case o.accessLog == "" && o.listen == "":
		return errors.New("the prober reads Squid's access log: set --probe.access-log or --probe.access-log.listen-address")
	case o.accessLog != "" && o.listen != "":
		return errors.New("set one of --probe.access-log and --probe.access-log.listen-address, not both: the same log read twice doubles every line")
	case o.listen == "" && len(o.allowedPeers) > 0:
		return errors.New("--probe.access-log.allowed-peers needs --probe.access-log.listen-address")
	}
	_, err := peers(o.allowedPeers)
	return err
}

// peers parses the allowed peers' networks.
func peers(cidrs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("--probe.access-log.allowed-peers: %w", err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// startLogSources follows the access log file or listens for Squid's tcp
// logging module.
func startLogSources(ctx context.Context, o probeOptions, hub *accesslog.Hub, logger log.Logger) error {
	if o.accessLog != "" {
		f := &accesslog.Follower{Path: o.accessLog, Hub: hub, Logger: logger}
		go f.Follow(ctx)
	}
	if o.listen != "" {
		// A bare port binds the loopback: the receiver takes its peers'
		// lines on trust (and admits only loopback peers).
		l, err := accesslog.ListenLoopbackDefault(o.listen)
		if err != nil {
			return fmt.Errorf("--probe.access-log.listen-address: %w", err)
		}
		allowed, _ := peers(o.allowedPeers) // checked by checkLogSource
		r := &accesslog.Receiver{Hub: hub, Logger: logger, AllowedPeers: allowed}
		if o.echo {
			r.Echo = os.Stdout
		}
		registerReceiverMetrics(r)
		go r.Serve(ctx, l)
	}
	return nil
}

func registerLogMetrics(hub *accesslog.Hub) {
	prometheus.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "squid_exporter_access_log_lines_total",
			Help: "Access log lines read."}, func() float64 { return float64(hub.Lines.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "squid_exporter_access_log_malformed_lines_total",
			Help: "Access log lines in neither Squid's native format nor squid_probe (the prober needs access_log ... squid_probe)."},
			func() float64 { return float64(hub.Malformed.Load()) }),
	)
}

// registerReceiverMetrics counts the connections the access log receiver
// closed at once: from a peer not allowed, or over its connection limit.
// Either one growing means something other than Squid is connecting.
func registerReceiverMetrics(r *accesslog.Receiver) {
	for reason, n := range map[string]*atomic.Uint64{"peer": &r.RejectedPeer, "limit": &r.RejectedLimit} {
		prometheus.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "squid_exporter_access_log_rejected_connections_total",
			Help:        "Connections to the access log receiver closed at once, by reason: peer (not in the allowed peers) or limit (too many open).",
			ConstLabels: prometheus.Labels{"reason": reason},
		}, func() float64 { return float64(n.Load()) }))
	}
}
