package prober

import (
	"context"
	"math/rand/v2"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/testenv"
)

// BenchmarkLogMatchPhase reports how long real rounds through a real Squid
// wait for its access log (the log_match phase: from the second pull's end
// to both lines seen), with the log followed as a file and received over
// tcp://, each at its default read interval. Rounds start at random
// moments, so that every phase of a source's reading is sampled.
func BenchmarkLogMatchPhase(b *testing.B) {
	b.Run("file", func(b *testing.B) { logMatchRounds(b, newLab(b, "")) })
	b.Run("tcp", func(b *testing.B) {
		listener, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		hub := &accesslog.Hub{}
		ctx, cancel := context.WithCancel(context.Background())
		b.Cleanup(cancel)
		go (&accesslog.Receiver{Hub: hub, Logger: log.NewNopLogger()}).Serve(ctx, listener)
		env := testenv.Start(b, testenv.Options{Extra: []string{"access_log tcp://" + listener.Addr().String() + " logformat=squid_probe on-error=drop"}})
		logMatchRounds(b, labIn(b, env, hub))
	})
}

func logMatchRounds(b *testing.B, l *lab) {
	target := l.target("public", l.Quay.Public, "ubi9/ubi", false)
	if r := l.prober.Probe(context.Background(), target); !r.Success { // warm the cache
		b.Fatal(r)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var took []time.Duration
	for b.Loop() {
		time.Sleep(time.Duration(rng.Int64N(int64(150 * time.Millisecond))))
		r := l.prober.Probe(context.Background(), target)
		if !r.Success {
			b.Fatal(r)
		}
		took = append(took, r.Durations[PhaseLogMatch])
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1e3, "p50-ms")
	b.ReportMetric(float64(took[len(took)*9/10].Microseconds())/1e3, "p90-ms")
	b.ReportMetric(float64(took[len(took)-1].Microseconds())/1e3, "max-ms")
	b.ReportMetric(0, "ns/op")
}
