package cdnurl

import (
	"strings"
	"testing"
)

const hex = "0ea0faeb23c26511e776010a311460a8e57c969b6d3f16484fa1dd29c22a613d"

const blob = "https://cdn01.quay.io/quayio-production-s3/sha256/0e/" + hex

func TestSharedKey(t *testing.T) {
	m, err := New()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, url string
		want      bool
	}{
		{"signed CDN URL", blob + "?X-Amz-Signature=x&X-Amz-Date=1", true},
		{"bare CDN URL", blob, true},
		{"cdn without number", "https://cdn.quay.io/quayio-production-s3/sha256/0e/" + hex, true},
		{"look-alike host", "https://cdn01.quay.io.evil.test/quayio-production-s3/sha256/0e/" + hex, false},
		{"plain http", "http://cdn01.quay.io/quayio-production-s3/sha256/0e/" + hex, false},
		{"registry, not CDN", "https://quay.io/v2/org/repo/blobs/sha256:" + hex, false},
		{"short digest", "https://cdn01.quay.io/quayio-production-s3/sha256/0e/0ea0", false},
		{"digest only in the query", "https://cdn01.quay.io/other?x=/sha256/0e/" + hex, false},
		{"digest in the query of a blob-like path", "https://cdn01.quay.io/a/sha256/0e/x?/sha256/0e/" + hex, false},
		{"something after the digest", blob + "/more", false},
		{"upper-case digest", "https://cdn01.quay.io/q/sha256/0E/" + strings.ToUpper(hex), false},
		{"fragment", blob + "#frag", true},
		{"Docker Hub on CloudFront", "https://production.cloudfront.docker.com/registry-v2/docker/registry/v2/blobs/sha256/0e/" + hex + "/data?Expires=1&Signature=x&Key-Pair-Id=k", true},
		{"Docker Hub on Cloudflare", "https://production.cloudflare.docker.com/registry-v2/docker/registry/v2/blobs/sha256/0e/" + hex + "/data?verify=1676658661-abc", true},
		{"Docker Hub on R2", "https://docker-images-prod.6aa30f8b08e16409b46e0173d6de2f56.r2.cloudflarestorage.com/registry-v2/docker/registry/v2/blobs/sha256/0e/" + hex + "/data?X-Amz-Signature=x", true},
		{"Docker Hub, not the data", "https://production.cloudfront.docker.com/registry-v2/docker/registry/v2/blobs/sha256/0e/" + hex + "/link", false},
		{"Docker Hub look-alike", "https://production.cloudfront.docker.com.evil.test/registry-v2/docker/registry/v2/blobs/sha256/0e/" + hex + "/data", false},
		{"GHCR", "https://pkg-containers.githubusercontent.com/ghcr1/blobs/sha256:" + hex + "?se=2025&sig=x&sp=r", true},
		{"GHCR, another container", "https://pkg-containers.githubusercontent.com/ghcrblobs07/blobs/sha256:" + hex + "?se=2025&sig=x&hmac=y", true},
		{"GHCR, not a blob", "https://pkg-containers.githubusercontent.com/ghcr1/manifests/sha256:" + hex, false},
	}
	for _, tt := range tests {
		key, ok := m.SharedKey(tt.url)
		if ok != tt.want {
			t.Errorf("%s: SharedKey(%q) ok = %t, want %t", tt.name, tt.url, ok, tt.want)
		}
		if ok && key != KeyScheme+":sha256:"+hex {
			t.Errorf("%s: key %q", tt.name, key)
		}
		if m.Match(tt.url) != tt.want {
			t.Errorf("%s: Match disagrees with SharedKey", tt.name)
		}
	}
	if _, err := New("("); err == nil {
		t.Error("a bad pattern was accepted")
	}
}

// No key this package hands out is a URL a client could send: Squid takes
// only http, https, ftp (and its own cache_object, urn, whois) from clients.
func TestKeysAreNotClientURLs(t *testing.T) {
	m, _ := New()
	key, _ := m.SharedKey(blob + "?sig=1")
	for _, k := range []string{key, UnverifiedKey(blob), UnverifiedKey(blob + "?sig=1")} {
		scheme, _, _ := strings.Cut(k, ":")
		switch strings.ToLower(scheme) {
		case "http", "https", "ftp", "cache_object", "urn", "whois", "gopher", "wais", "coap", "coaps":
			t.Errorf("key %q is under a scheme Squid accepts", k)
		}
	}
}

func TestWithoutQuery(t *testing.T) {
	for in, want := range map[string]string{blob + "?a=1&b=2": blob, blob: blob, blob + "#x": blob, blob + "?": blob} {
		if got := WithoutQuery(in); got != want {
			t.Errorf("WithoutQuery(%q) = %q", in, got)
		}
	}
}

func FuzzSharedKey(f *testing.F) {
	m, _ := New()
	f.Add(blob + "?X-Amz-Signature=1")
	f.Add("https://cdn01.quay.io/?/sha256/0e/" + hex)
	f.Fuzz(func(t *testing.T, u string) {
		key, ok := m.SharedKey(u)
		if !ok {
			return
		}
		// Whatever matched, the key is the digest the path ends in.
		if !strings.HasSuffix(WithoutQuery(u), "/"+key[len(KeyScheme+":sha256:"):]) {
			t.Fatalf("%q keyed as %q", u, key)
		}
	})
}
