package icap

import (
	"strings"
	"testing"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/squid-cache-exporter/squid-cache-exporter/cdnurl"
)

// capturedRespmod is a RESPMOD the real Squid 5.7 sent for a verified blob
// GET to a self-serving registry (harbor.test), up to its zero preview
// (captured by the e2e tests with -update).
func capturedRespmod(t testing.TB) string { return readFixture(t, "testdata/squid-5.7-respmod.txt") }

// respmodServer serves RESPMOD for the registry of the captured request.
func respmodServer(t testing.TB) *Server {
	hdr := capturedRespmod(t)
	_, rest, _ := strings.Cut(hdr, "GET https://")
	host, _, _ := strings.Cut(rest, "/")
	registries, err := cdnurl.NewRegistries([]string{host}, nil)
	if err != nil {
		t.Fatal(err)
	}
	urls, _ := cdnurl.New(pattern)
	return &Server{URLs: urls, Registries: registries, Logger: log.NewNopLogger(), Metrics: NewMetrics(prometheus.NewRegistry())}
}

func TestMakesSelfServedBlobsStorable(t *testing.T) {
	fixture := capturedRespmod(t)
	resp := exchangeWith(t, respmodServer(t), fixture)[0]
	if !strings.HasPrefix(resp, "ICAP/1.0 206 Partial Content\r\n") || !strings.HasSuffix(resp, "\r\n\r\n0; use-original-body=0\r\n\r\n") {
		t.Fatalf("response:\n%s", resp)
	}
	if !strings.Contains(resp, "\r\nCache-Control: public, max-age=31536000\r\n") || strings.Count(resp, "Cache-Control") != 1 {
		t.Errorf("Cache-Control not made public, once:\n%s", resp)
	}
	// The rest of the response head is as the registry sent it.
	_, origin, _ := strings.Cut(fixture, "\r\n\r\nHTTP/1.1 ")
	origin, _, _ = strings.Cut(origin, "\r\n\r\n")
	for _, line := range strings.Split(origin, "\r\n")[1:] {
		if !strings.HasPrefix(line, "Cache-Control:") && !strings.Contains(resp, line+"\r\n") {
			t.Errorf("%q lost:\n%s", line, resp)
		}
	}
}

func TestRespmodLeavesEverythingElseAlone(t *testing.T) {
	fixture := capturedRespmod(t)
	s := respmodServer(t)
	if edited(fixture, "", "") != fixture {
		t.Fatal("edited does not rebuild the fixture")
	}
	tests := []struct{ name, req string }{
		{"not a 200", edited(fixture, "HTTP/1.1 200 OK", "HTTP/1.1 401 Unauthorized")},
		{"a HEAD", edited(fixture, "\r\n\r\nGET https://", "\r\n\r\nHEAD https://")},
		{"a manifest", edited(fixture, "/blobs/sha256:", "/manifests/sha256:")},
		{"a query", edited(fixture, " HTTP/1.1\r\n", "?x=1 HTTP/1.1\r\n")},
		{"Squid allows no 206", strings.Replace(fixture, "Allow: 206, trailers\r\n", "Allow: trailers\r\n", 1)},
		{"another digest", edited(fixture, "Docker-Content-Digest: sha256:", "Docker-Content-Digest: sha256:00")},
		{"no digest", edited(fixture, "Docker-Content-Digest: ", "X-Digest: ")},
		{"a re-encoded body", edited(fixture, "Content-Type: ", "Content-Encoding: gzip\r\nContent-Type: ")},
	}
	for _, tt := range tests {
		if tt.req == fixture {
			t.Fatalf("%s: the fixture has no such thing to change", tt.name)
		}
		if resp := exchangeWith(t, s, tt.req)[0]; !strings.HasPrefix(resp, "ICAP/1.0 204 No Content\r\n") {
			t.Errorf("%s: want 204, got\n%s", tt.name, resp)
		}
	}
	other := *s
	other.Registries, _ = cdnurl.NewRegistries([]string{"other.test"}, nil)
	if resp := exchangeWith(t, &other, fixture)[0]; !strings.HasPrefix(resp, "ICAP/1.0 204 No Content\r\n") {
		t.Errorf("a registry not named: want 204, got\n%s", resp)
	}
	options := exchangeWith(t, s, "OPTIONS icap://127.0.0.1:1344/respmod ICAP/1.0\r\nHost: 127.0.0.1\r\n\r\n")[0]
	for _, want := range []string{"Methods: RESPMOD", "Allow: 204, 206", "Preview: 0"} {
		if !strings.Contains(options, want) {
			t.Errorf("OPTIONS lacks %q:\n%s", want, options)
		}
	}
}

// edited is the RESPMOD request with old replaced by new once, and its
// Encapsulated offsets made right again.
func edited(respmod, old, new string) string {
	s := strings.Replace(respmod, old, new, 1)
	head, rest, _ := strings.Cut(s, "\r\n\r\n")
	req, rest, _ := strings.Cut(rest, "\r\n\r\n")
	res, preview, _ := strings.Cut(rest, "\r\n\r\n")
	var lines []string
	for _, l := range strings.Split(head, "\r\n") {
		if strings.HasPrefix(l, "Encapsulated:") {
			l = "Encapsulated: req-hdr=0, res-hdr=" + itoa(len(req)+4) + ", res-body=" + itoa(len(req)+len(res)+8)
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\r\n") + "\r\n\r\n" + req + "\r\n\r\n" + res + "\r\n\r\n" + preview
}

// A manifest by digest is stored only with a manifest's media type, and
// Set-Cookie never is.
func TestRespmodManifests(t *testing.T) {
	fixture := edited(capturedRespmod(t), "/blobs/sha256:", "/manifests/sha256:")
	s := respmodServer(t)
	_, rest, _ := strings.Cut(fixture, "GET https://")
	host, _, _ := strings.Cut(rest, "/")
	s.Registries, _ = cdnurl.NewRegistries(nil, []string{host})
	if resp := exchangeWith(t, s, fixture)[0]; !strings.HasPrefix(resp, "ICAP/1.0 204 No Content\r\n") {
		t.Errorf("a manifest served as application/octet-stream: want 204, got\n%s", resp)
	}
	manifest := edited(fixture, "Content-Type: application/octet-stream", "Content-Type: application/vnd.oci.image.manifest.v1+json\r\nSet-Cookie: session=1")
	resp := exchangeWith(t, s, manifest)[0]
	if !strings.HasPrefix(resp, "ICAP/1.0 206 Partial Content\r\n") || strings.Contains(resp, "Set-Cookie") {
		t.Errorf("a manifest by digest: want 206 without Set-Cookie, got\n%s", resp)
	}
}
