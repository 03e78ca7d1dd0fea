package prober

import (
	"net/url"
	"testing"
)

// A forged query differs from the signed one in its longest value only,
// and still parses: the CDN must see a signature it never issued.
func TestForgeChangesTheSignature(t *testing.T) {
	tests := []struct{ query, wantChanged string }{
		{"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=0123456789abcdef0123456789abcdef&X-Amz-SignedHeaders=host", "X-Amz-Signature"},
		{"verify=1676658661-AbCdEfGhIjKlMnOpQrStUvWxYzA%3D", "verify"},
		{"se=2025-02-04T09%3A50%3A00Z&sig=SIGNATUREVALUEOFAZUREBLOBSAS%2BA&sp=r", "sig"},
	}
	for _, tt := range tests {
		forged := forge(tt.query)
		before, _ := url.ParseQuery(tt.query)
		after, err := url.ParseQuery(forged)
		if err != nil {
			t.Fatalf("%q: forged %q does not parse: %v", tt.query, forged, err)
		}
		for k := range before {
			if changed := before.Get(k) != after.Get(k); changed != (k == tt.wantChanged) {
				t.Errorf("%q: %s changed %t (%q -> %q)", tt.query, k, changed, before.Get(k), after.Get(k))
			}
		}
	}
}

func TestPrefixWriterKeepsTheStart(t *testing.T) {
	w := &prefixWriter{max: 5}
	for _, chunk := range []string{"ab", "cdef", "gh"} {
		if n, err := w.Write([]byte(chunk)); n != len(chunk) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", chunk, n, err)
		}
	}
	if string(w.b) != "abcde" {
		t.Errorf("kept %q, want abcde", w.b)
	}
}
