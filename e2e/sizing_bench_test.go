package e2e

// Sizing the cache (make bench-sizing): the figures behind the README's
// "Sizing the cache" table and the chart's Squid resources.
//
//   - BenchmarkSizingHitRatio replays one synthetic pull workload through a
//     real Squid with the shipped blob policy, for cache_dir sizes of 25,
//     50, 100 and 150 % of the workload's working set, and reads the blob
//     hit ratios and the eviction metric from the exporter's own traffic
//     counter fed with Squid's access log.
//   - BenchmarkSizingSquidMemory measures Squid's resident memory with the
//     chart's default sizes: after start, with its memory cache full, and
//     while 50 bumped HTTPS clients download a cached blob at once.
//   - BenchmarkSizingDiskIndex measures what a cache_dir costs in memory
//     besides its bytes (which a tmpfs cache_dir adds to the pod's): Squid's
//     index of the objects on disk, and the files' overhead.
//
// Each runs its measurement once per b.N; run them with -benchtime 1x.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
	"github.com/squid-cache-exporter/squid-cache-exporter/cachemgr"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/pkitest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/quaytest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
	"github.com/squid-cache-exporter/squid-cache-exporter/traffic"
)

// The pull workload: sizingBlobs layers, 32 KiB to 2 MiB, log-normal
// around 512 KiB (image layers scaled down about a hundredfold), pulled
// sizingPulls times with Zipf popularity (s = 1.1: the most popular layer
// is a fifth of all pulls, as a base image's is), sizingClients at a time.
// The first sizingWarmup pulls fill the cache; the figures "after warm-up"
// leave them out. The seed makes every run pull the same sequence.
const (
	sizingBlobs   = 300
	sizingPulls   = 4000
	sizingWarmup  = 1000
	sizingClients = 4
	sizingZipfS   = 1.1
	sizingSeed    = 17
	sizingMinSize = 32 << 10
	sizingMaxSize = 2 << 20
	sizingMedian  = 512 << 10
	sizingSigma   = 1.0
)

// sizingCachePercents are the cache_dir sizes tried, in percent of the
// working set.
var sizingCachePercents = []int{25, 50, 100, 150}

// sizingBlob is one layer of the workload, served by the public registry.
type sizingBlob struct {
	hash v1.Hash
	data []byte
	url  string
}

// sizingWorkload is the layers, by popularity (0 is the most pulled), and
// the sequence of pulls.
type sizingWorkload struct {
	blobs      []sizingBlob
	pulls      []int // index into blobs, one a pull
	workingSet int64 // distinct bytes pulled
	pulled     int64 // bytes of all pulls
	distinct   int   // blobs pulled at least once
}

func newSizingWorkload(q *quaytest.Quay) *sizingWorkload {
	r := rand.New(rand.NewPCG(sizingSeed, 0))
	w := &sizingWorkload{}
	for range sizingBlobs {
		size := int(math.Exp(math.Log(sizingMedian) + sizingSigma*r.NormFloat64()))
		size = min(max(size, sizingMinSize), sizingMaxSize)
		h, data := q.RandomBlob(size)
		w.blobs = append(w.blobs, sizingBlob{h, data, "https://" + q.Public + "/v2/org/public/blobs/" + h.String()})
	}
	zipf := rand.NewZipf(r, sizingZipfS, 1, sizingBlobs-1)
	seen := make([]bool, sizingBlobs)
	for range sizingPulls {
		i := int(zipf.Uint64())
		w.pulls = append(w.pulls, i)
		w.pulled += int64(len(w.blobs[i].data))
		if !seen[i] {
			seen[i] = true
			w.distinct++
			w.workingSet += int64(len(w.blobs[i].data))
		}
	}
	return w
}

// sizingPacedRate: the replay pulls a hundred and more layers a second,
// far faster than a cluster does. The traffic counter takes a refetch that
// starts less than 2 s after the previous fetch of the blob ended for a
// stampede (reason "concurrent"), which at that pace a blob evicted and
// pulled again soon after often is. So the log is also counted on a clock
// slowed to sizingPacedRate pulls a second, as if the same pulls had come
// at that pace: the refetch reasons are read from that count.
const sizingPacedRate = 5

