package prober

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/testenv"

	"github.com/go-kit/log"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
)

// A round whose second pull is not a hit (quay's signed redirects, no
// store-ID) must stay not_cached whatever another local process does
// meanwhile: pull the same blob through the same Squid from the same
// address, cached, with no marker or a wrong one; or write lines with a
// hit for the digest into the log file or to the log receiver. Before
// rounds had markers, each of these turned the verdict into a pass.
func TestForgedVerdicts(t *testing.T) {
	l := newLab(t, "")
	receiver := receiveInto(t, l.prober.Log)
	target := l.target("quay", l.Quay.Registry, "org/public", false)
	h := digestOf(target)
	publicURL := "https://" + l.Quay.Public + "/v2/ubi9/ubi/blobs/" + h.String()
	hostileGet(t, l, publicURL, "") // cached now: the next pull of it is a hit
	tests := []struct {
		name  string
		forge func(t *testing.T, first accesslog.Record) // first: the first pull's delivery line
	}{
		{"hostile client pulls the blob", func(t *testing.T, _ accesslog.Record) {
			hostileGet(t, l, publicURL, "")
			hostileGet(t, l, publicURL, newMarker())
			hostileGet(t, l, l.Quay.SignedURL(h, 0), "")
			hostileGet(t, l, "https://"+l.Quay.Registry+"/v2/org/public/blobs/"+h.String(), "")
		}},
		{"line without the marker field in the log file", func(t *testing.T, first accesslog.Record) {
			appendLine(t, l.Squid.AccessLog, forgedLine(first.Time, l.Quay.CDN, h.Hex, ""))
		}},
		{"line with no marker in the log file", func(t *testing.T, first accesslog.Record) {
			appendLine(t, l.Squid.AccessLog, forgedLine(first.Time, l.Quay.CDN, h.Hex, " -"))
		}},
		{"line with a wrong marker in the log file", func(t *testing.T, first accesslog.Record) {
			appendLine(t, l.Squid.AccessLog, forgedLine(first.Time, l.Quay.CDN, h.Hex, " "+newMarker()))
		}},
		// A process that reads the log as well can copy a marker, but only
		// one already logged: each request has its own, and a marker's
		// first line is the one that counts.
		{"line with the first pull's marker, copied from the log file", func(t *testing.T, first accesslog.Record) {
			appendLine(t, l.Squid.AccessLog, forgedLine(first.Time, l.Quay.CDN, h.Hex, " "+first.Marker))
		}},
		{"lines sent to the log receiver", func(t *testing.T, first accesslog.Record) {
			at := first.Time
			sendLines(t, receiver, forgedLine(at, l.Quay.CDN, h.Hex, ""), forgedLine(at, l.Quay.CDN, h.Hex, " -"),
				forgedLine(at, l.Quay.CDN, h.Hex, " "+newMarker()), forgedLine(at, l.Quay.CDN, h.Hex, " "+first.Marker))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The CDN's deliveries of the blob: the round's, and a forgery.
			seen := l.prober.Log.Watch(func(e *accesslog.Entry) bool {
				return e.Status == http.StatusOK && bytes.Contains(e.URL, []byte(h.Hex)) && bytes.Contains(e.URL, []byte(l.Quay.CDN))
			})
			defer seen.Close()
			l.prober.afterPull = func(n int) {
				if n != 1 {
					return
				}
				// After the first pull's line, and before the second's:
				// where a forged hit would have counted for the second.
				first := waitRecords(t, seen, 1)
				tt.forge(t, first[0])
				waitRecords(t, seen, 2)
			}
			defer func() { l.prober.afterPull = nil }()
			r := l.prober.Probe(context.Background(), target)
			checkResult(t, r, ReasonNotCached, [2]string{"TCP_MISS", "TCP_MISS"})
		})
	}
}

