package prober

import (
	"github.com/prometheus/client_golang/prometheus"
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("squid_probe_"+name, help, labels, nil)
}

var (
	successDesc       = desc("success", "1 when the last round passed: both digests matched and the second pull was an accepted hit.", "target")
	durationDesc      = desc("duration_seconds", "Time each phase of the last round took.", "target", "phase")
	roundDurationDesc = desc("round_duration_seconds", "Time the whole last round took.", "target")
	cacheHitDesc      = desc("cache_hit", "1 when Squid logged the last round's second pull with an accepted hit code.", "target")
	cacheResultDesc   = desc("cache_result", "Squid's result code for each pull of the last round; always 1.", "target", "pull", "code")
	digestMatchDesc   = desc("digest_match", "1 when both pulls of the last round hashed to the blob's digest.", "target")
	blobSizeDesc      = desc("blob_size_bytes", "Size of the blob as the last round pulled it.", "target")
	failureDesc       = desc("failure", "1 for the reason the last round failed, 0 for the others.", "target", "reason")
	leakedDesc        = desc("private_blob_leaked", "1 when the last round's leak check (leak_check targets) got bytes of the private blob "+
		"without access through Squid, 0 when every such request was refused; absent when no check ran.", "target")

	lastSuccessDesc   = desc("last_success_timestamp_seconds", "When a background round for the target last passed.", "target")
	roundsDesc        = desc("rounds_total", "Background rounds run for the target.", "target")
	failuresDesc      = desc("failures_total", "Failed background rounds for the target, by reason.", "target", "reason")
	proxyRequestsDesc = desc("proxy_requests_total", "Requests the prober sent through Squid, CONNECTs and /probe rounds included; "+
		"subtract from squid_client_http_requests_total for a hit ratio of real traffic.", "target")
	proxyHitsDesc = desc("proxy_hits_total", "Of those, the ones Squid logged as hits.", "target")
)

// collect sends the metrics of one round.
func (r *Result) collect(ch chan<- prometheus.Metric) {
	g := prometheus.GaugeValue
	ch <- prometheus.MustNewConstMetric(successDesc, g, boolFloat(r.Success), r.Target)
	for _, phase := range Phases {
		if d, ok := r.Durations[phase]; ok {
			ch <- prometheus.MustNewConstMetric(durationDesc, g, d.Seconds(), r.Target, string(phase))
		}
	}
	ch <- prometheus.MustNewConstMetric(roundDurationDesc, g, r.Total.Seconds(), r.Target)
	for i, pull := range []string{"first", "second"} {
		if r.Codes[i] != "" {
			ch <- prometheus.MustNewConstMetric(cacheResultDesc, g, 1, r.Target, pull, r.Codes[i])
		}
	}
	if r.Codes[1] != "" {
		ch <- prometheus.MustNewConstMetric(cacheHitDesc, g, boolFloat(r.Hit), r.Target)
	}
	if r.Bytes > 0 {
		ch <- prometheus.MustNewConstMetric(digestMatchDesc, g, boolFloat(r.DigestMatch), r.Target)
		ch <- prometheus.MustNewConstMetric(blobSizeDesc, g, float64(r.Bytes), r.Target)
	}
	if r.LeakChecked {
		ch <- prometheus.MustNewConstMetric(leakedDesc, g, boolFloat(r.Leaked), r.Target)
	}
	for _, reason := range Reasons {
		ch <- prometheus.MustNewConstMetric(failureDesc, g, boolFloat(r.Reason == reason), r.Target, string(reason))
	}
}

// roundCollector serves one round's metrics, as /probe does.
type roundCollector struct{ r *Result }

func (roundCollector) Describe(chan<- *prometheus.Desc) {}
func (c roundCollector) Collect(ch chan<- prometheus.Metric) {
	c.r.collect(ch)
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
