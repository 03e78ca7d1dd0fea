package e2e

// How the cache holds up on a busy day (make bench-cache), measured on the
// shipped blob policy (conf/squid-private-blobs.conf):
//
//   - BenchmarkStampede: N clients (1, 10, 50) start pulling one cold blob
//     within a second from an origin throttled to 20 MiB/s; the origin must
//     send it once, and every client must get the right digest.
//   - BenchmarkCachedBlob: a cached blob's throughput from Squid's memory
//     cache and its disk cache, 1 and 8 streams, bumped HTTPS and plain
//     HTTP, against a bare Go file server serving the same bytes.
//   - BenchmarkRange: a range of a cached blob is a hit; a range of a cold
//     blob fetches the whole blob once, and keeps it.
//
// Sizes: 200 MiB cold blobs and a 1 GiB cached one (a
// quarter of it with SMP workers, see cachedConfig); BENCH_CACHE_SMALL=1
// makes them 20 MiB and 100 MiB for a quick run.
// BENCH_CACHE_SQUID_EXTRA, squid.conf lines separated by ";", goes into
// every Squid of BenchmarkCachedBlob, to try a setting.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
	"github.com/squid-cache-exporter/squid-cache-exporter/cdnurl"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/pkitest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/quaytest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/testenv"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/testio"
)

// cacheSizes are the blobs the cache benchmarks move.
type cacheSizes struct {
	cold   int // a stampede's blob, and the range runs'
	cached int // the throughput runs' blob
}

func benchSizes() cacheSizes {
	if os.Getenv("BENCH_CACHE_SMALL") != "" {
		return cacheSizes{cold: 20 << 20, cached: 100 << 20}
	}
	return cacheSizes{cold: 200 << 20, cached: 1 << 30}
}

// originRate is the stampede's origin: each fetch gets 20 MiB a second.
const originRate = 20 << 20

// The two ways a blob comes to Squid: a public registry that serves it
// itself (registry.access.test, bumped HTTPS, no helpers), and quay's
// private-blob path (a 302 to a signed CDN URL; bumped HTTPS, the store-ID
// helper and ICAP).
var blobPaths = []struct {
	name    string
	private bool
}{{"public", false}, {"private", true}}

// startCache runs a bumping Squid in front of q with the blob policy: the
// whole snippet with the private-blob helpers, or squidtest.BlobPolicy
// without them. o sizes the cache; its Hosts are added to q's, its Extra
// lines follow the policy's.
func startCache(t testing.TB, q *quaytest.Quay, private bool, o squidtest.Options) *setup {
	t.Helper()
	s := &setup{out: &testio.SyncBuffer{}}
	policy := squidtest.BlobPolicy(t)
	if private {
		s.icap = startICAP(t, s.out, quaytest.CDNPattern, squidtest.Origins{})
		policy = squidtest.PrivateBlobs(t, helperBinary, quaytest.CDNPattern, s.icap.addr, squidtest.Origins{})
	}
	hosts := maps.Clone(q.Hosts)
	maps.Copy(hosts, o.Hosts)
	o.Hosts, o.Extra = hosts, append(policy, o.Extra...)
	o.BumpCA, o.OriginCA = pkitest.NewCA(t, "squid bump CA"), q.CA
	s.Env = &testenv.Env{Quay: q, Bump: o.BumpCA, Squid: squidtest.Start(t, o)}
	if private {
		t.Cleanup(func() { s.checkNoSecrets(t) }) // runs before Squid's directory goes
	}
	return s
}

// mib is a size for squid.conf.
func mib(bytes int) string { return fmt.Sprintf("%d MB", (bytes+(1<<20)-1)>>20) }

// streamClient is an HTTP client with connections of its own, through
// proxy unless it is nil, that trusts roots and follows no redirect.
func streamClient(proxy *url.URL, roots *x509.CertPool, serverName string) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:    &tls.Config{RootCAs: roots, ServerName: serverName},
		DisableCompression: true,
		ReadBufferSize:     64 << 10,
	}
	if proxy != nil {
		tr.Proxy = http.ProxyURL(proxy)
	}
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// getInto sends a GET with header (name, value pairs) and copies the body into
// w, which checks it; it returns the status and the byte count. It gives
// up after 10 minutes.
func getInto(ctx context.Context, hc *http.Client, rawURL string, w io.Writer, header ...string) (int, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return 0, 0, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] != "" { // an anonymous client's Authorization
			req.Header.Set(header[i], header[i+1])
		}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	n, err := io.CopyBuffer(w, resp.Body, make([]byte, 256<<10))
	return resp.StatusCode, n, err
}

