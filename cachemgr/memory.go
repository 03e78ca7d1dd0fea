package cachemgr

// MemoryCache is the size of Squid's memory cache (cache_mem), in bytes.
type MemoryCache struct {
	UsedBytes     float64
	CapacityBytes float64 // Missing when the report does not tell
	// Exact says CapacityBytes is cache_mem as configured. Otherwise it is
	// derived from a percentage Squid rounds to 0.1.
	Exact bool
}

// MemoryCache returns the memory cache's size as mgr:info shows it: the
// used size, and cache_mem only as a used percentage rounded to 0.1. The
// capacity derived from that is off by up to 0.05/p of itself (0.2% at
// 27.6% used, half at 0.1%), and unknown while the cache is empty. Under
// SMP, Squid 7 adds up every kid's view, the diskers' local memory
// included, so both sizes are wrong there; mgr:storedir's shared memory
// cache section is exact.
func (info *Info) MemoryCache() MemoryCache {
	m := MemoryCache{UsedBytes: info.MemoryUsedBytes, CapacityBytes: Missing}
	if info.MemoryUsedRatio > 0 && !IsMissing(info.MemoryUsedBytes) {
		m.CapacityBytes = info.MemoryUsedBytes / info.MemoryUsedRatio
	}
	return m
}
