package collector

import (
	"sync"

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

// memoryChoice keeps the best memory cache size the scrape's reports
// offered: an exact one over a derived one.
type memoryChoice struct {
	mu   sync.Mutex
	best *cachemgr.MemoryCache
}

// offer considers what a report collector read, once its Update succeeded.
func (c *memoryChoice) offer(rc reportCollector) {
	src, ok := rc.(memorySource)
	if !ok {
		return
	}
	m := src.memoryCache()
	if m == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.best == nil || m.Exact && !c.best.Exact {
		c.best = m
	}
}

func (c *memoryChoice) send(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.best == nil {
		return
	}
	send(ch, memoryUsedDesc, prometheus.GaugeValue, c.best.UsedBytes)
	send(ch, memoryCapacityDesc, prometheus.GaugeValue, c.best.CapacityBytes)
}
