package prober

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// A round of a target that a reload changed or removed may finish, but
// publishes nothing: no verdict, no round, no traffic in the new set.
func TestRoundsOfOldTargetsPublishNothing(t *testing.T) {
	tests := []struct {
		name     string
		onDemand bool // the round is /probe's, not the background's
		remove   bool // the reload removes the target, rather than change it
	}{
		{"background round, target changed", false, false},
		{"background round, target removed", false, true},
		{"on-demand round, target changed", true, false},
		{"on-demand round, target removed", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			started, release := make(chan struct{}, 10), make(chan struct{})
			// Rounds end when released, whatever their context says.
			s := heldScheduler(func(_ context.Context, t *Target) *Result {
				started <- struct{}{}
				<-release
				return &Result{Target: t.Name, Success: true, ProxyRequests: 4, ProxyHits: 1}
			})
			old := s.Targets[0]
			// Only the old settings' loop runs a round during the test.
			s.firstWait = func(t *Target) time.Duration {
				if t.Interval == old.Interval {
					return 0
				}
				return time.Hour
			}
			var answer <-chan *httptest.ResponseRecorder
			var stop func() // returns once every round has ended
			if tt.onDemand {
				answer = askAsync(s, "")
				stop = func() {
					if rec := <-answer; rec.Code != http.StatusOK {
						t.Errorf("the on-demand round: %d %s", rec.Code, rec.Body)
					}
				}
			} else {
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { s.Run(ctx); close(done) }()
				stop = func() { cancel(); <-done }
			}
			<-started

			changed := old
			changed.Interval = 2 * old.Interval
			next := []Target{changed}
			if tt.remove {
				next = []Target{{Name: "other", Blob: old.Blob, HitCodes: DefaultHitCodes, Interval: time.Hour, Timeout: time.Minute}}
			}
			s.SetTargets(next)
			close(release)
			stop()

			samples := scrapeScheduler(t, s)
			switch {
			case tt.remove && hasTarget(samples, "held"):
				t.Errorf("series of a removed target: %v", samples)
			case !tt.remove && (samples[roundsOf("held")] != 0 || samples.Has(`squid_probe_success{target="held"}`) ||
				samples[`squid_probe_proxy_requests_total{target="held"}`] != 0):
				t.Errorf("the old settings' round reached the new target's series: %v", samples)
			}
		})
	}
}
