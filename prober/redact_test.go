package prober

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-kit/log"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/redact"
)

// roundTripFunc makes a function a RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// A signed CDN URL is a bearer credential. When the CDN GET fails on the
// way (here Squid dies once quay has redirected to the CDN), the HTTP
// client's error quotes the whole URL; the verdict, its text, the debug
// page and the exporter's log carry it without the signature.
func TestSignedURLsStayOutOfVerdicts(t *testing.T) {
	l := newLab(t, "")
	target := l.target("quay", l.Quay.Registry, "org/public", false)
	var signatures []string
	p := l.proberWith(func(p *Prober) {
		p.wrapBase = func(next http.RoundTripper) http.RoundTripper {
			return roundTripFunc(func(req *http.Request) (*http.Response, error) {
				if sig := req.URL.Query().Get("X-Amz-Signature"); sig != "" {
					signatures = append(signatures, sig)
					l.Squid.Stop()
				}
				return next.RoundTrip(req)
			})
		}
	})
	var logged bytes.Buffer
	s := &Scheduler{Prober: p, Targets: []Target{*target}, Logger: log.NewLogfmtLogger(log.NewSyncWriter(&logged))}

	r := p.Probe(context.Background(), target)
	s.Record(r)
	l.Squid.Restart()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/probe?target=quay&debug=true", nil))

	if len(signatures) != 2 {
		t.Fatalf("the rounds made %d signed CDN requests, want 2", len(signatures))
	}
	for name, text := range map[string]string{"Result.Err": r.Err.Error(), "Result.String": r.String(),
		"debug page": rec.Body.String(), "log": logged.String()} {
		if !strings.Contains(text, "X-Amz-Signature="+redact.Mark) {
			t.Errorf("%s does not show the failed CDN URL, redacted:\n%s", name, text)
		}
		for _, sig := range signatures {
			if strings.Contains(text, sig) {
				t.Errorf("%s holds the signature:\n%s", name, text)
			}
		}
	}
}
