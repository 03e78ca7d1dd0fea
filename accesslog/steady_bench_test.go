package accesslog

import (
	"runtime"
	"testing"
	"time"
)

// BenchmarkSteadyFeed writes b.N real lines at Squid's pace, 2,000 a
// second each in its own write, over tcp:// and into a followed file, at
// the sources' default intervals, and counts the allocations of the whole
// process per line (allocs/line, which allocs/op rounds down): reading in
// batches must add none a line.
// The CPU the binary spends on them is cmd/squid-cache-exporter's
// BenchmarkCosts (make bench-costs).
func BenchmarkSteadyFeed(b *testing.B) {
	lines := append(fixture(b, nativeFixture), fixture(b, probeFixture)...)
	for _, source := range []string{"tcp", "file"} {
		b.Run(source, func(b *testing.B) {
			hub, w := matchFeed(b, source)
			raw := make([][]byte, len(lines))
			for i, l := range lines {
				raw[i] = append(append([]byte{}, l...), '\n')
			}
			// The first lines: the receiver's buffer, the entry's.
			for _, l := range raw {
				w.w.Write(l)
			}
			waitLines(b, hub, len(raw))
			every := time.Second / 2000
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				time.Sleep(time.Until(start.Add(time.Duration(i) * every)))
				w.w.Write(raw[i%len(raw)])
			}
			waitLines(b, hub, len(raw)+b.N)
			b.StopTimer()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "allocs/line")
			if m := hub.Malformed.Load(); m != 0 {
				b.Fatalf("%d malformed lines", m)
			}
		})
	}
}

func waitLines(b *testing.B, hub *Hub, n int) {
	for deadline := time.Now().Add(10 * time.Second); hub.Lines.Load() < uint64(n); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("%d lines read, want %d", hub.Lines.Load(), n)
		}
	}
}
