package prober

import (
	"context"
	"reflect"
	"slices"
	"time"
)

// entry is one target of the scheduler's current set: its settings, the
// loop that runs its background rounds, and their verdicts. A reload that
// changes or removes the target stops the entry and makes a new one, so a
// round of the old settings that ends late finds its entry stopped and
// publishes nothing: no verdict outlives its target.
type entry struct {
	target  Target             // never changed: rounds read it without the lock
	cancel  context.CancelFunc // ends its loop; nil while none runs
	stopped bool

	// The verdicts, under Scheduler.mu.
	last           *Result
	lastSuccess    time.Time // zero until a round passes
	rounds         int
	failures       map[Reason]int
	requests, hits int
}

func newEntry(t Target) *entry { return &entry{target: t, failures: map[Reason]int{}} }

// Changes are the names of the targets a SetTargets added, removed and
// changed, each in the config's order (removed: the old config's).
type Changes struct {
	Added, Removed, Changed []string
}

// current is the set, made from Targets on first use; s.mu is held.
func (s *Scheduler) current() []*entry {
	if s.set == nil {
		s.set = make([]*entry, 0, len(s.Targets))
		for _, t := range s.Targets {
			s.set = append(s.set, newEntry(t))
		}
	}
	return s.set
}

// SetTargets makes targets the set that runs, while Run runs or before:
// new targets start as at start-up, removed ones stop and their series
// go, changed ones start over with their new settings, and the others keep
// their verdicts and their schedule.
func (s *Scheduler) SetTargets(targets []Target) Changes {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := map[string]*entry{}
	for _, e := range s.current() {
		old[e.target.Name] = e
	}
	var c Changes
	next := make([]*entry, 0, len(targets))
	for _, t := range targets {
		e, ok := old[t.Name]
		delete(old, t.Name)
		if ok && reflect.DeepEqual(e.target, t) {
			next = append(next, e)
			continue
		}
		if ok {
			c.Changed = append(c.Changed, t.Name)
			e.stop()
		} else {
			c.Added = append(c.Added, t.Name)
		}
		e = newEntry(t)
		s.start(e)
		next = append(next, e)
	}
	for _, e := range s.set {
		if old[e.target.Name] == e {
			c.Removed = append(c.Removed, e.target.Name)
			e.stop()
		}
	}
	s.set = next
	s.forgetDemand(c.Removed)
	return c
}

// stop ends the entry's loop, and its verdicts with it; Scheduler.mu is
// held.
func (e *entry) stop() {
	e.stopped = true
	if e.cancel != nil {
		e.cancel()
	}
}

// lookup is the current entry of the named target, or nil.
func (s *Scheduler) lookup(name string) *entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.current(), func(e *entry) bool { return e.target.Name == name })
	if i < 0 {
		return nil
	}
	return s.set[i]
}

// targets are the current set's targets, in the config's order.
func (s *Scheduler) targets() []Target {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Target, len(s.current()))
	for i, e := range s.set {
		out[i] = e.target
	}
	return out
}

// names are the current targets' names, in the config's order.
func (s *Scheduler) names() []string {
	targets := s.targets()
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.Name
	}
	return names
}