// sizingResult is one cache size's outcome.
type sizingResult struct {
	percent, dirMiB  int
	all, measured    sizingCounts // the whole run; after warm-up; the log's clock
	paced            sizingCounts // after warm-up, on the paced clock
	trueByteHitRatio float64      // the whole run, from the bytes the origin sent
	maxDiskMiB       float64      // the cache_dir's files, at most (sampled)
	swapMiB          float64      // Squid's Storage Swap size at the end
	seconds          float64
}

// BenchmarkSizingHitRatio: the blob byte hit ratio, the request hit ratio
// and the share of origin bytes that were refetches of evicted blobs (what
// the SquidCacheTooSmall alert compares with 10 %), for cache_dir sizes
// relative to the working set. The memory cache is kept small (cache_mem
// 8 MB, objects up to 1 MB) so that the ufs cache_dir is what is sized.
// Reported for the pulls after the warm-up: byte_hit_ratio,
// request_hit_ratio, evicted_share (refetch bytes of reason "evicted" /
// origin bytes, on the paced clock) and capacity_refetch_share (the same
// for every reason: what a big enough cache would have saved).
func BenchmarkSizingHitRatio(b *testing.B) {
	q := quaytest.Start(b, nil)
	w := newSizingWorkload(q)
	fmt.Printf("workload: %d layers of %d KiB–%d MiB (log-normal, median %d KiB), %d pulls (Zipf s=%.1f, %d at a time, seed %d): "+
		"%d distinct layers pulled, working set %.1f MiB, %.1f MiB pulled in all; warm-up: the first %d pulls\n",
		sizingBlobs, sizingMinSize>>10, sizingMaxSize>>20, sizingMedian>>10, sizingPulls, sizingZipfS, sizingClients, sizingSeed,
		w.distinct, mibOf(w.workingSet), mibOf(w.pulled), sizingWarmup)
	var results []sizingResult
	for _, pct := range sizingCachePercents {
		b.Run(fmt.Sprintf("cache_dir=%dpct", pct), func(b *testing.B) {
			var r sizingResult
			for range b.N {
				r = sizingReplay(b, q, w, pct)
			}
			b.ReportMetric(r.measured.byteHitRatio(), "byte_hit_ratio")
			b.ReportMetric(r.measured.requestHitRatio(), "request_hit_ratio")
			b.ReportMetric(r.paced.refetchShare("evicted"), "evicted_share")
			b.ReportMetric(r.paced.refetchShare(""), "capacity_refetch_share")
			results = append(results, r)
		})
	}
	if len(results) == 0 {
		return
	}
	var t strings.Builder
	fmt.Fprintf(&t, "blob hit ratio by cache_dir size (working set %.1f MiB), pulls %d–%d (after warm-up); refetch shares on a clock paced to %d pulls/s:\n",
		mibOf(w.workingSet), sizingWarmup+1, sizingPulls, sizingPacedRate)
	fmt.Fprintf(&t, "| cache_dir (of working set) | MiB | blob byte hit ratio | blob request hit ratio | evicted / origin bytes | never_hit / origin bytes | concurrent / origin bytes | evicted / origin bytes, replay's clock | byte hit ratio, whole run (origin's count) | cache_dir files at most | replay |\n")
	fmt.Fprintf(&t, "|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		pct := func(v float64) string { return fmt.Sprintf("%.1f %%", 100*v) }
		fmt.Fprintf(&t, "| %d %% | %d | %s | %s | %s | %s | %s | %s | %s (%s) | %.0f MiB | %.0f s |\n", r.percent, r.dirMiB,
			pct(r.measured.byteHitRatio()), pct(r.measured.requestHitRatio()),
			pct(r.paced.refetchShare("evicted")), pct(r.paced.refetchShare("never_hit")), pct(r.paced.refetchShare("concurrent")),
			pct(r.measured.refetchShare("evicted")), pct(r.all.byteHitRatio()), pct(r.trueByteHitRatio), r.maxDiskMiB, r.seconds)
	}
	// A parent benchmark's log is not printed: the table goes to stdout.
	fmt.Print(t.String())
}

