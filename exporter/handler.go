// Package exporter is the HTTP side of the exporter: the landing page and
// the /metrics handler.
package exporter

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/squid-cache-exporter/squid-cache-exporter/collector"
)

// timeoutOffset leaves Prometheus time to receive the answer before its
// own scrape timeout, as blackbox_exporter does.
const timeoutOffset = 500 * time.Millisecond

// MetricsHandler serves the exporter's own metrics (from global) together
// with a fresh scrape of Squid. The scrape is bounded by the smaller of
// timeout and the timeout Prometheus announces for this scrape.
func MetricsHandler(squid *collector.Squid, global prometheus.Gatherer, timeout time.Duration, logger log.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), scrapeTimeout(r, timeout))
		defer cancel()
		reg := prometheus.NewRegistry()
		reg.MustRegister(squid.Scrape(ctx))
		gatherers := prometheus.Gatherers{global, reg}
		promhttp.HandlerFor(gatherers, promhttp.HandlerOpts{
			ErrorLog:      promLogger{logger},
			ErrorHandling: promhttp.ContinueOnError,
			// About 15 KB a scrape, within the pod's network: each gzip
			// writer costs ~700 KB of heap, a third of the memory budget.
			DisableCompression: true,
		}).ServeHTTP(w, r)
	})
}

func scrapeTimeout(r *http.Request, max time.Duration) time.Duration {
	header := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds")
	seconds, err := strconv.ParseFloat(header, 64)
	if err != nil || seconds <= 0 {
		return max
	}
	announced := time.Duration(seconds*float64(time.Second)) - timeoutOffset
	if announced <= 0 {
		announced = time.Duration(seconds * float64(time.Second))
	}
	return min(announced, max)
}

// promLogger adapts a go-kit logger to promhttp's error logger.
type promLogger struct{ log.Logger }

func (l promLogger) Println(v ...any) { l.Log("level", "error", "msg", "serving metrics", "err", v) }
