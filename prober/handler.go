package prober

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/scrape"
)

// Handler serves /probe?target=NAME, as blackbox_exporter does: it runs one
// round now, through this replica's Squid and against its log, and answers
// with that round's metrics. With debug=true it answers with the verdict for
// people instead: its first word is PASS or FAIL.
//
// An on-demand round changes none of the verdicts on /metrics, which come
// from the background rounds that alerts read; it only adds its requests to
// squid_probe_proxy_requests_total and _hits_total, which must count all of
// the prober's traffic. A round the caller's deadline cuts short is the
// caller's problem (503 or 504), never a cache failure; a caller that
// leaves a round too little time is refused (400); and when OnDemandRounds
// run and OnDemandQueue wait, or no round frees up in time, the answer is
// 429 with Retry-After.
func (s *Scheduler) Handler() http.Handler {
	return http.HandlerFunc(s.serveProbe)
}

func (s *Scheduler) serveProbe(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("target")
	e := s.lookup(name)
	if e == nil {
		http.Error(w, fmt.Sprintf("unknown target %q; see /probe/targets", name), http.StatusBadRequest)
		return
	}
	t := &e.target
	budget, fromCaller := callerBudget(r, t)
	need := min(MinOnDemandTimeout, t.Timeout)
	if fromCaller && budget < need {
		http.Error(w, fmt.Sprintf("the scrape timeout leaves %s for the round, and a round of %q needs at least %s: raise scrape_timeout",
			budget, t.Name, need), http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	if fromCaller {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, budget)
		defer cancel()
	}
	if err := s.spaced(t, time.Now()); err != nil {
		refuse(w, err)
		return
	}
	release, err := s.onDemand().enter(ctx, time.Now().Add(budget-need))
	if err != nil {
		refuse(w, err)
		return
	}
	defer release()
	result := s.probe(ctx, t)
	s.countTraffic(e, result)
	// A round the caller ended early reports a timeout; other verdicts
	// were reached before the end, and stand.
	if result.Reason == ReasonTimeout && ctx.Err() != nil {
		s.cutShort(w, t, ctx.Err(), budget)
		return
	}
	level.Debug(s.Logger).Log("msg", "on-demand probe", "target", t.Name, "success", result.Success, "reason", result.Reason, "err", result.Err)
	answer(w, r, result)
}

// callerBudget is the time the caller gives a round: its scrape timeout,
// less a margin to answer in, when that is shorter than the target's own.
func callerBudget(r *http.Request, t *Target) (budget time.Duration, fromCaller bool) {
	budget = scrape.Timeout(r, t.Timeout)
	return budget, budget < t.Timeout
}

// retryAfter is what a turned-away caller is told to wait, in seconds: a
// round takes well under that when Squid is healthy.
const retryAfter = "1"

// refuse answers a request whose round could not start.
func refuse(w http.ResponseWriter, err error) {
	var soon errTooSoon
	if errors.As(err, &soon) {
		w.Header().Set("Retry-After", fmt.Sprint(int(soon.wait.Seconds())+1))
		http.Error(w, err.Error(), http.StatusTooManyRequests)
		return
	}
	if errors.Is(err, errQueueFull) || errors.Is(err, errNoSlot) {
		w.Header().Set("Retry-After", retryAfter)
		http.Error(w, fmt.Sprintf("%v (%d run at once, %d may wait): try again later", err, OnDemandRounds, OnDemandQueue),
			http.StatusTooManyRequests)
		return
	}
	http.Error(w, "the request ended before its round could start", http.StatusServiceUnavailable)
}

// cutShort answers a round that the caller's deadline or cancellation
// ended. Its verdict says nothing about the cache, so it is not answered.
func (s *Scheduler) cutShort(w http.ResponseWriter, t *Target, err error, budget time.Duration) {
	level.Debug(s.Logger).Log("msg", "on-demand probe cut short by its caller", "target", t.Name, "err", err)
	if errors.Is(err, context.DeadlineExceeded) {
		http.Error(w, fmt.Sprintf("the round of %q did not finish within the %s the scrape timeout left it (the target allows %s); "+
			"this is not a verdict on the cache: raise scrape_timeout", t.Name, budget, t.Timeout), http.StatusGatewayTimeout)
		return
	}
	http.Error(w, fmt.Sprintf("the request ended before the round of %q finished; this is not a verdict on the cache", t.Name),
		http.StatusServiceUnavailable)
}

// answer sends one round's metrics, or with debug=true its verdict for
// people.
func answer(w http.ResponseWriter, r *http.Request, result *Result) {
	if r.URL.Query().Get("debug") == "true" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, result)
		return
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(roundCollector{result})
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

// TargetsHandler lists the target names as JSON, for the one-shot probe.
func (s *Scheduler) TargetsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s.names())
	})
}
