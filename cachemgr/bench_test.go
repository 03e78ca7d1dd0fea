package cachemgr

import (
	"bytes"
	"testing"
)

func BenchmarkParse(b *testing.B) {
	parsers := []struct {
		fixture string
		parse   func([]byte) error
	}{
		{"squid-5.7-info.txt", func(r []byte) error { _, err := ParseInfo(r); return err }},
		{"squid-5.7-counters.txt", func(r []byte) error { _, err := ParseCounters(r); return err }},
		{"squid-5.7-storedir.txt", func(r []byte) error { _, err := ParseStoreDir(r); return err }},
		{"squid-smp-storedir.txt", func(r []byte) error { _, err := ParseStoreDir(r); return err }},
		{"squid-5.7-service_times.txt", func(r []byte) error { _, err := ParseServiceTimes(r); return err }},
		{"squid-5.7-store_id.txt", func(r []byte) error { _, err := ParseHelperStats(r); return err }},
		{"squid-7.7-workers2-store_id.txt", func(r []byte) error { _, err := ParseHelperStats(r); return err }},
	}
	for _, p := range parsers {
		report := readFixture(b, p.fixture)
		lines := bytes.Count(report, []byte("\n"))
		b.Run(p.fixture, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(report)))
			for b.Loop() {
				if err := p.parse(report); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(lines), "lines/op")
		})
	}
}
