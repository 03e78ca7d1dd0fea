package charts

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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
	c := &http.Client{
		Timeout:       20 * time.Second,
		Transport:     &http.Transport{Proxy: http.ProxyURL(squid.ProxyURL()), TLSClientConfig: &tls.Config{RootCAs: bump.Pool()}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer c.CloseIdleConnections()
	var tok struct{ Token string }
	resp, err := c.Get("https://" + q.Registry + "/v2/auth?service=quay.test&scope=repository:" + repo + ":pull")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	get := func(u string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp = get("https://" + q.Registry + "/v2/" + repo + "/blobs/" + h.String())
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		b, _ := os.ReadFile(squid.AccessLog)
		t.Fatalf("blob GET: %s, want a redirect to the CDN; access log:\n%s", resp.Status, b)
	}
	location := resp.Header.Get("Location")
	lines := len(deliveries(t, squid))
	resp = get(location)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
		t.Fatalf("CDN GET: %s, %d bytes, want the blob's %d", resp.Status, len(body), len(want))
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if d := deliveries(t, squid); len(d) > lines {
			return d[lines]
		}
	}
	t.Fatal("the CDN GET is not in the access log")
	return ""
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
