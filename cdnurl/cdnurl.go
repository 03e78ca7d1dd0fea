// Package cdnurl recognizes content-addressed blob URLs on registry CDNs,
// whose signed query changes on every redirect, and names the cache keys
// the store-ID helper files them under.
//
// The keys are the heart of private-blob safety. A verified request is
// filed under SharedKey, which no client can ever ask for: it is not a URL
// of any scheme Squid accepts from a client, so a request that did not pass
// the store-ID helper's check (the helper was bypassed, busy, crashed or
// restarting) is keyed on its own URL and can never reach a shared entry.
package cdnurl

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/squid-cache-exporter/squid-cache-exporter/registries"
)

// DefaultPattern matches quay.io's CDN blob URLs (registry.redhat.io and
// registry.access.redhat.com redirect to the same CDN). Patterns are
// matched against the URL without its query, so a pattern can never match
// inside a signed query string. It has no parentheses, so it may stand on
// Squid's store_id_program line.
const DefaultPattern = `^https://cdn[0-9]*\.quay\.io/[^?#]+/sha256/[a-f0-9]{2}/[a-f0-9]{64}$`

// DefaultPatterns are the CDN URL patterns of every registry in
// registries.Default: quay.io's, Docker Hub's and GHCR's.
func DefaultPatterns() []string { return registries.CDNURLs(registries.Default) }

// KeyScheme starts every shared key. Squid refuses a request URL whose
// scheme it does not know, so no client request is ever keyed under it.
const KeyScheme = "squid-cache-blob"

// unverifiedScheme starts the key of a request whose check failed.
const unverifiedScheme = "squid-cache-unverified"

// Matcher holds the URL patterns of the CDN blobs to cache.
type Matcher struct {
	patterns []*regexp.Regexp
}

// New compiles patterns; none means DefaultPatterns.
func New(patterns ...string) (*Matcher, error) {
	if len(patterns) == 0 {
		patterns = DefaultPatterns()
	}
	m := &Matcher{}
	for _, p := range patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("url pattern %q: %w", p, err)
		}
		m.patterns = append(m.patterns, re)
	}
	return m, nil
}

// Match reports whether rawURL is a CDN blob URL: its part before the query
// matches a pattern and ends in a sha256 digest.
func (m *Matcher) Match(rawURL string) bool {
	_, ok := m.SharedKey(rawURL)
	return ok
}

// SharedKey is the cache key every authorized request for the blob at
// rawURL shares, and false when rawURL is not a CDN blob URL.
func (m *Matcher) SharedKey(rawURL string) (string, bool) {
	base := WithoutQuery(rawURL)
	digest, ok := urlDigest(base)
	if !ok {
		return "", false
	}
	for _, re := range m.patterns {
		if re.MatchString(base) {
			return KeyScheme + ":sha256:" + digest, true
		}
	}
	return "", false
}

// UnverifiedKey is the cache key of a request whose authorization check
// failed: its own URL under a scheme no client can ask for, so that it
// shares nothing with verified requests, even when its URL has no query.
func UnverifiedKey(rawURL string) string { return unverifiedScheme + ":" + rawURL }

// WithoutQuery is rawURL without its query and fragment, as Squid's
// access log shows it with strip_query_terms on.
func WithoutQuery(rawURL string) string {
	if i := strings.IndexAny(rawURL, "?#"); i >= 0 {
		return rawURL[:i]
	}
	return rawURL
}

// urlDigest finds the blob's digest in a CDN URL without its query: its
// last path segment when that is 64 lower-case hex digits, alone or after
// "sha256:" (quay's .../sha256/ab/<hex>, GHCR's .../blobs/sha256:<hex>), or
// the segment before a last one named "data" (Docker Hub's
// .../sha256/ab/<hex>/data, distribution's storage layout). Nothing else:
// two URLs filed under one digest must be the same bytes, so that content
// addressing makes sharing safe.
func urlDigest(u string) (string, bool) {
	i := strings.LastIndexByte(u, '/')
	if d, ok := hexDigest(u[i+1:]); ok {
		return d, true
	}
	if i < 0 || u[i+1:] != "data" {
		return "", false
	}
	return hexDigest(u[strings.LastIndexByte(u[:i], '/')+1 : i])
}

// hexDigest reads a path segment that is a sha256 digest: 64 lower-case
// hex digits, with or without "sha256:" before them.
func hexDigest(seg string) (string, bool) {
	seg = strings.TrimPrefix(seg, "sha256:")
	if len(seg) != 64 {
		return "", false
	}
	for i := 0; i < len(seg); i++ {
		if c := seg[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", false
		}
	}
	return seg, true
}
