package e2e

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
)

// Only content-addressed blobs are shared. Even when the registry marks
// everything "public, max-age=3600", a second client asking the same token,
// private-manifest or refused URL gets its own answer from the origin,
// never the first client's.
func TestOnlyBlobsAreShared(t *testing.T) {
	s := start(t, true)
	s.Quay.MarkEverythingShareable()
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref := s.Quay.Push(t, s.Quay.Registry, "org/private", img)
	alice, bob, anonymous := s.client("alice", users["alice"]), s.client("bob", users["bob"]), s.client("", "")

	t.Run("token", func(t *testing.T) {
		tokens := map[string]bool{}
		for _, c := range []*client{alice, bob, anonymous, alice} {
			token, err := c.token("org/private")
			if err != nil {
				t.Fatal(err)
			}
			if tokens[token] {
				t.Errorf("%q got a token another client had: served from cache", c.user)
			}
			tokens[token] = true
		}
	})

	manifest := "https://" + s.Quay.Registry + "/v2/org/private/manifests/" + ref.DigestStr()
	t.Run("private manifest", func(t *testing.T) {
		token, _ := alice.token("org/private")
		if status, _, err := fetch(alice.http, manifest, "Authorization", token); status != http.StatusOK {
			t.Fatalf("alice's manifest GET: %d %v", status, err)
		}
		if status, body, _ := fetch(anonymous.http, manifest); status != http.StatusUnauthorized {
			t.Errorf("an anonymous GET of the manifest alice fetched: %d (%d bytes), want the registry's 401", status, len(body))
		}
	})

	t.Run("refusal", func(t *testing.T) {
		tagged := "https://" + s.Quay.Registry + "/v2/org/private/manifests/latest"
		if status, _, _ := fetch(anonymous.http, tagged); status != http.StatusUnauthorized {
			t.Fatalf("anonymous: %d, want 401", status)
		}
		token, _ := bob.token("org/private")
		if status, _, _ := fetch(bob.http, tagged, "Authorization", token); status != http.StatusOK {
			t.Errorf("bob after an anonymous 401: %d, want 200 (the 401 was shared)", status)
		}
	})

	t.Run("redirect to the CDN", func(t *testing.T) {
		// quay's 302 names a signed URL of Alice's: it is never shared.
		h, _ := s.Quay.RandomBlob(4 << 10)
		location, _ := alice.signedURL(t, "org/private", h)
		blob := "https://" + s.Quay.Registry + "/v2/org/private/blobs/" + h.String()
		status, body, _ := fetch(anonymous.http, blob)
		if status != http.StatusUnauthorized || strings.Contains(string(body), location) {
			t.Errorf("an anonymous GET of the blob alice was redirected for: %d, want the registry's 401", status)
		}
	})

	// And Squid's log agrees: none of it was a hit.
	b, _ := os.ReadFile(s.Squid.AccessLog)
	for _, line := range strings.Split(string(b), "\n") {
		var e accesslog.Entry
		if accesslog.Parse([]byte(line), &e) != nil || e.Status == http.StatusOK && strings.Contains(string(e.URL), "/blobs/") {
			continue
		}
		if strings.Contains(string(e.Result), "HIT") {
			t.Errorf("served from cache: %s", line)
		}
	}
}
