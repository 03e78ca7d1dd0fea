package exporter

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/squid-cache-exporter/squid-cache-exporter/cachemgr"
	"github.com/squid-cache-exporter/squid-cache-exporter/collector"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
)

// BenchmarkFetch times each report's fetch alone, the Squid part of a
// scrape (target: at most 1.2× the slowest fetch), and a whole /metrics
// scrape as Prometheus makes it, the Go and process collectors included.
// squid-µs/op is the CPU time Squid itself spent per operation.
func BenchmarkFetch(b *testing.B) {
	// A store-ID helper that Squid never asks: mgr:store_id has its
	// statistics, and no request waits for it.
	squid := squidtest.Start(b, squidtest.Options{StoreID: squidtest.StripQueryStoreID, Extra: []string{"store_id_access deny all"}})
	client, err := cachemgr.NewClient(squid.URL, "")
	if err != nil {
		b.Fatal(err)
	}
	for _, report := range reports {
		b.Run(report, func(b *testing.B) {
			b.ReportAllocs()
			cpu := startSquidCPU(b, client)
			for b.Loop() {
				if _, err := client.Fetch(context.Background(), report); err != nil {
					b.Fatal(err)
				}
			}
			cpu.report(b)
		})
	}
	squidCollector, err := collector.New(client, collector.Config{Reports: reports}, log.NewNopLogger())
	if err != nil {
		b.Fatal(err)
	}
	// The Squid part of a scrape: all reports fetched, parsed and turned
	// into metrics.
	b.Run("collect", func(b *testing.B) {
		b.ReportAllocs()
		cpu := startSquidCPU(b, client)
		for b.Loop() {
			reg := prometheus.NewRegistry()
			reg.MustRegister(squidCollector.Scrape(context.Background()))
			if _, err := reg.Gather(); err != nil {
				b.Fatal(err)
			}
		}
		cpu.report(b)
	})
	b.Run("scrape", func(b *testing.B) {
		global := prometheus.NewRegistry()
		global.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		handler := MetricsHandler(squidCollector, global, 5*time.Second, log.NewNopLogger())
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		b.ReportAllocs()
		for b.Loop() {
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatal(rec.Code)
			}
			io.Copy(io.Discard, rec.Body)
		}
	})
}

// squidCPU measures the CPU time Squid spends, by its own cpu_time counter.
type squidCPU struct {
	client *cachemgr.Client
	start  float64
}

func startSquidCPU(b *testing.B, client *cachemgr.Client) *squidCPU {
	return &squidCPU{client, readSquidCPU(b, client)}
}

// report adds Squid's CPU time per operation to the benchmark's results.
// The closing counters request is in it: one in b.N.
func (c *squidCPU) report(b *testing.B) {
	used := readSquidCPU(b, c.client) - c.start
	b.ReportMetric(used/float64(b.N)*1e6, "squid-µs/op")
}

func readSquidCPU(b *testing.B, client *cachemgr.Client) float64 {
	body, err := client.Fetch(context.Background(), "counters")
	if err != nil {
		b.Fatal(err)
	}
	c, err := cachemgr.ParseCounters(body)
	if err != nil {
		b.Fatal(err)
	}
	return c.CPUSeconds
}

// BenchmarkSquidRequest is where Squid's time goes when it answers the
// cache manager: each report's request over a kept-alive connection and
// over a new connection each time, and a refused request (an unknown
// report, 404) for the cost of a request with no report behind it.
// squid-µs/op is Squid's own CPU per request, from /proc.
func BenchmarkSquidRequest(b *testing.B) {
	squid := squidtest.Start(b, squidtest.Options{StoreID: squidtest.StripQueryStoreID, Extra: []string{"store_id_access deny all"}})
	for _, conn := range []string{"keepalive", "close"} {
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: conn == "close"}}
		for _, report := range append([]string{"nosuch"}, reports...) {
			b.Run(report+"/"+conn, func(b *testing.B) {
				start := squid.CPUTime()
				for b.Loop() {
					resp, err := client.Get(squid.URL + "/squid-internal-mgr/" + report)
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				b.ReportMetric(float64((squid.CPUTime()-start).Microseconds())/float64(b.N), "squid-µs/op")
			})
		}
	}
}
