package icap

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/squid-cache-exporter/squid-cache-exporter/cdnurl"
	"github.com/squid-cache-exporter/squid-cache-exporter/learned"
	"github.com/squid-cache-exporter/squid-cache-exporter/registries"
)

// capturedLearn is a RESPMOD the real Squid 5.7 sent to /learn: Artifact
// Registry's 302 to a relative download URL, with the secret of
// adaptation_meta (captured by the e2e tests with -update).
func capturedLearn(t testing.TB) string { return readFixture(t, "testdata/squid-5.7-learn.txt") }

// learnServer serves /learn with the fixture's secret in a file.
func learnServer(t testing.TB) (*Server, *learned.Store, string) {
	fixture := capturedLearn(t)
	_, secret, _ := strings.Cut(fixture, SecretHeader+": ")
	secret, _, _ = strings.Cut(secret, "\r\n")
	file := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(file, []byte(secret+"\n"), 0o600)
	store := &learned.Store{}
	urls, err := cdnurl.NewLearned(registries.Default)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Learner: &Learner{URLs: urls, Store: store, Secret: &SecretFile{Path: file}},
		Logger: log.NewNopLogger(), Metrics: NewMetrics(prometheus.NewRegistry())}
	return s, store, file
}

// fixtureURLs are the fixture's download URL, made absolute, and digest.
func fixtureURLs(t testing.TB, fixture string) (string, string) {
	_, rest, _ := strings.Cut(fixture, "\r\n\r\nGET ")
	reqURL, _, _ := strings.Cut(rest, " ")
	_, loc, _ := strings.Cut(fixture, "\r\nLocation: ")
	loc, _, _ = strings.Cut(loc, "\r\n")
	base, _ := url.Parse(reqURL)
	abs, err := base.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return abs.String(), reqURL[len(reqURL)-64:]
}

func TestLearnsFromTheRegistrysRedirect(t *testing.T) {
	s, store, _ := learnServer(t)
	fixture := capturedLearn(t)
	resp := exchangeWith(t, s, fixture)[0]
	if !strings.HasPrefix(resp, "ICAP/1.0 204 No Content\r\n") {
		t.Fatalf("the redirect must pass unchanged; got\n%s", resp)
	}
	download, hex := fixtureURLs(t, fixture)
	if got, ok := store.Lookup(learned.KeyOf(download)); !ok || got != hex {
		t.Errorf("learned %q, %t; want %s", got, ok, hex)
	}
}

// Nothing but Squid's own redirect, from the registry, for a blob GET,
// teaches: without the secret a local process could tie a URL it holds to
// a digest it cannot read.
func TestLearnsNothingElse(t *testing.T) {
	fixture := capturedLearn(t)
	_, secret, _ := strings.Cut(fixture, SecretHeader+": ")
	secret, _, _ = strings.Cut(secret, "\r\n")
	tests := []struct{ name, req string }{
		{"no secret", strings.Replace(fixture, SecretHeader+": ", "X-Other: ", 1)},
		{"a wrong secret", strings.Replace(fixture, secret, strings.Repeat("0", len(secret)), 1)},
		{"a prefix of the secret", strings.Replace(fixture, secret+"\r\n", secret[:8]+"\r\n", 1)},
		{"not a redirect", edited(fixture, "HTTP/1.1 302 Found", "HTTP/1.1 200 OK")},
		{"a HEAD", edited(fixture, "\r\n\r\nGET https://", "\r\n\r\nHEAD https://")},
		{"another host", edited(fixture, "GET https://us-docker.pkg.dev", "GET https://evil.test")},
		{"a manifest", edited(fixture, "/blobs/sha256:", "/manifests/sha256:")},
		{"a query", edited(fixture, " HTTP/1.1\r\n", "?x=1 HTTP/1.1\r\n")},
		{"a Location of another shape", edited(fixture, "Location: /artifacts-downloads/", "Location: /elsewhere/")},
		{"a Location on another host", edited(fixture, "Location: /artifacts-downloads/", "Location: https://evil.test/artifacts-downloads/")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.req == fixture {
				t.Fatal("the fixture has no such thing to change")
			}
			s, store, _ := learnServer(t)
			if resp := exchangeWith(t, s, tt.req)[0]; !strings.HasPrefix(resp, "ICAP/1.0 204 No Content\r\n") {
				t.Errorf("want 204, got\n%s", resp)
			}
			if store.Len() != 0 {
				t.Errorf("learned %d URLs", store.Len())
			}
		})
	}
	s, _, _ := learnServer(t)
	options := exchangeWith(t, s, "OPTIONS icap://127.0.0.1:1344/learn ICAP/1.0\r\nHost: 127.0.0.1\r\n\r\n")[0]
	for _, want := range []string{"Methods: RESPMOD", "Allow: 204\r\n", "Preview: 0"} {
		if !strings.Contains(options, want) {
			t.Errorf("OPTIONS lacks %q:\n%s", want, options)
		}
	}
}

// Squid's start script writes a new secret at each start: the service
// takes it up, and the old one stops working.
func TestSecretFileIsReadAgain(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secret")
	f := &SecretFile{Path: file}
	if f.Matches("anything") || f.Matches("") {
		t.Fatal("a missing file matched")
	}
	os.WriteFile(file, []byte("first\n"), 0o600)
	f.lastRead = time.Time{}
	if !f.Matches("first") {
		t.Fatal("the secret did not match")
	}
	os.WriteFile(file, []byte("second\n"), 0o600)
	if f.Matches("second") {
		t.Error("read again within a second of the last read")
	}
	f.lastRead = time.Now().Add(-2 * time.Second)
	if !f.Matches("second") || f.Matches("first") {
		t.Error("the new secret was not taken up, or the old one still works")
	}
	os.WriteFile(file, []byte("\n"), 0o600)
	f.lastRead = time.Time{}
	if f.Matches("") || f.Matches("third") || f.Matches("second") { // the mismatch read the file again
		t.Error("an empty secret file matched")
	}
}

// An S3 URL's own expiry bounds what is kept of it.
func TestExpiry(t *testing.T) {
	for raw, want := range map[string]time.Time{
		"https://b.test/k?X-Amz-Date=20261207T050000Z&X-Amz-Expires=3600": time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC),
		"https://b.test/k?X-Amz-Date=20261207T050000Z":                    {},
		"https://b.test/k?X-Amz-Date=bad&X-Amz-Expires=3600":              {},
		"https://b.test/k?X-Amz-Date=20261207T050000Z&X-Amz-Expires=-1":   {},
		"https://us-docker.pkg.dev/artifacts-downloads/x":                 {},
	} {
		if got := expiry(raw); !got.Equal(want) {
			t.Errorf("expiry(%q) = %v, want %v", raw, got, want)
		}
	}
}
