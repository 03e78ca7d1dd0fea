package prober

import "time"

// Verdict is a target's latest background verdict, for people: the status
// page shows it beside the metrics that carry the same facts.
type Verdict struct {
	Target      string
	Ran         bool // a background round has ended; the rest is zero until then
	Success     bool
	Reason      Reason
	Err         string // redacted when the round recorded it
	Codes       [2]string
	Finished    time.Time
	LastSuccess time.Time
}

// Verdicts are the current targets' latest background verdicts, in the
// config's order.
func (s *Service) Verdicts() []Verdict { return s.scheduler.verdicts() }

func (s *Scheduler) verdicts() []Verdict {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Verdict
	for _, e := range s.current() {
		v := Verdict{Target: e.target.Name, LastSuccess: e.lastSuccess}
		if r := e.last; r != nil {
			v.Ran, v.Success, v.Reason, v.Codes, v.Finished = true, r.Success, r.Reason, r.Codes, r.Finished
			if r.Err != nil {
				v.Err = r.Err.Error()
			}
		}
		out = append(out, v)
	}
	return out
}