// hostileGet pulls rawURL through the lab's Squid as another local process
// would, with marker in the marker header when it is not "".
func hostileGet(t *testing.T, l *lab, rawURL, marker string) {
	t.Helper()
	tr := &http.Transport{Proxy: http.ProxyURL(l.prober.Proxy), TLSClientConfig: tlsConfig(l.Bump.Pool())}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
	if marker != "" {
		req.Header.Set(accesslog.MarkerHeader, marker)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("hostile GET: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// forgedLine is a hit for the blob from the prober's address, logged at at,
// with suffix after the native fields.
func forgedLine(at time.Time, cdn, hexDigest, suffix string) string {
	return fmt.Sprintf("%d.%03d      0 127.0.0.1 TCP_MEM_HIT/200 262507 GET https://%s/quayio-production-s3/sha256/%s/%s? - HIER_NONE/- application/octet-stream%s",
		at.Unix(), at.Nanosecond()/1e6, cdn, hexDigest[:2], hexDigest, suffix)
}

func appendLine(t *testing.T, path, line string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line + "\n"); err != nil {
		t.Fatal(err)
	}
}

// receiveInto runs an access log receiver that publishes into hub, as
// --squid.access-log=tcp:// does, and returns its address.
func receiveInto(t *testing.T, hub *accesslog.Hub) string {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		(&accesslog.Receiver{Hub: hub, Logger: log.NewNopLogger()}).Serve(ctx, listener)
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return listener.Addr().String()
}

func sendLines(t *testing.T, addr string, lines ...string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, strings.Join(lines, "\n")+"\n"); err != nil {
		t.Fatal(err)
	}
}

// waitRecords returns w's records once it has n.
func waitRecords(t *testing.T, w *accesslog.Watch, n int) []accesslog.Record {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	records, err := w.Wait(ctx, func(r []accesslog.Record) bool { return len(r) >= n })
	if err != nil {
		t.Errorf("%d of %d lines within 3s", len(records), n)
	}
	return records
}

// A round's marker goes to Squid and its log, and nowhere else: not into
// the verdict, not into the exporter's log.
func TestMarkerIsNeverPrinted(t *testing.T) {
	l := newLab(t, "")
	var logged bytes.Buffer
	s := &Scheduler{Prober: l.prober, Logger: log.NewLogfmtLogger(log.NewSyncWriter(&logged))}
	for _, target := range []*Target{
		l.target("quay", l.Quay.Registry, "org/public", false), // fails: not_cached
		l.target("public", l.Quay.Public, "ubi9/ubi", false),
	} {
		r := l.prober.Probe(context.Background(), target)
		s.Record(r)
		markers := loggedMarkers(t, l.Squid.AccessLog, digestOf(target).Hex)
		if len(markers) == 0 {
			t.Fatalf("%s: Squid logged no marker", target.Name)
		}
		for _, m := range markers {
			if strings.Contains(r.String(), m) || strings.Contains(logged.String(), m) {
				t.Errorf("%s: the marker was printed:\n%s\n%s", target.Name, r, logged.String())
			}
		}
	}
}

var markerField = regexp.MustCompile(` ([0-9a-f]{32})$`)

// loggedMarkers are the markers Squid logged on the lines for a blob.
func loggedMarkers(t *testing.T, path, hexDigest string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if m := markerField.FindStringSubmatch(line); m != nil && strings.Contains(line, hexDigest) {
			out = append(out, m[1])
		}
	}
	return out
}

// Rounds of one target may overlap, a background round and one from
// /probe for instance: each tells its lines from the other's by marker.
func TestOverlappingRoundsBothPass(t *testing.T) {
	l := newLab(t, "")
	target := l.target("public", l.Quay.Public, "ubi9/ubi", false)
	checkResult(t, l.prober.Probe(context.Background(), target), "", [2]string{"TCP_MISS", "TCP_MEM_HIT"})

	// Both rounds make their first pull before either makes its second.
	var firstPulls sync.WaitGroup
	firstPulls.Add(2)
	both := make(chan struct{})
	go func() { firstPulls.Wait(); close(both) }()
	l.prober.afterPull = func(n int) {
		if n == 1 {
			firstPulls.Done()
			select {
			case <-both:
			case <-time.After(5 * time.Second):
				t.Error("the rounds did not overlap")
			}
		}
	}
	var results [2]*Result
	var rounds sync.WaitGroup
	for i := range results {
		rounds.Go(func() { results[i] = l.prober.Probe(context.Background(), target) })
	}
	rounds.Wait()
	for _, r := range results {
		checkResult(t, r, "", [2]string{"TCP_MEM_HIT", "TCP_MEM_HIT"})
	}
}

// Squid logging in the native format, without the marker, cannot show a
// round its lines: the round fails, and says how to fix it.
func TestNativeLogFormatIsUnavailable(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Extra: []string{"access_log stdio:{dir}/logs/native.log squid"}})
	l := labIn(t, env, testenv.Follow(t, filepath.Join(env.Squid.Dir, "logs", "native.log")))
	r := l.prober.Probe(context.Background(), l.target("public", l.Quay.Public, "ubi9/ubi", false))
	checkResult(t, r, ReasonLogUnavailable, [2]string{})
	if r.Err == nil || !strings.Contains(r.Err.Error(), "no probe marker field") || !strings.Contains(r.Err.Error(), accesslog.ProbeLogFormat) {
		t.Errorf("the error should say to log with squid_probe: %v", r.Err)
	}
}
