package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/squid-cache-exporter/squid-cache-exporter/icap"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/quaytest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
)

func TestLearnSecretHeaderIsTheServices(t *testing.T) {
	if squidtest.LearnSecretHeader != icap.SecretHeader {
		t.Errorf("squidtest sends %q, the service reads %q", squidtest.LearnSecretHeader, icap.SecretHeader)
	}
}

// A local process that reaches the ICAP port holds a valid download URL
// for a public blob, fetched from the registry past Squid, and tells
// /learn that the registry redirected the victim's private blob there:
// then it asks Squid for that URL, hoping for the victim's cached blob.
// Without Squid's secret it learns nothing and gets its own blob; the
// control, with the secret (a process that can read the pod's volumes),
// shows the test would see the leak.
func TestForgedLearningTeachesNothing(t *testing.T) {
	for _, f := range []quaytest.Flavor{quaytest.ArtifactRegistryFlavor, quaytest.ECRFlavor} {
		t.Run(f.Name, func(t *testing.T) {
			s := startFlavor(t, f, true, nil)
			victim, secretData := s.Quay.RandomBlob(64 << 10)
			own, ownData := s.Quay.RandomBlob(64 << 10)
			s.client("alice", users["alice"]).pull(t, "org/private", victim, secretData)
			for _, tt := range []struct {
				name, secret string
				leaks        bool
			}{
				{"no secret", "", false},
				{"a wrong secret", "0123456789abcdef0123456789abcdef", false},
				{"Squid's secret (control)", s.icap.secret, true},
			} {
				t.Run(tt.name, func(t *testing.T) {
					location := directRedirect(t, s, own)
					forgeLearning(t, s, victim.Hex, location, tt.secret)
					status, body, err := fetch(s.client("", "").http, location)
					if err != nil {
						t.Fatal(err)
					}
					// Its own URL serves it its own blob: a leak is the victim's bytes.
					if got := bytes.Contains(body, secretData[:64]); got != tt.leaks {
						t.Errorf("leaked %t (status %d, %d bytes), want %t", got, status, len(body), tt.leaks)
					}
					if !tt.leaks && (status != http.StatusOK || !bytes.Equal(body, ownData)) {
						t.Errorf("the attacker's own URL: %d, %d bytes; want its own blob", status, len(body))
					}
				})
			}
		})
	}
}

// directRedirect is a CDN URL for a public blob, from the registry
// straight, not through Squid: Squid never saw its redirect.
func directRedirect(t *testing.T, s *setup, h v1.Hash) string {
	t.Helper()
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	direct := &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.Quay.CA.Pool()},
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				host, port, _ := net.SplitHostPort(addr)
				return dialer.DialContext(ctx, network, net.JoinHostPort(s.Quay.Hosts[host], port))
			}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	blobURL := "https://" + s.Quay.Registry + "/v2/org/public/blobs/" + h.String()
	req, _ := http.NewRequest(http.MethodGet, blobURL, nil)
	if !s.Quay.Flavor.BasicAuth {
		resp, err := direct.Get(s.Quay.TokenURL("org/public"))
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Token string }
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		req.Header.Set("Authorization", "Bearer "+body.Token)
	}
	resp, err := direct.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := req.URL.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != s.Quay.Flavor.Redirect {
		t.Fatalf("direct blob GET: %s, %v", resp.Status, err)
	}
	return loc.String()
}

// forgeLearning sends /learn what Squid would for the registry's redirect
// of the victim's blob to location, with secret ("" for none).
func forgeLearning(t *testing.T, s *setup, victimHex, location, secret string) {
	t.Helper()
	req := fmt.Sprintf("GET https://%s/v2/org/private/blobs/sha256:%s HTTP/1.1\r\nHost: %s\r\n\r\n", s.Quay.Registry, victimHex, s.Quay.Registry)
	res := "HTTP/1.1 " + fmt.Sprint(s.Quay.Flavor.Redirect) + " Redirect\r\nLocation: " + location + "\r\n\r\n"
	head := fmt.Sprintf("RESPMOD icap://%s/learn ICAP/1.0\r\nHost: %s\r\nAllow: 204\r\nEncapsulated: req-hdr=0, res-hdr=%d, null-body=%d\r\n",
		s.icap.addr, s.icap.addr, len(req), len(req)+len(res))
	if secret != "" {
		head += icap.SecretHeader + ": " + secret + "\r\n"
	}
	conn, err := net.DialTimeout("tcp", s.icap.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, head+"\r\n"+req+res)
	answer := make([]byte, 64)
	n, _ := conn.Read(answer)
	if !bytes.HasPrefix(answer[:n], []byte("ICAP/1.0 204")) {
		t.Fatalf("the service answered %q", answer[:n])
	}
}
