package prober

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/promtest"
)

func TestProbeHandler(t *testing.T) {
	l := newLab(t, "")
	target := *l.target("public", l.quay.Public, "ubi9/ubi", false)
	s := &Scheduler{Prober: l.prober, Targets: []Target{target}, Logger: log.NewNopLogger()}
	mux := http.NewServeMux()
	mux.Handle("/probe", s.Handler())
	mux.Handle("/probe/targets", s.TargetsHandler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	samples, _ := promtest.Scrape(t, srv.URL+"/probe?target=public")
	if samples[`squid_probe_success{target="public"}`] != 1 || samples[`squid_probe_cache_result{code="TCP_MEM_HIT",pull="second",target="public"}`] != 1 {
		t.Errorf("passing round: %v", samples)
	}
	if body := promtest.Get(t, srv.URL+"/probe/targets"); strings.TrimSpace(body) != `["public"]` {
		t.Errorf("targets: %s", body)
	}

	l.squid.Stop() // the exporter keeps serving, and says why the probe fails
	samples, _ = promtest.Scrape(t, srv.URL+"/probe?target=public")
	if samples[`squid_probe_success{target="public"}`] != 0 || samples[`squid_probe_failure{reason="proxy_unreachable",target="public"}`] != 1 {
		t.Errorf("failing round: %v", samples)
	}
	if body := promtest.Get(t, srv.URL+"/probe?target=public&debug=true"); !strings.HasPrefix(body, "FAIL public: proxy_unreachable") {
		t.Errorf("debug: %s", body)
	}
	resp, _ := http.Get(srv.URL + "/probe?target=nope")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown target: %s", resp.Status)
	}

	// The scheduler's own metrics count every round /probe ran.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(s)
	metrics := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer metrics.Close()
	samples, _ = promtest.Scrape(t, metrics.URL)
	if samples[`squid_probe_rounds_total{target="public"}`] != 3 ||
		samples[`squid_probe_failures_total{reason="proxy_unreachable",target="public"}`] != 2 ||
		!samples.Has(`squid_probe_last_success_timestamp_seconds{target="public"}`) {
		t.Errorf("scheduler metrics: %v", samples)
	}
}
