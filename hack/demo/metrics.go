package main

import (
	"fmt"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metrics is one scrape of the exporter.
type metrics map[string]*dto.MetricFamily

func parseMetrics(text string) (metrics, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(strings.NewReader(text))
}

// series calls f with the labels and value of each series of the family.
func (m metrics) series(family string, f func(labels map[string]string, value float64)) {
	mf := m[family]
	if mf == nil {
		return
	}
	for _, s := range mf.GetMetric() {
		labels := map[string]string{}
		for _, l := range s.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		value := s.GetGauge().GetValue()
		if s.Counter != nil {
			value = s.GetCounter().GetValue()
		}
		f(labels, value)
	}
}

func (m metrics) hasVerdict(target string) bool {
	found := false
	m.series("squid_probe_success", func(l map[string]string, _ float64) { found = found || l["target"] == target })
	return found
}

// verdict is the target's squid_probe_success (-1 when there is none).
func (m metrics) verdict(target string) float64 {
	v := -1.0
	m.series("squid_probe_success", func(l map[string]string, value float64) {
		if l["target"] == target {
			v = value
		}
	})
	return v
}

// blobs are a registry's blob requests by what the cache did.
type blobs struct {
	registry               string
	hit, revalidated, miss float64
}

func (b blobs) total() float64 { return b.hit + b.revalidated + b.miss }

// blobHitRatios reads squid_access_requests_total{object="blob"} for each
// registry that had blob requests the cache answered, in the order of /metrics.
func (m metrics) blobHitRatios() []blobs {
	var out []blobs
	index := map[string]int{}
	m.series("squid_access_requests_total", func(l map[string]string, value float64) {
		if l["object"] != "blob" {
			return
		}
		i, ok := index[l["registry"]]
		if !ok {
			i = len(out)
			index[l["registry"]] = i
			out = append(out, blobs{registry: l["registry"]})
		}
		switch l["cache"] {
		case "hit":
			out[i].hit += value
		case "revalidated":
			out[i].revalidated += value
		case "miss":
			out[i].miss += value
		}
	})
	kept := out[:0]
	for _, b := range out {
		if b.total() > 0 {
			kept = append(kept, b)
		}
	}
	return kept
}

// formatRatios prints a line per registry: "  quay.io   75%  (3 hit, 0 revalidated, 1 miss)".
func formatRatios(rs []blobs) string {
	if len(rs) == 0 {
		return "  no blob requests yet\n"
	}
	width := 0
	for _, r := range rs {
		width = max(width, len(r.registry))
	}
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "  %-*s  %3.0f%%  (%g hit, %g revalidated, %g miss)\n", width, r.registry,
			100*r.hit/r.total(), r.hit, r.revalidated, r.miss)
	}
	return b.String()
}
