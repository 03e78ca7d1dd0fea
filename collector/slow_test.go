package collector

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// countingManager serves Squid 5.7's reports, which a test may change or
// break, and counts the requests for each.
type countingManager struct {
	mu       sync.Mutex
	bodies   map[string][]byte
	broken   map[string]bool // answered 500
	requests map[string]int
}

func newCountingManager(t *testing.T) (*countingManager, string) {
	m := &countingManager{bodies: map[string][]byte{}, broken: map[string]bool{}, requests: map[string]int{}}
	for _, r := range allReports {
		b, err := os.ReadFile(filepath.Join("testdata", "squid-5.7-"+r+".txt"))
		if err != nil {
			t.Fatal(err)
		}
		m.bodies[r] = b
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		action := strings.TrimPrefix(r.URL.Path, "/squid-internal-mgr/")
		m.mu.Lock()
		defer m.mu.Unlock()
		m.requests[action]++
		if m.broken[action] {
			http.Error(w, "broken", http.StatusInternalServerError)
			return
		}
		w.Write(m.bodies[action])
	}))
	t.Cleanup(srv.Close)
	return m, srv.URL
}

// take returns the requests counted since the last take.
func (m *countingManager) take() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	got := m.requests
	m.requests = map[string]int{}
	return got
}

func (m *countingManager) edit(report, old, new string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bodies[report] = bytes.Replace(m.bodies[report], []byte(old), []byte(new), 1)
}

func (m *countingManager) breakReport(report string, broken bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.broken[report] = broken
}

// gather scrapes once and returns each sample by its name and labels.
func gather(t *testing.T, squid *Squid) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(squid.Scrape(context.Background()))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	samples := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			samples[mf.GetName()+labelText(m)] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return samples
}

