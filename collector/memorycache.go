package collector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/squid-cache-exporter/squid-cache-exporter/cachemgr"
)

// Two reports show the memory cache's size. mgr:info prints cache_mem only
// as a used percentage rounded to 0.1, and under SMP Squid 7 adds up its
// kids' views; mgr:storedir prints the SMP workers' shared memory cache
// exactly. Each scrape sends the best it read, once.
var (
	memoryUsedDesc     = newDesc("cache_memory_used_bytes", "Bytes of objects in the memory cache (cache_mem).")
	memoryCapacityDesc = newDesc("cache_memory_capacity_bytes",
		"Size of the memory cache (cache_mem): exact from mgr:storedir's shared memory cache under SMP, "+
			"otherwise derived from mgr:info's used size and percentage rounded to 0.1.")
)

// A memorySource is a reportCollector that read the memory cache's size.
// It returns nil when its report did not show it.
type memorySource interface {
	memoryCache() *cachemgr.MemoryCache
}

// memoryOf is the memory cache's size a report collector read, or nil.
func memoryOf(rc reportCollector) *cachemgr.MemoryCache {
	if src, ok := rc.(memorySource); ok {
		return src.memoryCache()
	}
	return nil
}

// memoryChoice keeps the best memory cache size the scrape's readings
// offered: an exact one over a derived one.
type memoryChoice struct {
	best *cachemgr.MemoryCache
}

// offer considers a reading's memory cache size, nil when it had none.
func (c *memoryChoice) offer(m *cachemgr.MemoryCache) {
	if m != nil && (c.best == nil || m.Exact && !c.best.Exact) {
		c.best = m
	}
}

func (c *memoryChoice) send(ch chan<- prometheus.Metric) {
	if c.best == nil {
		return
	}
	send(ch, memoryUsedDesc, prometheus.GaugeValue, c.best.UsedBytes)
	send(ch, memoryCapacityDesc, prometheus.GaugeValue, c.best.CapacityBytes)
}