// getDigest GETs a blob, hashing it as it comes and keeping none of it,
// and fails unless it is a 200 with h's digest.
func getDigest(ctx context.Context, hc *http.Client, rawURL string, h v1.Hash, header ...string) error {
	d := sha256.New()
	status, n, err := getInto(ctx, hc, rawURL, d, header...)
	if err != nil {
		return fmt.Errorf("after %d bytes: %w", n, err)
	}
	if got := hex.EncodeToString(d.Sum(nil)); status != http.StatusOK || got != h.Hex {
		return fmt.Errorf("%d, %d bytes with digest sha256:%.12s…, want 200 and %.19s…", status, n, got, h)
	}
	return nil
}

// compareWriter checks that what is written is want, from its start, and
// keeps nothing: cheaper than a hash where throughput is measured.
type compareWriter struct {
	want []byte
	off  int
}

func (w *compareWriter) Write(p []byte) (int, error) {
	if len(p) > len(w.want)-w.off || !bytes.Equal(p, w.want[w.off:w.off+len(p)]) {
		return 0, fmt.Errorf("the bytes from offset %d on are not the blob's", w.off)
	}
	w.off += len(p)
	return len(p), nil
}

// redirect does what a client does before the CDN: a pull token for repo,
// then the blob GET; it returns the signed CDN URL and the token.
func (c *client) redirect(repo string, h v1.Hash) (location, token string, err error) {
	if token, err = c.token(repo); err != nil {
		return "", "", err
	}
	req, _ := http.NewRequest(http.MethodGet, "https://"+c.s.Quay.Registry+"/v2/"+repo+"/blobs/"+h.String(), nil)
	setAuthorization(req, token)
	resp, err := c.http.Do(req)
	if err != nil {
		return "", "", err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return "", "", fmt.Errorf("blob GET: %s", resp.Status)
	}
	return resp.Header.Get("Location"), token, nil
}

// blobURL is where a client gets h: the public registry's blob URL, or a
// signed CDN URL of its own (with the Authorization header it sends there,
// as container clients do) after a token and quay's redirect.
func (s *setup) blobURL(c *client, private bool, h v1.Hash) (rawURL string, header []string, err error) {
	if !private {
		return "https://" + s.Quay.Public + "/v2/org/public/blobs/" + h.String(), nil, nil
	}
	location, token, err := c.redirect("org/private", h)
	return location, []string{"Authorization", token}, err
}

// logKey is the start of the access log's URL for h on a path: the query
// is stripped there.
func (s *setup) logKey(private bool, h v1.Hash) string {
	if !private {
		return "https://" + s.Quay.Public + "/v2/org/public/blobs/" + h.String()
	}
	return cdnurl.WithoutQuery(s.Quay.SignedURL(h, 0))
}

// results are the result codes and statuses ("TCP_MISS/200") of the access
// log's lines for URLs that start with prefix, oldest first.
func (s *setup) results(prefix string) []string {
	var out []string
	for _, line := range strings.Split(readFile(s.Squid.AccessLog), "\n") {
		var e accesslog.Entry
		if accesslog.Parse([]byte(line), &e) == nil && strings.HasPrefix(string(e.URL), prefix) {
			out = append(out, fmt.Sprintf("%s/%03d", e.Result, e.Status))
		}
	}
	return out
}

// waitResults waits until the access log has n lines for prefix (Squid
// logs a transaction once it is over) and returns them.
func (s *setup) waitResults(prefix string, n int) []string {
	var got []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got = s.results(prefix); len(got) >= n {
			break
		}
	}
	return got
}

// tally counts results: "TCP_MISS/200:1 TCP_HIT/200:9".
func tally(results []string) string {
	counts := map[string]int{}
	for _, r := range results {
		counts[r]++
	}
	var parts []string
	for _, r := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%s:%d", r, counts[r]))
	}
	return strings.Join(parts, " ")
}

