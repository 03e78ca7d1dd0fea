package prober

import (
	"context"
	"crypto/x509"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
)

// DefaultLogWait is how long a round waits, after its second pull, for
// Squid's access log to show both pulls.
const DefaultLogWait = 3 * time.Second

// Prober pulls blobs through one Squid and reads that Squid's access log.
// Its rounds may overlap: each knows its own log lines by its marker.
// Set RootCAs before the first round, and later only with SetRootCAs.
type Prober struct {
	Proxy   *url.URL
	RootCAs *x509.CertPool // must include the ssl-bump CA
	Log     *accesslog.Hub
	LogWait time.Duration

	mu   sync.Mutex
	pool *pool // every round's connections: see transport.go

	afterPull func(n int)                               // for tests: runs after pull n (1 or 2)
	wrapBase  func(http.RoundTripper) http.RoundTripper // for tests: sees every request to Squid
}

// Probe runs one round for t: two pulls of its blob, the digest of each,
// and the result code Squid logged for each.
func (p *Prober) Probe(ctx context.Context, t *Target) *Result {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, t.Timeout)
	defer cancel()
	r := &Result{Target: t.Name, Durations: map[Phase]time.Duration{}}
	pl := p.acquire()
	defer p.release(pl)
	ro := &round{p: p, t: t, r: r, markers: newMarkers(), base: p.roundTripper(pl)}
	// Which address Squid sees this round's requests come from, and how
	// many requests it sends; its new connections count in countConnects.
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: ro.gotConn})
	ctx = context.WithValue(ctx, connectsKey{}, &ro.sent)
	if err := ro.run(ctx); err != nil {
		r.fail(classify(ctx, err), err)
	} else {
		r.Success = true
	}
	r.Total, r.Finished = time.Since(start), time.Now()
	r.ProxyRequests = int(ro.sent.Load())
	return r
}
