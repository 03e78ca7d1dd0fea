package collector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/squid-cache-exporter/squid-cache-exporter/cachemgr"
)

func init() {
	registerCollector("info", true, func() reportCollector { return &infoCollector{} })
}

var (
	infoDesc      = newDesc("info", "Squid's identity; the value is always 1.", "version", "service_name")
	startTimeDesc = newDesc("start_time_seconds", "When Squid started, in seconds since the Unix epoch.")
	uptimeDesc    = newDesc("uptime_seconds", "Seconds since Squid started.")
	clientsDesc   = newDesc("clients", "Clients that have sent Squid a request (Squid's client_db).")

	requestHitRatioDesc = newDesc("request_hit_ratio",
		"Hits among all client requests over the window, as Squid reports it (cache manager requests included).", "window")
	byteHitRatioDesc   = newDesc("byte_hit_ratio", "Bytes sent from cache among all bytes sent over the window.", "window")
	memoryHitRatioDesc = newDesc("memory_hit_ratio", "Memory hits among all hits over the window.", "window")
	diskHitRatioDesc   = newDesc("disk_hit_ratio", "Disk hits among all hits over the window.", "window")

	meanObjectSizeDesc = newDesc("cache_mean_object_size_bytes", "Mean size of a cached object.")
	entriesDesc        = newDesc("cache_entries", "Objects Squid knows of (StoreEntries), in memory, on disk or in transit.")
	memoryObjectsDesc  = newDesc("cache_memory_objects", "Objects in the memory cache (hot object cache items).")
	diskObjectsDesc    = newDesc("cache_disk_objects", "Objects in the disk cache.")

	fdMaxDesc       = newDesc("file_descriptors_max", "File descriptors Squid may open.")
	fdUsedDesc      = newDesc("file_descriptors_used", "File descriptors Squid has open.")
	fdAvailableDesc = newDesc("file_descriptors_available", "File descriptors still available to Squid.")

	serviceTimeMedianDesc = newDesc("service_time_median_seconds",
		"Median time Squid took to serve a request of the category over the window (under SMP, the mean of its kids' medians).",
		"category", "window")
)

// infoCollector keeps the memory cache's size for the scrape to choose
// from (see memorycache.go).
type infoCollector struct {
	memory *cachemgr.MemoryCache
}

func (c *infoCollector) memoryCache() *cachemgr.MemoryCache { return c.memory }

func (c *infoCollector) Update(report []byte, ch chan<- prometheus.Metric) error {
	info, err := cachemgr.ParseInfo(report)
	if err != nil {
		return err
	}
	memory := info.MemoryCache()
	c.memory = &memory
	g := prometheus.GaugeValue
	ch <- prometheus.MustNewConstMetric(infoDesc, g, 1, info.Version, info.ServiceName)
	if !info.StartTime.IsZero() {
		send(ch, startTimeDesc, g, float64(info.StartTime.Unix()))
	}
	send(ch, uptimeDesc, g, info.UptimeSeconds)
	send(ch, clientsDesc, g, info.Clients)

	sendWindows(ch, requestHitRatioDesc, info.RequestHitRatio)
	sendWindows(ch, byteHitRatioDesc, info.ByteHitRatio)
	sendWindows(ch, memoryHitRatioDesc, info.MemoryHitRatio)
	sendWindows(ch, diskHitRatioDesc, info.DiskHitRatio)

	send(ch, meanObjectSizeDesc, g, info.MeanObjectSizeBytes)
	send(ch, entriesDesc, g, info.StoreEntries)
	send(ch, memoryObjectsDesc, g, info.MemoryObjects)
	send(ch, diskObjectsDesc, g, info.DiskObjects)

	send(ch, fdMaxDesc, g, info.FileDescriptorsMax)
	send(ch, fdUsedDesc, g, info.FileDescriptorsUsed)
	send(ch, fdAvailableDesc, g, info.FileDescriptorsAvailable)

	for c, w := range info.ServiceTimeMedians {
		sendWindows(ch, serviceTimeMedianDesc, w, cachemgr.ServiceCategories[c])
	}
	return nil
}

// sendWindows sends a value over Squid's two windows; the window label
// comes last.
func sendWindows(ch chan<- prometheus.Metric, desc *prometheus.Desc, w cachemgr.Windows, labels ...string) {
	labels = labels[:len(labels):len(labels)] // each append copies
	send(ch, desc, prometheus.GaugeValue, w.Last5m, append(labels, "5m")...)
	send(ch, desc, prometheus.GaugeValue, w.Last60m, append(labels, "60m")...)
}