// sizingReplay runs the workload through a fresh Squid whose cache_dir is
// percent of the working set, and counts its access log.
func sizingReplay(b *testing.B, q *quaytest.Quay, w *sizingWorkload, percent int) sizingResult {
	r := sizingResult{percent: percent, dirMiB: int(math.Ceil(float64(w.workingSet) * float64(percent) / 100 / (1 << 20)))}
	bump := pkitest.NewCA(b, "squid bump CA")
	s := squidtest.Start(b, squidtest.Options{Hosts: q.Hosts, BumpCA: bump, OriginCA: q.CA, Extra: squidtest.BlobPolicy(b),
		CacheMem: "8 MB", MaxObjectSizeInMemory: "1 MB", CacheDirType: "ufs", CacheDirMiB: r.dirMiB, Workers: 1})
	originBefore := sizingOriginBytes(q, w)

	stopDisk := sizingWatchDisk(filepath.Join(s.Dir, "cache"), &r.maxDiskMiB)
	start := time.Now()
	boundary, err := sizingPullAll(s.ProxyURL(), bump.Pool(), w)
	r.seconds = time.Since(start).Seconds()
	stopDisk()
	if err != nil {
		b.Fatalf("cache_dir %d MiB: %v", r.dirMiB, err)
	}
	sizingWaitLines(b, s.AccessLog, "/blobs/sha256:", len(w.pulls))
	r.all, r.measured = sizingCount(b, s.AccessLog, boundary, 1)
	stretch := max(1, float64(len(w.pulls))/r.seconds/sizingPacedRate)
	_, r.paced = sizingCount(b, s.AccessLog, boundary, stretch)
	r.trueByteHitRatio = 1 - float64(sizingOriginBytes(q, w)-originBefore)/float64(w.pulled)
	if info, _ := sizingInfo(s); info != nil {
		r.swapMiB = info.DiskUsedBytes / (1 << 20)
	}
	b.Logf("cache_dir %d MiB (%d %%): %.0f s; byte hit ratio %.3f after warm-up, %.3f in all (%.3f by the origin's count); "+
		"after warm-up, of origin bytes: evicted %.3f, never_hit %.3f, concurrent %.3f on the log's clock; evicted %.3f, never_hit %.3f, concurrent %.3f on a clock %.0fx slower; "+
		"blob lines by outcome %v; Squid's swap size at the end %.1f MiB, files at most %.1f MiB",
		r.dirMiB, percent, r.seconds, r.measured.byteHitRatio(), r.all.byteHitRatio(), r.trueByteHitRatio,
		r.measured.refetchShare("evicted"), r.measured.refetchShare("never_hit"), r.measured.refetchShare("concurrent"),
		r.paced.refetchShare("evicted"), r.paced.refetchShare("never_hit"), r.paced.refetchShare("concurrent"), stretch,
		r.all.outcomes(), r.swapMiB, r.maxDiskMiB)
	return r
}

