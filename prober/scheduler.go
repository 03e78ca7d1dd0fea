package prober

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
)

// Scheduler runs every target's rounds in the background, each on its own
// interval with jitter, and keeps the latest verdicts as metrics. It also
// runs rounds on demand (Handler), which do not change those verdicts.
type Scheduler struct {
	Prober  *Prober
	Targets []Target
	Logger  log.Logger
	// OnDemandEvery is the least time between two on-demand rounds of one
	// target (0: none). Each round adds blob pulls to the traffic metrics,
	// so whoever reaches /probe could otherwise steer the blob hit ratio.
	OnDemandEvery time.Duration

	gateOnce sync.Once
	gate     *gate // bounds the on-demand rounds

	spacingMu  sync.Mutex
	lastDemand map[string]time.Time // target -> start of its last on-demand round

	probeFunc func(context.Context, *Target) *Result // for tests: replaces Prober.Probe

	mu          sync.Mutex
	last        map[string]*Result
	lastSuccess map[string]time.Time
	rounds      map[string]int
	failures    map[string]map[Reason]int
	requests    map[string]int
	hits        map[string]int
}

// Run probes until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range s.Targets {
		t := &s.Targets[i]
		wg.Go(func() { s.loop(ctx, t) })
	}
	wg.Wait()
}

func (s *Scheduler) loop(ctx context.Context, t *Target) {
	// Start soon, but not all targets at once.
	wait := jitter(min(t.Interval, 10*time.Second), 1)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		r := s.probe(ctx, t)
		if ctx.Err() != nil { // shutting down: the round says nothing about the cache
			return
		}
		s.Record(r)
		wait = jitter(t.Interval, 0.1)
	}
}

// jitter returns d, moved by up to ±fraction of itself.
func jitter(d time.Duration, fraction float64) time.Duration {
	return time.Duration(float64(d) * (1 + fraction*(2*rand.Float64()-1)))
}

func (s *Scheduler) probe(ctx context.Context, t *Target) *Result {
	if s.probeFunc != nil {
		return s.probeFunc(ctx, t)
	}
	return s.Prober.Probe(ctx, t)
}

func (s *Scheduler) onDemand() *gate {
	s.gateOnce.Do(func() { s.gate = newGate(OnDemandRounds, OnDemandQueue) })
	return s.gate
}

// Record keeps a background round's verdict and logs a failure.
func (s *Scheduler) Record(r *Result) {
	if !r.Success {
		level.Warn(s.Logger).Log("msg", "probe failed", "target", r.Target, "reason", r.Reason, "err", r.Err, "codes", r.Codes[0]+","+r.Codes[1])
	} else {
		level.Debug(s.Logger).Log("msg", "probe passed", "target", r.Target, "codes", r.Codes[0]+","+r.Codes[1], "duration", r.Total)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	s.last[r.Target] = r
	s.rounds[r.Target]++
	s.requests[r.Target] += r.ProxyRequests
	s.hits[r.Target] += r.ProxyHits
	if r.Success {
		s.lastSuccess[r.Target] = r.Finished
	} else {
		if s.failures[r.Target] == nil {
			s.failures[r.Target] = map[Reason]int{}
		}
		s.failures[r.Target][r.Reason]++
	}
}

// countTraffic adds an on-demand round's requests and hits to the
// counters that let dashboards leave the prober's traffic out of Squid's,
// and nothing else: its verdict is the caller's.
func (s *Scheduler) countTraffic(r *Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	s.requests[r.Target] += r.ProxyRequests
	s.hits[r.Target] += r.ProxyHits
}

// init makes the maps; s.mu is held.
func (s *Scheduler) init() {
	if s.last == nil {
		s.last, s.lastSuccess, s.failures = map[string]*Result{}, map[string]time.Time{}, map[string]map[Reason]int{}
		s.rounds, s.requests, s.hits = map[string]int{}, map[string]int{}, map[string]int{}
	}
}

// Describe sends nothing: an unchecked collector.
func (s *Scheduler) Describe(chan<- *prometheus.Desc) {}

// Collect sends the latest background verdict of every target that has had
// one, the counts of background rounds and failures of every target, and
// the prober's traffic through Squid, on-demand rounds included.
func (s *Scheduler) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.Targets {
		if r := s.last[t.Name]; r != nil {
			r.collect(ch)
		}
		if at, ok := s.lastSuccess[t.Name]; ok {
			ch <- prometheus.MustNewConstMetric(lastSuccessDesc, prometheus.GaugeValue, float64(at.UnixMilli())/1000, t.Name)
		}
		ch <- prometheus.MustNewConstMetric(roundsDesc, prometheus.CounterValue, float64(s.rounds[t.Name]), t.Name)
		ch <- prometheus.MustNewConstMetric(proxyRequestsDesc, prometheus.CounterValue, float64(s.requests[t.Name]), t.Name)
		ch <- prometheus.MustNewConstMetric(proxyHitsDesc, prometheus.CounterValue, float64(s.hits[t.Name]), t.Name)
		for _, reason := range Reasons {
			ch <- prometheus.MustNewConstMetric(failuresDesc, prometheus.CounterValue, float64(s.failures[t.Name][reason]), t.Name, string(reason))
		}
	}
}
