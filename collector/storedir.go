package collector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/squid-cache-exporter/squid-cache-exporter/cachemgr"
)

func init() {
	registerCollector("storedir", true, func() reportCollector { return storeDirCollector{} })
}

var (
	diskUsedDesc     = newDesc("cache_disk_used_bytes", "Bytes of objects in all cache_dirs.")
	diskCapacityDesc = newDesc("cache_disk_capacity_bytes", "Configured size of all cache_dirs.")
	dirUsedDesc      = newDesc("cache_dir_used_bytes", "Bytes of objects in one cache_dir.", "path", "type")
	dirCapacityDesc  = newDesc("cache_dir_capacity_bytes", "Configured size of one cache_dir.", "path", "type")
)

type storeDirCollector struct{}

func (storeDirCollector) Update(report []byte, ch chan<- prometheus.Metric) error {
	dirs, err := cachemgr.ParseStoreDir(report)
	if err != nil {
		return err
	}
	var used, capacity float64
	byDir := map[cachemgr.StoreDir]struct{}{}
	for _, d := range dirs {
		used += d.UsedBytes
		capacity += d.CapacityBytes
		key := cachemgr.StoreDir{Type: d.Type, Path: d.Path}
		if _, dup := byDir[key]; dup {
			continue // the same path from two processes would clash as a series
		}
		byDir[key] = struct{}{}
		send(ch, dirUsedDesc, prometheus.GaugeValue, d.UsedBytes, d.Path, d.Type)
		send(ch, dirCapacityDesc, prometheus.GaugeValue, d.CapacityBytes, d.Path, d.Type)
	}
	send(ch, diskUsedDesc, prometheus.GaugeValue, used)
	send(ch, diskCapacityDesc, prometheus.GaugeValue, capacity)
	return nil
}
