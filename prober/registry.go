package prober

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// authenticate pings the registry, gets a token for the repository and, for
// an image target, resolves the layer's digest.
func (ro *round) authenticate(ctx context.Context) (name.Digest, *http.Client, error) {
	// go-containerregistry's transports sit on top, and the client follows
	// redirects through them: every request reaches Squid marked.
	base := &markerTransport{next: ro.base, markers: ro.markers}
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
		if auth, err = credentialsFor(ro.t.Credentials, ref.Context()); err != nil {
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
	prefix := &prefixWriter{max: leakPrefix}
	p.bytes, err = io.Copy(io.MultiWriter(h, prefix), resp.Body)
	if err != nil {
		return p, fmt.Errorf("reading %s: %w", where, err)
	}
	p.final, p.prefix = resp.Request.URL, prefix.b
	p.digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return p, nil
}
