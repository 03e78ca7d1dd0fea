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
	Prober *Prober
	// Targets are the targets the scheduler starts with. SetTargets
	// replaces the set later, and leaves this field as it was.
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
	firstWait func(*Target) time.Duration            // for tests: replaces the wait before a target's first round

	mu  sync.Mutex
	set []*entry // the targets that run, with their verdicts: see targetset.go
	run *run     // the Run under way, or nil
}

// run is a Run under way: the loops it starts end with its context.
type run struct {
	ctx   context.Context
	loops sync.WaitGroup
}

// Run probes until ctx ends: the current targets, and those SetTargets
// adds while it runs.
func (s *Scheduler) Run(ctx context.Context) {
	r := &run{ctx: ctx}
	s.mu.Lock()
	s.run = r
	for _, e := range s.current() {
		s.start(e)
	}
	s.mu.Unlock()
	<-ctx.Done()
	s.mu.Lock()
	s.run = nil // no loop starts after this
	s.mu.Unlock()
	r.loops.Wait()
}

// start runs e's loop, when Run runs; s.mu is held.
func (s *Scheduler) start(e *entry) {
	r := s.run
	if r == nil {
		return
	}
	ctx, cancel := context.WithCancel(r.ctx)
	e.cancel = cancel
	r.loops.Go(func() { s.loop(ctx, e) })
}

func (s *Scheduler) loop(ctx context.Context, e *entry) {
	t := &e.target
	wait := s.startWait(t)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		r := s.probe(ctx, t)
		if ctx.Err() != nil { // shutting down, or the target changed: the round says nothing about the cache
			return
		}
		s.record(e, r)
		wait = jitter(t.Interval, 0.1)
	}
}

// startWait is the wait before a target's first round: soon, but not all
// targets at once.
func (s *Scheduler) startWait(t *Target) time.Duration {
	if s.firstWait != nil {
		return s.firstWait(t)
	}
	return jitter(min(t.Interval, 10*time.Second), 1)
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

// Record keeps a background round's verdict of a current target, and logs
// a failure.
func (s *Scheduler) Record(r *Result) {
	if e := s.lookup(r.Target); e != nil {
		s.record(e, r)
	}
}

// record keeps r as e's verdict, unless e has stopped.
func (s *Scheduler) record(e *entry, r *Result) {
	s.mu.Lock()
	recorded := !e.stopped
	if recorded {
		e.last = r
		e.rounds++
		e.requests += r.ProxyRequests
		e.hits += r.ProxyHits
		if r.Success {
			e.lastSuccess = r.Finished
		} else {
			e.failures[r.Reason]++
		}
	}
	s.mu.Unlock()
	switch {
	case !recorded:
	case !r.Success:
		level.Warn(s.Logger).Log("msg", "probe failed", "target", r.Target, "reason", r.Reason, "err", r.Err, "codes", r.Codes[0]+","+r.Codes[1])
	default:
		level.Debug(s.Logger).Log("msg", "probe passed", "target", r.Target, "codes", r.Codes[0]+","+r.Codes[1], "duration", r.Total)
	}
}

// countTraffic adds an on-demand round's requests and hits to the
// counters that let dashboards leave the prober's traffic out of Squid's,
// and nothing else: its verdict is the caller's. A round of a target that
// has changed or gone since counts nowhere.
func (s *Scheduler) countTraffic(e *entry, r *Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !e.stopped {
		e.requests += r.ProxyRequests
		e.hits += r.ProxyHits
	}
}

// Describe sends nothing: an unchecked collector.
func (s *Scheduler) Describe(chan<- *prometheus.Desc) {}

// Collect sends the latest background verdict of every current target
// that has had one, the counts of background rounds and failures of every
// current target, and the prober's traffic through Squid, on-demand rounds
// included.
func (s *Scheduler) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.current() {
		name := e.target.Name
		if e.last != nil {
			e.last.collect(ch)
		}
		if !e.lastSuccess.IsZero() {
			ch <- prometheus.MustNewConstMetric(lastSuccessDesc, prometheus.GaugeValue, float64(e.lastSuccess.UnixMilli())/1000, name)
		}
		ch <- prometheus.MustNewConstMetric(roundsDesc, prometheus.CounterValue, float64(e.rounds), name)
		ch <- prometheus.MustNewConstMetric(proxyRequestsDesc, prometheus.CounterValue, float64(e.requests), name)
		ch <- prometheus.MustNewConstMetric(proxyHitsDesc, prometheus.CounterValue, float64(e.hits), name)
		for _, reason := range Reasons {
			ch <- prometheus.MustNewConstMetric(failuresDesc, prometheus.CounterValue, float64(e.failures[reason]), name, string(reason))
		}
	}
}
