package exporter

import (
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// disjoint gathers two registries whose metric names do not overlap: the
// exporter's own (the Go, process, traffic and probe metrics) and a
// scrape's Squid reports. Each registry has already checked its metrics,
// so their union is consistent as it is. prometheus.Gatherers would check
// every metric again, a fifth of a scrape's CPU time (docs/performance.md);
// its checks are kept for when a name is in both, or a registry failed.
type disjoint [2]prometheus.Gatherer

// Gather gathers the two at once: the scrape's mostly waits for Squid's
// answer, the exporter's mostly computes.
func (g disjoint) Gather() ([]*dto.MetricFamily, error) {
	var b []*dto.MetricFamily
	var errB error
	done := make(chan struct{})
	go func() {
		defer close(done)
		b, errB = g[1].Gather()
	}()
	a, errA := g[0].Gather()
	<-done
	if errA != nil || errB != nil || overlap(a, b) {
		return prometheus.Gatherers{gathered(a, errA), gathered(b, errB)}.Gather()
	}
	all := append(a, b...)
	slices.SortFunc(all, func(x, y *dto.MetricFamily) int { return strings.Compare(x.GetName(), y.GetName()) })
	return all, nil
}

// gathered gives what a Gather returned again, without gathering twice.
func gathered(families []*dto.MetricFamily, err error) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return families, err })
}

// overlap says whether two sorted lists of families share a name.
func overlap(a, b []*dto.MetricFamily) bool {
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch c := strings.Compare(a[i].GetName(), b[j].GetName()); {
		case c == 0:
			return true
		case c < 0:
			i++
		default:
			j++
		}
	}
	return false
}
