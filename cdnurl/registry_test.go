package cdnurl

import "testing"

func TestRegistriesSharedKey(t *testing.T) {
	r, err := NewRegistries([]string{"harbor.example.com", "registry.test:5000"}, []string{"registry-1.docker.io", "registry.test:5000"})
	if err != nil {
		t.Fatal(err)
	}
	blob := "https://harbor.example.com/v2/team/app/blobs/sha256:" + hex
	tests := []struct {
		name, url string
		want      bool
	}{
		{"blob", blob, true},
		{"host with port", "https://registry.test:5000/v2/app/blobs/sha256:" + hex, true},
		{"upper-case host", "https://HARBOR.example.com/v2/team/app/blobs/sha256:" + hex, true},
		{"not named", "https://other.example.com/v2/app/blobs/sha256:" + hex, false},
		{"named host, other port", "https://registry.test:5001/v2/app/blobs/sha256:" + hex, false},
		{"look-alike host", "https://harbor.example.com.evil.test/v2/app/blobs/sha256:" + hex, false},
		{"userinfo", "https://x@harbor.example.com/v2/app/blobs/sha256:" + hex, false},
		{"plain http", "http://harbor.example.com/v2/app/blobs/sha256:" + hex, false},
		{"a query", blob + "?x=1", false},
		{"a fragment", blob + "#x", false},
		{"explicit port 443", "https://harbor.example.com:443/v2/app/blobs/sha256:" + hex, true},
		{"manifest of a registry named for blobs only", "https://harbor.example.com/v2/app/manifests/sha256:" + hex, false},
		{"blob of a registry named for manifests only", "https://registry-1.docker.io/v2/library/busybox/blobs/sha256:" + hex, false},
		{"no repository", "https://harbor.example.com/v2/blobs/sha256:" + hex, false},
		{"not /v2/", "https://harbor.example.com/v3/app/blobs/sha256:" + hex, false},
		{"upload", "https://harbor.example.com/v2/app/blobs/uploads/sha256:" + hex, false},
		{"dot segments", "https://harbor.example.com/v2/app/../other/blobs/sha256:" + hex, false},
		{"short digest", "https://harbor.example.com/v2/app/blobs/sha256:0ea0", false},
		{"other algorithm", "https://harbor.example.com/v2/app/blobs/sha512:" + hex, false},
		{"bare hex", "https://harbor.example.com/v2/app/blobs/" + hex, false},
	}
	for _, tt := range tests {
		key, ok := r.SharedKey(tt.url)
		if ok != tt.want {
			t.Errorf("%s: SharedKey(%q) ok = %t, want %t", tt.name, tt.url, ok, tt.want)
		}
		if ok && key != KeyScheme+":sha256:"+hex {
			t.Errorf("%s: key %q", tt.name, key)
		}
	}
	for _, bad := range []string{"", "*.example.com", "https://x", "x/y", "a b"} {
		if _, err := NewRegistries([]string{bad}, nil); err == nil {
			t.Errorf("NewRegistries(%q) accepted", bad)
		}
		if _, err := NewRegistries(nil, []string{bad}); err == nil {
			t.Errorf("NewRegistries(nil, %q) accepted", bad)
		}
	}
	var none *Registries
	if _, ok := none.SharedKey(blob); ok {
		t.Error("no registries matched a URL")
	}
}

// A manifest by digest gets a key of its own; by tag, or of a registry not
// named for manifests, none.
func TestRegistriesManifestKey(t *testing.T) {
	r, _ := NewRegistries(nil, []string{"registry-1.docker.io"})
	manifest := "https://registry-1.docker.io/v2/library/busybox/manifests/sha256:" + hex
	if key, ok := r.SharedKey(manifest); !ok || key != ManifestKeyPrefix+hex || key == KeyScheme+":sha256:"+hex {
		t.Errorf("manifest by digest: %q %t", key, ok)
	}
	for _, u := range []string{
		"https://registry-1.docker.io/v2/library/busybox/manifests/latest",
		"https://registry-1.docker.io/v2/library/busybox/manifests/" + hex,
		"https://registry-1.docker.io/v2/library/busybox/manifests/sha256:" + hex + "?ns=docker.io",
		"https://other.docker.io/v2/library/busybox/manifests/sha256:" + hex,
		"https://registry-1.docker.io/v2/./manifests/sha256:" + hex,
	} {
		if key, ok := r.SharedKey(u); ok {
			t.Errorf("%s: key %q", u, key)
		}
	}
}
