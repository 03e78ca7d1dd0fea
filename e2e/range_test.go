package e2e

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/testenv"
)

// Ranges of blobs, with the shipped blob policy on a registry that serves
// blobs itself: a range of a cold blob makes Squid fetch the whole blob
// once, and keep it (range_offset_limit none for blob paths); after that,
// ranges and whole pulls come from the cache. Without the policy's line,
// Squid passes a range on uncached, and the next pull fetches the blob again.
func TestRangeOfAColdBlobFetchesItWholeOnce(t *testing.T) {
	for _, c := range []struct {
		name          string
		keepRangeLine bool
		wantFetches   int // origin fetches after the range, the wait, and a whole pull
	}{
		{"shipped policy", true, 1},
		{"without range_offset_limit", false, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			var extra []string
			for _, l := range squidtest.BlobPolicy(t) {
				if c.keepRangeLine || !bytes.HasPrefix([]byte(l), []byte("range_offset_limit none")) {
					extra = append(extra, l)
				}
			}
			env := testenv.Start(t, testenv.Options{Extra: extra})
			h, data := env.Quay.RandomBlob(2 << 20)
			url := "https://" + env.Quay.Public + "/v2/org/public/blobs/" + h.String()
			c2 := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
				Proxy: http.ProxyURL(env.Proxy()), TLSClientConfig: &tls.Config{RootCAs: env.Bump.Pool()}}}

			get := func(rng string) (int, []byte) {
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				if rng != "" {
					req.Header.Set("Range", rng)
				}
				resp, err := c2.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, body
			}
			if status, body := get("bytes=1000-1999"); status != http.StatusPartialContent || !bytes.Equal(body, data[1000:2000]) {
				t.Fatalf("range of a cold blob: %d, %d bytes", status, len(body))
			}
			// Squid goes on fetching the rest after the client has its range.
			time.Sleep(500 * time.Millisecond)
			if status, body := get(""); status != http.StatusOK || !bytes.Equal(body, data) {
				t.Fatalf("whole pull: %d, %d bytes", status, len(body))
			}
			if status, body := get(fmt.Sprintf("bytes=%d-", len(data)-100)); status != http.StatusPartialContent || !bytes.Equal(body, data[len(data)-100:]) {
				t.Fatalf("range of a cached blob: %d, %d bytes", status, len(body))
			}
			if n := env.Quay.PublicGets(h); n != c.wantFetches {
				t.Errorf("the registry sent the blob %d times, want %d", n, c.wantFetches)
			}
		})
	}
}
