package prober

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/promtest"
)

func TestProbeHandler(t *testing.T) {
	l := newLab(t, "")
	target := *l.target("public", l.Quay.Public, "ubi9/ubi", false)
	s := &Scheduler{Prober: l.prober, Targets: []Target{target}, Logger: log.NewNopLogger()}
	mux := http.NewServeMux()
	mux.Handle("/probe", s.Handler())
	mux.Handle("/probe/targets", s.TargetsHandler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	samples, _ := promtest.Scrape(t, srv.URL+"/probe?target=public")
	if samples[`squid_probe_success{target="public"}`] != 1 || samples[`squid_probe_cache_result{code="TCP_MEM_HIT",pull="second",target="public"}`] != 1 {
		t.Errorf("passing round: %v", samples)
	}
	if body := promtest.Get(t, srv.URL+"/probe/targets"); strings.TrimSpace(body) != `["public"]` {
		t.Errorf("targets: %s", body)
	}

	// A hung Squid and a caller's deadline: the caller's problem, not a
	// verdict.
	l.Squid.Pause()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/probe?target=public", nil)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "1.6")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("hung Squid, short scrape timeout: %s", resp.Status)
	}
	l.Squid.Resume()

	l.Squid.Stop() // the exporter keeps serving, and says why the probe fails
	samples, _ = promtest.Scrape(t, srv.URL+"/probe?target=public")
	if samples[`squid_probe_success{target="public"}`] != 0 || samples[`squid_probe_failure{reason="proxy_unreachable",target="public"}`] != 1 {
		t.Errorf("failing round: %v", samples)
	}
	if body := promtest.Get(t, srv.URL+"/probe?target=public&debug=true"); !strings.HasPrefix(body, "FAIL public: proxy_unreachable") {
		t.Errorf("debug: %s", body)
	}
	resp, _ = http.Get(srv.URL + "/probe?target=nope")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown target: %s", resp.Status)
	}

	// /metrics shows the background rounds' verdicts, and there were none;
	// but the prober's traffic through Squid counts every round.
	samples = scrapeScheduler(t, s)
	if samples.Has(`squid_probe_success{target="public"}`) || samples[`squid_probe_rounds_total{target="public"}`] != 0 ||
		samples[`squid_probe_failures_total{reason="proxy_unreachable",target="public"}`] != 0 ||
		samples[`squid_probe_failures_total{reason="timeout",target="public"}`] != 0 ||
		samples[`squid_probe_proxy_requests_total{target="public"}`] < 3 || samples[`squid_probe_proxy_hits_total{target="public"}`] != 1 {
		t.Errorf("scheduler metrics: %v", samples)
	}
}

// scrapeScheduler scrapes a Scheduler, or a Service.
func scrapeScheduler(t *testing.T, c prometheus.Collector) promtest.Samples {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	metrics := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer metrics.Close()
	samples, _ := promtest.Scrape(t, metrics.URL)
	return samples
}

// heldRounds stands in for the prober: each round starts, says so, and
// ends when the test releases it (passing) or its context ends (a
// timeout, as the prober reports one).
type heldRounds struct {
	started chan struct{}
	release chan struct{}
}

func newHeldRounds() *heldRounds {
	return &heldRounds{started: make(chan struct{}, 100), release: make(chan struct{})}
}

func (h *heldRounds) probe(ctx context.Context, t *Target) *Result {
	h.started <- struct{}{}
	select {
	case <-h.release:
		return &Result{Target: t.Name, Success: true, ProxyRequests: 4, ProxyHits: 1, Codes: [2]string{"TCP_MISS", "TCP_MEM_HIT"}}
	case <-ctx.Done():
		r := &Result{Target: t.Name, ProxyRequests: 2}
		return r.fail(ReasonTimeout, ctx.Err())
	}
}

