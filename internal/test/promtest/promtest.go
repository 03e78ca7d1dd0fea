// Package promtest scrapes a metrics endpoint in tests and reads values.
package promtest

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Samples maps a series, written as name{a="x",b="y"} with labels sorted,
// to its value.
type Samples map[string]float64

// Scrape GETs url, fails the test unless it answers 200, and parses it.
func Scrape(t testing.TB, url string) (Samples, string) {
	t.Helper()
	body := Get(t, url)
	samples, err := Parse(body)
	if err != nil {
		t.Fatalf("scrape %s: %v\n%s", url, err, body)
	}
	return samples, body
}

// Parse reads the Prometheus text format.
func Parse(text string) (Samples, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		return nil, err
	}
	s := Samples{}
	for name, mf := range families {
		for _, m := range mf.GetMetric() {
			s[key(name, m.GetLabel())] = value(mf.GetType(), m)
		}
	}
	return s, nil
}

func key(name string, labels []*dto.LabelPair) string {
	if len(labels) == 0 {
		return name
	}
	parts := make([]string, 0, len(labels))
	for _, l := range labels {
		parts = append(parts, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	sort.Strings(parts)
	return name + "{" + strings.Join(parts, ",") + "}"
}

func value(t dto.MetricType, m *dto.Metric) float64 {
	switch t {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	case dto.MetricType_UNTYPED:
		return m.GetUntyped().GetValue()
	case dto.MetricType_SUMMARY:
		return m.GetSummary().GetSampleSum()
	case dto.MetricType_HISTOGRAM:
		return m.GetHistogram().GetSampleSum()
	}
	return 0
}

// Has reports whether the series exists.
func (s Samples) Has(series string) bool {
	_, ok := s[series]
	return ok
}

// HasPrefix reports whether any series' name starts with prefix.
func (s Samples) HasPrefix(prefix string) bool {
	for k := range s {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// Get GETs url and returns its body, failing the test unless it answers 200.
func Get(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, body)
	}
	return string(body)
}
