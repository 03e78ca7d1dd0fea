package icap

import (
	"bufio"
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/squid-cache-exporter/squid-cache-exporter/cdnurl"
)

// BenchmarkRoundTrip is one REQMOD as Squid sends it (the captured one) and
// its answer, over a kept-alive loopback connection. It reports the 99th
// percentile; the target is under 1 ms.
func BenchmarkRoundTrip(b *testing.B) {
	urls, _ := cdnurl.New(pattern)
	s := &Server{URLs: urls, Logger: log.NewNopLogger(), Metrics: NewMetrics(prometheus.NewRegistry())}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Serve(ctx, l)
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	req := []byte(captured(b))
	r := bufio.NewReader(conn)
	var took []time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		conn.Write(req)
		if err := readResponse(r); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
}

// readResponse reads a modified-request answer: its head, then the
// encapsulated header, which ends with an empty line too.
func readResponse(r *bufio.Reader) error {
	for part := 0; part < 2; part++ {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return err
			}
			if line == "\r\n" {
				break
			}
		}
	}
	return nil
}
