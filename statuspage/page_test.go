package statuspage

import (
	"context"
	"errors"
	"html"
	"io"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/squid-cache-exporter/squid-cache-exporter/prober"
	"github.com/squid-cache-exporter/squid-cache-exporter/traffic"
)

var start = time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)

func get(t *testing.T, p *Page, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, string(body)
}

func newPage(s Sources) *Page {
	p := New(web.LandingConfig{Name: "Squid Cache Exporter", Version: "v1.2.3",
		Links: []web.LandingLinks{{Address: "/metrics", Text: "Metrics"}}}, s)
	p.now = func() time.Time { return start.Add(7 * time.Minute) }
	return p
}

func TestPageShowsState(t *testing.T) {
	verdicts := []prober.Verdict{
		{Target: "ubi", Ran: true, Success: true, Codes: [2]string{"TCP_MISS", "TCP_MEM_HIT"},
			Finished: start.Add(6 * time.Minute), LastSuccess: start.Add(6 * time.Minute)},
		{Target: "quay-private", Ran: true, Reason: prober.ReasonNotCached, Err: "second pull was TCP_MISS",
			Codes: [2]string{"TCP_MISS", "TCP_MISS"}, Finished: start.Add(5 * time.Minute)},
		{Target: "node-exporter"},
	}
	tests := []struct {
		name    string
		sources Sources
		want    []string
		notWant []string
	}{
		{"everything runs", Sources{
			Squid: func(context.Context) Squid {
				return Squid{Address: "http://127.0.0.1:3128", Version: "5.7", Uptime: time.Hour}
			},
			Verdicts: func() []prober.Verdict { return verdicts },
			Blobs: func() []traffic.BlobCount {
				return []traffic.BlobCount{{Registry: "quay.io", Hits: 90, Deliveries: 100}, {Registry: "other"}}
			},
		}, []string{"UP", "Squid 5.7, up 1h0m0s", "PASS", "TCP_MISS, TCP_MEM_HIT", "1m0s ago",
			"FAIL", "not_cached", "second pull was TCP_MISS", "never", "waiting", "no round yet",
			"quay.io", "90.0% (90 of 100)", "no blob requests", `href="/metrics"`, "v1.2.3"},
			[]string{`id="pprof"`}},
		{"Squid down", Sources{
			Squid: func(context.Context) Squid {
				return Squid{Address: "http://127.0.0.1:3128", Err: errors.New("cannot connect to squid at 127.0.0.1:3128")}
			},
		}, []string{"DOWN", "cannot connect to squid at 127.0.0.1:3128", "The prober is off", "No access log"}, []string{"UP"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := get(t, newPage(tt.sources), "/")
			if code != 200 {
				t.Fatalf("status %d", code)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) && !strings.Contains(body, html.EscapeString(w)) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(body, w) {
					t.Errorf("page has %q", w)
				}
			}
		})
	}
}

// Target names come from the config file and errors quote what upstreams
// said: on the page they stay text, and the probe link leads to the
// named target.
func TestPageEscapesWhatItQuotes(t *testing.T) {
	for _, name := range []string{"quay-private", `"><script>alert(1)</script>`, "a&debug=false&target=b", "naïve name"} {
		p := newPage(Sources{Verdicts: func() []prober.Verdict {
			return []prober.Verdict{{Target: name, Ran: true, Reason: prober.ReasonUpstream, Err: "<img src=x onerror=alert(2)>"}}
		}})
		_, body := get(t, p, "/")
		if strings.Contains(body, "<script>") || strings.Contains(body, "<img") {
			t.Errorf("%q: markup got through:\n%s", name, body)
		}
		m := regexp.MustCompile(`<a href="(/probe\?[^"]*)">probe now</a>`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("%q: no probe link in\n%s", name, body)
		}
		u, err := url.Parse(html.UnescapeString(m[1]))
		if err != nil || u.Query().Get("target") != name || u.Query().Get("debug") != "true" {
			t.Errorf("%q: link %q leads to %v", name, m[1], u)
		}
	}
}

func TestPageIsOnlyAtRoot(t *testing.T) {
	if code, _ := get(t, newPage(Sources{}), "/nothing-here"); code != 404 {
		t.Errorf("status %d, want 404", code)
	}
}

// The recent ratio counts from the newest sample at least 5 minutes old;
// just after start, from the first.
func TestRecentRatio(t *testing.T) {
	counts := func(hits, deliveries float64) []traffic.BlobCount {
		return []traffic.BlobCount{{Registry: "quay.io", Hits: hits, Deliveries: deliveries}}
	}
	tests := []struct {
		name     string
		samples  map[time.Duration][]traffic.BlobCount // age at the page's now -> counts
		wantSpan string
		want     string
	}{
		{"no sample yet", nil, "", "–"},
		{"just started", map[time.Duration][]traffic.BlobCount{90 * time.Second: counts(0, 10)}, "1m30s", "50.0% (10 of 20)"},
		{"long running", map[time.Duration][]traffic.BlobCount{
			7 * time.Minute: counts(0, 0), 5*time.Minute + 5*time.Second: counts(0, 10), 4 * time.Minute: counts(5, 15),
		}, "5m5s", "50.0% (10 of 20)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPage(Sources{Blobs: func() []traffic.BlobCount { return counts(10, 30) }})
			now := p.now()
			for _, age := range []time.Duration{7 * time.Minute, 5*time.Minute + 5*time.Second, 4 * time.Minute, 90 * time.Second} {
				if c, ok := tt.samples[age]; ok {
					p.recent.add(now.Add(-age), c)
				}
			}
			rows, span := p.ratios(now)
			if span != tt.wantSpan || rows[0].Recent != tt.want || rows[0].SinceStart != "33.3% (10 of 30)" {
				t.Errorf("span %q, rows %+v; want span %q, recent %q", span, rows, tt.wantSpan, tt.want)
			}
		})
	}
}

// The window keeps a bounded number of samples however long it runs.
func TestWindowIsBounded(t *testing.T) {
	w := newWindow()
	for i := range 10 * keep {
		w.add(start.Add(time.Duration(i)*sampleEvery), nil)
	}
	if len(w.samples) != keep || cap(w.samples) != keep {
		t.Errorf("%d samples (cap %d), want %d", len(w.samples), cap(w.samples), keep)
	}
	if s, _ := w.base(start.Add(time.Duration(10*keep-1) * sampleEvery)); !s.at.Equal(start.Add(time.Duration(10*keep-1)*sampleEvery - recentSpan)) {
		t.Errorf("base at %v", s.at)
	}
}