// BenchmarkStampede: N clients start pulling the same cold blob within one
// second, from an origin that sends each fetch at 20 MiB/s. Collapsed
// forwarding makes the first miss the only fetch; the others share its
// bytes as they come. Reported: origin_fetches (must be 1), ttlb_s (the
// slowest client's time to last byte, from its own start; a lone client
// takes size/rate) and ttlb_p50_s; cdn_checks are the store-ID helper's
// authorization checks, one a client on the private path.
func BenchmarkStampede(b *testing.B) {
	size := benchSizes().cold
	for _, path := range blobPaths {
		for _, n := range []int{1, 10, 50} {
			b.Run(fmt.Sprintf("%s/clients=%d", path.name, n), func(b *testing.B) {
				q := quaytest.Start(b, users)
				q.MakePrivate("org/private")
				s := startCache(b, q, path.private, squidtest.Options{MaxObjectSize: mib(2 * size), CacheDirMiB: 2*size>>20 + 64})
				for range b.N {
					s.stampede(b, path.private, n, size)
				}
			})
		}
	}
}

func (s *setup) stampede(b *testing.B, private bool, n, size int) {
	h, _ := s.Quay.RandomBlob(size)
	s.Quay.Throttle(originRate)
	defer s.Quay.Throttle(0)
	ttlb := make([]time.Duration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			time.Sleep(time.Duration(i) * time.Second / time.Duration(n)) // all start within a second
			start := time.Now()
			c, hc := s.client("alice", users["alice"]), streamClient(s.Proxy(), s.Bump.Pool(), "")
			defer c.http.CloseIdleConnections()
			defer hc.CloseIdleConnections()
			rawURL, header, err := s.blobURL(c, private, h)
			if err == nil {
				err = getDigest(context.Background(), hc, rawURL, h, header...)
			}
			ttlb[i], errs[i] = time.Since(start), err
		})
	}
	wg.Wait()
	results := s.waitResults(s.logKey(private, h), n)
	fetches := s.Quay.OriginFetches(h)
	failed := 0
	for i, err := range errs {
		if err != nil {
			if failed++; failed <= 3 {
				b.Errorf("client %d of %d: %v", i+1, n, err)
			}
		}
	}
	slices.Sort(ttlb)
	b.ReportMetric(float64(fetches), "origin_fetches")
	b.ReportMetric(ttlb[n-1].Seconds(), "ttlb_s")
	b.ReportMetric(ttlb[n/2].Seconds(), "ttlb_p50_s")
	if private {
		b.ReportMetric(float64(s.Quay.CDNChecks(h)), "cdn_checks")
	}
	b.Logf("%d clients, %d MiB at %d MiB/s: %d origin fetches, %d failed, time to last byte %.1f–%.1f s; access log: %s",
		n, size>>20, originRate>>20, fetches, failed, ttlb[0].Seconds(), ttlb[n-1].Seconds(), tally(results))
	if fetches != 1 {
		b.Errorf("the origin sent the blob %d times to %d clients, want 1; access log: %s", fetches, n, tally(results))
	}
}

// bareServer serves blobs from memory with net/http, over plain HTTP and
// over TLS: what a cached blob's throughput is measured against. Its plain
// side is also the origin of Squid's plain-HTTP runs.
type bareServer struct {
	plain, tls string // host:port (127.0.0.5)
}

// bareName is the bare server's name, for Squid's hosts_file and for TLS.
const bareName = "blobs.plain.test"

// startBare serves blobs, path to bytes.
func startBare(t testing.TB, ca *pkitest.CA, blobs map[string][]byte) *bareServer {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, ok := blobs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	})
	serve := func(l net.Listener) string {
		srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
		go srv.Serve(l)
		t.Cleanup(func() { srv.Close() })
		return l.Addr().String()
	}
	listen := func() net.Listener {
		l, err := net.Listen("tcp", "127.0.0.5:0")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	cert := ca.Server(t, bareName)
	return &bareServer{
		plain: serve(listen()),
		tls:   serve(tls.NewListener(listen(), &tls.Config{Certificates: []tls.Certificate{cert}})),
	}
}

