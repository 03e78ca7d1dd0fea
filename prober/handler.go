package prober

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/scrape"
)

// Handler serves /probe?target=NAME, as blackbox_exporter does: it runs one
// round now, through this replica's Squid and against its log, and answers
// with that round's metrics. With debug=true it answers with the verdict for
// people instead: its first word is PASS or FAIL.
func (s *Scheduler) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("target")
		t := s.target(name)
		if t == nil {
			http.Error(w, fmt.Sprintf("unknown target %q; see /probe/targets", name), http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), scrape.Timeout(r, t.Timeout))
		defer cancel()
		result := s.Prober.Probe(ctx, t)
		s.Record(result)
		if r.URL.Query().Get("debug") == "true" {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprintln(w, result)
			return
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(roundCollector{result})
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	})
}

// TargetsHandler lists the target names as JSON, for the one-shot probe.
func (s *Scheduler) TargetsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		names := make([]string, 0, len(s.Targets))
		for _, t := range s.Targets {
			names = append(names, t.Name)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(names)
	})
}

func (s *Scheduler) target(name string) *Target {
	for i := range s.Targets {
		if s.Targets[i].Name == name {
			return &s.Targets[i]
		}
	}
	return nil
}
