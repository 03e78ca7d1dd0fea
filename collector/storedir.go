package collector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/squid-cache-exporter/squid-cache-exporter/cachemgr"
)

func init() {
	registerCollector("storedir", true, func() reportCollector { return &storeDirCollector{} })
}

var (
	diskUsedDesc     = newDesc("cache_disk_used_bytes", "Bytes of objects in all cache_dirs.")
	diskCapacityDesc = newDesc("cache_disk_capacity_bytes", "Configured size of all cache_dirs.")
	dirUsedDesc      = newDesc("cache_dir_used_bytes", "Bytes of objects in one cache_dir.", "path", "type")
	dirCapacityDesc  = newDesc("cache_dir_capacity_bytes", "Configured size of one cache_dir.", "path", "type")
	dirLRUAgeDesc    = newDesc("cache_dir_lru_reference_age_seconds",
		"Time since the least recently used object of the cache_dir was last used: about how long an object "+
			"stays once the dir is full. Squid rounds it to 864 s (0.01 days); lru removal policy only.", "path", "type")
)

// storeDirCollector keeps the shared memory cache's size for the scrape
// to choose from (see memorycache.go).
type storeDirCollector struct {
	memory *cachemgr.MemoryCache
}

func (c *storeDirCollector) memoryCache() *cachemgr.MemoryCache { return c.memory }

func (c *storeDirCollector) Update(report []byte, ch chan<- prometheus.Metric) error {
	r, err := cachemgr.ParseStoreDir(report)
	if err != nil {
		return err
	}
	c.memory = r.SharedMemory
	g := prometheus.GaugeValue
	var used, capacity float64
	for _, d := range r.Dirs { // each dir once, even if several SMP kids report it
		used += d.UsedBytes
		capacity += d.CapacityBytes
		send(ch, dirUsedDesc, g, d.UsedBytes, d.Path, d.Type)
		send(ch, dirCapacityDesc, g, d.CapacityBytes, d.Path, d.Type)
		send(ch, dirLRUAgeDesc, g, d.LRUReferenceAgeSeconds, d.Path, d.Type)
	}
	send(ch, diskUsedDesc, g, used)
	send(ch, diskCapacityDesc, g, capacity)
	return nil
}
