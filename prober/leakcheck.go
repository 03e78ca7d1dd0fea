package prober

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// leakPrefix is how much of the blob's start a leak check looks for in
// the answers to requests without access: enough that an error page
// cannot hold it by chance.
const leakPrefix = 64

// readLimit bounds what a leak check reads of each answer.
const readLimit = 1 << 20

// An attempt is one way a client without access could ask for the blob.
type attempt struct {
	name   string
	url    string
	client *http.Client
}

// checkLeak asks Squid for the private blob as a client without access
// would, after the round's authorized pulls have put it in the cache: the
// registry's blob URL with an anonymous token, and, when the blob came from
// a CDN, its URL without the signature and with a forged one. Any answer
// that carries the blob's bytes is a leak. The CDN URL is the round's own,
// so no answer here can show it to anyone.
func (ro *round) checkLeak(ctx context.Context, ref name.Digest, p pull) error {
	ro.markers.startPull(3) // the log match is over: these lines count for no pull
	ro.r.LeakChecked = true
	base := &markerTransport{next: ro.base, markers: ro.markers}
	for _, a := range ro.attempts(ctx, ref, p, base) {
		status, leaked, err := tryLeak(ctx, a, p.prefix)
		if err != nil {
			continue // refused before any answer: nothing leaked
		}
		if leaked > 0 {
			ro.r.Leaked = true
			return failf(ReasonLeak, "%s: HTTP %d with %d bytes of the private blob", a.name, status, leaked)
		}
	}
	return nil
}

func (ro *round) attempts(ctx context.Context, ref name.Digest, p pull, base http.RoundTripper) []attempt {
	plain := &http.Client{Transport: base}
	repo := ref.Context()
	blobURL := (&url.URL{Scheme: repo.Scheme(), Host: repo.RegistryStr(), Path: "/v2/" + repo.RepositoryStr() + "/blobs/" + ref.DigestStr()}).String()
	anonymous := plain
	if rt, err := transport.NewWithContext(ctx, repo.Registry, authn.Anonymous, base, []string{repo.Scope(transport.PullScope)}); err == nil {
		anonymous = &http.Client{Transport: rt}
	}
	out := []attempt{{"anonymous registry pull", blobURL, anonymous}}
	if p.final != nil && strings.Contains(p.final.Path, "/artifacts-downloads/") {
		// Artifact Registry's download token is the path's last segment.
		forged := *p.final
		forged.Path, forged.RawPath = forgeLast(forged.Path), ""
		return append(out, attempt{"download URL with a forged token", forged.String(), plain})
	}
	if p.final == nil || p.final.RawQuery == "" {
		return out // the registry served the bytes itself: its URL is all there is
	}
	bare := *p.final
	bare.RawQuery = ""
	forged := *p.final
	forged.RawQuery = forge(p.final.RawQuery)
	return append(out,
		attempt{"CDN URL without its signature", bare.String(), plain},
		attempt{"CDN URL with a forged signature", forged.String(), plain})
}

// forge changes the last character of the query's longest value: the
// signature, or a signed credential or token, which the CDN never issued
// in that spelling. (A short value, such as X-Amz-SignedHeaders, may be
// left out of what a CDN signs, and changing it forges nothing.)
func forge(query string) string {
	pairs := strings.Split(query, "&")
	longest := 0
	for i, pair := range pairs {
		if len(pair) > len(pairs[longest]) {
			longest = i
		}
	}
	pairs[longest] = forgeLast(pairs[longest])
	return strings.Join(pairs, "&")
}

// forgeLast changes the last character of s.
func forgeLast(s string) string {
	if s == "" {
		return s
	}
	b := []byte(s)
	last := len(b) - 1
	if b[last] == 'A' {
		b[last] = 'B'
	} else {
		b[last] = 'A'
	}
	return string(b)
}

// tryLeak sends one attempt and reports how many bytes of the blob came
// back: all of a 2xx body, or the blob's start found in any body.
func tryLeak(ctx context.Context, a attempt, prefix []byte) (status int, leaked int64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.url, nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, readLimit))
	switch {
	case resp.StatusCode/100 == 2 && len(body) > 0:
		return resp.StatusCode, int64(len(body)), nil
	case len(prefix) > 0 && bytes.Contains(body, prefix):
		return resp.StatusCode, int64(len(prefix)), nil
	}
	return resp.StatusCode, 0, nil
}

// prefixWriter keeps the first max bytes written to it.
type prefixWriter struct {
	b   []byte
	max int
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	if n := w.max - len(w.b); n > 0 {
		w.b = append(w.b, p[:min(n, len(p))]...)
	}
	return len(p), nil
}