// sizingPullAll pulls w's sequence, sizingClients at a time, each client
// on connections of its own, and checks every body. It returns when the
// first pull after the warm-up started.
func sizingPullAll(proxy *url.URL, roots *x509.CertPool, w *sizingWorkload) (time.Time, error) {
	var next atomic.Int64
	var mu sync.Mutex
	var boundary time.Time
	var errs []error
	var wg sync.WaitGroup
	for range sizingClients {
		wg.Go(func() {
			hc := sizingHTTPClient(proxy, roots)
			defer hc.CloseIdleConnections()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(w.pulls) {
					return
				}
				if i == sizingWarmup {
					mu.Lock()
					boundary = time.Now()
					mu.Unlock()
				}
				blob := w.blobs[w.pulls[i]]
				if err := sizingGet(hc, blob.url, blob.data); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("pull %d (%s): %w", i, blob.hash.Hex[:12], err))
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return boundary, errors.Join(errs...)
}

// sizingOriginBytes is what the public registry sent of w's blobs so far.
func sizingOriginBytes(q *quaytest.Quay, w *sizingWorkload) int64 {
	var n int64
	for _, blob := range w.blobs {
		n += int64(q.PublicGets(blob.hash)) * int64(len(blob.data))
	}
	return n
}

// sizingCounts are the traffic counter's blob figures, summed over
// registries: "requests:<cache>" and "bytes:<cache>" by cache outcome,
// "origin" (squid_access_blob_origin_bytes_total) and "refetch:<reason>"
// (squid_access_blob_refetch_bytes_total).
type sizingCounts map[string]float64

func (c sizingCounts) minus(d sizingCounts) sizingCounts {
	out := sizingCounts{}
	for k, v := range c {
		out[k] = v - d[k]
	}
	return out
}

func (c sizingCounts) ratio(kind string) float64 {
	served := c[kind+":hit"] + c[kind+":revalidated"] + c[kind+":miss"]
	if served == 0 {
		return 0
	}
	return c[kind+":hit"] / served
}

func (c sizingCounts) byteHitRatio() float64    { return c.ratio("bytes") }
func (c sizingCounts) requestHitRatio() float64 { return c.ratio("requests") }

// refetchShare is the refetch bytes of reason ("": of every reason) as a
// share of origin bytes.
func (c sizingCounts) refetchShare(reason string) float64 {
	if c["origin"] == 0 {
		return 0
	}
	if reason == "" {
		return (c["refetch:concurrent"] + c["refetch:evicted"] + c["refetch:never_hit"]) / c["origin"]
	}
	return c["refetch:"+reason] / c["origin"]
}

// outcomes are the blob requests by cache outcome.
func (c sizingCounts) outcomes() map[string]float64 {
	out := map[string]float64{}
	for k, v := range c {
		if outcome, ok := strings.CutPrefix(k, "requests:"); ok && v > 0 {
			out[outcome] = v
		}
	}
	return out
}

// sizingCount feeds Squid's access log to a traffic counter, as the
// exporter does, and returns its blob figures for the whole log and for
// the lines logged from boundary on. With stretch above 1 the counter sees
// the log on a slower clock: each line's time stretch times as far from
// the first line's, its duration as logged.
func sizingCount(b *testing.B, logPath string, boundary time.Time, stretch float64) (all, measured sizingCounts) {
	counter, err := traffic.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(counter)
	data, err := os.ReadFile(logPath)
	if err != nil {
		b.Fatal(err)
	}
	var before sizingCounts
	var first int64
	for line := range bytes.Lines(data) {
		var e accesslog.Entry
		if accesslog.Parse(bytes.TrimSuffix(line, []byte("\n")), &e) != nil {
			continue
		}
		if before == nil && !boundary.IsZero() && e.Time >= boundary.UnixMilli() {
			before = sizingGather(b, reg)
		}
		if first == 0 {
			first = e.Time
		}
		e.Time = first + int64(float64(e.Time-first)*stretch)
		counter.Observe(&e)
	}
	all = sizingGather(b, reg)
	return all, all.minus(before)
}

func sizingGather(b *testing.B, reg *prometheus.Registry) sizingCounts {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	c := sizingCounts{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			v := m.GetCounter().GetValue()
			switch mf.GetName() {
			case "squid_access_requests_total":
				if labels["object"] == "blob" {
					c["requests:"+labels["cache"]] += v
				}
			case "squid_access_response_bytes_total":
				if labels["object"] == "blob" {
					c["bytes:"+labels["cache"]] += v
				}
			case "squid_access_blob_origin_bytes_total":
				c["origin"] += v
			case "squid_access_blob_refetch_bytes_total":
				c["refetch:"+labels["reason"]] += v
			}
		}
	}
	return c
}

// sizingWaitLines waits until the access log has n lines whose URL
// contains part: Squid logs a transaction after its last byte is sent.
func sizingWaitLines(b *testing.B, logPath, part string, n int) {
	var got int
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		data, _ := os.ReadFile(logPath)
		if got = bytes.Count(data, []byte(part)); got >= n {
			return
		}
	}
	b.Fatalf("the access log has %d lines with %s, want %d", got, part, n)
}

// sizingWatchDisk samples the bytes the files under dir take (their
// blocks, as a tmpfs would hold them) every 250 ms into *maxMiB, until
// the returned stop is called.
func sizingWatchDisk(dir string, maxMiB *float64) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			*maxMiB = max(*maxMiB, mibOf(sizingDiskBytes(dir)))
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-finished; *maxMiB = max(*maxMiB, mibOf(sizingDiskBytes(dir))) }
}

// sizingDiskBytes is what the files under dir take on their file system.
func sizingDiskBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				n += st.Blocks * 512
			}
		}
		return nil
	})
	return n
}

// sizingHTTPClient pulls through proxy, trusting roots (the bump CA), on
// connections of its own.
func sizingHTTPClient(proxy *url.URL, roots *x509.CertPool) *http.Client {
	return &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{
		Proxy:               http.ProxyURL(proxy),
		TLSClientConfig:     &tls.Config{RootCAs: roots},
		DisableCompression:  true,
		MaxIdleConnsPerHost: 4,
	}}
}

