package prober

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"
)

// Rounds share one connection pool: 200 of them leave the goroutines and
// open descriptors where a few rounds left them. (With a transport per
// round, goroutines grew from 10 to 73 over 20 rounds.)
func TestRoundsDoNotLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("testing.Short: 200 rounds")
	}
	l := newLab(t, "")
	target := l.target("public", l.Quay.Public, "ubi9/ubi", false)
	rounds := func(n int) {
		for range n {
			if r := l.prober.Probe(context.Background(), target); !r.Success {
				t.Fatal(r)
			}
		}
	}
	rounds(5) // the pool's connections are open now
	goroutines, fds := runtime.NumGoroutine(), openFDs(t)
	start := time.Now()
	rounds(200)
	took := time.Since(start)
	afterGoroutines, afterFDs := runtime.NumGoroutine(), openFDs(t)
	t.Logf("200 rounds in %s: goroutines %d -> %d, open descriptors %d -> %d", took.Round(time.Millisecond),
		goroutines, afterGoroutines, fds, afterFDs)
	const tolerance = 4 // a connection being replaced: two goroutines and a descriptor
	if afterGoroutines > goroutines+tolerance || afterFDs > fds+tolerance {
		t.Errorf("goroutines %d -> %d, open descriptors %d -> %d: rounds leak", goroutines, afterGoroutines, fds, afterFDs)
	}
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("cannot count descriptors: %v", err)
	}
	return len(entries)
}
