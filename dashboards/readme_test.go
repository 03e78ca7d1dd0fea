package dashboards

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// documentedElsewhere are metrics README documents that the test stack
// cannot show: it runs the collectors and the prober's scheduler
// in-process, not the binary, which adds its build info, its access log
// feed's counters (and the receiver's, when it receives) and the probe
// config's reloads. cmd/squid-cache-exporter's tests run the binary.
var documentedElsewhere = map[string]bool{
	"squid_exporter_build_info":                                         true,
	"squid_exporter_access_log_lines_total":                             true,
	"squid_exporter_access_log_malformed_lines_total":                   true,
	"squid_exporter_access_log_rejected_connections_total":              true,
	"squid_exporter_probe_config_last_reload_successful":                true,
	"squid_exporter_probe_config_last_reload_success_timestamp_seconds": true,
}

var (
	// readmeRow is the first cell of a metrics table row: | `squid_...` |
	readmeRow  = regexp.MustCompile("(?m)^\\| (`squid_[^|]*)\\|")
	readmeName = regexp.MustCompile("`(squid_[a-z0-9_]+)`")
)

// checkMetricsReference holds README's metrics reference against what the
// stack exports: every squid_* metric exported is documented, and every
// documented one is exported (or listed in documentedElsewhere).
func checkMetricsReference(t *testing.T, exported map[string]bool) {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, row := range readmeRow.FindAllStringSubmatch(string(b), -1) {
		for _, m := range readmeName.FindAllStringSubmatch(row[1], -1) {
			documented[m[1]] = true
			if !exported[m[1]] && !documentedElsewhere[m[1]] {
				t.Errorf("README documents %s, which nothing in the stack exports", m[1])
			}
		}
	}
	var missing []string
	for name := range exported {
		if strings.HasPrefix(name, "squid_") && !documented[name] && !isHistogramPart(name, exported) {
			missing = append(missing, name)
		}
	}
	slices.Sort(missing)
	for _, name := range missing {
		t.Errorf("%s is exported but not in README's metrics reference", name)
	}
}

// isHistogramPart says name is a histogram's _bucket, _count or _sum.
func isHistogramPart(name string, exported map[string]bool) bool {
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && exported[base] {
			return true
		}
	}
	return false
}
