package prober

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Limits on the rounds /probe runs on demand. Each round is two pulls
// through Squid; without a bound, anyone who can reach /probe could make
// the sidecar load Squid and the registry as fast as they can ask.
const (
	OnDemandRounds = 2 // on-demand rounds that run at once
	OnDemandQueue  = 4 // requests that may wait for one of them; more are turned away
	// MinOnDemandTimeout is the least time a caller's scrape timeout must
	// leave a round (or the target's own timeout, if shorter): less than a
	// round plausibly needs would only measure the caller's impatience.
	MinOnDemandTimeout = time.Second
)

var (
	errQueueFull = errors.New("too many on-demand rounds are running or waiting")
	errNoSlot    = errors.New("no on-demand round came free in time for the scrape timeout")
)

// gate admits at most OnDemandRounds rounds at once, and lets at most
// OnDemandQueue more wait.
type gate struct {
	admitted chan struct{} // running or waiting
	running  chan struct{}
}

func newGate(rounds, queue int) *gate {
	return &gate{admitted: make(chan struct{}, rounds+queue), running: make(chan struct{}, rounds)}
}

// enter waits for a round's turn until by, or until ctx ends. On success
// the caller must call release when its round is over.
func (g *gate) enter(ctx context.Context, by time.Time) (release func(), err error) {
	select {
	case g.admitted <- struct{}{}:
	default:
		return nil, errQueueFull
	}
	if err := g.wait(ctx, by); err != nil {
		<-g.admitted
		return nil, err
	}
	return func() { <-g.running; <-g.admitted }, nil
}

func (g *gate) wait(ctx context.Context, by time.Time) error {
	select { // a free slot is taken even when by has passed
	case g.running <- struct{}{}:
		return nil
	default:
	}
	timer := time.NewTimer(time.Until(by))
	defer timer.Stop()
	select {
	case g.running <- struct{}{}:
		return nil
	case <-timer.C:
		return errNoSlot
	case <-ctx.Done():
		return ctx.Err()
	}
}

// errTooSoon says a target's last on-demand round is too recent.
type errTooSoon struct{ wait time.Duration }

func (e errTooSoon) Error() string {
	return fmt.Sprintf("an on-demand round of this target ran less than the spacing ago; try again in %s", e.wait.Round(time.Second))
}

// spaced claims the target's next on-demand round now, or says how long
// until it may run.
func (s *Scheduler) spaced(t *Target, now time.Time) error {
	if s.OnDemandEvery <= 0 {
		return nil
	}
	s.spacingMu.Lock()
	defer s.spacingMu.Unlock()
	if last, ok := s.lastDemand[t.Name]; ok && now.Sub(last) < s.OnDemandEvery {
		return errTooSoon{s.OnDemandEvery - now.Sub(last)}
	}
	if s.lastDemand == nil {
		s.lastDemand = map[string]time.Time{}
	}
	s.lastDemand[t.Name] = now
	return nil
}

// forgetDemand drops the spacing of targets that are gone.
func (s *Scheduler) forgetDemand(names []string) {
	s.spacingMu.Lock()
	defer s.spacingMu.Unlock()
	for _, name := range names {
		delete(s.lastDemand, name)
	}
}
