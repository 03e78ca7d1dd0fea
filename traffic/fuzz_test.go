package traffic

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
)

// Whatever a line says, Observe neither panics nor makes a new series:
// the label values are those of the configuration.
func FuzzObserve(f *testing.F) {
	for _, s := range []string{
		"1795472260.100      5 10.0.0.7 TCP_MISS/302 512 GET https://registry.redhat.io/v2/rhel9/ubi/blobs/sha256:" + digest + " - HIER_DIRECT/10.1.1.1 -",
		"1795472260.200     40 10.0.0.7 TCP_MEM_HIT_ABORTED/200 262144 GET https://cdn01.quay.io/q/sha256/0e/" + digest + "? - HIER_NONE/- application/octet-stream 0123",
		"1795472260.300      0 10.0.0.8 NONE_NONE/000 0 - error:transaction-end-before-headers - HIER_NONE/- -",
		"1795472260.300      0 10.0.0.8 NONE_NONE/200 0 CONNECT [::1]:443 - HIER_NONE/- -",
		"1795472260.300      0 10.0.0.8 TCP_MISS/200 0 GET cache_object://x/info - HIER_NONE/- -",
		"1795472260.300      0 10.0.0.8 CF_/999 0 GET https://u:p@h:/sha256/sha256:/ - HIER_NONE/- -",
		// whole fetches, a refresh and a range: the digest memory's paths
		"1795472260.400    900 10.0.0.9 TCP_MISS/200 262144 GET https://cdn01.quay.io/q/sha256/0e/" + digest + "?X-Amz-Signature=1 - HIER_DIRECT/10.1.1.2 application/octet-stream",
		"1795472260.500   2000 10.0.0.9 TCP_CF_MISS/200 262144 GET https://quay.io/v2/o/i/blobs/sha256:" + digest + " - HIER_DIRECT/10.1.1.2 application/octet-stream",
		"1795472265.500     30 10.0.0.9 TCP_REFRESH_MODIFIED/200 262144 GET https://quay.io/v2/o/i/blobs/sha256:" + digest + " - HIER_DIRECT/10.1.1.2 application/octet-stream",
		"1795472270.500     30 10.0.0.9 TCP_MISS/206 1024 GET https://quay.io/v2/o/i/blobs/sha256:" + digest + " - HIER_DIRECT/10.1.1.2 application/octet-stream",
	} {
		f.Add(s)
	}
	c, _ := New(nil)
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	series, _ := testutil.GatherAndCount(reg)
	f.Fuzz(func(t *testing.T, line string) {
		var e accesslog.Entry
		if accesslog.Parse([]byte(line), &e) != nil {
			return
		}
		c.Observe(&e)
		if n, _ := testutil.GatherAndCount(reg); n != series {
			t.Fatalf("%q made the series %d, not %d", line, n, series)
		}
	})
}