// sizingGet GETs rawURL and checks that the body is want.
func sizingGet(hc *http.Client, rawURL string, want []byte) error {
	resp, err := hc.Get(rawURL)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	m := &compareWriter{want: want}
	n, err := io.CopyBuffer(m, resp.Body, make([]byte, 64<<10))
	switch {
	case err != nil:
		return fmt.Errorf("after %d bytes: %w", n, err)
	case resp.StatusCode != http.StatusOK || m.off != len(want):
		return fmt.Errorf("%d with %d bytes, want 200 with %d", resp.StatusCode, n, len(want))
	}
	return nil
}

func mibOf(n int64) float64 { return float64(n) / (1 << 20) }

// The chart's default sizes (charts/squid-cache/values.yaml).
const (
	sizingChartCacheMem  = "256 MB"
	sizingChartMaxInMem  = "64 MB"
	sizingChartMaxObject = "10 GB"
	sizingChartDirMiB    = 20480
	sizingFillBlobSize   = 16 << 20
	sizingFillBlobs      = 19 // 304 MiB: more than cache_mem holds
	sizingParallelClient = 50
	sizingDiskBlobSize   = 65 << 20 // above maximum_object_size_in_memory: never a memory hit
)

// BenchmarkSizingSquidMemory: the resident memory of a Squid with the
// chart's default sizes (cache_mem 256 MB, maximum_object_size_in_memory
// 64 MB, a 20 GiB ufs cache_dir on disk) and the shipped blob policy, one
// process: after start, after 19 blobs of 16 MiB (304 MiB) went through
// it and filled the memory cache, and while 50 bumped HTTPS clients, each
// on a connection of its own, download at once a cached 16 MiB blob from
// memory, then a 65 MiB one from disk. Reported: VmRSS after each step,
// VmHWM (the peak) at the end, the highest VmRSS sampled during the
// downloads, mgr:info's "Total accounted" and the helpers' (certificate
// generators') VmRSS. These are the figures the chart's Squid requests and
// limits come from.
func BenchmarkSizingSquidMemory(b *testing.B) {
	q := quaytest.Start(b, nil)
	var blobs []sizingBlob
	for range sizingFillBlobs {
		h, data := q.RandomBlob(sizingFillBlobSize)
		blobs = append(blobs, sizingBlob{h, data, "https://" + q.Public + "/v2/org/public/blobs/" + h.String()})
	}
	h, data := q.RandomBlob(sizingDiskBlobSize)
	big := sizingBlob{h, data, "https://" + q.Public + "/v2/org/public/blobs/" + h.String()}
	for range b.N {
		bump := pkitest.NewCA(b, "squid bump CA")
		s := squidtest.Start(b, squidtest.Options{Hosts: q.Hosts, BumpCA: bump, OriginCA: q.CA, Extra: squidtest.BlobPolicy(b),
			CacheMem: sizingChartCacheMem, MaxObjectSizeInMemory: sizingChartMaxInMem, MaxObjectSize: sizingChartMaxObject,
			CacheDirType: "ufs", CacheDirMiB: sizingChartDirMiB, Workers: 1})
		pid := sizingSquidPID(b, s)
		proxy := s.ProxyURL()
		var t strings.Builder
		row := func(step string, extra string) {
			st := sizingStatus(b, pid)
			accounted := "?"
			if _, raw := sizingInfo(s); raw != nil {
				accounted = fmt.Sprintf("%.0f", sizingAccountedMiB(raw))
			}
			fmt.Fprintf(&t, "| %s | %.0f | %.0f | %s | %.0f | %s |\n", step, st["VmRSS"], st["VmHWM"], accounted, sizingHelpersRSS(pid), extra)
		}
		fmt.Fprintf(&t, "Squid's memory, chart defaults (cache_mem %s, maximum_object_size_in_memory %s, ufs cache_dir %d MiB on disk), MiB:\n",
			sizingChartCacheMem, sizingChartMaxInMem, sizingChartDirMiB)
		fmt.Fprintf(&t, "| step | VmRSS | VmHWM | mgr:info Total accounted | helpers' VmRSS | |\n|---|---|---|---|---|---|\n")
		row("(a) started", "")
		startRSS := sizingStatus(b, pid)["VmRSS"]

		hc := sizingHTTPClient(proxy, bump.Pool())
		for i, blob := range blobs {
			if err := sizingGet(hc, blob.url, blob.data); err != nil {
				b.Fatalf("fill, blob %d: %v", i, err)
			}
		}
		hc.CloseIdleConnections()
		sizingWaitLines(b, s.AccessLog, "/blobs/sha256:", len(blobs))
		memUsed := "?"
		if info, _ := sizingInfo(s); info != nil {
			memUsed = fmt.Sprintf("memory cache holds %.0f MiB, %.0f objects", info.MemoryUsedBytes/(1<<20), info.MemoryObjects)
		}
		row(fmt.Sprintf("(b) %d MiB of blobs through it", sizingFillBlobs*sizingFillBlobSize>>20), memUsed)
		filledRSS := sizingStatus(b, pid)["VmRSS"]

		// With its memory cache full, Squid keeps a new blob on disk only
		// or in memory, as the race of its swap-out with the trimming of
		// its pages goes: a blob in the middle is a memory hit, which a GET
		// first checks. The blob above maximum_object_size_in_memory is
		// always a disk hit: it is fetched, and a GET checks it.
		middle := blobs[len(blobs)/2]
		lines := len(blobs)
		var peaks []float64
		for _, c := range []struct {
			step, name string
			blob       sizingBlob
			warm       int // GETs before: the miss that stores it, the check
		}{{"(c)", "in memory", middle, 1}, {"(d)", "on disk only (above maximum_object_size_in_memory)", big, 2}} {
			hc := sizingHTTPClient(proxy, bump.Pool())
			for range c.warm {
				if err := sizingGet(hc, c.blob.url, c.blob.data); err != nil {
					b.Fatal(err)
				}
			}
			hc.CloseIdleConnections()
			peak, elapsed := sizingParallel(b, pid, proxy, bump.Pool(), c.blob)
			lines += c.warm + sizingParallelClient
			sizingWaitLines(b, s.AccessLog, "/blobs/sha256:", lines)
			codes := sizingResultCodes(b, s.AccessLog, c.blob.url)
			row(fmt.Sprintf("%s %d clients download a %d MiB blob cached %s at once", c.step, sizingParallelClient, len(c.blob.data)>>20, c.name),
				fmt.Sprintf("highest VmRSS sampled during: %.0f MiB; %.1f s; the blob's log lines: %v", peak, elapsed.Seconds(), codes))
			peaks = append(peaks, peak)
		}
		end := sizingStatus(b, pid)
		b.ReportMetric(startRSS, "start_rss_MiB")
		b.ReportMetric(filledRSS, "filled_rss_MiB")
		b.ReportMetric(peaks[0], "memory_hits_peak_rss_MiB")
		b.ReportMetric(peaks[1], "disk_hits_peak_rss_MiB")
		b.ReportMetric(end["VmHWM"], "hwm_MiB")
		b.Log(t.String())
	}
}

