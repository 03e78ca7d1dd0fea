package cachemgr

import "testing"

// The memory cache's size from each source, on real reports. cache_mem
// was 64 MB for Squid 5.7 and 16 MB for 6.13 and 7.7: only storedir's
// shared memory cache section (SMP) gives it exactly.
func TestMemoryCacheSources(t *testing.T) {
	const kb = 1024
	tests := []struct {
		fixture      string
		used, capKB  float64
		exact        bool
		trueCapacity float64
	}{
		// info: the used size, and a percentage rounded to 0.1.
		{"squid-5.7-info.txt", 18104 * kb, 18104.0 / 0.276, false, 65536 * kb},    // +0.09%
		{"squid-6.13-info.txt", 256 * kb, 256 / 0.016, false, 16384 * kb},         // -2.3%
		{"squid-6.13-workers2-info.txt", 96 * kb, 96 / 0.006, false, 16384 * kb},  // -2.3%
		{"squid-7.7-workers2-info.txt", 316 * kb, 316 / 0.010, false, 16384 * kb}, // 1.93x: kids added up
		{"squid-7.7-workers2-storedir.txt", 96 * kb, 16384, true, 16384 * kb},     // exact
		{"squid-6.13-workers2-storedir.txt", 96 * kb, 16384, true, 16384 * kb},    // exact
		{"squid-5.7-workers2-storedir.txt", 0, 65536, true, 65536 * kb},           // exact, even empty
	}
	for _, tt := range tests {
		var m MemoryCache
		if info, err := ParseInfo(readFixture(t, tt.fixture)); err == nil {
			m = info.MemoryCache()
		} else if r, err := ParseStoreDir(readFixture(t, tt.fixture)); err == nil && r.SharedMemory != nil {
			m = *r.SharedMemory
		} else {
			t.Fatalf("%s: no memory cache in it", tt.fixture)
		}
		if !near(m.UsedBytes, tt.used) || !near(m.CapacityBytes, tt.capKB*kb) || m.Exact != tt.exact {
			t.Errorf("%s: %+v, want used %v, capacity %v KB, exact %v", tt.fixture, m, tt.used, tt.capKB, tt.exact)
		}
		if tt.exact != (m.CapacityBytes == tt.trueCapacity) {
			t.Errorf("%s: capacity %v, cache_mem %v, exact %v", tt.fixture, m.CapacityBytes, tt.trueCapacity, m.Exact)
		}
	}
}

func TestInfoMemoryCacheEmpty(t *testing.T) {
	info := newInfo()
	info.MemoryUsedBytes, info.MemoryUsedRatio = 0, 0
	if m := info.MemoryCache(); m.UsedBytes != 0 || !IsMissing(m.CapacityBytes) || m.Exact {
		t.Errorf("empty memory cache: %+v, want used 0 and no capacity", m)
	}
}
