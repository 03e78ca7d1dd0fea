package prober

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"sort"
	"strings"
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
type Prober struct {
	Proxy   *url.URL
	RootCAs *x509.CertPool // must include the ssl-bump CA
	Log     *accesslog.Hub
	LogWait time.Duration

	mu sync.Mutex // rounds never overlap: their log lines must not mix

	afterPull func(n int) // for tests: runs after pull n (1 or 2)
}

// Probe runs one round for t: two pulls of its blob, the digest of each,
// and the result code Squid logged for each.
func (p *Prober) Probe(ctx context.Context, t *Target) *Result {
	p.mu.Lock()
	defer p.mu.Unlock()
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, t.Timeout)
	defer cancel()
	r := &Result{Target: t.Name, Durations: map[Phase]time.Duration{}}
	ro := &round{p: p, t: t, r: r}
	// Which address Squid sees this round's requests come from.
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: ro.gotConn})
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
	p      *Prober
	t      *Target
	r      *Result
	client atomic.Pointer[string] // our address as Squid logs it
	sent   atomic.Int64           // requests Squid counts, CONNECTs included
}

func (ro *round) gotConn(info httptrace.GotConnInfo) {
	ro.sent.Add(1)
	if !info.Reused {
		ro.sent.Add(1) // the CONNECT that opened it
	}
	if host, _, err := net.SplitHostPort(info.Conn.LocalAddr().String()); err == nil {
		ro.client.CompareAndSwap(nil, &host)
	}
}

// pull is what one GET of the blob gave.
type pull struct {
	start  time.Time
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
	logErr := ro.r.time(PhaseLogMatch, func() error { return ro.matchLog(ctx, watch, pulls) })
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
	base := &http.Transport{
		Proxy:               http.ProxyURL(ro.p.Proxy),
		TLSClientConfig:     tlsConfig(ro.p.RootCAs),
		TLSHandshakeTimeout: 10 * time.Second,
		DisableCompression:  true, // the digest is of the bytes as stored
	}
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
	p := pull{start: time.Now()}
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

// matcher picks this round's lines: GETs from our address whose URL holds
// the digest (the registry's /blobs/sha256:<hex> and the CDN's .../<hex>).
// Other clients pulling the same blob come from other addresses, and rounds
// do not overlap.
func (ro *round) matcher(hexDigest []byte) func(*accesslog.Entry) bool {
	return func(e *accesslog.Entry) bool {
		if string(e.Method) != http.MethodGet || !bytes.Contains(e.URL, hexDigest) {
			return false
		}
		client := ro.client.Load()
		return client == nil || string(e.Client) == *client
	}
}

// matchLog waits until the log shows the line that delivered each pull's
// bytes (not the registry's redirect), and records their codes.
func (ro *round) matchLog(ctx context.Context, watch *accesslog.Watch, pulls [2]pull) error {
	wait := ro.p.LogWait
	if wait <= 0 {
		wait = DefaultLogWait
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	lines, err := watch.Wait(ctx, func(r []accesslog.Record) bool { return len(deliveries(r, pulls[0].start)) >= 2 })
	found := deliveries(lines, pulls[0].start)
	for i := 0; i < len(found) && i < 2; i++ {
		ro.r.Codes[i] = found[i].Result
		if strings.Contains(found[i].Result, "HIT") {
			ro.r.ProxyHits++
		}
	}
	if err != nil {
		return failf(ReasonLogUnavailable, "Squid's access log showed %d of the 2 pulls within %s: is the log followed or received (see --probe.access-log)?", len(found), wait)
	}
	return nil
}

// deliveries are the lines that sent a blob's bytes, oldest first.
func deliveries(lines []accesslog.Record, since time.Time) []accesslog.Record {
	var out []accesslog.Record
	// Squid logs with millisecond precision.
	since = since.Add(-time.Millisecond)
	for _, l := range lines {
		if (l.Status < 300 || l.Status >= 400) && !l.Time.Before(since) {
			out = append(out, l)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

func tlsConfig(roots *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
}
