// Package registries is the one table of the registries whose blobs the
// cache knows: their API hosts, the CDNs their blob GETs redirect to, how
// a CDN URL names the blob's digest, and which query parameters sign it.
// The store-ID helper and the ICAP service (through cdnurl) and the
// traffic counters read it; adding a registry is adding a row, never an
// "if host == ..." in each.
package registries

import (
	"slices"
	"strings"
)

// Registry is one row of the table.
type Registry struct {
	// Name is the registry's label value in the traffic metrics.
	Name string
	// Hosts are its API hosts, the first the canonical one; "*.example.com"
	// means every subdomain.
	Hosts []string
	// CDNs are where its blob GETs redirect to, when they do.
	CDNs []CDN
}

// CDN is one shape of a registry's signed blob URLs.
type CDN struct {
	// Hosts serve the blobs ("*.example.com": every subdomain).
	Hosts []string
	// URL matches the URL without its query when it is a blob: anchored,
	// scheme and host included, with the 64 hex digits of the digest as
	// the last path segment, or after "sha256:" in it, or followed by a
	// last segment (Docker Hub's .../<hex>/data). It has no parentheses,
	// so that it may stand on a Squid configuration line.
	URL string
	// Signed names the query parameters that sign the URL or bound its
	// life: the CDN refuses the URL when any of them is changed.
	Signed []string
	// Example is a signed URL of this shape (its signature made up), for
	// the tests that hold every reader of the table to it.
	Example string
	// Source says where the shape comes from.
	Source string
	// Learned: the URL names no digest (a download token, an object key).
	// The digest is learned from the registry's own redirect to the URL,
	// seen by the ICAP service (docs/security.md); URL then matches the
	// whole URL without its query, digest or not, and allows a port.
	Learned bool
}

