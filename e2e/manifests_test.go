package e2e

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/quaytest"
)

// manifestAccept is what clients such as skopeo accept for a manifest.
const manifestAccept = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, " +
	"application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"

// Manifests by digest, shared on Docker Hub's emulation when the registry
// is named for them: Alice's GET is a miss, Bob's a hit with the same
// bytes and media type, so the registry answers one GET (the one Docker Hub
// counts against the pull rate limit) and two HEADs (the checks, which it
// does not count). Nobody else gets the manifest; a manifest by tag always
// goes to the registry; and without the option nothing is shared.
func TestManifestByDigestIsShared(t *testing.T) {
	for _, on := range []bool{true, false} {
		name := map[bool]string{true: "manifests by digest on", false: "off (the default)"}[on]
		t.Run(name, func(t *testing.T) {
			s := startOrigins(t, quaytest.DockerHubFlavor, true, on, nil)
			img, err := random.Image(1024, 1)
			if err != nil {
				t.Fatal(err)
			}
			ref := s.Quay.Push(t, s.Quay.Registry, "org/private", img)
			manifestURL := "https://" + s.Quay.Registry + "/v2/org/private/manifests/" + ref.DigestStr()
			want, _ := img.RawManifest()
			alice, bob := s.client("alice", users["alice"]), s.client("bob", users["bob"])
			codeA, typeA := alice.getManifest(t, "org/private", manifestURL, want)
			codeB, typeB := bob.getManifest(t, "org/private", manifestURL, want)
			gets, heads := s.Quay.ManifestRequests("GET", ref.DigestStr()), s.Quay.ManifestRequests("HEAD", ref.DigestStr())
			if !on {
				if codeB != "TCP_MISS" || gets != 2 {
					t.Errorf("bob's GET: %s, registry GETs %d; want TCP_MISS and 2", codeB, gets)
				}
				return
			}
			if codeA != "TCP_MISS" || codeB != "TCP_MEM_HIT" || typeA != typeB {
				t.Errorf("alice %s (%s), bob %s (%s); want TCP_MISS, then TCP_MEM_HIT with the same type", codeA, typeA, codeB, typeB)
			}
			if gets != 1 || heads != 2 {
				t.Errorf("the registry answered %d GETs and %d HEADs of the manifest, want 1 and 2", gets, heads)
			}
			publicToken, err := s.client("", "").token("org/public")
			if err != nil {
				t.Fatal(err)
			}
			for _, auth := range []string{"", publicToken, "Bearer 0123456789abcdef"} {
				var hdr []string
				if auth != "" {
					hdr = []string{"Authorization", auth}
				}
				status, body, err := fetch(s.client("", "").http, manifestURL, append(hdr, "Accept", manifestAccept)...)
				if err != nil || status == http.StatusOK || bytes.Contains(body, want) {
					t.Errorf("without access (%.12q): %d, %d bytes, %v", auth, status, len(body), err)
				}
			}
			byTag := "https://" + s.Quay.Registry + "/v2/org/private/manifests/latest"
			for range 2 {
				if code, _ := alice.getManifest(t, "org/private", byTag, want); code != "TCP_MISS" {
					t.Errorf("a manifest by tag: %s, want TCP_MISS", code)
				}
			}
			if n := s.Quay.ManifestRequests("GET", "latest"); n != 2 {
				t.Errorf("the registry answered %d GETs by tag, want 2", n)
			}
		})
	}
}

// getManifest GETs a manifest with the client's token for repo, checks it
// is want, and returns Squid's result code and the answer's media type.
func (c *client) getManifest(t *testing.T, repo, rawURL string, want []byte) (string, string) {
	t.Helper()
	token, err := c.token(repo)
	if err != nil {
		t.Fatal(err)
	}
	before := len(c.s.deliveries(rawURL))
	req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
	setAuthorization(req, token)
	req.Header.Set("Accept", manifestAccept)
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body.Bytes(), want) {
		t.Fatalf("%s: manifest %s: %s, %d bytes", c.user, rawURL, resp.Status, body.Len())
	}
	return c.s.nextDelivery(t, rawURL, before), resp.Header.Get("Content-Type")
}
