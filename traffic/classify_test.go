package traffic

import "testing"

// Every result code Squid 5, 6 and 7 log, with the class README's table
// gives it. A row here is a row there.
func TestClassifyCache(t *testing.T) {
	tests := []struct {
		code   string
		status int
		want   Cache
	}{
		{"TCP_HIT", 200, Hit},
		{"TCP_MEM_HIT", 200, Hit},
		{"TCP_MEM_HIT", 206, Hit},
		{"TCP_IMS_HIT", 304, Hit},
		{"TCP_INM_HIT", 304, Hit},
		{"TCP_NEGATIVE_HIT", 404, Error},
		{"TCP_OFFLINE_HIT", 200, Hit},
		{"TCP_STALE_HIT", 200, Hit},
		{"TCP_REFRESH_FAIL_OLD", 200, Hit},
		{"TCP_CF_HIT", 200, Hit},
		{"TCP_REFRESH_UNMODIFIED", 200, Revalidated},
		{"TCP_REFRESH_UNMODIFIED", 304, Revalidated},
		{"TCP_MISS", 304, Revalidated},
		{"TCP_REFRESH_MODIFIED", 200, Miss},
		{"TCP_MISS", 200, Miss},
		{"TCP_CF_MISS", 200, Miss},
		{"TCP_CLIENT_REFRESH_MISS", 200, Miss},
		{"TCP_SWAPFAIL_MISS", 200, Miss},
		{"TCP_MISS", 302, Redirect},
		{"TCP_MISS", 307, Redirect},
		{"TCP_MEM_HIT", 301, Redirect},
		{"TCP_REDIRECT", 302, Redirect},
		{"TCP_MISS", 404, Error},
		{"TCP_MISS", 401, Error},
		{"TCP_MISS", 503, Error},
		{"TCP_MISS_ABORTED", 200, Error},
		{"TCP_MISS_ABORTED", 503, Error},
		{"TCP_MEM_HIT_ABORTED", 200, Error},
		{"TCP_MISS_TIMEDOUT", 200, Error},
		{"TCP_REFRESH_FAIL_ERR", 200, Error},
		{"TCP_DENIED", 403, Error},
		{"TCP_DENIED_REPLY", 403, Error},
		{"NONE_NONE", 0, Error},
		{"NONE_NONE_ABORTED", 0, Error},
		{"TCP_HIT_IGNORED", 200, Hit},
		{"TCP_DENIED", 302, Error}, // deny_info's redirect
		{"NONE_NONE", 200, Error},
		{"TCP_REFRESH_FAIL_ERR", 304, Error},
	}
	for _, tt := range tests {
		if got := ClassifyCache([]byte(tt.code), tt.status); got != tt.want {
			t.Errorf("%s/%03d: %s, want %s", tt.code, tt.status, got, tt.want)
		}
	}
}

func TestClassifyPath(t *testing.T) {
	const hex = "0ea0faeb23c26511e776010a311460a8e57c969b6d3f16484fa1dd29c22a613d"
	tests := []struct {
		path string
		want Object
	}{
		{"/v2/org/repo/blobs/sha256:" + hex, Blob},
		{"/v2/org/repo/blobs/sha256:" + hex + "?", Blob},
		{"/quayio-production-s3/sha256/0e/" + hex + "?", Blob},
		{"/registry-v2/docker/registry/v2/blobs/sha256/0e/" + hex + "/data?", Blob},
		{"/v2/org/repo/blobs/sha256:0ea0", Other},
		{"/v2/library/sha256sum/blobs/sha256:" + hex, Blob},
		{"/v2/org/repo/manifests/latest", Manifest},
		{"/v2/org/repo/manifests/sha256:" + hex, Manifest},
		{"/v2/", Other},
		{"/v2/auth?", Other},
		{"/v2/org/repo/tags/list", Other},
		{"/index.html", Other},
		{"", Other},
	}
	for _, tt := range tests {
		if got := ClassifyPath([]byte(tt.path)); got != tt.want {
			t.Errorf("%q: %s, want %s", tt.path, got, tt.want)
		}
	}
}

func TestSplitURL(t *testing.T) {
	tests := []struct{ url, host, path string }{
		{"https://cdn01.quay.io/a/b?", "cdn01.quay.io", "/a/b?"},
		{"https://quay.io:443/v2/", "quay.io", "/v2/"},
		{"quay.io:443", "quay.io", ""},
		{"http://user:pw@[::1]:3128/x", "::1", "/x"},
		{"http://127.0.0.1:18080/blob1", "127.0.0.1", "/blob1"},
		{"error:transaction-end-before-headers", "error", ""},
	}
	for _, tt := range tests {
		host, path := splitURL([]byte(tt.url))
		if string(host) != tt.host || string(path) != tt.path {
			t.Errorf("%q: %q %q, want %q %q", tt.url, host, path, tt.host, tt.path)
		}
	}
}

func TestRegistries(t *testing.T) {
	r, err := newRegistries(DefaultRegistries)
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]string{
		"quay.io": "quay.io", "cdn02.quay.io": "quay.io", "registry.redhat.io": "registry.redhat.io",
		"production.cloudflare.docker.com": "docker.io", "registry-1.docker.io": "docker.io",
		"pkg-containers.githubusercontent.com": "ghcr.io", "evilquay.io": "other", "example.com": "other",
	} {
		if got := r.names[r.index([]byte(host))]; got != want {
			t.Errorf("%s: %s, want %s", host, got, want)
		}
	}
	for _, bad := range [][]Registry{{{Name: "other", Hosts: []string{"x"}}}, {{Name: "a"}},
		{{Name: "a", Hosts: []string{"x"}}, {Name: "b", Hosts: []string{"x"}}}} {
		if _, err := newRegistries(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if reg, err := ParseRegistry("internal=registry.corp,*.cdn.corp"); err != nil || len(reg.Hosts) != 2 {
		t.Errorf("ParseRegistry: %v %v", reg, err)
	}
	if _, err := ParseRegistry("no-hosts"); err == nil {
		t.Error("a registry without hosts was accepted")
	}
}
