package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/squid-cache-exporter/squid-cache-exporter/cdnurl"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/quaytest"
)

// A registry that serves its private blobs itself (Harbor's shape), once
// Alice's pull has cached a private blob: nobody else gets a byte of it, not
// with no token, a token for another repository, a forged one or a wrong
// password, and no token reaches a log. (Sharing between Alice and Bob:
// TestPrivateBlobIsSharedBetweenAuthorizedClients.)
func TestSelfServingRegistryRefusesOthers(t *testing.T) {
	s := startFlavor(t, quaytest.SelfServingFlavor, true, nil)
	h, data := s.Quay.RandomBlob(256 << 10)
	alice := s.client("alice", users["alice"])
	alice.pull(t, "org/private", h, data)
	blobURL, aliceToken := alice.signedURL(t, "org/private", h)
	// What Squid stores is public; what a client gets says private, so that
	// no cache in front of Squid keeps it.
	req, _ := http.NewRequest(http.MethodGet, blobURL, nil)
	setAuthorization(req, aliceToken)
	if resp, err := alice.http.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if cc := resp.Header.Values("Cache-Control"); len(cc) != 1 || cc[0] != "private" {
			t.Errorf("the client's copy says Cache-Control %q, want private", cc)
		}
	}
	publicToken, err := s.client("", "").token("org/public")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.client("alice", "wrong").token("org/private"); err == nil {
		t.Error("a wrong password got a token for org/private")
	}
	anyone := s.client("", "").http
	for _, tt := range []struct{ name, auth string }{
		{"no token", ""},
		{"token for another repository", publicToken},
		{"forged token", "Bearer 0123456789abcdef"},
		{"wrong password, basic", "Basic YWxpY2U6d3Jvbmc="},
	} {
		var hdr []string
		if tt.auth != "" {
			hdr = []string{"Authorization", tt.auth}
		}
		status, body, err := fetch(anyone, blobURL, hdr...)
		if err != nil || leaked(status, body, data) || status == http.StatusOK {
			t.Errorf("%s: %d, %d bytes, %v", tt.name, status, len(body), err)
		}
	}
	if n := s.Quay.CDNGets(h); n != 1 {
		t.Errorf("the registry delivered the blob %d times after the refusals, want 1", n)
	}
	if log := readFile(s.Squid.CacheLog) + s.out.String(); strings.Contains(log, publicToken) {
		t.Error("a client's token reached a log")
	}
}

// The controls: without the RESPMOD service Squid stores nothing a client
// fetched with its token, so Bob misses; with a store-ID helper that
// checks nothing, an anonymous client gets the private blob, which the
// refusals above would catch.
func TestSelfServingRegistryControls(t *testing.T) {
	t.Run("without RESPMOD", func(t *testing.T) {
		s := startFlavor(t, quaytest.SelfServingFlavor, true, func(l string) string {
			if strings.HasPrefix(l, "adaptation_access blob_respmod allow") {
				return "# " + l
			}
			return l
		})
		h, data := s.Quay.RandomBlob(64 << 10)
		s.client("alice", users["alice"]).pull(t, "org/private", h, data)
		if code := s.client("bob", users["bob"]).pull(t, "org/private", h, data); code != "TCP_MISS" {
			t.Errorf("bob's pull: %s, want TCP_MISS", code)
		}
	})
	t.Run("a helper that checks nothing", func(t *testing.T) {
		s := startWithStoreID(t, quaytest.SelfServingFlavor, verifyNothing)
		h, data := s.Quay.RandomBlob(64 << 10)
		alice := s.client("alice", users["alice"])
		alice.pull(t, "org/private", h, data)
		blobURL, _ := alice.signedURL(t, "org/private", h)
		if status, body, err := fetch(s.client("", "").http, blobURL); err != nil || !leaked(status, body, data) {
			t.Errorf("an anonymous client got %d, %d bytes, %v: the setup made to leak did not", status, len(body), err)
		}
	})
}

// verifyNothing is a store-ID helper that files every blob GET under the
// shared key with the verified note, asking nobody: a setup made to leak.
const verifyNothing = `#!/bin/sh
while read -r url rest; do
  case "$url" in
    */blobs/sha256:*) echo "OK store-id=` + cdnurl.KeyScheme + `:sha256:${url##*sha256:} verified=1" ;;
    *) echo "ERR" ;;
  esac
done
`
