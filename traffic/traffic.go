// Package traffic counts Squid's traffic from its access log by registry,
// kind of object and what the cache did: the numbers a platform team
// steers by, such as the blob hit ratio per registry, which Squid's own
// counters cannot tell apart from manifests, CONNECTs and the exporter's
// scrapes. It counts every line at line rate without allocating.
package traffic

import (
	"bytes"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
)

// Counter counts access log entries. Every label combination exists from
// the start, so rates work from the first scrape, and the label values
// are bounded by the configured registries whatever the traffic.
type Counter struct {
	registries *registries
	redirects  *redirects
	digests    *digests
	requests   [][numObjects][numCaches]prometheus.Counter // by registry
	bytes      [][numObjects][numCaches]prometheus.Counter
	durations  [numObjects][numCaches]prometheus.Observer
	tunnels    []prometheus.Counter
	// whole blob fetches from the origin, and those that were refetches
	originBytes  []prometheus.Counter
	refetches    [][numReasons]prometheus.Counter
	refetchBytes [][numReasons]prometheus.Counter
	collectors   []prometheus.Collector
}

// New returns a Counter for the registries (DefaultRegistries when none).
func New(rs []Registry) (*Counter, error) {
	if len(rs) == 0 {
		rs = DefaultRegistries
	}
	regs, err := newRegistries(rs)
	if err != nil {
		return nil, err
	}
	c := &Counter{registries: regs, redirects: newRedirects(rememberedRedirects), digests: newDigests()}
	c.makeMetrics()
	return c, nil
}

func (c *Counter) makeMetrics() {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "squid_access_requests_total",
		Help: "Requests in Squid's access log by registry, object (blob, manifest, other) and cache outcome (hit, revalidated, miss, redirect, error); CONNECTs and cache manager requests are not requests."},
		[]string{"registry", "object", "cache"})
	bytesSent := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "squid_access_response_bytes_total",
		Help: "Bytes Squid sent to clients, by registry, object and cache outcome."},
		[]string{"registry", "object", "cache"})
	durations := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "squid_access_request_duration_seconds",
		Help:    "Time Squid took for a request, by object and cache outcome.",
		Buckets: prometheus.ExponentialBucketsRange(0.001, 300, 11)}, []string{"object", "cache"})
	tunnels := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "squid_access_tunnels_total",
		Help: "CONNECT lines in Squid's access log, by registry: tunnels, ssl-bump's included; never requests."},
		[]string{"registry"})
	originBytes := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "squid_access_blob_origin_bytes_total",
		Help: "Bytes of whole blobs Squid fetched from the origin: blob GETs answered 200 on a miss that Squid forwarded (not HIER_NONE: requests that joined a fetch in flight are not counted), as logged (headers included), by registry. Unlike squid_access_response_bytes_total{object=\"blob\",cache=\"miss\"} it leaves out ranged (206) and HEAD answers; the refetch counters count from the same lines."},
		[]string{"registry"})
	refetches := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "squid_access_blob_refetches_total",
		Help: "Whole blob fetches from the origin (GETs answered 200 on a forwarded miss) of a blob the exporter saw fetched or cached before from the same registry's hosts, by registry and reason: concurrent (the earlier fetch was running, or had ended less than 2s before this one started: a stampede not collapsed), evicted (it had ended, and a hit showed Squid had stored the blob: evicted since, purged, or lost in a restart), never_hit (it had ended and no hit was seen: evicted before reuse, or not stored at all). The exporter remembers the 65536 blobs seen last; a refetch of one it forgot is not counted."},
		[]string{"registry", "reason"})
	refetchBytes := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "squid_access_blob_refetch_bytes_total",
		Help: "Bytes of those refetches, by registry and reason; reason=\"evicted\" is what a bigger cache would have saved."},
		[]string{"registry", "reason"})
	c.collectors = []prometheus.Collector{requests, bytesSent, durations, tunnels, originBytes, refetches, refetchBytes}
	for r, name := range c.registries.names {
		c.requests = append(c.requests, [numObjects][numCaches]prometheus.Counter{})
		c.bytes = append(c.bytes, [numObjects][numCaches]prometheus.Counter{})
		c.tunnels = append(c.tunnels, tunnels.WithLabelValues(name))
		c.originBytes = append(c.originBytes, originBytes.WithLabelValues(name))
		c.refetches = append(c.refetches, [numReasons]prometheus.Counter{})
		c.refetchBytes = append(c.refetchBytes, [numReasons]prometheus.Counter{})
		for why := range numReasons {
			c.refetches[r][why] = refetches.WithLabelValues(name, why.String())
			c.refetchBytes[r][why] = refetchBytes.WithLabelValues(name, why.String())
		}
		for o := range numObjects {
			for k := range numCaches {
				c.requests[r][o][k] = requests.WithLabelValues(name, o.String(), k.String())
				c.bytes[r][o][k] = bytesSent.WithLabelValues(name, o.String(), k.String())
				if r == 0 {
					c.durations[o][k] = durations.WithLabelValues(o.String(), k.String())
				}
			}
		}
	}
}

// Observe counts one entry. It is the access log hub's tap: it runs on the
// goroutine that read the line, and allocates nothing.
func (c *Counter) Observe(e *accesslog.Entry) {
	host, path := splitURL(e.URL)
	if isManager(e.URL, path) {
		return
	}
	reg := c.registries.index(host)
	if bytes.Equal(e.Method, []byte("CONNECT")) {
		c.tunnels[reg].Inc()
		return
	}
	obj, digest := classifyPath(path)
	if obj == Other && c.registries.isLayer(host, path) {
		obj = Blob
	}
	cache := ClassifyCache(e.Result, e.Status)
	if obj == Blob {
		served := reg
		reg = c.blobRegistry(digest, host, reg, cache)
		c.observeBlob(e, digest, served, reg, cache)
	}
	c.requests[reg][obj][cache].Inc()
	c.bytes[reg][obj][cache].Add(float64(e.Bytes))
	c.durations[obj][cache].Observe(float64(e.Elapsed) / 1000)
}

// blobRegistry remembers a registry's redirect of a blob, and counts the
// CDN's delivery of that blob under the registry that redirected to it.
func (c *Counter) blobRegistry(digest, host []byte, reg int, cache Cache) int {
	if cache == Redirect {
		if reg != c.registries.other() {
			c.redirects.remember(digest, reg)
		}
		return reg
	}
	if c.registries.isAPIHost(reg, host) {
		return reg
	}
	if by, ok := c.redirects.registry(digest); ok {
		return by
	}
	return reg
}

// Describe and Collect export the counts.
func (c *Counter) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.collectors {
		m.Describe(ch)
	}
}

// Collect: see Describe.
func (c *Counter) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.collectors {
		m.Collect(ch)
	}
}