// sizingParallel starts sizingParallelClient downloads of blob at once,
// each client on a connection of its own, and returns the highest VmRSS of
// pid sampled meanwhile, in MiB, and how long they took.
func sizingParallel(b *testing.B, pid int, proxy *url.URL, roots *x509.CertPool, blob sizingBlob) (float64, time.Duration) {
	var peak float64
	stopSampling := sizingSampleRSS(pid, &peak)
	start := time.Now()
	errs := make([]error, sizingParallelClient)
	var ready, wg sync.WaitGroup
	ready.Add(1)
	for i := range sizingParallelClient {
		wg.Go(func() {
			c := sizingHTTPClient(proxy, roots)
			defer c.CloseIdleConnections()
			ready.Wait()
			errs[i] = sizingGet(c, blob.url, blob.data)
		})
	}
	ready.Done()
	wg.Wait()
	elapsed := time.Since(start)
	stopSampling()
	if err := errors.Join(errs...); err != nil {
		b.Fatalf("%d parallel downloads: %v", sizingParallelClient, err)
	}
	return peak, elapsed
}

// The index benchmark: sizingIndexObjects objects of squidtest.ObjectSize
// (8 KiB) from a plain HTTP origin, under blob paths.
const sizingIndexObjects = 20000

// BenchmarkSizingDiskIndex: what a cache_dir costs in memory besides its
// bytes. Squid (chart sizes, a 20 GiB ufs cache_dir) stores 20,000 small
// blobs; it then writes a clean swap.state, is killed and started again,
// and rebuilds its index from the cache_dir without reading any object
// into memory. Reported: index_bytes_per_object, the VmRSS after that
// rebuild less the VmRSS after the first start (the same config, an empty
// cache_dir), per object on disk; accounted_bytes_per_object, the same from
// mgr:info's "Total accounted"; and file_overhead_bytes, what an object's
// file takes on the file system (in 4 KiB blocks, as on a tmpfs) beyond
// its body.
func BenchmarkSizingDiskIndex(b *testing.B) {
	origin := squidtest.StartOrigin(b)
	for range b.N {
		s := squidtest.Start(b, squidtest.Options{Extra: squidtest.BlobPolicy(b),
			CacheMem: sizingChartCacheMem, MaxObjectSizeInMemory: sizingChartMaxInMem, MaxObjectSize: sizingChartMaxObject,
			CacheDirType: "ufs", CacheDirMiB: sizingChartDirMiB, Workers: 1})
		pid := sizingSquidPID(b, s)
		emptyRSS := sizingStatus(b, pid)["VmRSS"]
		_, raw := sizingInfo(s)
		emptyAccounted := sizingAccountedMiB(raw)

		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make([]error, sizingClients)
		tr := &http.Transport{Proxy: http.ProxyURL(s.ProxyURL()), MaxIdleConnsPerHost: sizingClients}
		for c := range sizingClients {
			wg.Go(func() {
				hc := &http.Client{Timeout: 10 * time.Second, Transport: tr}
				for {
					i := next.Add(1)
					if i > sizingIndexObjects {
						return
					}
					path := fmt.Sprintf("/v2/org/public/blobs/sha256:%064x", i)
					if err := sizingGet(hc, origin.URL+path, squidtest.Object(path)); err != nil {
						errs[c] = fmt.Errorf("object %d: %w", i, err)
						return
					}
				}
			})
		}
		wg.Wait()
		tr.CloseIdleConnections()
		if err := errors.Join(errs...); err != nil {
			b.Fatal(err)
		}
		sizingWaitLines(b, s.AccessLog, "/blobs/sha256:", sizingIndexObjects)
		before, _ := sizingInfo(s)
		if before == nil {
			b.Fatal("no mgr:info from the filled Squid")
		}
		s.RotateLogs() // writes a clean swap.state
		time.Sleep(2 * time.Second)
		diskBytes := sizingDiskBytes(filepath.Join(s.Dir, "cache"))
		log, _ := os.ReadFile(s.CacheLog)
		rebuilds := bytes.Count(log, []byte(sizingRebuilt))
		s.Stop()
		s.Restart()
		pid = sizingSquidPID(b, s)
		info := sizingWaitRebuilt(b, s, rebuilds, before.DiskObjects)
		_, raw = sizingInfo(s)
		st := sizingStatus(b, pid)
		objects := info.DiskObjects
		perObject := (st["VmRSS"] - emptyRSS) * (1 << 20) / objects
		accountedPerObject := (sizingAccountedMiB(raw) - emptyAccounted) * (1 << 20) / objects
		fileOverhead := float64(diskBytes)/before.DiskObjects - squidtest.ObjectSize
		b.ReportMetric(perObject, "index_bytes_per_object")
		b.ReportMetric(accountedPerObject, "accounted_bytes_per_object")
		b.ReportMetric(fileOverhead, "file_overhead_bytes")
		b.Logf("%d objects of %d bytes stored (mgr:info: %.0f on disk, swap size %.1f MiB; their files take %.1f MiB); "+
			"VmRSS after the first start %.1f MiB, after a restart that indexed %.0f objects %.1f MiB: %.0f bytes an object; "+
			"mgr:info Total accounted %.1f → %.1f MiB: %.0f bytes an object; a file takes %.0f bytes beyond its body",
			sizingIndexObjects, squidtest.ObjectSize, before.DiskObjects, before.DiskUsedBytes/(1<<20), mibOf(diskBytes),
			emptyRSS, objects, st["VmRSS"], perObject, emptyAccounted, sizingAccountedMiB(raw), accountedPerObject, fileOverhead)
	}
}

