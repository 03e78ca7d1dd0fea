package redact

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

const sig = "9f3c2b1a0e8d7c6b5a49382716051f0e9f3c2b1a0e8d7c6b5a49382716051f0e"

func TestURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://cdn01.quay.io/x/sha256/0e/abc?X-Amz-Signature=" + sig + "&X-Amz-Date=1",
			"https://cdn01.quay.io/x/sha256/0e/abc?X-Amz-Signature=REDACTED&X-Amz-Date=REDACTED"},
		{"https://user:pw@quay.io/v2/", "https://REDACTED@quay.io/v2/"},
		{"https://quay.io/v2/org/repo/blobs/sha256:abc", "https://quay.io/v2/org/repo/blobs/sha256:abc"},
		{"https://quay.io/a#token=x", "https://quay.io/a"},
		{"https://u:p@bad host/%zz?sig=" + sig, "https://REDACTED@bad host/%zz"},
		{"https://us-docker.pkg.dev/artifacts-downloads/namespaces/p/repositories/r/downloads/" + sig,
			"https://us-docker.pkg.dev/artifacts-downloads/namespaces/p/repositories/r/downloads/REDACTED"},
		{"https://bad host/artifacts-downloads/namespaces/p/repositories/r/downloads/" + sig, "https://bad host/artifacts-downloads/REDACTED"},
		{"https://us-docker.pkg.dev/v2/p/r/downloads/x", "https://us-docker.pkg.dev/v2/p/r/downloads/x"},
	}
	for _, tt := range tests {
		if got := URL(tt.in); got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestErrorKeepsTheChain(t *testing.T) {
	base := fmt.Errorf(`Get "https://alice:pw@cdn01.quay.io/b?X-Amz-Signature=%s": %w`, sig, context.DeadlineExceeded)
	err := Error(base)
	if strings.Contains(err.Error(), sig) || strings.Contains(err.Error(), "pw@") {
		t.Errorf("not redacted: %v", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Error("errors.Is lost the cause")
	}
	if Error(nil) != nil {
		t.Error("Error(nil) is not nil")
	}
	plain := errors.New("no URL here")
	if Error(plain) != plain {
		t.Error("an error without a URL was wrapped")
	}
}

// A real transport error, as the prober and the store-ID helper see it.
func TestTransportError(t *testing.T) {
	_, err := http.Get("http://127.0.0.1:1/blob?X-Amz-Signature=" + sig)
	if err == nil {
		t.Fatal("port 1 answered")
	}
	if got := Error(err).Error(); strings.Contains(got, sig) {
		t.Errorf("signature in %q", got)
	}
}

// Whatever surrounds a URL, its password and query values never survive.
func FuzzString(f *testing.F) {
	f.Add("Get \"", "\": EOF", "s3cr3tValue")
	f.Add("", "", "ASIAABCDEFGHIJKLMNOP")
	f.Add("a://b@c@d?e", " x", "zzzzzzzz")
	f.Fuzz(func(t *testing.T, before, after, secret string) {
		if len(secret) < 8 || strings.Trim(secret, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
			return // a credential: long, and made of characters a URL keeps as they are
		}
		in := before + "https://user:" + secret + "@cdn01.quay.io/b?X-Amz-Signature=" + secret + "&X-Amz-Credential=" + secret + after
		if out := String(in); strings.Contains(out, secret) && !strings.Contains(before+after, secret) {
			t.Fatalf("%q became %q", in, out)
		}
	})
}
