package storeid

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Results of a store-ID request.
const (
	resultVerified    = "verified"     // the CDN authorized it: filed under the shared key
	resultDenied      = "denied"       // the CDN refused it: filed apart
	resultError       = "error"        // the check failed or timed out: filed apart
	resultNotMatching = "not_matching" // not a CDN blob URL: ERR
	resultMalformed   = "malformed"    // a line Squid should not send: BH
	resultNotLearned  = "not_learned"  // a CDN URL naming no digest, none learned for it: filed apart
)

// Metrics of the helper.
type Metrics struct {
	requests *prometheus.CounterVec
	checks   prometheus.Histogram
	inFlight prometheus.Gauge
}

// NewMetrics registers the helper's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "squid_store_id_requests_total", Help: "Store-ID requests from Squid, by result.",
		}, []string{"result"}),
		checks: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "squid_store_id_check_duration_seconds", Help: "Time of one authorization check against the CDN.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "squid_store_id_checks_in_flight", Help: "Authorization checks under way.",
		}),
	}
	for _, r := range []string{resultVerified, resultDenied, resultError, resultNotMatching, resultMalformed, resultNotLearned} {
		m.requests.WithLabelValues(r)
	}
	reg.MustRegister(m.requests, m.checks, m.inFlight)
	return m
}

func (m *Metrics) observe(result string, check time.Duration) {
	m.requests.WithLabelValues(result).Inc()
	if check > 0 {
		m.checks.Observe(check.Seconds())
	}
}
