package exporter

import (
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// The merged gather is what prometheus.Gatherers gives, in every case:
// disjoint names, a name in both (same or clashing help), and a failing
// registry.
func TestDisjointGathersAsGatherers(t *testing.T) {
	counter := func(name, help string, v float64) prometheus.Collector {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
		c.Add(v)
		return c
	}
	tests := []struct {
		name string
		a, b []prometheus.Collector
	}{
		{"disjoint", []prometheus.Collector{counter("a_total", "A.", 1), counter("c_total", "C.", 3)}, []prometheus.Collector{counter("b_total", "B.", 2)}},
		{"empty", nil, []prometheus.Collector{counter("b_total", "B.", 2)}},
		{"same name", []prometheus.Collector{counter("a_total", "A.", 1)}, []prometheus.Collector{counter("a_total", "A.", 2)}},
		{"clashing help", []prometheus.Collector{counter("a_total", "A.", 1)}, []prometheus.Collector{counter("a_total", "Other.", 2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := prometheus.NewRegistry(), prometheus.NewRegistry()
			a.MustRegister(tt.a...)
			b.MustRegister(tt.b...)
			want, wantErr := prometheus.Gatherers{a, b}.Gather()
			got, err := disjoint{a, b}.Gather()
			if (err == nil) != (wantErr == nil) {
				t.Fatalf("error %v, Gatherers gives %v", err, wantErr)
			}
			if text(t, got) != text(t, want) {
				t.Errorf("got\n%s\nwant\n%s", text(t, got), text(t, want))
			}
		})
	}
	t.Run("failing registry", func(t *testing.T) {
		a := prometheus.NewRegistry()
		a.MustRegister(counter("a_total", "A.", 1))
		broken := gathered(nil, errors.New("broken"))
		got, err := disjoint{a, broken}.Gather()
		if err == nil || len(got) != 1 || got[0].GetName() != "a_total" {
			t.Errorf("got %d families, error %v; want a_total and the error", len(got), err)
		}
	})
}

func text(t *testing.T, families []*dto.MetricFamily) string {
	var b strings.Builder
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}
