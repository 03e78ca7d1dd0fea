// Package cdnurl recognizes content-addressed blob URLs on registry CDNs,
// whose signed query changes on every redirect, and names the cache key
// that all of a blob's signed URLs share.
package cdnurl

import (
	"fmt"
	"regexp"
	"strings"
)

// DefaultPattern matches quay.io's CDN blob URLs; registry.redhat.io and
// registry.access.redhat.com redirect to the same CDN.
const DefaultPattern = `^https://cdn(\d{2})?\.quay\.io/.+/sha256/.+/[a-f0-9]{64}`

// Matcher holds the URL patterns of the CDN blobs to cache.
type Matcher struct {
	patterns []*regexp.Regexp
}

// New compiles patterns; none means DefaultPattern.
func New(patterns ...string) (*Matcher, error) {
	if len(patterns) == 0 {
		patterns = []string{DefaultPattern}
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

// Match reports whether rawURL is a CDN blob URL.
func (m *Matcher) Match(rawURL string) bool {
	for _, re := range m.patterns {
		if re.MatchString(rawURL) {
			return true
		}
	}
	return false
}

// SharedKey is the cache key every signed URL of the blob shares: the URL
// without its query.
func SharedKey(rawURL string) string {
	key, _, _ := strings.Cut(rawURL, "?")
	return key
}

// UnverifiedKey is the cache key of a request whose authorization check
// failed. Squid takes only http, https and ftp URLs from clients, so no
// client can ask for this key: an unverified request never reaches a
// verified blob, even when its URL is a bare shared key.
func UnverifiedKey(rawURL string) string { return "unverified:" + rawURL }