// sizingRebuilt is what cache.log says when Squid has indexed its cache_dir.
const sizingRebuilt = "Finished rebuilding storage from disk"

// sizingWaitRebuilt waits until a restarted Squid has indexed its
// cache_dir: cache.log says the rebuild finished (a rebuild more than the
// log had before), and mgr:info counts about the objects it had before.
func sizingWaitRebuilt(b *testing.B, s *squidtest.Squid, rebuilds int, want float64) *cachemgr.Info {
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		log, _ := os.ReadFile(s.CacheLog)
		info, _ := sizingInfo(s)
		if info != nil && bytes.Count(log, []byte(sizingRebuilt)) > rebuilds && info.DiskObjects >= want*0.99 {
			return info
		}
	}
	info, _ := sizingInfo(s)
	b.Fatalf("the restarted Squid did not index its %.0f objects within 2 minutes: %+v", want, info)
	return nil
}

// sizingInfo asks Squid for mgr:info; it returns the parsed report and
// its text, or nils.
func sizingInfo(s *squidtest.Squid) (*cachemgr.Info, []byte) {
	c, err := cachemgr.NewClient(s.URL, "")
	if err != nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := c.Fetch(ctx, "info")
	if err != nil {
		return nil, nil
	}
	info, err := cachemgr.ParseInfo(raw)
	if err != nil {
		return nil, raw
	}
	return info, raw
}

