package prober

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/pkitest"
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

// Reloads stop what they replace. 50 of them, alternating two configs
// (each removes the other's target and adds its own) and two CA bundles
// (each a new connection pool), each followed by a passing round of the
// target it added, leave the goroutines and open descriptors where the
// first few left them.
func TestReloadsDoNotLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("testing.Short: 50 reloads and rounds")
	}
	l := newLab(t, "")
	dir := t.TempDir()
	settings := Settings{ConfigFile: filepath.Join(dir, "probe.yml"), CAFile: filepath.Join(dir, "ca.pem"),
		ProxyURL: l.Squid.URL, LogWait: time.Second, ReloadInterval: time.Hour}
	bundle := string(l.Bump.CertPEM())
	versions := [2]struct{ target, config, ca string }{
		{"a", targetYAML(l.target("a", l.Quay.Public, "ubi9/ubi", false)), bundle},
		{"b", targetYAML(l.target("b", l.Quay.Public, "ubi9/ubi", false)), bundle + string(pkitest.NewCA(t, "another CA").CertPEM())},
	}
	write(t, settings.ConfigFile, versions[0].config)
	write(t, settings.CAFile, versions[0].ca)
	svc, err := NewService(settings, l.Log, log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	svc.scheduler.firstWait = func(*Target) time.Duration { return 0 }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitRounds(t, svc, "a")

	reloads := func(from, to int) {
		for i := from; i < to; i++ {
			v := versions[i%2]
			write(t, settings.ConfigFile, v.config)
			write(t, settings.CAFile, v.ca)
			if err := svc.reload(false); err != nil {
				t.Fatal(err)
			}
			if samples := waitRounds(t, svc, v.target); samples[fmt.Sprintf("squid_probe_success{target=%q}", v.target)] != 1 {
				t.Fatalf("reload %d: the round of %s failed: %v", i, v.target, samples)
			}
		}
	}
	reloads(1, 5) // a pool is open now
	goroutines, fds := runtime.NumGoroutine(), openFDs(t)
	start := time.Now()
	reloads(5, 55)
	took := time.Since(start)
	const tolerance = 4 // a connection being replaced: two goroutines and a descriptor
	afterGoroutines, afterFDs := runtime.NumGoroutine(), openFDs(t)
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline) &&
		(afterGoroutines > goroutines+tolerance || afterFDs > fds+tolerance); time.Sleep(10 * time.Millisecond) {
		afterGoroutines, afterFDs = runtime.NumGoroutine(), openFDs(t) // the old pools' connections close as their rounds end
	}
	t.Logf("50 reloads and rounds in %s: goroutines %d -> %d, open descriptors %d -> %d", took.Round(time.Millisecond),
		goroutines, afterGoroutines, fds, afterFDs)
	if afterGoroutines > goroutines+tolerance || afterFDs > fds+tolerance {
		t.Errorf("goroutines %d -> %d, open descriptors %d -> %d: reloads leak", goroutines, afterGoroutines, fds, afterFDs)
	}
}

// targetYAML is a config of t alone, probed at start and then hourly.
func targetYAML(t *Target) string {
	return fmt.Sprintf("targets:\n- name: %s\n  blob: %s\n  interval: 1h\n  timeout: 20s\n", t.Name, t.Blob)
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("cannot count descriptors: %v", err)
	}
	return len(entries)
}
