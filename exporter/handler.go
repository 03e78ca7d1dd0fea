// Package exporter is the HTTP side of the exporter: the landing page and
// the /metrics handler.
package exporter

import (
	"context"
	"net/http"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/squid-cache-exporter/squid-cache-exporter/collector"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/scrape"
)

// MetricsHandler serves the exporter's own metrics (from global) together
// with a fresh scrape of Squid. The scrape is bounded by the smaller of
// timeout and the timeout Prometheus announces for this scrape.
func MetricsHandler(squid *collector.Squid, global prometheus.Gatherer, timeout time.Duration, logger log.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), scrape.Timeout(r, timeout))
		defer cancel()
		reg := prometheus.NewRegistry()
		reg.MustRegister(squid.Scrape(ctx))
		promhttp.HandlerFor(disjoint{global, reg}, promhttp.HandlerOpts{
			ErrorLog:      promLogger{logger},
			ErrorHandling: promhttp.ContinueOnError,
			// About 90 KB a scrape, within the pod's network: each gzip
			// writer costs ~700 KB of heap, a third of the memory budget.
			DisableCompression: true,
		}).ServeHTTP(w, r)
	})
}

// promLogger adapts a go-kit logger to promhttp's error logger.
type promLogger struct{ log.Logger }

func (l promLogger) Println(v ...any) { l.Log("level", "error", "msg", "serving metrics", "err", v) }
