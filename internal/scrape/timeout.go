// Package scrape reads what Prometheus says about a scrape.
package scrape

import (
	"net/http"
	"strconv"
	"time"
)

// offset leaves Prometheus time to receive the answer before its own
// scrape timeout, as blackbox_exporter does.
const offset = 500 * time.Millisecond

// Timeout is the smaller of limit and the timeout Prometheus announces for
// this scrape (X-Prometheus-Scrape-Timeout-Seconds), less half a second to
// answer in.
func Timeout(r *http.Request, limit time.Duration) time.Duration {
	seconds, err := strconv.ParseFloat(r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"), 64)
	if err != nil || seconds <= 0 {
		return limit
	}
	announced := time.Duration(seconds * float64(time.Second))
	if announced > offset {
		announced -= offset
	}
	return min(announced, limit)
}
