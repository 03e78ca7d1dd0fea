package traffic

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
)

// realisticLines is a busy build cluster's log: bumped CONNECTs, blob GETs
// on the registries and their CDNs (misses, hits, redirects), manifests,
// token requests; about 190 bytes a line, as the peer's 1M-line log.
func realisticLines(n int) []byte {
	kinds := []string{
		"%d.%03d    312 10.128.2.17 TCP_MISS/302 1187 GET https://quay.io/v2/org/app/blobs/sha256:%064x - HIER_DIRECT/3.224.72.5 text/html",
		"%d.%03d   1840 10.128.2.17 TCP_MISS/200 31457280 GET https://cdn01.quay.io/quayio-production-s3/sha256/ab/%064x? - HIER_DIRECT/18.65.3.2 application/octet-stream",
		"%d.%03d      3 10.128.2.19 TCP_MEM_HIT/200 3145728 GET https://cdn01.quay.io/quayio-production-s3/sha256/ab/%064x? - HIER_NONE/- application/octet-stream",
		"%d.%03d      0 10.128.2.19 NONE_NONE/200 0 CONNECT registry.redhat.io:443 - HIER_NONE/- - -%.0x",
		"%d.%03d     95 10.128.2.21 TCP_REFRESH_UNMODIFIED/200 2143 GET https://registry.redhat.io/v2/ubi9/ubi/manifests/latest - HIER_DIRECT/23.1.2.3 application/vnd.oci.image.index.v1+json%.0x",
		"%d.%03d     40 10.128.2.21 TCP_MISS/200 4021 GET https://registry.access.redhat.com/v2/ubi9/ubi/blobs/sha256:%064x - HIER_DIRECT/23.1.2.4 application/octet-stream",
		"%d.%03d     12 10.128.2.23 TCP_MISS/200 1021 GET https://auth.docker.io/token? - HIER_DIRECT/3.3.3.3 application/json%.0x",
	}
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, kinds[i%len(kinds)], 1795472260+i/1000, i%1000, i)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// BenchmarkObserve: classifying and counting one parsed line.
func BenchmarkObserve(b *testing.B) {
	c, _ := New(nil)
	lines := bytes.Split(bytes.TrimSpace(realisticLines(700)), []byte("\n"))
	entries := make([]accesslog.Entry, len(lines))
	for i, l := range lines {
		if err := accesslog.Parse(l, &entries[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Observe(&entries[i%len(entries)])
	}
}

// BenchmarkReceivedToCounted: lines sent over TCP to the access log
// receiver, parsed, classified and counted; b.N lines, as lines/s.
func BenchmarkReceivedToCounted(b *testing.B) {
	c, _ := New(nil)
	hub := &accesslog.Hub{Tap: c.Observe}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go (&accesslog.Receiver{Hub: hub, Logger: log.NewNopLogger()}).Serve(ctx, l)
	chunk := realisticLines(10000)
	perChunk := bytes.Count(chunk, []byte("\n"))
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	b.SetBytes(int64(len(chunk) / perChunk))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	sent := 0
	for sent < b.N {
		conn.Write(chunk)
		sent += perChunk
	}
	for hub.Lines.Load() < uint64(sent) {
		time.Sleep(100 * time.Microsecond)
	}
	b.ReportMetric(float64(sent)/time.Since(start).Seconds(), "lines/s")
	if m := hub.Malformed.Load(); m != 0 {
		b.Fatalf("%d malformed", m)
	}
}