// heldScheduler serves one target, "held", whose rounds probe runs.
func heldScheduler(probe func(context.Context, *Target) *Result) *Scheduler {
	t := Target{Name: "held", Blob: "quay.test/org/x@sha256:" + strings.Repeat("0", 64), HitCodes: DefaultHitCodes,
		Interval: time.Minute, Timeout: 10 * time.Second}
	return &Scheduler{Targets: []Target{t}, Logger: log.NewNopLogger(), probeFunc: probe}
}

// ask sends /probe?target=held to s, with a scrape timeout when it is not 0.
func ask(ctx context.Context, s *Scheduler, scrapeTimeout string) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/probe?target=held&debug=true", nil)
	if scrapeTimeout != "" {
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", scrapeTimeout)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec
}

// askAsync is ask in the background; the answer comes on the channel.
func askAsync(s *Scheduler, scrapeTimeout string) <-chan *httptest.ResponseRecorder {
	ch := make(chan *httptest.ResponseRecorder, 1)
	go func() { ch <- ask(context.Background(), s, scrapeTimeout) }()
	return ch
}

// admitted reports, within 5s, whether n requests are running or waiting.
func admitted(s *Scheduler, n int) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); runtime.Gosched() {
		if len(s.onDemand().admitted) == n {
			return true
		}
	}
	return false
}

// At most OnDemandRounds rounds run at once, OnDemandQueue more wait, and
// the rest are turned away at once with 429.
func TestProbeHandlerBoundsRoundsAtOnce(t *testing.T) {
	h := newHeldRounds()
	s := heldScheduler(h.probe)
	var answers []<-chan *httptest.ResponseRecorder
	for range OnDemandRounds {
		answers = append(answers, askAsync(s, ""))
		<-h.started
	}
	for range OnDemandQueue {
		answers = append(answers, askAsync(s, ""))
	}
	if !admitted(s, OnDemandRounds+OnDemandQueue) {
		t.Fatal("the requests were not all admitted")
	}

	rec := ask(context.Background(), s, "")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Errorf("over the limit: %d, Retry-After %q: %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	select {
	case <-h.started:
		t.Fatal("a round started beyond the limit")
	default:
	}
	close(h.release) // every round passes; the waiting ones run in turn
	for _, ch := range answers {
		if rec := <-ch; rec.Code != http.StatusOK || !strings.HasPrefix(rec.Body.String(), "PASS held") {
			t.Errorf("admitted request: %d %s", rec.Code, rec.Body)
		}
	}
	if !admitted(s, 0) {
		t.Error("answered requests still hold their places")
	}
}

