package exporter

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/promtest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
)

// Service times and the object lifetime come from a real Squid after
// real traffic, in seconds.
func TestServiceTimesAndLifetimeFromRealSquid(t *testing.T) {
	squid := squidtest.Start(t, squidtest.Options{})
	origin := squidtest.StartOrigin(t)
	metrics, _ := startExporter(t, squid.URL, "", 5*time.Second)
	client := squid.Client()
	for round := 0; round < 2; round++ { // a miss, then a hit, of each
		for i := 0; i < 3; i++ {
			fetch(t, client, origin.URL, fmt.Sprintf("/object/%d", i))
		}
	}
	s, _ := promtest.Scrape(t, metrics)

	for _, series := range []string{
		`squid_service_time_median_seconds{category="http_all",window="5m"}`,
		`squid_service_time_median_seconds{category="cache_miss",window="60m"}`,
		`squid_service_time_seconds{category="http_all",percentile="95",window="5m"}`,
		`squid_service_time_seconds{category="cache_hit",percentile="5",window="60m"}`,
	} {
		// Loopback answers in milliseconds: a time over 10 s is a unit error.
		if v, ok := s[series]; !ok || v < 0 || v > 10 {
			t.Errorf("%s = %v (present: %v), want seconds", series, v, ok)
		}
	}
	n := 0
	for series := range s {
		if strings.HasPrefix(series, "squid_service_time_seconds{") {
			n++
		}
	}
	if n != 7*19*2 {
		t.Errorf("%d service time series, want 266", n)
	}
	if squidtest.Workers(t) == 1 { // SMP's rock dir has no removal policy
		age := fmt.Sprintf(`squid_cache_dir_lru_reference_age_seconds{path=%q,type="ufs"}`, squid.Dir+"/cache")
		if v, ok := s[age]; !ok || v != 0 { // just stored: 0.00 days
			t.Errorf("%s = %v (present: %v), want 0", age, v, ok)
		}
	}
}

// Squid's view of the store-ID helper follows the requests it sent. Every
// request passes through it (no store_id_access), the manager's included.
func TestStoreIDHelperAsSquidSeesIt(t *testing.T) {
	squid := squidtest.Start(t, squidtest.Options{StoreID: squidtest.StripQueryStoreID})
	origin := squidtest.StartOrigin(t)
	metrics, _ := startExporter(t, squid.URL, "", 5*time.Second)
	before, _ := promtest.Scrape(t, metrics)
	const requests = 5
	for i := 0; i < requests; i++ {
		fetch(t, squid.Client(), origin.URL, fmt.Sprintf("/object/%d", i))
	}
	after, _ := promtest.Scrape(t, metrics)

	const helper = `{helper="store_id"}`
	if got := after["squid_helper_requests_total"+helper] - before["squid_helper_requests_total"+helper]; got < requests {
		t.Errorf("helper requests moved by %v, want at least %d", got, requests)
	}
	if got := after["squid_helper_replies_total"+helper] - before["squid_helper_replies_total"+helper]; got < requests {
		t.Errorf("helper replies moved by %v, want at least %d", got, requests)
	}
	checks := []struct {
		metric   string
		min, max float64
	}{
		{"squid_helper_children_max", 3, 3 * float64(squidtest.Workers(t)+1)}, // store_id_children 3, per process
		{"squid_helper_children_active", 1, 3 * float64(squidtest.Workers(t)+1)},
		{"squid_helper_children_busy", 0, 3 * float64(squidtest.Workers(t)+1)},
		{"squid_helper_queue_length", 0, 0},
		{"squid_helper_timeouts_total", 0, 0},
		// Squid's default, store_id_bypass on, makes the queue 0 long: a
		// request that finds every started child busy skips the helper.
		// A scrape's concurrent manager requests alone do that.
		{"squid_helper_bypassed_requests_total", 0, 100},
		{"squid_helper_average_service_time_seconds", 0, 1},
	}
	for _, c := range checks {
		if v, ok := after[c.metric+helper]; !ok || v < c.min || v > c.max {
			t.Errorf("%s = %v (present: %v), want %v to %v", c.metric, v, ok, c.min, c.max)
		}
	}
}
