package icap

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Results of an ICAP request.
const (
	resultModified   = "modified"   // REQMOD: Authorization removed; RESPMOD: made storable
	resultUnmodified = "unmodified" // 204
	resultOptions    = "options"
	resultError      = "error"
	resultLearned    = "learned" // /learn: a redirect's digest remembered
)

// Metrics of the service.
type Metrics struct {
	requests *prometheus.CounterVec
	duration prometheus.Histogram
	learned  prometheus.Gauge
}

// NewMetrics registers the service's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "squid_icap_requests_total", Help: "ICAP requests from Squid, by method and result.",
		}, []string{"method", "result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "squid_icap_request_duration_seconds", Help: "Time to answer one ICAP request, once read.",
			Buckets: prometheus.ExponentialBuckets(0.00001, 4, 10),
		}),
		learned: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "squid_icap_learned_urls", Help: "Signed CDN URLs whose digest was learned from a registry's redirect and is kept, as of the last one learned.",
		}),
	}
	for _, r := range []string{resultModified, resultUnmodified, resultError} {
		m.requests.WithLabelValues("REQMOD", r)
		m.requests.WithLabelValues("RESPMOD", r)
	}
	m.requests.WithLabelValues("RESPMOD", resultLearned)
	reg.MustRegister(m.requests, m.duration, m.learned)
	return m
}

func (m *Metrics) observe(method, result string, took time.Duration) {
	if method != "OPTIONS" && method != "REQMOD" && method != "RESPMOD" {
		method = "other"
	}
	m.requests.WithLabelValues(method, result).Inc()
	if took > 0 {
		m.duration.Observe(took.Seconds())
	}
}