// Default is the table the programs ship with.
var Default = []Registry{
	{
		Name:  "quay.io",
		Hosts: []string{"quay.io", "*.quay.io"},
		CDNs: []CDN{{
			// Clients inside AWS us-east-1 are sent to the bucket itself,
			// under another path: counted, not shared.
			Hosts:   []string{"*.quay.io", "quayio-production-s3.s3.amazonaws.com"},
			URL:     `^https://cdn[0-9]*\.quay\.io/[^?#]+/sha256/[a-f0-9]{2}/[a-f0-9]{64}$`,
			Signed:  []string{"X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-Signature", "Expires", "Signature", "Key-Pair-Id", "cf_sign", "cf_expiry", "akamai_signature"},
			Example: "https://cdn01.quay.io/quayio-production-s3/sha256/0e/0ea0faeb23c26511e776010a311460a8e57c969b6d3f16484fa1dd29c22a613d?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAEXAMPLE%2F20261207%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261207T050000Z&X-Amz-Expires=600&X-Amz-SignedHeaders=host&X-Amz-Signature=5d2c0e0f",
			Source:  "konflux-ci/caching ADR/0001-caching-container-image-layers.md; quay/quay storage/multicdnstorage.py, cloudflarestorage.py, akamaistorage.py, cloud.py",
		}},
	},
	// registry.redhat.io and registry.access.redhat.com redirect their
	// blobs to quay's CDN: those deliveries count under the registry that
	// redirected (traffic), and are shared by quay's CDN row.
	{Name: "registry.redhat.io", Hosts: []string{"registry.redhat.io"}},
	{Name: "registry.access.redhat.com", Hosts: []string{"registry.access.redhat.com"}},
	{
		Name:  "docker.io",
		Hosts: []string{"registry-1.docker.io", "docker.io", "index.docker.io"},
		CDNs: []CDN{{
			// CloudFront since May 2026; Cloudflare and R2 before June 2026.
			Hosts: []string{"production.cloudfront.docker.com", "production.cloudflare.docker.com"},
			URL:   `^https://production\.cloud[a-z]+\.docker\.com/registry-v2/docker/registry/v2/blobs/sha256/[a-f0-9]{2}/[a-f0-9]{64}/data$`,
			// CloudFront's canned policy; Cloudflare's verify=<expiry>-<mac>.
			Signed:  []string{"Expires", "Signature", "Key-Pair-Id", "verify"},
			Example: "https://production.cloudfront.docker.com/registry-v2/docker/registry/v2/blobs/sha256/0e/0ea0faeb23c26511e776010a311460a8e57c969b6d3f16484fa1dd29c22a613d/data?Expires=1796620800&Signature=bX9kZXhhbXBsZQ__&Key-Pair-Id=K1EXAMPLE",
			Source:  "docker/docs PR #25108 and #25304 (content/manuals/desktop/setup/allow-list.md); distribution/distribution registry/storage/driver/middleware/cloudfront/middleware.go",
		}, {
			// Cloudflare R2 for anonymous and personal pulls before June 2026.
			Hosts:   []string{"*.r2.cloudflarestorage.com"},
			URL:     `^https://docker-images-prod\.[a-f0-9]+\.r2\.cloudflarestorage\.com/registry-v2/docker/registry/v2/blobs/sha256/[a-f0-9]{2}/[a-f0-9]{64}/data$`,
			Signed:  []string{"X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-Signature"},
			Example: "https://docker-images-prod.6aa30f8b08e16409b46e0173d6de2f56.r2.cloudflarestorage.com/registry-v2/docker/registry/v2/blobs/sha256/0e/0ea0faeb23c26511e776010a311460a8e57c969b6d3f16484fa1dd29c22a613d/data?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=EXAMPLE%2F20261207%2Fauto%2Fs3%2Faws4_request&X-Amz-Date=20261207T050000Z&X-Amz-Expires=1200&X-Amz-SignedHeaders=host&X-Amz-Signature=5d2c0e0f",
			Source:  "docker/docs content/manuals/desktop/setup/allow-list.md (before PR #25304); konflux-ci/caching cmd/squid-store-id/main_test.go",
		}},
	},
	{
		Name:  "ghcr.io",
		Hosts: []string{"ghcr.io"},
		CDNs: []CDN{{
			Hosts: []string{"pkg-containers.githubusercontent.com"},
			// The container name varies (ghcr1, ghcrblobs07): the digest is the key.
			URL:     `^https://pkg-containers\.githubusercontent\.com/[a-z0-9]+/blobs/sha256:[a-f0-9]{64}$`,
			Signed:  []string{"se", "sig", "sp", "spr", "sr", "sv", "hmac"},
			Example: "https://pkg-containers.githubusercontent.com/ghcr1/blobs/sha256:0ea0faeb23c26511e776010a311460a8e57c969b6d3f16484fa1dd29c22a613d?se=2026-12-07T05%3A10%3A00Z&sig=bWFkZSB1cA%3D%3D&sp=r&spr=https&sr=b&sv=2019-12-12",
			Source:  "opentofu/opentofu rfc/20241206-oci-registries/1-oci-primer.md; Azure Storage SAS (Microsoft Learn, Identify URI and SAS parameters)",
		}},
	},
	{
		Name:  "gcr.io",
		Hosts: []string{"gcr.io", "*.gcr.io", "*.pkg.dev"},
		// Artifact Registry (and gcr.io, which it serves) answers a blob
		// GET with a 302 to a relative Location on its own host: a
		// download token of about a thousand base64url characters, which
		// names no digest and is the whole credential (no Authorization
		// needed).
		CDNs: []CDN{{
			Hosts: []string{"*.pkg.dev", "gcr.io", "*.gcr.io"},
			URL: `^https://[a-z0-9.-]+\.pkg\.dev[:0-9]*/artifacts-downloads/namespaces/[^/?#]+/repositories/[^/?#]+/downloads/[A-Za-z0-9_=-]+$` +
				`|^https://[a-z0-9.-]*gcr\.io[:0-9]*/artifacts-downloads/namespaces/[^/?#]+/repositories/[^/?#]+/downloads/[A-Za-z0-9_=-]+$`,
			Example: "https://us-docker.pkg.dev/artifacts-downloads/namespaces/example-project/repositories/images/downloads/ALJ4c2VjcmV0LXRva2VuLW1hZGUtdXA=",
			Source:  "ahmetb/serverless-registry-proxy issue #8 (the 302 and its Location); sonatype/nexus-public issue #1061 (relative Location on us-east1-docker.pkg.dev)",
			Learned: true,
		}},
	},
	{Name: "registry.k8s.io", Hosts: []string{"registry.k8s.io", "*.registry.k8s.io"}},
	{Name: "public.ecr.aws", Hosts: []string{"public.ecr.aws"}},
	{
		Name:  "ecr",
		Hosts: ecrHosts("*.dkr.ecr.%s.amazonaws.com"),
		// A private ECR answers a blob GET with a 307 to an S3 presigned
		// URL of its layer bucket, whose object key names no digest.
		CDNs: []CDN{{
			Hosts:   ecrHosts("prod-%s-starport-layer-bucket.s3.%s.amazonaws.com"),
			URL:     `^https://prod-[a-z0-9-]+-starport-layer-bucket\.s3\.[a-z0-9-]+\.amazonaws\.com[:0-9]*/[^?#]+$`,
			Signed:  []string{"X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-Security-Token", "X-Amz-Signature"},
			Example: "https://prod-us-east-1-starport-layer-bucket.s3.us-east-1.amazonaws.com/4f1c-123456789012-6b1a1e0c-2d4b-8e0f-6c1d-0a9b8c7d6e5f/0c2bd3a4-5e6f-4a7b-8c9d-0e1f2a3b4c5d?X-Amz-Security-Token=IQoJEXAMPLE&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261207T050000Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Credential=ASIAEXAMPLE%2F20261207%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=5d2c0e0f",
			Source:  "AWS, Amazon ECR interface VPC endpoints (the prod-<region>-starport-layer-bucket buckets); awsdocs/amazon-ecr-user-guide issues #8 and #24",
			Learned: true,
		}},
	},
}

