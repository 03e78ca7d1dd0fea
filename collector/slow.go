package collector

import (
	"slices"
	"sync"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/squid-cache-exporter/squid-cache-exporter/cachemgr"
)

// Squid answers the cache manager on the event loop that serves its
// clients, and most of a report's cost is the request itself, whatever the
// report (docs/performance.md). The reports other than counters change
// slowly: info's are sizes, counts and averages over 5 and 60 minutes,
// service_times' percentiles are over the same windows, storedir's are
// sizes, and store_id's helper statistics feed alerts over minutes. So
// they are read at most once per --collector.slow-interval, and each
// scrape in between exports their last reading, with its age in
// squid_exporter_report_age_seconds. Counters are read at every scrape.

// DefaultSlowInterval is --collector.slow-interval's default: the
// chart's 30 s scrapes read the slow reports at every sixth.
const DefaultSlowInterval = 3 * time.Minute

var slowInterval = kingpin.Flag("collector.slow-interval",
	"Read the cache manager reports other than counters at most once per this interval, and export their last "+
		"reading in between, with its age (squid_exporter_report_age_seconds); 0 reads every report at every scrape. "+
		"Squid serves no client while it answers a report.").Default("3m").Duration() // DefaultSlowInterval

// A reading is what one read of a report gave: its metrics, or its error.
type reading struct {
	report   string
	metrics  []prometheus.Metric
	memory   *cachemgr.MemoryCache // the memory cache's size, when the report shows it
	cpu      float64               // counters: Squid's CPU seconds
	at       time.Time             // when the read ended
	duration time.Duration
	err      error
}

func reportsOf(readings []reading) []string {
	names := make([]string, len(readings))
	for i, r := range readings {
		names[i] = r.report
	}
	return names
}

// cpuOf is Squid's CPU time, when rc read the counters.
func cpuOf(rc reportCollector) float64 {
	if c, ok := rc.(*countersCollector); ok {
		return c.cpuSeconds
	}
	return 0
}

// slowReports keeps the last successful reading of each slow report. A
// failed read is kept by no one: the next scrape reads that report again,
// so a failure shows as long as it lasts.
type slowReports struct {
	interval time.Duration
	mu       sync.Mutex
	last     map[string]reading
	cpu      float64 // Squid's CPU seconds at the last counters reading
}

func newSlowReports(interval time.Duration) *slowReports {
	return &slowReports{interval: interval, last: map[string]reading{}}
}

// plan splits reports into those to read now and the readings to reuse:
// a slow report's reading younger than the interval.
func (s *slowReports) plan(reports []string, now time.Time) (due []string, kept []reading) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, report := range reports {
		if r, ok := s.last[report]; ok && report != countersReport && now.Sub(r.at) < s.interval {
			kept = append(kept, r)
			continue
		}
		due = append(due, report)
	}
	return due, kept
}

// sameSquid says whether the counters just read show the Squid whose
// readings are kept: read, and with a CPU time no lower than the last one
// (a restarted Squid starts from 0). Without counters it cannot tell, and
// the readings age out by the interval alone.
func (s *slowReports) sameSquid(got []reading, counters bool) bool {
	if !counters {
		return true
	}
	i := slices.IndexFunc(got, func(r reading) bool { return r.report == countersReport })
	if i < 0 || got[i].err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return got[i].cpu >= s.cpu
}

// remember keeps the slow reports' successful readings, forgets the failed
// ones, and notes the counters' CPU time.
func (s *slowReports) remember(got []reading) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range got {
		switch {
		case r.report == countersReport:
			if r.err == nil {
				s.cpu = r.cpu
			}
		case r.err == nil && s.interval > 0:
			s.last[r.report] = r
		default:
			delete(s.last, r.report)
		}
	}
}
