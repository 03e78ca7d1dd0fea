package quaytest

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/pkitest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
)

// Through a bumping Squid: quay answers a blob GET with a signed redirect
// that differs every time, the CDN checks it, and a tampered one gets 403.
func TestQuayThroughSquid(t *testing.T) {
	q := Start(t, map[string]string{"alice": "pw"})
	bump := pkitest.NewCA(t, "squid bump CA")
	squid := squidtest.Start(t, squidtest.Options{Hosts: q.Hosts, BumpCA: bump, OriginCA: q.CA})
	proxy, _ := url.Parse(squid.URL)
	noRedirect := &http.Client{
		Transport:     &http.Transport{Proxy: http.ProxyURL(proxy), TLSClientConfig: &tls.Config{RootCAs: bump.Pool()}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	h, data := q.RandomBlob(1000)

	// Anonymous token for a public repository.
	resp, err := noRedirect.Get("https://" + q.Registry + "/v2/auth?service=quay.test&scope=repository:org/public:pull")
	if err != nil {
		t.Fatal(err)
	}
	var token struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&token)
	resp.Body.Close()

	var locations []string
	for i := 0; i < 2; i++ {
		req, _ := http.NewRequest("GET", "https://"+q.Registry+"/v2/org/public/blobs/"+h.String(), nil)
		req.Header.Set("Authorization", "Bearer "+token.Token)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("blob GET: %s", resp.Status)
		}
		locations = append(locations, resp.Header.Get("Location"))
	}
	if locations[0] == locations[1] || !strings.Contains(locations[0], "X-Amz-Signature=") {
		t.Errorf("redirects should differ and be signed: %q", locations)
	}
	resp, err = noRedirect.Get(locations[0])
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, data) {
		t.Errorf("CDN: %s, %d bytes", resp.Status, len(got))
	}
	tampered := strings.Replace(locations[1], "X-Amz-Signature=", "X-Amz-Signature=0", 1)
	if resp, err := noRedirect.Get(tampered); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("tampered signature: %v %v", resp.Status, err)
	}
}
