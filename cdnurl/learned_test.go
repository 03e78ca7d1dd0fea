package cdnurl

import (
	"strings"
	"testing"

	"github.com/squid-cache-exporter/squid-cache-exporter/registries"
)

var (
	arBlob   = "https://us-docker.pkg.dev/v2/proj/repo/app/blobs/sha256:" + hex64
	arDown   = "/artifacts-downloads/namespaces/proj/repositories/repo/downloads/AbC-_x="
	ecrBlob  = "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/v2/app/blobs/sha256:" + hex64
	ecrLayer = "https://prod-eu-west-1-starport-layer-bucket.s3.eu-west-1.amazonaws.com/4f1c-123456789012-aa/bb?X-Amz-Date=20261207T050000Z&X-Amz-Expires=3600&X-Amz-Signature=ab"
)

const hex64 = "0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e"

// Only a row's own API host, redirecting a blob GET to its own CDN shape,
// teaches: the digest comes from the registry, never from what a client
// or another host says.
func TestTeaches(t *testing.T) {
	l, err := NewLearned(registries.Default)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, req, loc, want string
	}{
		{"Artifact Registry, relative", arBlob, arDown, "https://us-docker.pkg.dev" + arDown},
		{"Artifact Registry, absolute", arBlob, "https://us-docker.pkg.dev" + arDown, "https://us-docker.pkg.dev" + arDown},
		{"gcr.io", "https://gcr.io/v2/proj/app/blobs/sha256:" + hex64, arDown, "https://gcr.io" + arDown},
		{"with a port (tests)", "https://us-docker.pkg.dev:8443/v2/p/blobs/sha256:" + hex64, arDown, "https://us-docker.pkg.dev:8443" + arDown},
		{"ECR", ecrBlob, ecrLayer, ecrLayer},
		{"ECR to Artifact Registry's shape", ecrBlob, "https://us-docker.pkg.dev" + arDown, ""},
		{"Artifact Registry to an ECR bucket", arBlob, ecrLayer, ""},
		{"another host redirecting to a download URL", "https://evil.test/v2/x/blobs/sha256:" + hex64, "https://us-docker.pkg.dev" + arDown, ""},
		{"a host that ends like one", "https://evilpkg.dev/v2/x/blobs/sha256:" + hex64, arDown, ""},
		{"quay", "https://quay.io/v2/x/blobs/sha256:" + hex64, arDown, ""},
		{"a manifest", "https://us-docker.pkg.dev/v2/p/r/manifests/sha256:" + hex64, arDown, ""},
		{"a tag", "https://us-docker.pkg.dev/v2/p/r/blobs/latest", arDown, ""},
		{"a short digest", "https://us-docker.pkg.dev/v2/p/r/blobs/sha256:" + hex64[:63], arDown, ""},
		{"upper-case digest", "https://us-docker.pkg.dev/v2/p/r/blobs/sha256:" + strings.ToUpper(hex64), arDown, ""},
		{"a query", arBlob + "?x=1", arDown, ""},
		{"a dot segment", "https://us-docker.pkg.dev/v2/p/../blobs/sha256:" + hex64, arDown, ""},
		{"plain http", "http://us-docker.pkg.dev/v2/p/r/blobs/sha256:" + hex64, arDown, ""},
		{"to plain http", arBlob, "http://us-docker.pkg.dev" + arDown, ""},
		{"userinfo", arBlob, "https://u:p@us-docker.pkg.dev" + arDown, ""},
		{"a fragment", arBlob, arDown + "#x", ""},
		{"to a path of another shape", arBlob, "/v2/proj/repo/app/blobs/sha256:" + hex64, ""},
		{"a download with a query", arBlob, arDown + "?x=1", "https://us-docker.pkg.dev" + arDown + "?x=1"},
		{"no Location", arBlob, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, hex, ok := l.Teaches(tt.req, tt.loc)
			if got != tt.want || ok != (tt.want != "") || ok && hex != hex64 {
				t.Errorf("Teaches = %q, %q, %t; want %q", got, hex, ok, tt.want)
			}
			if ok && !l.Match(got) {
				t.Errorf("%q taught but not matched", got)
			}
		})
	}
}

func TestLearnedMatch(t *testing.T) {
	l, _ := NewLearned(registries.Default)
	for url, want := range map[string]bool{
		"https://us-docker.pkg.dev" + arDown: true,
		ecrLayer:                             true,
		"https://us-docker.pkg.dev/v2/p/r/blobs/sha256:" + hex64: false,
		"https://cdn01.quay.io/x/sha256/0e/" + hex64:             false,
		"https://example.com" + arDown:                           false,
	} {
		if l.Match(url) != want {
			t.Errorf("Match(%q) = %t", url, !want)
		}
	}
	var none *Learned
	if none.Match(ecrLayer) {
		t.Error("a nil Learned matches")
	}
}

// Whatever a redirect says, what is learned is the request path's own
// digest, for a URL of the learned shapes.
func FuzzTeaches(f *testing.F) {
	l, _ := NewLearned(registries.Default)
	f.Add(arBlob, arDown)
	f.Add(ecrBlob, ecrLayer)
	f.Add("https://us-docker.pkg.dev/v2/a/blobs/sha256:"+hex64, "//evil.test/artifacts-downloads/x")
	f.Fuzz(func(t *testing.T, req, loc string) {
		got, hex, ok := l.Teaches(req, loc)
		if !ok {
			return
		}
		if !strings.HasSuffix(req, "/blobs/sha256:"+hex) || !l.Match(got) {
			t.Fatalf("Teaches(%q, %q) = %q, %q", req, loc, got, hex)
		}
	})
}
