package traffic

import (
	"bufio"
	"flag"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const digest = "0ea0faeb23c26511e776010a311460a8e57c969b6d3f16484fa1dd29c22a613d"

// observe feeds log lines to c, as the hub would.
func observe(t testing.TB, c *Counter, lines ...string) {
	t.Helper()
	var e accesslog.Entry
	for _, l := range lines {
		if err := accesslog.Parse([]byte(l), &e); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		c.Observe(&e)
	}
}

func requests(c *Counter, registry, obj, cacheOutcome string) float64 {
	return testutil.ToFloat64(c.requests[c.index(registry)][object(obj)][cache(cacheOutcome)])
}

// registry.redhat.io redirects blobs to quay's CDN: the CDN's delivery
// counts under the registry that redirected, not under quay.io.
func TestCDNCountsUnderTheRedirectingRegistry(t *testing.T) {
	c, _ := New(nil)
	observe(t, c,
		"1795472260.100      5 10.0.0.7 TCP_MISS/302 512 GET https://registry.redhat.io/v2/rhel9/ubi/blobs/sha256:"+digest+" - HIER_DIRECT/10.1.1.1 -",
		"1795472260.200     40 10.0.0.7 TCP_MISS/200 262144 GET https://cdn01.quay.io/quayio-production-s3/sha256/0e/"+digest+"? - HIER_DIRECT/10.1.1.2 application/octet-stream",
		"1795472260.300      2 10.0.0.8 TCP_MEM_HIT/200 262144 GET https://cdn02.quay.io/quayio-production-s3/sha256/0e/"+digest+"? - HIER_NONE/- application/octet-stream",
		// a blob no registry here redirected: the CDN's own registry
		"1795472260.400      9 10.0.0.8 TCP_MISS/200 1024 GET https://cdn01.quay.io/quayio-production-s3/sha256/aa/"+strings.Repeat("a", 64)+"? - HIER_DIRECT/10.1.1.2 application/octet-stream",
	)
	for _, tt := range []struct {
		registry, cache string
		want            float64
	}{
		{"registry.redhat.io", "redirect", 1}, {"registry.redhat.io", "miss", 1}, {"registry.redhat.io", "hit", 1},
		{"quay.io", "miss", 1}, {"quay.io", "hit", 0},
	} {
		if got := requests(c, tt.registry, "blob", tt.cache); got != tt.want {
			t.Errorf("%s blob %s: %v, want %v", tt.registry, tt.cache, got, tt.want)
		}
	}
	if got := testutil.ToFloat64(c.bytes[c.index("registry.redhat.io")][Blob][Hit]); got != 262144 {
		t.Errorf("bytes from cache: %v", got)
	}
}

// The memory of redirects is bounded: the oldest are forgotten.
func TestRedirectsForgetTheOldest(t *testing.T) {
	r := newRedirects(2)
	a, b, c := strings.Repeat("a", 64), strings.Repeat("b", 64), strings.Repeat("c", 64)
	r.remember([]byte(a), 1)
	r.remember([]byte(b), 2)
	r.remember([]byte(c), 3)
	if _, ok := r.registry([]byte(a)); ok {
		t.Error("the oldest was kept")
	}
	if reg, ok := r.registry([]byte(c)); !ok || reg != 3 || len(r.by) != 2 {
		t.Errorf("newest: %d %t, %d kept", reg, ok, len(r.by))
	}
}

// The real Squid 5.7 log (74 lines of every kind) and the prober's own
// squid_probe lines, counted: compared with golden files.
func TestRealLogsGolden(t *testing.T) {
	for _, name := range []string{"squid-5.7-access.log", "squid-5.7-probe-access.log"} {
		t.Run(name, func(t *testing.T) {
			c, _ := New(testRegistries)
			f, err := os.Open("testdata/" + name)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var e accesslog.Entry
			for s := bufio.NewScanner(f); s.Scan(); {
				if accesslog.Parse(s.Bytes(), &e) == nil {
					c.Observe(&e)
				}
			}
			golden := "testdata/" + strings.TrimSuffix(name, ".log") + ".prom"
			reg := prometheus.NewPedanticRegistry()
			reg.MustRegister(c)
			got := gatherNonZero(t, reg)
			if *update {
				os.WriteFile(golden, []byte(got), 0o644)
			}
			want, _ := os.ReadFile(golden)
			if got != string(want) {
				t.Errorf("counts differ from %s (go test ./traffic -update rewrites it):\n%s", golden, got)
			}
		})
	}
}

// gatherNonZero is the exposition text of the request and tunnel counts
// that are not zero: the rest is every label combination, all zero.
func gatherNonZero(t *testing.T, reg *prometheus.Registry) string {
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if !strings.HasSuffix(mf.GetName(), "_total") {
			continue
		}
		for _, m := range mf.GetMetric() {
			if v := m.GetCounter().GetValue(); v != 0 {
				var labels []string
				for _, l := range m.GetLabel() {
					labels = append(labels, l.GetName()+"="+l.GetValue())
				}
				b.WriteString(mf.GetName() + "{" + strings.Join(labels, ",") + "} " + formatFloat(v) + "\n")
			}
		}
	}
	return b.String()
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
