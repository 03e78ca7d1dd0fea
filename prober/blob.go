package prober

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
)

// DefaultLogWait is how long a round waits, after its second pull, for
// Squid's access log to show both pulls.
const DefaultLogWait = 3 * time.Second

// Prober pulls blobs through one Squid and reads that Squid's access log.
// Its rounds may overlap: each knows its own log lines by its marker.
type Prober struct {
	Proxy   *url.URL
	RootCAs *x509.CertPool // must include the ssl-bump CA
	Log     *accesslog.Hub
	LogWait time.Duration

	baseOnce sync.Once
	base     *http.Transport // every round's connections: see transport.go

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
	ro := &round{p: p, t: t, r: r, marker: newMarker()}
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

// round is the state of one Probe.
type round struct {
	p        *Prober
	t        *Target
	r        *Result
	marker   string                 // sent with every request and logged by Squid; never printed
	client   atomic.Pointer[string] // our address as Squid logs it
	sent     atomic.Int64           // requests Squid counts, CONNECTs included
	unmarked atomic.Int64           // lines like ours in a log without the marker field
}

// gotConn counts a request; its connection's CONNECT, if new, was counted
// when it was dialed.
func (ro *round) gotConn(info httptrace.GotConnInfo) {
	ro.sent.Add(1)
	if host, _, err := net.SplitHostPort(info.Conn.LocalAddr().String()); err == nil {
		ro.client.CompareAndSwap(nil, &host)
	}
}

// pull is what one GET of the blob gave.
type pull struct {
	digest string
	bytes  int64
}

func (ro *round) run(ctx context.Context) error {
	var ref name.Digest
	var client *http.Client
	err := ro.r.time(PhaseAuth, func() (err error) { ref, client, err = ro.authenticate(ctx); return err })
	if err != nil {
		return err
	}
	ro.r.Digest = ref.DigestStr()
	watch := ro.p.Log.Watch(ro.matcher([]byte(ref.DigestStr()[len("sha256:"):])))
	defer watch.Close()

	var pulls [2]pull
	for i, phase := range []Phase{PhaseFirstPull, PhaseSecondPull} {
		err := ro.r.time(phase, func() (err error) { pulls[i], err = ro.pull(ctx, client, ref); return err })
		if err != nil {
			return fmt.Errorf("pull %d: %w", i+1, err)
		}
		if ro.p.afterPull != nil {
			ro.p.afterPull(i + 1)
		}
	}
	ro.r.Bytes = pulls[1].bytes
	ro.r.DigestMatch = pulls[0].digest == ref.DigestStr() && pulls[1].digest == ref.DigestStr()
	logErr := ro.r.time(PhaseLogMatch, func() error { return ro.matchLog(ctx, watch) })
	return ro.verdict(pulls, ref, logErr)
}

// verdict ranks what went wrong: bad bytes matter more than a missed hit.
func (ro *round) verdict(pulls [2]pull, ref name.Digest, logErr error) error {
	ro.r.Hit = slices.Contains(ro.t.HitCodes, ro.r.Codes[1])
	for i, p := range pulls {
		if p.digest != ref.DigestStr() {
			return failf(ReasonDigestMismatch, "pull %d: the %d bytes received hash to %s, want %s", i+1, p.bytes, p.digest, ref.DigestStr())
		}
	}
	if logErr != nil {
		return logErr
	}
	if ro.r.Hit {
		return nil
	}
	return failf(ReasonNotCached, "second pull was %s, want one of %v (first pull: %s)", ro.r.Codes[1], ro.t.HitCodes, ro.r.Codes[0])
}

// time runs f and records how long it took as phase.
func (r *Result) time(phase Phase, f func() error) error {
	start := time.Now()
	err := f()
	r.Durations[phase] = time.Since(start)
	return err
}

// authenticate pings the registry, gets a token for the repository and, for
// an image target, resolves the layer's digest.
func (ro *round) authenticate(ctx context.Context) (name.Digest, *http.Client, error) {
	// go-containerregistry's transports sit on top, and the client follows
	// redirects through them: every request reaches Squid marked.
	base := &markerTransport{next: ro.p.transport(), marker: ro.marker}
	ref, auth, err := ro.resolve(ctx, base)
	if err != nil {
		return name.Digest{}, nil, err
	}
	rt, err := transport.NewWithContext(ctx, ref.Context().Registry, auth, base, []string{ref.Scope(transport.PullScope)})
	if err != nil {
		return name.Digest{}, nil, err
	}
	return ref, &http.Client{Transport: rt}, nil
}

// resolve returns the blob reference and the credentials for its registry.
func (ro *round) resolve(ctx context.Context, base http.RoundTripper) (name.Digest, authn.Authenticator, error) {
	refName := ro.t.Blob
	if refName == "" {
		refName = ro.t.Image
	}
	ref, err := name.ParseReference(refName)
	if err != nil {
		return name.Digest{}, nil, err
	}
	auth := authn.Anonymous
	if ro.t.Credentials != "" {
		if auth, err = credentialsFor(ro.t.Credentials, ref.Context().RegistryStr()); err != nil {
			return name.Digest{}, nil, &failure{ReasonAuth, err}
		}
	}
	if d, ok := ref.(name.Digest); ok && ro.t.Blob != "" {
		return d, auth, nil
	}
	img, err := remote.Image(ref, remote.WithContext(ctx), remote.WithAuth(auth), remote.WithTransport(base))
	if err != nil {
		return name.Digest{}, nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return name.Digest{}, nil, err
	}
	i := ro.t.Layer
	if i < 0 {
		i += len(layers)
	}
	if i < 0 || i >= len(layers) {
		return name.Digest{}, nil, failf(ReasonUpstream, "image %s has %d layers, no layer %d", refName, len(layers), ro.t.Layer)
	}
	digest, err := layers[i].Digest()
	if err != nil {
		return name.Digest{}, nil, err
	}
	return ref.Context().Digest(digest.String()), auth, nil
}

// pull GETs the blob, following the registry's redirect, and hashes it.
func (ro *round) pull(ctx context.Context, client *http.Client, ref name.Digest) (pull, error) {
	repo := ref.Context()
	u := url.URL{Scheme: repo.Scheme(), Host: repo.RegistryStr(), Path: "/v2/" + repo.RepositoryStr() + "/blobs/" + ref.DigestStr()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return pull{}, err
	}
	var p pull
	resp, err := client.Do(req)
	if err != nil {
		return p, err
	}
	defer resp.Body.Close()
	// The final URL's query is a signature: it stays out of errors.
	where := resp.Request.URL.Host + resp.Request.URL.Path
	if resp.StatusCode != http.StatusOK {
		squidError := resp.Header.Get("X-Squid-Error")
		return p, failf(statusReason(resp.StatusCode, squidError), "GET %s: %s %s", where, resp.Status, squidError)
	}
	h := sha256.New()
	p.bytes, err = io.Copy(h, resp.Body)
	if err != nil {
		return p, fmt.Errorf("reading %s: %w", where, err)
	}
	p.digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return p, nil
}
