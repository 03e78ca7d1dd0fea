package alerts

import (
	"os/exec"
	"testing"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
)

func TestRulesPassPromtool(t *testing.T) {
	promtool := squidtest.RequireTool(t, "promtool", "/usr/bin/promtool", "prometheus")
	for _, args := range [][]string{
		{"check", "rules", "squid-cache-exporter.rules.yml"},
		// Every alert, firing and not, at its thresholds and for durations.
		{"test", "rules", "tests/squid-cache-exporter.test.yml"},
		{"test", "rules", "tests/blob-hit-ratio.test.yml"},
		{"test", "rules", "tests/cache-size.test.yml"},
	} {
		if out, err := exec.Command(promtool, args...).CombinedOutput(); err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}