// Every way a caller's request can end without a verdict on the cache
// leaves the background verdicts, rounds and failures alone.
func TestProbeHandlerCallersDeadline(t *testing.T) {
	tests := []struct {
		name          string
		busy          bool   // OnDemandRounds rounds hold every slot
		scrapeTimeout string // X-Prometheus-Scrape-Timeout-Seconds
		cancel        bool   // the caller goes away
		wantCode      int
		wantBody      string
		wantRound     bool // a round ran (and its traffic counts)
	}{
		{name: "too short to run a round", scrapeTimeout: "0.3",
			wantCode: http.StatusBadRequest, wantBody: "needs at least 1s: raise scrape_timeout"},
		{name: "deadline ends the round", scrapeTimeout: "1.6",
			wantCode: http.StatusGatewayTimeout, wantBody: "this is not a verdict on the cache", wantRound: true},
		{name: "no slot frees up in time", busy: true, scrapeTimeout: "2",
			wantCode: http.StatusTooManyRequests, wantBody: "no on-demand round came free in time"},
		{name: "caller gone while waiting", busy: true, cancel: true,
			wantCode: http.StatusServiceUnavailable, wantBody: "ended before its round could start"},
		{name: "caller gone during the round", cancel: true,
			wantCode: http.StatusServiceUnavailable, wantBody: "this is not a verdict on the cache", wantRound: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHeldRounds()
			s := heldScheduler(h.probe)
			s.Record(&Result{Target: "held", Success: true, Finished: time.Now()}) // a background verdict
			var busy sync.WaitGroup
			if tt.busy {
				for range OnDemandRounds {
					busy.Go(func() { ask(context.Background(), s, "") })
					<-h.started
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			if tt.cancel {
				go func() {
					if !tt.busy {
						<-h.started
					} else {
						admitted(s, OnDemandRounds+1)
					}
					cancel()
				}()
			}
			rec := ask(ctx, s, tt.scrapeTimeout)
			cancel()
			if rec.Code != tt.wantCode || !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("answer %d %q, want %d and %q", rec.Code, rec.Body, tt.wantCode, tt.wantBody)
			}
			close(h.release)
			busy.Wait()

			samples := scrapeScheduler(t, s)
			for _, reason := range Reasons {
				if n := samples[fmt.Sprintf(`squid_probe_failures_total{reason=%q,target="held"}`, reason)]; n != 0 {
					t.Errorf("counted as a %s failure", reason)
				}
			}
			if samples[`squid_probe_success{target="held"}`] != 1 || samples[`squid_probe_rounds_total{target="held"}`] != 1 {
				t.Errorf("the background verdict changed: %v", samples)
			}
			// The busy rounds passed with 4 requests each; a cut-short
			// one sent 2.
			want := 4 * OnDemandRounds * boolInt(tt.busy)
			if tt.wantRound {
				want += 2
			}
			if got := samples[`squid_probe_proxy_requests_total{target="held"}`]; got != float64(want) {
				t.Errorf("proxy requests %v, want %d", got, want)
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// An on-demand round's verdict, pass or fail, is the caller's alone: the
// verdict on /metrics is the last background round's.
func TestProbeHandlerLeavesBackgroundVerdicts(t *testing.T) {
	for _, background := range []*Result{
		{Target: "held", Success: true, Codes: [2]string{"TCP_MISS", "TCP_MEM_HIT"}, Hit: true},
		(&Result{Target: "held", Codes: [2]string{"TCP_MISS", "TCP_MISS"}}).fail(ReasonNotCached, errors.New("second pull was TCP_MISS")),
	} {
		t.Run(fmt.Sprintf("background success %t", background.Success), func(t *testing.T) {
			s := heldScheduler(func(_ context.Context, t *Target) *Result {
				r := &Result{Target: t.Name, Success: !background.Success, ProxyRequests: 3}
				if background.Success {
					r.fail(ReasonDigestMismatch, errors.New("poisoned"))
				}
				return r
			})
			s.Record(background)
			if rec := ask(context.Background(), s, ""); rec.Code != http.StatusOK {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			samples := scrapeScheduler(t, s)
			if samples[`squid_probe_success{target="held"}`] != boolFloat(background.Success) ||
				samples[`squid_probe_failures_total{reason="digest_mismatch",target="held"}`] != 0 ||
				samples[`squid_probe_proxy_requests_total{target="held"}`] != 3 {
				t.Errorf("metrics after an on-demand round: %v", samples)
			}
		})
	}
}

// A target's on-demand rounds are spaced: whoever reaches /probe cannot
// pile pulls into the traffic metrics. The next one is told when to come.
func TestOnDemandRoundsAreSpaced(t *testing.T) {
	rounds := 0
	s := heldScheduler(func(_ context.Context, t *Target) *Result {
		rounds++
		return &Result{Target: t.Name, Success: true}
	})
	s.OnDemandEvery = time.Minute
	if rec := ask(context.Background(), s, ""); rec.Code != http.StatusOK {
		t.Fatalf("first round: %d %s", rec.Code, rec.Body)
	}
	rec := ask(context.Background(), s, "")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" || rounds != 1 {
		t.Errorf("a second round at once: %d, Retry-After %q, %d rounds run", rec.Code, rec.Header().Get("Retry-After"), rounds)
	}
	s.lastDemand["held"] = time.Now().Add(-time.Minute)
	if rec := ask(context.Background(), s, ""); rec.Code != http.StatusOK || rounds != 2 {
		t.Errorf("a minute later: %d, %d rounds", rec.Code, rounds)
	}
}
