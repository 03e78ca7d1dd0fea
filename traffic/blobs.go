package traffic

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// BlobCount is what a registry's blob requests have come to since start:
// the numbers behind its blob hit ratio.
type BlobCount struct {
	Registry string
	// Hits were served from cache without asking the origin; Deliveries
	// are every blob sent whole or in part (hits, revalidations, misses),
	// as in the squid:blob_hit_ratio recording rules.
	Hits, Deliveries float64
}

// Blobs counts blob requests by registry, in the configured order with
// "other" last. It reads the same counters /metrics shows.
func (c *Counter) Blobs() []BlobCount {
	out := make([]BlobCount, len(c.registries.names))
	for r, name := range c.registries.names {
		blobs := &c.requests[r][Blob]
		hits := value(blobs[Hit])
		out[r] = BlobCount{Registry: name, Hits: hits, Deliveries: hits + value(blobs[Revalidated]) + value(blobs[Miss])}
	}
	return out
}

func value(m prometheus.Counter) float64 {
	var d dto.Metric
	if m.Write(&d) != nil {
		return 0
	}
	return d.GetCounter().GetValue()
}