// sizingAccountedMiB reads "Total accounted: N KB" from mgr:info; -1 when
// it is not there.
func sizingAccountedMiB(raw []byte) float64 {
	for line := range bytes.Lines(raw) {
		v, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("Total accounted:"))
		if !ok {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(string(v)), " KB"), 64)
		if err == nil {
			return kb / 1024
		}
	}
	return -1
}

// sizingResultCodes tallies the access log's result codes for rawURL:
// "TCP_MISS/200 1, TCP_MEM_HIT/200 51".
func sizingResultCodes(b *testing.B, logPath, rawURL string) string {
	data, err := os.ReadFile(logPath)
	if err != nil {
		b.Fatal(err)
	}
	codes := map[string]int{}
	for line := range bytes.Lines(data) {
		var e accesslog.Entry
		if accesslog.Parse(bytes.TrimSuffix(line, []byte("\n")), &e) == nil && string(e.URL) == rawURL {
			codes[fmt.Sprintf("%s/%d", e.Result, e.Status)]++
		}
	}
	var parts []string
	for code, n := range codes {
		parts = append(parts, fmt.Sprintf("%s %d", code, n))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// sizingSquidPID finds the Squid process of s: this test's child that runs
// s's squid.conf in the foreground (one process, squid -N).
func sizingSquidPID(b *testing.B, s *squidtest.Squid) int {
	conf := []byte(filepath.Join(s.Dir, "squid.conf"))
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		cmdline, err := os.ReadFile(d + "/cmdline")
		args := bytes.Split(cmdline, []byte{0})
		if err != nil || !bytes.Contains(cmdline, conf) || !bytes.HasSuffix(args[0], []byte("squid")) ||
			!bytes.Contains(cmdline, []byte("\x00-N\x00")) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(d))
		if int(sizingStatus(b, pid)["PPid"]) == os.Getpid() {
			return pid
		}
	}
	b.Fatalf("no squid -N process runs %s", conf)
	return 0
}

// sizingStatus reads /proc/<pid>/status: the Vm* and RssAnon lines in
// MiB, PPid as it is.
func sizingStatus(b *testing.B, pid int) map[string]float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	st := map[string]float64{}
	for line := range strings.Lines(string(data)) {
		key, value, ok := strings.Cut(line, ":")
		fields := strings.Fields(value)
		if !ok || len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		if len(fields) == 2 && fields[1] == "kB" {
			v /= 1024
		}
		st[key] = v
	}
	return st
}

// sizingHelpersRSS is the VmRSS, in MiB, of pid's children: Squid's
// helpers, which share the container's memory.
func sizingHelpersRSS(pid int) float64 {
	var total float64
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		data, err := os.ReadFile(d + "/status")
		if err != nil || !strings.Contains(string(data), fmt.Sprintf("\nPPid:\t%d\n", pid)) {
			continue
		}
		for line := range strings.Lines(string(data)) {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.ParseFloat(strings.Fields(v)[0], 64)
				total += kb / 1024
			}
		}
	}
	return total
}

// sizingSampleRSS samples pid's VmRSS every 20 ms into *peak (MiB) until
// the returned stop is called.
func sizingSampleRSS(pid int, peak *float64) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	read := func() {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		for line := range strings.Lines(string(data)) {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.ParseFloat(strings.Fields(v)[0], 64)
				*peak = max(*peak, kb/1024)
			}
		}
	}
	go func() {
		defer close(finished)
		for {
			read()
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() { close(done); <-finished; read() }
}
