package traffic

import (
	"bufio"
	"context"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
)

// testdata/refetch-access.log, written for this test, in the order Squid
// logs (by the end of each transaction):
//   - registry.access.redhat.com: three fetches of one blob that overlap (a
//     stampede), a collapsed request (TCP_CF_HIT) that proves the blob
//     stored, a fetch starting 1 ms inside the 2 s grace after the last
//     one ended (concurrent), and one starting right at its end: evicted;
//     registry.redhat.io serves the same blob meanwhile: another URL,
//     another object for Squid, no refetch;
//   - docker.io: fetched, a hit, fetched again: evicted;
//   - ghcr.io: fetched, fetched again with no hit between (never_hit), a
//     hit, fetched again (evicted);
//   - quay.io redirects a blob to its CDN, which sends it; later
//     registry.redhat.io redirects two clients to it, whose CDN URLs carry
//     other signed queries: counted under registry.redhat.io, a refetch
//     with no hit seen and one overlapping it;
//   - public.ecr.aws: ranged answers (206), an abandoned transfer, a 503 and
//     a HEAD are no whole fetches, neither before nor after the one there
//     is; a ranged hit proves the blob stored, so the next fetch is evicted;
//   - registry.k8s.io: a TCP_REFRESH_MODIFIED is an origin fetch but no
//     refetch, and shows Squid had stored the blob;
//   - gcr.io: a hit of a blob cached before the exporter started, then a
//     fetch: evicted;
//   - a CONNECT and manifests, which count nowhere here.
func TestRefetchesInACraftedLog(t *testing.T) {
	c, _ := New(nil)
	lines := readLines(t, "testdata/refetch-access.log")
	observe(t, c, lines...)

	origin := map[string]float64{
		"registry.access.redhat.com": 50e6,
		"docker.io":                  10e6,
		"ghcr.io":                    6e6,
		"quay.io":                    3e6,
		"registry.redhat.io":         16e6,
		"public.ecr.aws":             16e6,
		"registry.k8s.io":            2.1e6,
		"gcr.io":                     1.5e6,
	}
	type key struct{ registry, reason string }
	refetched := map[key][2]float64{ // count, bytes
		{"registry.access.redhat.com", "concurrent"}: {3, 30e6},
		{"registry.access.redhat.com", "evicted"}:    {1, 10e6},
		{"docker.io", "evicted"}:                     {1, 5e6},
		{"ghcr.io", "never_hit"}:                     {1, 2e6},
		{"ghcr.io", "evicted"}:                       {1, 2e6},
		{"registry.redhat.io", "never_hit"}:          {1, 3e6},
		{"registry.redhat.io", "concurrent"}:         {1, 3e6},
		{"public.ecr.aws", "evicted"}:                {1, 8e6},
		{"registry.k8s.io", "evicted"}:               {1, 0.7e6},
		{"gcr.io", "evicted"}:                        {1, 1.5e6},
	}
	for r, name := range c.registries.names { // every series, the zeros too
		if got := testutil.ToFloat64(c.originBytes[r]); got != origin[name] {
			t.Errorf("%s: origin bytes %v, want %v", name, got, origin[name])
		}
		for why := range numReasons {
			want := refetched[key{name, why.String()}]
			got := [2]float64{testutil.ToFloat64(c.refetches[r][why]), testutil.ToFloat64(c.refetchBytes[r][why])}
			if got != want {
				t.Errorf("%s %s: %v refetches of %v bytes, want %v of %v", name, why, got[0], got[1], want[0], want[1])
			}
		}
	}
	// The existing series counts what clients got on a miss: the 206s, and
	// the HEAD, too. The new one only whole blobs.
	if got := testutil.ToFloat64(c.bytes[c.index("public.ecr.aws")][Blob][Miss]); got != 16e6+2*1048576+350 {
		t.Errorf("public.ecr.aws blob miss response bytes %v", got)
	}
}

