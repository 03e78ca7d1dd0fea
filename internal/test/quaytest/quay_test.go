package quaytest

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/cdnurl"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/pkitest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
	"github.com/squid-cache-exporter/squid-cache-exporter/registries"
)

// Through a bumping Squid, for each flavor: the registry answers a blob
// GET with its redirect to a signed CDN URL of the shape the registries
// table names (quay's differs every time), the CDN serves it, and a
// tampered or expired one gets 403.
func TestFlavorsThroughSquid(t *testing.T) {
	for _, f := range Flavors {
		t.Run(f.Name, func(t *testing.T) {
			q := StartFlavor(t, map[string]string{"alice": "pw"}, f)
			bump := pkitest.NewCA(t, "squid bump CA")
			squid := squidtest.Start(t, squidtest.Options{Hosts: q.Hosts, BumpCA: bump, OriginCA: q.CA})
			proxy, _ := url.Parse(squid.URL)
			noRedirect := &http.Client{
				Transport:     &http.Transport{Proxy: http.ProxyURL(proxy), TLSClientConfig: &tls.Config{RootCAs: bump.Pool()}},
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			}
			h, data := q.RandomBlob(1000)

			// Anonymous token for a public repository (ECR: no credentials).
			var token struct{ Token string }
			if !f.BasicAuth {
				resp, err := noRedirect.Get(q.TokenURL("org/public"))
				if err != nil {
					t.Fatal(err)
				}
				json.NewDecoder(resp.Body).Decode(&token)
				resp.Body.Close()
			}

			var locations []string
			for range 2 {
				blobURL, _ := url.Parse("https://" + q.Registry + "/v2/org/public/blobs/" + h.String())
				req, _ := http.NewRequest("GET", blobURL.String(), nil)
				if token.Token != "" {
					req.Header.Set("Authorization", "Bearer "+token.Token)
				}
				resp, err := noRedirect.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != f.Redirect {
					t.Fatalf("blob GET: %s, want %d", resp.Status, f.Redirect)
				}
				loc, _ := blobURL.Parse(resp.Header.Get("Location"))
				locations = append(locations, loc.String())
			}
			pattern := regexp.MustCompile(f.CDNPattern())
			learned, _ := cdnurl.NewLearned(registries.Default)
			if f.Learned {
				if _, hex, ok := learned.Teaches("https://"+q.Registry+"/v2/org/public/blobs/"+h.String(), locations[0]); !ok || hex != h.Hex || strings.Contains(locations[0], h.Hex) {
					t.Errorf("redirect %q is not a URL of the table's learned shape naming no digest", locations[0])
				}
			} else if u, _ := url.Parse(locations[0]); u == nil || u.RawQuery == "" || !pattern.MatchString(strings.Split(locations[0], "?")[0]) {
				t.Errorf("redirect %q is not a signed URL of the table's shape %s", locations[0], pattern)
			}
			if f.style == s3Style && locations[0] == locations[1] {
				t.Errorf("quay's redirects should differ: %q", locations)
			}
			resp, err := noRedirect.Get(locations[0])
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !bytes.Equal(got, data) {
				t.Errorf("CDN: %s, %d bytes", resp.Status, len(got))
			}
			sig := signatureParam[f.style] + "="
			if f.opaque == downloadToken {
				sig = "/downloads/"
			}
			tampered := strings.Replace(locations[1], sig, sig+"0", 1)
			expired := q.SignedURL(h, time.Hour)
			for _, bad := range []string{tampered, expired} {
				if resp, err := noRedirect.Get(bad); err != nil || resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s: %v %v", bad, resp.Status, err)
				}
			}
		})
	}
}
