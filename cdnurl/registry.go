package cdnurl

import (
	"fmt"
	"strings"
)

// Registries are the hosts whose own answers, to requests that carry the
// client's Authorization, are shared once the registry has answered a HEAD
// of the same URL with that Authorization (docs/security.md):
//
//   - registries that serve private blobs themselves (a Harbor, a
//     distribution registry with htpasswd): their blob GETs are answered
//     with the bytes, not with a redirect to a signed CDN URL; such a blob
//     shares the key of a CDN blob with its digest;
//   - registries whose manifests fetched by digest are shared (optional,
//     per registry): as immutable as a blob, under a key of their own, since
//     a manifest's answer carries its media type.
type Registries struct {
	blobs, manifests map[string]bool // host or host:port, lower case
}

// ManifestKeyPrefix starts the key of a manifest by digest: under the
// scheme no client can ask for, apart from blobs.
const ManifestKeyPrefix = KeyScheme + ":manifest:sha256:"

// ManifestTypes are the manifest media types a registry may hold: what the
// helper's HEAD accepts, and what a stored manifest may be.
var ManifestTypes = []string{
	"application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.distribution.manifest.list.v2+json",
}

// NewRegistries takes "host" or "host:port" names: exact, no wildcards,
// since the helper sends each client's credentials to the host it names
// and trusts its 200. A host without a port is port 443 only.
func NewRegistries(blobHosts, manifestHosts []string) (*Registries, error) {
	r := &Registries{blobs: map[string]bool{}, manifests: map[string]bool{}}
	for _, set := range []struct {
		hosts []string
		into  map[string]bool
	}{{blobHosts, r.blobs}, {manifestHosts, r.manifests}} {
		for _, h := range set.hosts {
			if h == "" || strings.ContainsAny(h, "/*?#@ ") {
				return nil, fmt.Errorf("registry %q: want host or host:port", h)
			}
			set.into[strings.ToLower(strings.TrimSuffix(h, ":443"))] = true
		}
	}
	return r, nil
}

// Empty reports whether no registry is named.
func (r *Registries) Empty() bool { return r == nil || len(r.blobs)+len(r.manifests) == 0 }

// SharedKey is the key every authorized GET of rawURL shares, and false
// unless rawURL is exactly https://<named host>/v2/<name>/blobs/
// sha256:<hex> (a registry named for its blobs) or .../manifests/
// sha256:<hex> (named for its manifests), with no query: what the registry
// answers with the content of that digest, nothing that merely resembles
// it. A manifest by tag is never matched.
func (r *Registries) SharedKey(rawURL string) (string, bool) {
	if r.Empty() || strings.ContainsAny(rawURL, "?#") {
		return "", false
	}
	rest, ok := strings.CutPrefix(rawURL, "https://")
	if !ok {
		return "", false
	}
	host, path, ok := strings.Cut(rest, "/")
	if !ok || !strings.HasPrefix(path, "v2/") {
		return "", false
	}
	host = strings.ToLower(strings.TrimSuffix(host, ":443"))
	for _, kind := range []struct {
		sep   string
		hosts map[string]bool
		key   string
	}{{"/blobs/", r.blobs, KeyScheme + ":sha256:"}, {"/manifests/", r.manifests, ManifestKeyPrefix}} {
		name, ref, ok := cutLast(path, kind.sep)
		if !ok || !kind.hosts[host] || !validName(name) || !strings.HasPrefix(ref, "sha256:") {
			continue
		}
		if digest, ok := hexDigest(ref); ok {
			return kind.key + digest, true
		}
	}
	return "", false
}

// validName is "v2/<repository>" with a repository and no dot segment.
func validName(name string) bool {
	repo := strings.TrimPrefix(name, "v2/")
	return repo != "" && repo != name && !strings.Contains("/"+repo+"/", "/../") && !strings.Contains("/"+repo+"/", "/./")
}

func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