func labelText(m *dto.Metric) string {
	if len(m.GetLabel()) == 0 {
		return ""
	}
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// ageReadings makes every kept reading older by d, as time passing would.
func (s *Squid) ageReadings(d time.Duration) {
	s.slow.mu.Lock()
	defer s.slow.mu.Unlock()
	for name, r := range s.slow.last {
		r.at = r.at.Add(-d)
		s.slow.last[name] = r
	}
}

func every(reports []string, n int) map[string]int {
	m := map[string]int{}
	for _, r := range reports {
		m[r] = n
	}
	return m
}

func sameCounts(got, want map[string]int) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// Counters are read at every scrape; the other reports once per interval,
// their last reading exported in between, with its age. A failed read is
// not kept; a Squid that restarted or cannot be read has every report read
// again in the same scrape, so no reading of a Squid that is gone is shown.
func TestSlowReports(t *testing.T) {
	const interval = time.Hour
	tests := []struct {
		name   string
		change func(m *countingManager, s *Squid)
		// want: the requests of the second scrape.
		want  map[string]int
		check func(t *testing.T, samples map[string]float64)
		// after, when set, goes on from the second scrape.
		after func(t *testing.T, m *countingManager, s *Squid)
	}{
		{
			name: "within the interval: counters only, the rest from the first scrape",
			want: map[string]int{"counters": 1},
			check: func(t *testing.T, s map[string]float64) {
				// Values of the first reading, while Squid now says otherwise.
				if s["squid_uptime_seconds"] != 372.2 || s["squid_up"] != 1 {
					t.Errorf("uptime %v, up %v: want the first reading's 372.2 and up 1", s["squid_uptime_seconds"], s["squid_up"])
				}
				if s["squid_exporter_report_age_seconds{report=info}"] < 30*60 {
					t.Errorf("info's age %v, want the half hour it was aged by", s["squid_exporter_report_age_seconds{report=info}"])
				}
				if s["squid_exporter_report_age_seconds{report=counters}"] > 5 {
					t.Errorf("counters' age %v, want about 0: read by this scrape", s["squid_exporter_report_age_seconds{report=counters}"])
				}
				if s["squid_client_http_requests_total"] != 4242 {
					t.Errorf("client requests %v, want this scrape's 4242", s["squid_client_http_requests_total"])
				}
			},
		},
		{
			name:   "the interval over: every report again",
			change: func(_ *countingManager, s *Squid) { s.ageReadings(interval) },
			want:   every(allReports, 1),
			check: func(t *testing.T, s map[string]float64) {
				if s["squid_uptime_seconds"] != 999 {
					t.Errorf("uptime %v, want the new reading's 999", s["squid_uptime_seconds"])
				}
			},
		},
		{
			name: "a failed read is not kept: read again at the next scrape",
			change: func(m *countingManager, s *Squid) {
				s.ageReadings(interval)
				m.breakReport("storedir", true)
			},
			want: every(allReports, 1),
			check: func(t *testing.T, s map[string]float64) {
				if s["squid_exporter_report_success{report=storedir}"] != 0 || s["squid_up"] != 0 {
					t.Errorf("storedir success %v, up %v after a failed read: want 0, 0",
						s["squid_exporter_report_success{report=storedir}"], s["squid_up"])
				}
				if _, ok := s["squid_cache_disk_used_bytes"]; ok {
					t.Error("storedir's last good reading is still shown after a failed read")
				}
			},
			after: func(t *testing.T, m *countingManager, s *Squid) {
				m.breakReport("storedir", false)
				gather(t, s)
				if got := m.take(); !sameCounts(got, map[string]int{"counters": 1, "storedir": 1}) {
					t.Errorf("the scrape after a failed storedir asked for %v, want counters and storedir", got)
				}
			},
		},
		{
			name: "Squid restarted: every report again, in the same scrape",
			change: func(m *countingManager, _ *Squid) {
				m.edit("counters", "cpu_time = 0.849200", "cpu_time = 0.100000")
			},
			want: every(allReports, 1),
			check: func(t *testing.T, s map[string]float64) {
				if s["squid_uptime_seconds"] != 999 {
					t.Errorf("uptime %v, want the restarted Squid's 999", s["squid_uptime_seconds"])
				}
			},
		},
		{
			name: "Squid down: every report tried, none shown",
			change: func(m *countingManager, _ *Squid) {
				for _, r := range allReports {
					m.breakReport(r, true)
				}
			},
			want: every(allReports, 1),
			check: func(t *testing.T, s map[string]float64) {
				if _, ok := s["squid_uptime_seconds"]; ok || s["squid_up"] != 0 {
					t.Errorf("uptime %v shown, up %v: want no reading and up 0", s["squid_uptime_seconds"], s["squid_up"])
				}
				if _, ok := s["squid_exporter_report_age_seconds{report=info}"]; ok {
					t.Error("info has an age, but no reading")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, url := newCountingManager(t)
			squid := newSquid(t, url, Config{Reports: allReports, SlowInterval: interval})
			gather(t, squid)
			if got := m.take(); !sameCounts(got, every(allReports, 1)) {
				t.Fatalf("first scrape asked for %v, want every report once", got)
			}
			squid.ageReadings(interval / 2)
			m.edit("info", "UP Time:\t372.200 seconds", "UP Time:\t999 seconds")
			m.edit("counters", "client_http.requests = 204", "client_http.requests = 4242")
			if tt.change != nil {
				tt.change(m, squid)
			}
			samples := gather(t, squid)
			if got := m.take(); !sameCounts(got, tt.want) {
				t.Errorf("second scrape asked for %v, want %v", got, tt.want)
			}
			if tt.check != nil {
				tt.check(t, samples)
			}
			if tt.after != nil {
				tt.after(t, m, squid)
			}
		})
	}
}

// With an interval of 0, every scrape reads every report.
func TestSlowIntervalZeroReadsEverything(t *testing.T) {
	m, url := newCountingManager(t)
	squid := newSquid(t, url, Config{Reports: allReports})
	for range 3 {
		gather(t, squid)
	}
	if got := m.take(); !sameCounts(got, every(allReports, 3)) {
		t.Errorf("3 scrapes asked for %v, want every report 3 times", got)
	}
}

// The flag's default is DefaultSlowInterval, written as --help shows it.
func TestSlowIntervalFlagDefault(t *testing.T) {
	def := kingpin.CommandLine.GetFlag("collector.slow-interval").Model().Default
	if got, err := time.ParseDuration(def[0]); err != nil || got != DefaultSlowInterval {
		t.Errorf("--collector.slow-interval defaults to %v (%v), want %v", def, err, DefaultSlowInterval)
	}
}
