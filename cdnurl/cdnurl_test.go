package cdnurl

import "testing"

func TestDefaultPattern(t *testing.T) {
	m, err := New()
	if err != nil {
		t.Fatal(err)
	}
	const hex = "0ea0faeb23c26511e776010a311460a8e57c969b6d3f16484fa1dd29c22a613d"
	tests := []struct {
		url  string
		want bool
	}{
		{"https://cdn01.quay.io/quayio-production-s3/sha256/0e/" + hex + "?X-Amz-Signature=x", true},
		{"https://cdn.quay.io/quayio-production-s3/sha256/0e/" + hex, true},
		{"https://cdn01.quay.io.evil.test/quayio-production-s3/sha256/0e/" + hex, false},
		{"http://cdn01.quay.io/quayio-production-s3/sha256/0e/" + hex, false},
		{"https://quay.io/v2/org/repo/blobs/sha256:" + hex, false},
		{"https://cdn01.quay.io/quayio-production-s3/sha256/0e/0ea0", false},
	}
	for _, tt := range tests {
		if got := m.Match(tt.url); got != tt.want {
			t.Errorf("Match(%q) = %t", tt.url, got)
		}
	}
	if got := SharedKey("https://cdn01.quay.io/x/sha256/0e/" + hex + "?a=1&b=2"); got != "https://cdn01.quay.io/x/sha256/0e/"+hex {
		t.Errorf("SharedKey = %q", got)
	}
	if _, err := New("("); err == nil {
		t.Error("a bad pattern was accepted")
	}
}
