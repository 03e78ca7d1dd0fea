package cdnurl

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/squid-cache-exporter/squid-cache-exporter/registries"
)

// Learned recognizes the CDN URLs that name no digest (the registries
// table's Learned rows: Artifact Registry's download tokens, ECR's layer
// bucket keys), and the registry redirects that say which blob such a URL
// is. Only a redirect from one of a row's own API hosts, for a blob GET,
// to a URL of that row's own shape teaches anything (docs/security.md).
type Learned struct {
	rows []learnedRow
}

type learnedRow struct {
	hosts []string // API hosts, "*.example.com" for every subdomain
	urls  []*regexp.Regexp
}

// NewLearned takes the Learned CDNs of rows.
func NewLearned(rows []registries.Registry) (*Learned, error) {
	l := &Learned{}
	for _, r := range rows {
		row := learnedRow{hosts: r.Hosts}
		for _, c := range r.CDNs {
			if !c.Learned {
				continue
			}
			re, err := regexp.Compile(c.URL)
			if err != nil {
				return nil, fmt.Errorf("%s: url pattern %q: %w", r.Name, c.URL, err)
			}
			row.urls = append(row.urls, re)
		}
		if len(row.urls) > 0 {
			l.rows = append(l.rows, row)
		}
	}
	return l, nil
}

// Match reports whether rawURL, without its query, is a CDN URL whose
// digest must be learned.
func (l *Learned) Match(rawURL string) bool {
	if l == nil {
		return false
	}
	base := WithoutQuery(rawURL)
	for _, r := range l.rows {
		if r.matchURL(base) {
			return true
		}
	}
	return false
}

// Teaches reads a registry's redirect: requestURL must be exactly
// https://<a row's API host>/v2/<name>/blobs/sha256:<hex> with no query,
// and location (absolute, or relative to requestURL as Artifact Registry
// sends it) a URL of that row's CDN shape. It returns the absolute
// location and the digest's hex.
func (l *Learned) Teaches(requestURL, location string) (cdnURL, hex string, ok bool) {
	if l == nil || strings.ContainsAny(requestURL, "?#") {
		return "", "", false
	}
	req, err := url.Parse(requestURL)
	if err != nil || req.Scheme != "https" || req.User != nil {
		return "", "", false
	}
	name, ref, found := cutLast(strings.TrimPrefix(req.EscapedPath(), "/"), "/blobs/")
	if !found || !validName(name) || !strings.HasPrefix(ref, "sha256:") {
		return "", "", false
	}
	if hex, ok = hexDigest(ref); !ok {
		return "", "", false
	}
	loc, err := req.Parse(location)
	if err != nil || loc.Scheme != "https" || loc.User != nil || loc.Fragment != "" {
		return "", "", false
	}
	host := strings.ToLower(req.Hostname())
	for _, r := range l.rows {
		if r.hasHost(host) && r.matchURL(WithoutQuery(loc.String())) {
			return loc.String(), hex, true
		}
	}
	return "", "", false
}

func (r learnedRow) matchURL(base string) bool {
	for _, re := range r.urls {
		if re.MatchString(base) {
			return true
		}
	}
	return false
}

func (r learnedRow) hasHost(host string) bool {
	for _, h := range r.hosts {
		if rest, ok := strings.CutPrefix(h, "*."); ok && strings.HasSuffix(host, "."+rest) || h == host {
			return true
		}
	}
	return false
}

// BlobKey is the shared key of the blob whose digest is sha256:<hex>.
func BlobKey(hex string) string { return KeyScheme + ":sha256:" + hex }