// Through a real Squid: a cacheable blob is a miss and then a hit, no
// refetch; one the origin marks private is fetched each time, first by a
// request right after the other (which the grace calls concurrent: Squid
// could not have collapsed it) and then, seconds later, by one that found
// no hit ever seen.
func TestRefetchesThroughARealSquid(t *testing.T) {
	squid := squidtest.Start(t, squidtest.Options{})
	origin := squidtest.StartOrigin(t)
	c, _ := New(nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := accesslog.StartFeed(ctx, accesslog.FeedConfig{File: squid.AccessLog, Tap: c.Observe, Logger: log.NewNopLogger()}); err != nil {
		t.Fatal(err)
	}
	client := squid.Client()
	get := func(path string) {
		t.Helper()
		resp, err := client.Get(origin.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	stored := "/v2/org/app/blobs/sha256:" + strings.Repeat("1", 64)
	private := "/private/v2/org/app/blobs/sha256:" + strings.Repeat("2", 64)
	get(stored)
	get(stored)
	get(private)
	get(private)
	time.Sleep(concurrentGraceMillis*time.Millisecond + 100*time.Millisecond)
	get(private)

	other := c.registries.other()
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(c.requests[other][Blob][Hit])+testutil.ToFloat64(c.requests[other][Blob][Miss]) < 5 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	want := [numReasons]float64{concurrent: 1, neverHit: 1}
	got := refetchCounts(c)
	if squidtest.Workers(t) > 1 && got[concurrent] == 2 {
		// With SMP workers the stored blob's second GET may reach the
		// worker that did not fetch it before the shared memory cache has
		// it: a second fetch right after the first, which is what
		// concurrent counts.
		want[concurrent] = 2
	}
	if got != want {
		t.Errorf("refetches %v, want %v: concurrent, evicted, never_hit", got, want)
	}
	if got, want := testutil.ToFloat64(c.originBytes[other]), testutil.ToFloat64(c.bytes[other][Blob][Miss]); got != want || got == 0 {
		t.Errorf("origin bytes %v, blob miss bytes %v", got, want)
	}
}

// A digest's story, line by line: what the memory answers to each whole
// fetch.
func TestRefetchReasons(t *testing.T) {
	const (
		miss    = "TCP_MISS/200"
		hit     = "TCP_MEM_HIT/200"
		refresh = "TCP_REFRESH_MODIFIED/200"
	)
	type line struct {
		end     string // seconds.millis
		elapsed int
		result  string
		hier    string // HIER_DIRECT/10.1.1.1 when empty
	}
	const joined = "HIER_NONE/-" // a request that joined a fetch in flight
	tests := []struct {
		name  string
		lines []line
		want  []string // the reason of each line that was a refetch
	}{
		{"first fetch", []line{{"100.000", 50, miss, ""}}, nil},
		{"overlapping", []line{{"100.000", 5000, miss, ""}, {"101.000", 5000, miss, ""}}, []string{"concurrent"}},
		{"logged first, started last", []line{{"100.000", 10, miss, ""}, {"101.000", 5000, miss, ""}}, []string{"concurrent"}},
		{"inside the grace", []line{{"100.000", 50, miss, ""}, {"102.050", 51, miss, ""}}, []string{"concurrent"}},
		{"at the grace's end", []line{{"100.000", 50, miss, ""}, {"102.050", 50, miss, ""}}, []string{"never_hit"}},
		{"a hit between", []line{{"100.000", 50, miss, ""}, {"150.000", 1, hit, ""}, {"200.000", 50, miss, ""}}, []string{"evicted"}},
		{"a hit stays known", []line{{"100.000", 50, miss, ""}, {"150.000", 1, hit, ""}, {"200.000", 50, miss, ""}, {"300.000", 50, miss, ""}},
			[]string{"evicted", "evicted"}},
		{"a hit within a stampede", []line{{"100.000", 5000, miss, ""}, {"100.500", 1, hit, ""}, {"101.000", 5000, miss, ""}}, []string{"concurrent"}},
		{"only a hit known", []line{{"100.000", 1, hit, ""}, {"100.500", 50, miss, ""}}, []string{"evicted"}},
		{"a refresh is no refetch", []line{{"100.000", 50, miss, ""}, {"200.000", 50, refresh, ""}, {"300.000", 50, miss, ""}}, []string{"evicted"}},
		{"collapsed", []line{{"100.000", 5000, miss, ""}, {"101.000", 4000, "TCP_CF_HIT/200", joined}}, nil},
		// Squid 5.7 logs a stampede it fetched once as one TCP_MISS
		// HIER_DIRECT and TCP_CF_MISS or TCP_MISS with HIER_NONE for the
		// rest (e2e.TestStampedeFetchesOnceAndLeaksNothing).
		{"collapsed, logged as a miss", []line{{"100.000", 5000, miss, ""}, {"101.000", 4000, "TCP_CF_MISS/200", joined}}, nil},
		{"joined in transit", []line{{"100.000", 5000, miss, ""}, {"101.000", 4000, miss, joined}}, nil},
		{"collapsing failed", []line{{"100.000", 5000, miss, ""}, {"101.000", 4000, "TCP_CF_MISS/200", ""}}, []string{"concurrent"}},
		{"SMP: another worker could not read it yet", []line{{"100.000", 5000, miss, ""}, {"101.000", 4000, "TCP_SWAPFAIL_MISS/200", ""}}, []string{"concurrent"}},
		{"a failed swap-in later is no refetch", []line{{"100.000", 50, miss, ""}, {"200.000", 50, "TCP_SWAPFAIL_MISS/200", ""}, {"300.000", 50, miss, ""}},
			[]string{"evicted"}},
		{"a sibling's hit is no origin fetch", []line{{"100.000", 50, miss, ""}, {"200.000", 50, miss, "SIBLING_HIT/10.1.1.2"}}, nil},
		{"a client's reload", []line{{"100.000", 50, miss, ""}, {"200.000", 50, "TCP_CLIENT_REFRESH_MISS/200", ""}, {"300.000", 50, miss, ""}},
			[]string{"evicted"}},
		{"ranged", []line{{"100.000", 50, "TCP_MISS/206", ""}, {"100.500", 50, miss, ""}, {"200.000", 50, "TCP_MISS/206", ""}}, nil},
		{"aborted", []line{{"100.000", 50, "TCP_MISS_ABORTED/200", ""}, {"100.500", 50, miss, ""}, {"100.600", 50, "TCP_MISS_ABORTED/200", ""}}, nil},
		{"errors", []line{{"100.000", 50, miss, ""}, {"200.000", 50, "TCP_MISS/503", ""}, {"300.000", 50, "TCP_MISS/404", ""}}, nil},
		{"negative hit", []line{{"100.000", 50, miss, ""}, {"200.000", 50, "TCP_NEGATIVE_HIT/404", ""}, {"300.000", 50, miss, ""}}, []string{"never_hit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := New(nil)
			var got []string
			for _, l := range tt.lines {
				before := refetchCounts(c)
				if l.hier == "" {
					l.hier = "HIER_DIRECT/10.1.1.1"
				}
				observe(t, c, "1795470"+l.end+" "+strconv.Itoa(l.elapsed)+" 10.0.0.1 "+l.result+" 1000 GET https://ghcr.io/v2/o/i/blobs/sha256:"+digest+" - "+l.hier+" application/octet-stream")
				after := refetchCounts(c)
				for why := range numReasons {
					if after[why] != before[why] {
						got = append(got, why.String())
					}
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("refetches %v, want %v", got, tt.want)
			}
		})
	}
}

func refetchCounts(c *Counter) (n [numReasons]float64) {
	for r := range c.registries.names {
		for why := range numReasons {
			n[why] += testutil.ToFloat64(c.refetches[r][why])
		}
	}
	return n
}

// A full set forgets its least recently used digest, not one just used.
func TestDigestsForgetTheLeastRecentlyUsed(t *testing.T) {
	d := newDigests()
	// Keys of one set: the set is the product's top bits, so keys whose
	// products differ only below them share it.
	var keys []uint64
	for k := uint64(1); len(keys) < digestWays+1; k++ {
		if setOf(k) == setOf(1) {
			keys = append(keys, k)
		}
	}
	for _, k := range keys[:digestWays] {
		d.fetched(k, 0, 0, 1000, false)
	}
	d.cached(keys[0], 0) // the oldest is used again
	d.fetched(keys[digestWays], 0, 0, 1000, false)
	if _, again := d.fetched(keys[0], 0, 100000, 100001, false); !again {
		t.Error("the digest just used was forgotten")
	}
	if _, again := d.fetched(keys[1], 0, 100000, 100001, false); again {
		t.Error("the least recently used digest was kept")
	}
	if n := d.len(); n != digestWays {
		t.Errorf("%d digests held in a set of %d", n, digestWays)
	}
}

func setOf(key uint64) uint64 { return (key * 0x9e3779b97f4a7c15) >> (64 - digestSetBits) }

// 1M blob lines of 500k digests, each fetched twice in a row: the memory
// holds its capacity and no more, catches every second fetch, allocates
// nothing, and its heap is its slots. The figure in README comes from
// go test ./traffic/ -run DigestMemoryIsBounded -v.
func TestDigestMemoryIsBounded(t *testing.T) {
	const lines, distinct = 1_000_000, 500_000
	before, rssBefore := heapInUse(), residentKiB()
	c, _ := New(nil)
	var (
		e   accesslog.Entry
		buf []byte
	)
	feed := func(i int) {
		buf = blobLine(buf[:0], i, i/2)
		if err := accesslog.Parse(buf, &e); err != nil {
			t.Fatalf("%s: %v", buf, err)
		}
		c.Observe(&e)
	}
	for i := range lines {
		feed(i)
	}
	after, rssAfter := heapInUse(), residentKiB()
	if n := c.digests.len(); n != digestSets*digestWays {
		t.Errorf("the memory holds %d digests, want its capacity %d", n, digestSets*digestWays)
	}
	if got := refetchCounts(c); got != [numReasons]float64{neverHit: distinct} {
		t.Errorf("refetches %v, want %d never_hit", got, distinct)
	}
	if allocs := testing.AllocsPerRun(1000, func() { feed(lines) }); allocs != 0 {
		t.Errorf("%v allocations a line", allocs)
	}
	grown := float64(after-before) / (1 << 20)
	t.Logf("%d lines, %d digests: the memory holds %d digests (%d bytes of slots); heap in use grew %.2f MiB (Counter included), resident memory %.2f MiB",
		lines, distinct, c.digests.len(), digestSets*digestWays*unsafe.Sizeof(digestSlot{}), grown, float64(rssAfter-rssBefore)/1024)
	if grown > 3 {
		t.Errorf("heap in use grew %.2f MiB, want under 3", grown)
	}
	runtime.KeepAlive(c)
}

// blobLine writes the log line of a whole fetch of digest n, ten seconds
// after the line before: no two are concurrent.
func blobLine(b []byte, i, n int) []byte {
	b = strconv.AppendInt(b, 1795470000+int64(i)*10, 10)
	b = append(b, ".000    120 10.128.2.17 TCP_MISS/200 31457280 GET https://registry.access.redhat.com/v2/ubi9/ubi/blobs/sha256:"...)
	b = appendDigest(b, n)
	return append(b, " - HIER_DIRECT/23.1.2.4 application/octet-stream"...)
}

// appendDigest writes a digest whose first 64 bits, those the memory keys
// by, differ for every n, as a sha256's do.
func appendDigest(b []byte, n int) []byte {
	const hexDigits = "0123456789abcdef"
	v := uint64(n+1) * 0xd6e8feb86659fd93 // odd: every n its own value
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, hexDigits[v>>uint(shift)&0xf])
	}
	return append(b, "0000000000000000000000000000000000000000000000000000000000000000"[:48]...)
}

// residentKiB is VmRSS from /proc/self/status, 0 where there is none.
func residentKiB() int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(rest)[0])
			return n
		}
	}
	return 0
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkObserveDistinctDigests: every line a whole fetch of a new blob,
// so that the digest memory, once full, replaces a slot each time.
func BenchmarkObserveDistinctDigests(b *testing.B) {
	c, _ := New(nil)
	var (
		e   accesslog.Entry
		buf []byte
	)
	feed := func(i int) {
		buf = blobLine(buf[:0], i, i)
		if accesslog.Parse(buf, &e) != nil {
			b.Fatal(string(buf))
		}
		c.Observe(&e)
	}
	feed(-1) // the memory's one allocation
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		feed(i)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	for s := bufio.NewScanner(f); s.Scan(); {
		lines = append(lines, s.Text())
	}
	return lines
}