// throughput has streams clients GET rawURL at once, each on a connection
// of its own made by newClient, and checks every byte against want. It
// returns the bytes a second they got together.
func throughput(newClient func() *http.Client, rawURL string, want []byte, streams int) (float64, error) {
	clients := make([]*http.Client, streams)
	for i := range clients {
		clients[i] = newClient()
	}
	errs := make([]error, streams)
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range clients {
		wg.Go(func() {
			defer c.CloseIdleConnections()
			w := &compareWriter{want: want}
			status, n, err := getInto(context.Background(), c, rawURL, w)
			if err == nil && (status != http.StatusOK || n != int64(len(want))) {
				err = fmt.Errorf("%d, %d bytes, want 200 and %d", status, n, len(want))
			}
			errs[i] = err
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	return float64(streams*len(want)) / elapsed.Seconds(), errors.Join(errs...)
}

// processCPU is the CPU time this process has used: the clients', and the
// bare server's in its runs.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cachedConfig is a Squid to measure cached-blob throughput on: where the
// blob is kept (the hit it must be) and what is set for it.
type cachedConfig struct {
	name    string
	hit     string // the result code every timed GET must have
	options func(size int) squidtest.Options
	// quarter: a blob a quarter of the size. Squid 5.7's SMP workers take
	// a quadratic time to fill the shared memory cache with a big object
	// (their CPU goes to mem_hdr::freeDataUpto): the first GET of a 1 GiB
	// blob had not ended after 10 minutes, at about 1 MB/s by then.
	quarter bool
}

// memoryCache keeps the blob in cache_mem (and in the cache_dir), diskCache
// only in the cache_dir: a blob above maximum_object_size_in_memory is
// served from disk (the kernel's page cache holds it on this machine).
func memoryCache(size int) squidtest.Options {
	return squidtest.Options{CacheMem: mib(size + size/4), MaxObjectSizeInMemory: mib(size + 1<<20),
		MaxObjectSize: mib(2 * size), CacheDirMiB: size>>20 + 256}
}

func diskCache(size int) squidtest.Options {
	return squidtest.Options{MaxObjectSize: mib(2 * size), CacheDirMiB: size>>20 + 256}
}

// withWorkers runs o's Squid with SMP workers sharing a rock cache_dir and
// the memory cache.
func withWorkers(n int, o func(int) squidtest.Options, dirOptions string) func(int) squidtest.Options {
	return func(size int) squidtest.Options {
		opts := o(size)
		opts.Workers, opts.CacheDirType, opts.CacheDirOptions = n, "rock", dirOptions
		return opts
	}
}

var cachedConfigs = []cachedConfig{
	{name: "memory", hit: "TCP_MEM_HIT", options: memoryCache},
	{name: "disk", hit: "TCP_HIT", options: diskCache},
	{name: "workers2/memory", hit: "TCP_MEM_HIT", options: withWorkers(2, memoryCache, ""), quarter: true},
	{name: "workers2/disk", hit: "TCP_HIT", options: withWorkers(2, diskCache, "slot-size=32768"), quarter: true},
}

// BenchmarkCachedBlob: a cached blob pulled by 1 and 8 clients at once,
// each on its own connection, from Squid's memory cache and from its disk
// cache, with one process and with SMP workers, over bumped HTTPS (the
// public registry's blob URL) and plain HTTP; and the same bytes from a
// bare Go file server, over TLS and plain, first. Reported: MB/s (10^6
// bytes a second, all streams together), x_bare (the ratio to the bare
// server with the same blob, protocol and streams), squid_cpu_s_per_GB
// (Squid's CPU seconds, all its processes, per GB sent: 1000 / it is the
// MB/s one core of Squid serves) and clients_cpu_s_per_GB (this process:
// the clients, and the bare server in its runs).
func BenchmarkCachedBlob(b *testing.B) {
	full := benchSizes().cached
	q := quaytest.Start(b, users)
	type blob struct {
		size int
		path string
		data []byte
	}
	blobs := map[bool]blob{} // quarter or not
	served := map[string][]byte{}
	for _, quarter := range []bool{false, true} {
		size := map[bool]int{false: full, true: full / 4}[quarter]
		h, data := q.RandomBlob(size)
		blobs[quarter] = blob{size, "/v2/org/public/blobs/" + h.String(), data}
		served[blobs[quarter].path] = data
	}
	bare := startBare(b, q.CA, served)
	_, barePort, _ := net.SplitHostPort(bare.plain)
	type protocol struct{ name, squidURL, bareURL, bareName string }
	protocols := func(path string) []protocol {
		return []protocol{
			{"https", "https://" + q.Public + path, "https://" + bare.tls + path, bareName},
			{"http", "http://" + bareName + ":" + barePort + path, "http://" + bare.plain + path, ""},
		}
	}
	streams := []int{1, 8}
	bareRate := map[string]float64{} // by size, protocol and streams
	for _, quarter := range []bool{false, true} {
		bl := blobs[quarter]
		for _, p := range protocols(bl.path) {
			for _, n := range streams {
				b.Run(fmt.Sprintf("bare/%dMiB/%s/streams=%d", bl.size>>20, p.name, n), func(b *testing.B) {
					var rate float64
					var cpu time.Duration
					for range b.N {
						before := processCPU()
						var err error
						if rate, err = throughput(func() *http.Client { return streamClient(nil, q.CA.Pool(), p.bareName) }, p.bareURL, bl.data, n); err != nil {
							b.Fatal(err)
						}
						cpu = processCPU() - before
					}
					bareRate[fmt.Sprint(bl.size, p.name, n)] = rate
					b.ReportMetric(rate/1e6, "MB/s")
					b.ReportMetric(cpu.Seconds()/(float64(n*bl.size)/1e9), "bare_and_clients_cpu_s_per_GB")
				})
			}
		}
	}
	var tryLines []string
	if extra := os.Getenv("BENCH_CACHE_SQUID_EXTRA"); extra != "" {
		tryLines = strings.Split(extra, ";")
	}
	for _, cfg := range cachedConfigs {
		bl := blobs[cfg.quarter]
		for _, p := range protocols(bl.path) {
			b.Run(cfg.name+"/"+p.name, func(b *testing.B) {
				o := cfg.options(bl.size)
				o.Hosts = map[string]string{bareName: "127.0.0.5"}
				o.Extra = append(o.Extra, tryLines...)
				s := startCache(b, q, false, o)
				client := func() *http.Client { return streamClient(s.Proxy(), s.Bump.Pool(), "") }
				// A GET fills the cache; a range then shows that the blob
				// is where the runs must find it.
				fill, err := throughput(client, p.squidURL, bl.data, 1)
				if err != nil {
					b.Fatalf("the GET that fills the cache: %v", err)
				}
				time.Sleep(time.Second) // a disker may still be writing its last slots
				hc := client()
				status, _, err := getInto(context.Background(), hc, p.squidURL, &compareWriter{want: bl.data}, "Range", "bytes=0-1023")
				hc.CloseIdleConnections()
				if got := s.waitResults(p.squidURL, 2); err != nil || status != http.StatusPartialContent || len(got) < 2 || got[1] != cfg.hit+"/206" {
					b.Fatalf("before the runs: %v %d, access log %v; want a miss, then %s/206", err, status, got, cfg.hit)
				}
				for _, n := range streams {
					b.Run(fmt.Sprintf("streams=%d", n), func(b *testing.B) {
						var rate float64
						var cpu, goCPU time.Duration
						for range b.N {
							before, cpuBefore, goBefore := len(s.results(p.squidURL)), s.Squid.CPUTime(), processCPU()
							var err error
							if rate, err = throughput(client, p.squidURL, bl.data, n); err != nil {
								b.Fatal(err)
							}
							cpu, goCPU = s.Squid.CPUTime()-cpuBefore, processCPU()-goBefore
							if got := s.waitResults(p.squidURL, before+n)[before:]; tally(got) != fmt.Sprintf("%s/200:%d", cfg.hit, n) {
								b.Errorf("the runs' GETs: %s, want %d %s", tally(got), n, cfg.hit)
							}
						}
						b.ReportMetric(rate/1e6, "MB/s")
						if bare := bareRate[fmt.Sprint(bl.size, p.name, n)]; bare > 0 {
							b.ReportMetric(rate/bare, "x_bare")
						}
						b.ReportMetric(cpu.Seconds()/(float64(n*bl.size)/1e9), "squid_cpu_s_per_GB")
						b.ReportMetric(goCPU.Seconds()/(float64(n*bl.size)/1e9), "clients_cpu_s_per_GB")
						if n == streams[0] {
							b.Logf("%d MiB blob; the miss that filled the cache: %.0f MB/s", bl.size>>20, fill/1e6)
						}
					})
				}
			})
		}
	}
}

// BenchmarkRange: on each path, a range of a cold blob (Range: bytes=
// 1000-2000) gets its 206 and the right bytes while Squid fetches the
// whole blob, once (range_offset_limit none for blob paths); a full GET
// afterwards is a hit, and so is a range of the now cached blob.
// Reported: origin_fetches (must be 1) and cached_range_hit (1: the cached
// blob's range was a TCP_HIT or TCP_MEM_HIT).
func BenchmarkRange(b *testing.B) {
	size := benchSizes().cold
	for _, path := range blobPaths {
		b.Run(path.name, func(b *testing.B) {
			q := quaytest.Start(b, users)
			q.MakePrivate("org/private")
			s := startCache(b, q, path.private, squidtest.Options{MaxObjectSize: mib(2 * size), CacheDirMiB: 2*size>>20 + 64})
			for range b.N {
				s.ranges(b, path.private, size)
			}
		})
	}
}

func (s *setup) ranges(b *testing.B, private bool, size int) {
	h, data := s.Quay.RandomBlob(size)
	key := s.logKey(private, h)
	hc := streamClient(s.Proxy(), s.Bump.Pool(), "")
	defer hc.CloseIdleConnections()
	// request is one client's GET of h, a range or the whole blob.
	request := func(what string, from, to int) string {
		c := s.client("alice", users["alice"])
		defer c.http.CloseIdleConnections()
		rawURL, header, err := s.blobURL(c, private, h)
		if err != nil {
			b.Fatalf("%s: %v", what, err)
		}
		before := len(s.results(key))
		if from < 0 {
			err = getDigest(context.Background(), hc, rawURL, h, header...)
		} else {
			var body bytes.Buffer
			var status int
			status, _, err = getInto(context.Background(), hc, rawURL, &body, append(header, "Range", fmt.Sprintf("bytes=%d-%d", from, to))...)
			if err == nil && (status != http.StatusPartialContent || !bytes.Equal(body.Bytes(), data[from:to+1])) {
				err = fmt.Errorf("%d, %d bytes, want 206 and bytes %d-%d", status, body.Len(), from, to)
			}
		}
		if err != nil {
			b.Errorf("%s: %v", what, err)
		}
		if got := s.waitResults(key, before+1); len(got) > before {
			return got[before]
		}
		b.Errorf("%s: no access log line", what)
		return ""
	}
	cold := request("range of the cold blob", 1000, 2000)
	// Squid goes on fetching the whole blob after the range is sent.
	for deadline := time.Now().Add(time.Minute); s.Quay.FetchesDone(h) == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // its last bytes from the socket into the store
	full := request("full GET after it", -1, 0)
	cached := request("range of the cached blob", 1000, 2000)
	fetches := s.Quay.OriginFetches(h)
	hit := strings.HasPrefix(cached, "TCP_HIT/206") || strings.HasPrefix(cached, "TCP_MEM_HIT/206")
	b.ReportMetric(float64(fetches), "origin_fetches")
	b.ReportMetric(map[bool]float64{true: 1}[hit], "cached_range_hit")
	b.Logf("%d MiB blob: cold range %s, then full GET %s, then cached range %s; %d origin fetches", size>>20, cold, full, cached, fetches)
	if !hit {
		b.Errorf("a range of the cached blob was a %s, want TCP_HIT/206 or TCP_MEM_HIT/206", cached)
	}
	if !strings.Contains(full, "HIT/200") {
		b.Errorf("the full GET after the cold range was a %s, want a hit", full)
	}
	if fetches != 1 {
		b.Errorf("the origin sent the blob %d times, want 1 (the whole blob, for the cold range)", fetches)
	}
}
