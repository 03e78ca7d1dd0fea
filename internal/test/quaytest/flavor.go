package quaytest

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/squid-cache-exporter/squid-cache-exporter/registries"
)

// A Flavor is how a registry and its CDN differ from quay's: host names,
// where the token endpoint is, the redirect's status, where the CDN keeps
// a blob and how it signs its URLs. Each follows the registries table's
// row for it (registries/registries.go), whose sources it cites.
type Flavor struct {
	Name      string // the registries table's name
	Registry  string // the registry's host name
	CDN       string // its CDN's host name
	TokenPath string // the token endpoint on the registry host
	Service   string // the token's service, as the challenge names it
	Redirect  int    // the blob GET's status: 302 or 307
	// SelfServing: blob GETs are answered with the bytes, to the client's
	// token, as a Harbor or a distribution registry does; no CDN. CDN is
	// then the registry's own name, and "the CDN's" counts are its.
	SelfServing bool
	// BasicAuth: the registry takes HTTP basic credentials on every
	// request (ECR's "AWS" user and its password), no token endpoint.
	BasicAuth bool
	// Learned: the CDN URL names no digest; the helpers learn it from the
	// redirect (the registries table's Learned rows).
	Learned          bool
	opaque           opaqueStyle
	relativeRedirect bool // Location is a path on the registry's host
	cdnPath          func(hex string) string
	style            signStyle
	cdnPattern       string // quay's for quay.test; empty: the table's
}

// The flavors: quay.io's on test names (as the tests always ran), and
// Docker Hub's and GHCR's on their real names, which the tests' hosts
// files point at loopback addresses, so that the table's own patterns
// (with the test's port) are what the helpers match.
var (
	QuayFlavor = Flavor{Name: "quay.io", Registry: RegistryName, CDN: CDNName, TokenPath: "/v2/auth", Service: "quay.test",
		Redirect: http.StatusFound, cdnPath: quayPath, style: s3Style,
		cdnPattern: `^https://cdn[0-9]*\.quay\.test/[^?#]+/sha256/[a-f0-9]{2}/[a-f0-9]{64}$`}
	// Docker Hub: a 307 to CloudFront, signed with a canned policy. Its
	// token endpoint is auth.docker.io; here it is on the registry host.
	DockerHubFlavor = Flavor{Name: "docker.io", Registry: "registry-1.docker.io", CDN: "production.cloudfront.docker.com",
		TokenPath: "/token", Service: "registry.docker.io", Redirect: http.StatusTemporaryRedirect,
		cdnPath: func(hex string) string {
			return fmt.Sprintf("/registry-v2/docker/registry/v2/blobs/sha256/%s/%s/data", hex[:2], hex)
		}, style: cloudFrontStyle}
	// GHCR: a 307 to Azure Blob storage, signed with a SAS.
	GHCRFlavor = Flavor{Name: "ghcr.io", Registry: "ghcr.io", CDN: "pkg-containers.githubusercontent.com",
		TokenPath: "/token", Service: "ghcr.io", Redirect: http.StatusTemporaryRedirect,
		cdnPath: func(hex string) string { return "/ghcr1/blobs/sha256:" + hex }, style: sasStyle}
)

// SelfServingFlavor is a registry that serves its private blobs itself,
// as Harbor does (token endpoint /service/token, blob GETs answered 200
// with "Cache-Control: max-age=31536000", not public, as distribution's
// blob server writes it). Its blob URL is no CDN's: the CDN pattern the
// helpers get matches nothing.
var SelfServingFlavor = Flavor{Name: "harbor.test", Registry: "harbor.test", CDN: "harbor.test",
	TokenPath: "/service/token", Service: "harbor-registry", SelfServing: true,
	cdnPath:    func(hex string) string { return "/v2/org/private/blobs/sha256:" + hex },
	style:      s3Style,
	cdnPattern: noCDN}

// The flavors whose CDN URLs name no digest, on their real names.
var (
	// Artifact Registry: a 302 to a relative download URL on its own host.
	ArtifactRegistryFlavor = Flavor{Name: "gcr.io", Registry: "us-docker.pkg.dev", CDN: "us-docker.pkg.dev",
		TokenPath: "/v2/token", Service: "us-docker.pkg.dev", Redirect: http.StatusFound,
		Learned: true, opaque: downloadToken, relativeRedirect: true, cdnPattern: noCDN}
	// ECR: basic credentials, a 307 to an S3 presigned URL of the layer
	// bucket, with a session token.
	ECRFlavor = Flavor{Name: "ecr", Registry: "123456789012.dkr.ecr.us-east-1.amazonaws.com",
		CDN: "prod-us-east-1-starport-layer-bucket.s3.us-east-1.amazonaws.com", Service: "ecr.amazonaws.com",
		Redirect: http.StatusTemporaryRedirect, BasicAuth: true, Learned: true, opaque: bucketKey, style: s3Style, cdnPattern: noCDN}
)

// noCDN is a CDN pattern that matches no URL: for the flavors whose blobs
// are not shared through a digest in the CDN URL.
const noCDN = `^https://none\.invalid/sha256/[a-f0-9]{64}$`

// Flavors are every flavor, for tests that run on each.
var Flavors = []Flavor{QuayFlavor, DockerHubFlavor, GHCRFlavor, ArtifactRegistryFlavor, ECRFlavor}

func quayPath(hex string) string {
	return fmt.Sprintf("/quayio-production-s3/sha256/%s/%s", hex[:2], hex)
}

// CDNPattern is the flavor's CDN URL pattern as the helpers get it in
// tests: the table's, with the test server's port after the host, and no
// parentheses (Squid's config parser takes "name(" for a function).
func (f Flavor) CDNPattern() string {
	p := f.cdnPattern
	if p == "" {
		for _, r := range registries.Default {
			if r.Name == f.Name {
				p = r.CDNs[0].URL
			}
		}
	}
	rest := strings.TrimPrefix(p, "^https://")
	i := strings.IndexByte(rest, '/')
	return "^https://" + rest[:i] + ":[0-9]+" + rest[i:]
}

// CDNPatterns are every flavor's CDNPattern.
func CDNPatterns() []string {
	var out []string
	for _, f := range Flavors {
		out = append(out, f.CDNPattern())
	}
	return out
}

// blobHex finds the blob in a CDN path of any flavor.
var blobHex = regexp.MustCompile(`sha256[:/](?:[a-f0-9]{2}/)?([a-f0-9]{64})(?:/data)?$`)

func cdnBlob(path string) (string, bool) {
	m := blobHex.FindStringSubmatch(path)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// SignatureParam is the query parameter that carries the flavor's
// signature.
func (f Flavor) SignatureParam() string { return signatureParam[f.style] }

// Tamper changes the credential of one of the flavor's CDN URLs: its
// signature, or Artifact Registry's download token.
func (f Flavor) Tamper(rawURL string) string {
	mark := f.SignatureParam() + "="
	if f.opaque == downloadToken {
		mark = "/downloads/"
	}
	return strings.Replace(rawURL, mark, mark+"0", 1)
}

// PathCredential says the CDN URL's path is its credential (Artifact
// Registry's download token): without its query it is still the URL.
func (f Flavor) PathCredential() bool { return f.opaque == downloadToken }
