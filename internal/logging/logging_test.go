package logging

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/go-kit/log/level"
	"github.com/go-logfmt/logfmt"
)

// A go-kit line and a slog line (exporter-toolkit's) look alike: the same
// keys in the same order, the caller as file:line, one level filter.
func TestOneFormatForBothLibraries(t *testing.T) {
	for _, format := range []string{"logfmt", "json"} {
		t.Run(format, func(t *testing.T) {
			var out bytes.Buffer
			logger, slogger, err := NewTo(&out, "info", format)
			if err != nil {
				t.Fatal(err)
			}
			level.Info(logger).Log("msg", "from go-kit", "k", "v")
			slogger.Info("from slog", "k", "v")
			slogger.Debug("filtered out")
			level.Debug(logger).Log("msg", "filtered out")
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != 2 {
				t.Fatalf("want 2 lines, got %d:\n%s", len(lines), out.String())
			}
			goKit, fromSlog := keys(t, format, lines[0]), keys(t, format, lines[1])
			if strings.Join(goKit, " ") != strings.Join(fromSlog, " ") {
				t.Errorf("keys differ:\n go-kit %v\n slog   %v", goKit, fromSlog)
			}
			if !strings.Contains(lines[1], "logging_test.go:") {
				t.Errorf("slog line without this file as caller: %s", lines[1])
			}
		})
	}
}

// keys are a line's keys; JSON objects are unordered, so sorted there.
func keys(t *testing.T, format, line string) []string {
	t.Helper()
	var ks []string
	if format == "json" {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		for k := range m {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	d := logfmt.NewDecoder(strings.NewReader(line))
	for d.ScanRecord() {
		for d.ScanKeyval() {
			ks = append(ks, string(d.Key()))
		}
	}
	return ks
}
