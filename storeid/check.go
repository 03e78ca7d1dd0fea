package storeid

import (
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/squid-cache-exporter/squid-cache-exporter/cdnurl"
)

// manifestTypes is the Accept of a manifest HEAD.
var manifestTypes = strings.Join(cdnurl.ManifestTypes, ", ")

// Checker asks the CDN whether a signed URL is valid, as the requester's
// authorization: it GETs the URL (the CDN answers no HEAD) for its first
// byte only, so a check costs one round trip and no blob transfer.
type Checker struct {
	Client *http.Client // goes straight to the CDN, never through Squid
}

// Authorized reports whether the CDN serves rawURL.
func (c *Checker) Authorized(ctx context.Context, rawURL string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Range", "bytes=0-0")
	resp, err := c.Client.Do(req)
	if err != nil {
		return false, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // keep the connection if it is short
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusPartialContent, nil
}

// RegistryAuthorized reports whether the registry lets authorization read
// the blob or manifest at rawURL: a HEAD of that very URL with that
// header, answered 200 (a HEAD spends no Docker Hub pull). A redirect is no: a registry that redirects its blobs is a CDN row's.
// The header goes to rawURL's own host (the caller checked it is a named
// registry) and is not kept.
func (c *Checker) RegistryAuthorized(ctx context.Context, rawURL, authorization string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, rawURL, nil)
	if err != nil {
		return false, err
	}
	if strings.Contains(req.URL.Path, "/manifests/") {
		// distribution answers 404 for a manifest whose media type the
		// request does not accept: the question is access, not format.
		req.Header.Set("Accept", manifestTypes)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := c.Client.Do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}
