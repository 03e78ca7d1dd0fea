package charts

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/pkitest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/quaytest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
)

// A quay.io install that hits with the chart's defaults: quay sends every
// blob, public ones too, through a signed CDN URL that differs on each
// pull, so only the default private-blob helpers make the second pull a
// hit. The same two pulls with the helpers off are two misses, which is
// what the defaults used to give.
func TestDefaultsCacheQuayBlobs(t *testing.T) {
	for _, c := range []struct {
		name string
		sets map[string]any
		want []string
	}{
		{"defaults", nil, []string{"TCP_MISS", "TCP_MEM_HIT"}},
		{"helpers off", map[string]any{"privateBlobs.enabled": false}, []string{"TCP_MISS", "TCP_MISS"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := quaytest.Start(t, nil)
			bump := pkitest.NewCA(t, "bump")
			squid := renderedSquid(t, q, bump, c.sets)
			h, data := q.RandomBlob(300 << 10)
			var got []string
			for range 2 {
				got = append(got, pullQuayBlob(t, q, squid, bump, "org/public", h, data))
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("two pulls of a public quay blob: %v, want %v", got, c.want)
			}
			if n, want := q.CDNGets(h), len(c.want)-strings.Count(fmt.Sprint(got), "HIT"); n != want {
				t.Errorf("the CDN delivered the blob %d times, want %d", n, want)
			}
		})
	}
}

// pullQuayBlob pulls a blob as container clients do, through squid: an
// anonymous token, the registry's redirect, and the CDN GET with the same
// Authorization. It checks the bytes and returns Squid's result code for
// the CDN GET.
func pullQuayBlob(t *testing.T, q *quaytest.Quay, squid *squidtest.Squid, bump *pkitest.CA, repo string, h v1.Hash, want []byte) string {
	t.Helper()
	lines := len(deliveries(t, squid))
	pullQuayBlobVia(t, q, squid, bump, repo, h, want)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if d := deliveries(t, squid); len(d) > lines {
			return d[lines]
		}
	}
	t.Fatal("the CDN GET is not in the access log")
	return ""
}

// pullQuayBlobVia is pullQuayBlob's pull, whose code another Squid logs.
func pullQuayBlobVia(t *testing.T, q *quaytest.Quay, proxy *squidtest.Squid, bump *pkitest.CA, repo string, h v1.Hash, want []byte) {
	t.Helper()
	if err := quayPull(q, proxy, bump, repo, h, want); err != nil {
		b, _ := os.ReadFile(proxy.AccessLog)
		t.Fatalf("%v; access log:\n%s", err, b)
	}
}

// tryPull is a pull that may fail: it says whether the blob came whole.
func tryPull(t *testing.T, q *quaytest.Quay, proxy *squidtest.Squid, bump *pkitest.CA, repo string, h v1.Hash, want []byte) bool {
	t.Helper()
	err := quayPull(q, proxy, bump, repo, h, want)
	if err != nil {
		t.Logf("pull of %s: %v", h, err)
	}
	return err == nil
}

func quayPull(q *quaytest.Quay, proxy *squidtest.Squid, bump *pkitest.CA, repo string, h v1.Hash, want []byte) error {
	return pullAs(q, proxy, bump, "", "", repo, h, want)
}

// pullAs pulls as user ("" anonymous) from any flavor of the emulation:
// its token (or basic credentials, for ECR), the registry's redirect
// (relative, for Artifact Registry), the CDN GET.
func pullAs(q *quaytest.Quay, proxy *squidtest.Squid, bump *pkitest.CA, user, pass, repo string, h v1.Hash, want []byte) error {
	c := &http.Client{
		Timeout:       20 * time.Second,
		Transport:     &http.Transport{Proxy: http.ProxyURL(proxy.ProxyURL()), TLSClientConfig: &tls.Config{RootCAs: bump.Pool()}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer c.CloseIdleConnections()
	auth := ""
	if !q.Flavor.BasicAuth {
		req, _ := http.NewRequest(http.MethodGet, q.TokenURL(repo), nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		var tok struct{ Token string }
		json.NewDecoder(resp.Body).Decode(&tok)
		resp.Body.Close()
		auth = "Bearer " + tok.Token
	}
	get := func(u string) (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		switch {
		case q.Flavor.BasicAuth && user != "" && req.URL.Host == q.Registry:
			req.SetBasicAuth(user, pass)
		case auth != "":
			req.Header.Set("Authorization", auth)
		}
		return c.Do(req)
	}
	blobURL, _ := url.Parse("https://" + q.Registry + "/v2/" + repo + "/blobs/" + h.String())
	resp, err := get(blobURL.String())
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != q.Flavor.Redirect {
		return fmt.Errorf("blob GET: %s, want a redirect to the CDN", resp.Status)
	}
	location, err := blobURL.Parse(resp.Header.Get("Location"))
	if err != nil {
		return err
	}
	if resp, err = get(location.String()); err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
		return fmt.Errorf("CDN GET: %s, %d bytes, want the blob's %d", resp.Status, len(body), len(want))
	}
	return nil
}

// deliveries are the result codes of the access log's CDN GETs answered 200, in order.
func deliveries(t *testing.T, squid *squidtest.Squid) []string {
	b, err := os.ReadFile(squid.AccessLog)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var codes []string
	for _, line := range bytes.Split(b, []byte("\n")) {
		var e accesslog.Entry
		if accesslog.Parse(line, &e) == nil && e.Status == http.StatusOK && string(e.Method) == http.MethodGet && bytes.Contains(e.URL, []byte(quaytest.CDNName)) {
			codes = append(codes, string(e.Result))
		}
	}
	return codes
}
