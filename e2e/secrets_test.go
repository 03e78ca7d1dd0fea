package e2e

import (
	"os"
	"strings"
	"testing"
	"time"
)

// checkNoSecrets fails the test when a signature or temporary credential
// the CDN handed out shows in Squid's logs (the store-ID helper writes into
// cache.log) or in what the stack printed. Every test of this package that
// runs the stack ends with it.
func (s *setup) checkNoSecrets(t testing.TB) {
	t.Helper()
	texts := map[string]string{"cache.log": readFile(s.Squid.CacheLog), "access.log": readFile(s.Squid.AccessLog), "output": s.out.String()}
	secrets := s.Quay.Secrets()
	for name, text := range texts {
		for _, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("%s holds a CDN credential (%.8s…) of the %d handed out", name, secret, len(secrets))
				break
			}
		}
	}
	// Artifact Registry's download token is a URL path, which Squid's own
	// access log holds as it holds every path (the chart sends the log to
	// the exporter's receiver, not to a file); nothing else may.
	delete(texts, "access.log")
	for name, text := range texts {
		for _, secret := range s.Quay.PathSecrets() {
			if strings.Contains(text, secret) {
				t.Errorf("%s holds a download token (%.8s…)", name, secret)
				break
			}
		}
	}
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// The store-ID helper's check times out and is logged; the signed URL in
// the error stays out of cache.log (checkNoSecrets, at the end, is the
// assertion).
func TestFailedChecksLogNoSignature(t *testing.T) {
	s := startEdited(t, true, func(l string) string { return strings.Replace(l, "--check-timeout=5s", "--check-timeout=100ms", 1) })
	s.Quay.SlowChecks(300 * time.Millisecond)
	h, data := s.Quay.RandomBlob(64 << 10)
	alice := s.client("alice", users["alice"])
	if code := alice.pull(t, "org/private", h, data); code != "TCP_MISS" {
		t.Errorf("an unverified pull: %s, want TCP_MISS", code)
	}
	if !strings.Contains(readFile(s.Squid.CacheLog), "authorization check failed") {
		t.Fatal("the helper logged no failed check: the case under test did not happen")
	}
	if len(s.Quay.Secrets()) == 0 {
		t.Fatal("no signed URL was handed out")
	}
}
