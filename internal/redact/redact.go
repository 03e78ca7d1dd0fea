// Package redact takes credentials out of URLs before anything prints them.
// A signed CDN URL is a bearer credential for as long as it is valid, and a
// URL's userinfo is a password: neither may reach a log line, an error a
// person reads, a debug page or a metric label.
package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// Mark stands where a credential was.
const Mark = "REDACTED"

// URL returns rawURL without its userinfo and with every query value
// replaced by Mark; the query's keys stay, so a reader still sees which
// parameters were sent.
func URL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		// Not parseable: keep only what comes before anything secret.
		before, _, _ := strings.Cut(rawURL, "?")
		if i := strings.Index(before, downloadsPath); i >= 0 {
			before = before[:i+len(downloadsPath)] + Mark
		}
		if i := strings.LastIndex(before, "@"); i >= 0 {
			if j := strings.Index(before, "://"); j >= 0 && j < i {
				before = before[:j+3] + Mark + before[i:]
			}
		}
		return before
	}
	if u.User != nil {
		u.User = url.User(Mark)
	}
	if u.RawQuery != "" {
		u.RawQuery = redactQuery(u.RawQuery)
	}
	if i := strings.Index(u.Path, downloadsPath); i >= 0 && strings.Contains(u.Path[i+len(downloadsPath):], "/downloads/") {
		// Artifact Registry's download token is a path segment.
		u.Path, u.RawPath = u.Path[:strings.LastIndex(u.Path, "/")+1]+Mark, ""
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

// downloadsPath starts Artifact Registry's download URLs, whose last
// segment is a credential: .../downloads/<token>.
const downloadsPath = "/artifacts-downloads/"

func redactQuery(raw string) string {
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		key, _, _ := strings.Cut(p, "=")
		if !plainKey(key) { // not a parameter name: perhaps a URL glued on, credentials and all
			key = Mark
		}
		parts[i] = key + "=" + Mark
	}
	return strings.Join(parts, "&")
}

// plainKey says a query key looks like a parameter name (X-Amz-Signature).
func plainKey(k string) bool {
	if len(k) == 0 || len(k) > 64 {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// anyURL finds absolute URLs in free text, up to the quote, space or
// bracket that ends them (Go's url.Error quotes its URL).
var anyURL = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'<>]+`)

// String redacts every URL in s.
func String(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return anyURL.ReplaceAllStringFunc(s, URL)
}

// Error returns err with its message redacted. errors.Is and errors.As
// still see the original chain.
func Error(err error) error {
	if err == nil {
		return nil
	}
	msg := String(err.Error())
	if msg == err.Error() {
		return err
	}
	return &redacted{msg: msg, err: err}
}

type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }
