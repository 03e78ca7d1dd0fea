package traffic

import (
	"strings"
	"testing"

	table "github.com/squid-cache-exporter/squid-cache-exporter/registries"
)

// Blobs is what the status page shows: per registry, hits among blob
// deliveries; redirects and manifests are neither.
func TestBlobsCountsDeliveriesByRegistry(t *testing.T) {
	c, _ := New(nil)
	observe(t, c,
		"1795472260.100      5 10.0.0.7 TCP_MISS/302 512 GET https://quay.io/v2/org/app/blobs/sha256:"+digest+" - HIER_DIRECT/10.1.1.1 -",
		"1795472260.200     40 10.0.0.7 TCP_MISS/200 262144 GET https://cdn01.quay.io/quayio-production-s3/sha256/0e/"+digest+"? - HIER_DIRECT/10.1.1.2 application/octet-stream",
		"1795472260.300      2 10.0.0.8 TCP_MEM_HIT/200 262144 GET https://cdn02.quay.io/quayio-production-s3/sha256/0e/"+digest+"? - HIER_NONE/- application/octet-stream",
		"1795472260.400      2 10.0.0.8 TCP_HIT/200 262144 GET https://cdn02.quay.io/quayio-production-s3/sha256/0e/"+digest+"? - HIER_NONE/- application/octet-stream",
		"1795472260.500     95 10.0.0.9 TCP_MISS/200 2143 GET https://quay.io/v2/org/app/manifests/latest - HIER_DIRECT/10.1.1.1 application/json",
		"1795472260.600      9 10.0.0.8 TCP_MISS/200 1024 GET https://example.org/v2/x/blobs/sha256:"+strings.Repeat("a", 64)+" - HIER_DIRECT/10.1.1.3 application/octet-stream",
	)
	got := map[string]BlobCount{}
	for _, b := range c.Blobs() {
		got[b.Registry] = b
	}
	for _, want := range []BlobCount{{"quay.io", 2, 3}, {"registry.redhat.io", 0, 0}, {"other", 0, 1}} {
		if got[want.Registry] != want {
			t.Errorf("%s: %+v, want %+v", want.Registry, got[want.Registry], want)
		}
	}
	if last := c.Blobs()[len(c.Blobs())-1].Registry; last != "other" {
		t.Errorf("last registry %q, want other", last)
	}
}

// A CDN's delivery, as the registries table's example URL shows it,
// counts as a blob of that registry, even with no redirect seen first.
func TestTableCDNsCountUnderTheirRegistry(t *testing.T) {
	for _, r := range table.Default {
		for _, cdn := range r.CDNs {
			c, _ := New(nil)
			observe(t, c, "1795472260.200     40 10.0.0.7 TCP_MEM_HIT/200 262144 GET "+cdn.Example+" - HIER_NONE/- application/octet-stream")
			if got := requests(c, r.Name, "blob", "hit"); got != 1 {
				t.Errorf("%s: %s counted %v times as its blob hit", r.Name, cdn.Example, got)
			}
		}
	}
}
