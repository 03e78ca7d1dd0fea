package cdnurl

import (
	"fmt"
	"strings"
)

// Registries are the hosts of registries that serve private blobs
// themselves (a Harbor, a distribution registry with htpasswd): a blob GET
// there carries the client's Authorization and is answered with the bytes,
// not with a redirect to a signed CDN URL. Such a blob is shared under the
// same key as a CDN blob, after the registry has answered a HEAD of it
// with that client's Authorization (docs/security.md).
type Registries struct {
	hosts map[string]bool // host or host:port, lower case
}

// NewRegistries takes "host" or "host:port" names: exact, no wildcards,
// since the helper sends each client's credentials to the host it names.
func NewRegistries(hosts ...string) (*Registries, error) {
	r := &Registries{hosts: map[string]bool{}}
	for _, h := range hosts {
		if h == "" || strings.ContainsAny(h, "/*?#@ ") {
			return nil, fmt.Errorf("self-serving registry %q: want host or host:port", h)
		}
		r.hosts[strings.ToLower(h)] = true
	}
	return r, nil
}

// Empty reports whether no registry is named.
func (r *Registries) Empty() bool { return r == nil || len(r.hosts) == 0 }

// SharedKey is the key every authorized GET of the blob at rawURL shares,
// and false unless rawURL is exactly https://<named host>/v2/<name>/blobs/
// sha256:<hex>, with no query: the URL the registry answers with the
// blob's bytes, nothing that merely resembles it.
func (r *Registries) SharedKey(rawURL string) (string, bool) {
	if r.Empty() || strings.ContainsAny(rawURL, "?#") {
		return "", false
	}
	rest, ok := strings.CutPrefix(rawURL, "https://")
	if !ok {
		return "", false
	}
	host, path, ok := strings.Cut(rest, "/")
	if !ok || !r.hosts[strings.ToLower(host)] {
		return "", false
	}
	name, blob, ok := cutLast(path, "/blobs/")
	if !ok || !strings.HasPrefix(path, "v2/") || len(name) <= len("v2/") || !strings.HasPrefix(blob, "sha256:") {
		return "", false
	}
	digest, ok := hexDigest(blob)
	if !ok || strings.Contains(name, "/../") || strings.HasSuffix(name, "/..") {
		return "", false
	}
	return KeyScheme + ":sha256:" + digest, true
}

func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
