package cachemgr

import (
	"bytes"
	"errors"
	"fmt"
)

// ServiceCategories are the kinds of request Squid times, in the order it
// prints them, as the label values the exporter uses.
var ServiceCategories = [...]string{
	"http_all", "cache_miss", "cache_hit", "near_hit", "not_modified", "dns_lookup", "icp_query",
}

// NumPercentiles is how many percentiles mgr:service_times prints per
// category: 5%, 10%, ... 95%.
const NumPercentiles = 19

// Percentile returns the percentile at index i of a ServiceTimes series.
func Percentile(i int) int { return (i + 1) * 5 }

// serviceCategory maps Squid's name of a category, as in "Cache Misses",
// to its index in ServiceCategories, or -1.
func serviceCategory(name []byte) int {
	switch string(name) {
	case "HTTP Requests (All)":
		return 0
	case "Cache Misses":
		return 1
	case "Cache Hits":
		return 2
	case "Near Hits":
		return 3
	case "Not-Modified Replies":
		return 4
	case "DNS Lookups":
		return 5
	case "ICP Queries":
		return 6
	}
	return -1
}

// ServiceTimes is mgr:service_times: for each category, Squid's
// percentiles of the time it took to serve a request over the last 5 and
// 60 minutes, in seconds. Squid computes them from its histograms at every
// report; they are gauges, not a summary (Squid gives no count or sum).
type ServiceTimes struct {
	// Seconds[c][i] is category c's Percentile(i); Missing for a category
	// the report did not have.
	Seconds [len(ServiceCategories)][NumPercentiles]Windows
}

// ParseServiceTimes parses the body of mgr:service_times. Lines of
// categories it does not know are ignored. The report must have the
// "HTTP Requests (All)" series, and every category it has must be whole:
// a cut-off report is an error.
func ParseServiceTimes(report []byte) (*ServiceTimes, error) {
	st := &ServiceTimes{}
	for c := range st.Seconds {
		for i := range st.Seconds[c] {
			st.Seconds[c][i] = Windows{Missing, Missing}
		}
	}
	header := false
	for line := range bytes.Lines(report) {
		line = bytes.TrimSpace(line)
		if bytes.HasPrefix(line, []byte("Service Time Percentiles")) {
			header = true
			continue
		}
		if !header {
			continue // the medians of mgr:info have the same names: not this
		}
		if err := st.parseLine(line); err != nil {
			return nil, fmt.Errorf("service_times: %w", err)
		}
	}
	if !header {
		return nil, errors.New("service_times: not a service_times report: no 'Service Time Percentiles' line")
	}
	return st, st.check()
}

// parseLine reads "Cache Misses:  10%   0.00179  0.00000".
func (st *ServiceTimes) parseLine(line []byte) error {
	name, rest, found := bytes.Cut(line, []byte(":"))
	c := serviceCategory(name)
	if !found || c < 0 {
		return nil
	}
	pct, rest := nextField(rest)
	p, ok := bytes.CutSuffix(pct, []byte("%"))
	if !ok {
		return fmt.Errorf("%s: want a percentile like '10%%', got %q", name, pct)
	}
	v, err := parseNumber(p)
	if err != nil {
		return fmt.Errorf("%s: percentile: %w", name, err)
	}
	i := int(v)/5 - 1
	if float64(Percentile(i)) != v || i < 0 || i >= NumPercentiles {
		return nil // a percentile Squid 5 to 7 do not print: a newer Squid's
	}
	w, err := parseTwoWindows(rest)
	if err != nil {
		return fmt.Errorf("%s %s: %w", name, pct, err)
	}
	st.Seconds[c][i] = w
	return nil
}

// check refuses a report without the all-requests series, or with a
// category cut short.
func (st *ServiceTimes) check() error {
	for c, series := range st.Seconds {
		seen := 0
		for _, w := range series {
			if !IsMissing(w.Last5m) {
				seen++
			}
		}
		if (seen == 0 && c != 0) || seen == NumPercentiles {
			continue
		}
		return fmt.Errorf("service_times: report is incomplete: %s has %d of %d percentiles",
			ServiceCategories[c], seen, NumPercentiles)
	}
	return nil
}

// parseTwoWindows reads "0.00091  0.00000": a value for 5 minutes, then
// one for 60 minutes, in seconds.
func parseTwoWindows(b []byte) (Windows, error) {
	five, rest := nextField(b)
	sixty, rest := nextField(rest)
	if len(sixty) == 0 || len(bytes.TrimSpace(rest)) != 0 {
		return Windows{}, fmt.Errorf("want '<5 min> <60 min>' in seconds, got %q", bytes.TrimSpace(b))
	}
	var w Windows
	var err5, err60 error
	w.Last5m, err5 = parseNumber(five)
	w.Last60m, err60 = parseNumber(sixty)
	return w, errors.Join(err5, err60)
}

// nextField returns the first run of non-blank bytes of b and what
// follows it, without allocating (bytes.Fields would).
func nextField(b []byte) (field, rest []byte) {
	start := 0
	for start < len(b) && (b[start] == ' ' || b[start] == '\t') {
		start++
	}
	end := start
	for end < len(b) && b[end] != ' ' && b[end] != '\t' {
		end++
	}
	return b[start:end], b[end:]
}
