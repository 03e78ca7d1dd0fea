package collector

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/squid-cache-exporter/squid-cache-exporter/cachemgr"
)

// fixedMemory is a report collector that read a given memory cache size.
type fixedMemory struct{ m *cachemgr.MemoryCache }

func (fixedMemory) Update([]byte, chan<- prometheus.Metric) error { return nil }
func (f fixedMemory) memoryCache() *cachemgr.MemoryCache          { return f.m }

// The reports of a scrape finish in any order; the exact size wins.
func TestMemoryChoicePrefersExact(t *testing.T) {
	derived := &cachemgr.MemoryCache{UsedBytes: 316 << 10, CapacityBytes: 32358400}
	exact := &cachemgr.MemoryCache{UsedBytes: 96 << 10, CapacityBytes: 16 << 20, Exact: true}
	tests := []struct {
		name           string
		offers         []reportCollector
		used, capacity float64
	}{
		{"info, then storedir", []reportCollector{fixedMemory{derived}, fixedMemory{exact}}, 96 << 10, 16 << 20},
		{"storedir, then info", []reportCollector{fixedMemory{exact}, fixedMemory{derived}}, 96 << 10, 16 << 20},
		{"storedir without a shared memory cache", []reportCollector{fixedMemory{nil}, fixedMemory{derived}}, 316 << 10, 32358400},
		{"a report that knows nothing of memory", []reportCollector{&countersCollector{}, fixedMemory{derived}}, 316 << 10, 32358400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &memoryChoice{}
			for _, o := range tt.offers {
				c.offer(memoryOf(o))
			}
			ch := make(chan prometheus.Metric, 2)
			c.send(ch)
			close(ch)
			got := map[string]float64{}
			for m := range ch {
				got[m.Desc().String()] = testutil.ToFloat64(constCollector{m})
			}
			if got[memoryUsedDesc.String()] != tt.used || got[memoryCapacityDesc.String()] != tt.capacity {
				t.Errorf("sent %v, want used %v and capacity %v", got, tt.used, tt.capacity)
			}
		})
	}
}

// constCollector collects one metric, for testutil.ToFloat64.
type constCollector struct{ m prometheus.Metric }

func (c constCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.m.Desc() }
func (c constCollector) Collect(ch chan<- prometheus.Metric) { ch <- c.m }