// ecrRegions are the AWS commercial regions with ECR: each has its own
// registry hosts and layer bucket, and a Squid dstdomain or a name
// constraint cannot say "any region".
var ecrRegions = []string{
	"us-east-1", "us-east-2", "us-west-1", "us-west-2", "af-south-1", "ap-east-1", "ap-east-2",
	"ap-south-1", "ap-south-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
	"ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-7",
	"ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2", "eu-west-1", "eu-west-2", "eu-west-3",
	"eu-south-1", "eu-south-2", "eu-north-1", "il-central-1", "me-south-1", "me-central-1",
	"mx-central-1", "sa-east-1",
}

// ecrHosts spells format once for each region (every %s is the region).
func ecrHosts(format string) []string {
	out := make([]string, len(ecrRegions))
	for i, r := range ecrRegions {
		out[i] = strings.ReplaceAll(format, "%s", r)
	}
	return out
}

// CDNURLs are the URL patterns of every CDN in rs whose URLs name the
// digest.
func CDNURLs(rs []Registry) []string {
	var out []string
	for _, r := range rs {
		for _, c := range r.CDNs {
			if !c.Learned {
				out = append(out, c.URL)
			}
		}
	}
	return out
}

// AllHosts are a registry's API hosts, then its CDNs' hosts, each once.
func (r Registry) AllHosts() []string {
	out := append([]string(nil), r.Hosts...)
	for _, c := range r.CDNs {
		for _, h := range c.Hosts {
			if !slices.Contains(out, h) {
				out = append(out, h)
			}
		}
	}
	return out
}

// SquidDomains are the names to bump and cache for r, in Squid's
// dstdomain spelling: "*.example.com" becomes ".example.com", which also
// covers example.com itself, so that name is not listed again.
func (r Registry) SquidDomains() []string {
	var out []string
	hosts := r.AllHosts()
	for _, h := range hosts {
		if d, ok := strings.CutPrefix(h, "*"); ok {
			out = append(out, d)
			continue
		}
		if !slices.Contains(hosts, "*."+h) {
			out = append(out, h)
		}
	}
	return out
}
