package storeid

import (
	"context"
	"errors"
	"io"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/squid-cache-exporter/squid-cache-exporter/cdnurl"
	"github.com/squid-cache-exporter/squid-cache-exporter/registries"
)

const hex = "0ea0faeb23c26511e776010a311460a8e57c969b6d3f16484fa1dd29c22a613d"

var (
	blob     = "https://cdn01.quay.io/quayio-production-s3/sha256/0e/" + hex
	signed   = blob + "?X-Amz-Signature=good"
	tampered = blob + "?X-Amz-Signature=bad"
	slow     = blob + "?X-Amz-Signature=slow"
	broken   = blob + "?X-Amz-Signature=broken"
	// shared is the key of every verified request for the blob.
	shared = cdnurl.KeyScheme + ":sha256:" + hex
)

// fakeCDN authorizes "good" signatures; "slow" answers after a while.
func fakeCDN(ctx context.Context, rawURL string) (bool, error) {
	switch {
	case strings.HasSuffix(rawURL, "slow"):
		select {
		case <-time.After(2 * time.Second):
			return true, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	case strings.HasSuffix(rawURL, "broken"):
		// As net/http reports it: with the whole signed URL.
		return false, &url.Error{Op: "Get", URL: rawURL, Err: errors.New("connection refused")}
	}
	return strings.HasSuffix(rawURL, "good"), nil
}

// registryBlob is a blob of a registry that serves its blobs itself.
var registryBlob = "https://registry.test:5000/v2/team/app/blobs/sha256:" + hex

// fakeRegistry lets "Bearer good" read every blob.
func fakeRegistry(_ context.Context, _, authorization string) (bool, error) {
	return authorization == "Bearer good", nil
}

func newHelper(t *testing.T, timeout time.Duration) *Helper {
	urls, _ := cdnurl.New()
	registries, _ := cdnurl.NewRegistries([]string{"registry.test:5000"}, []string{"registry.test:5000"})
	return &Helper{URLs: urls, Check: fakeCDN, Registries: registries, CheckRegistry: fakeRegistry,
		Timeout: timeout, Logger: log.NewNopLogger(), Metrics: NewMetrics(prometheus.NewRegistry())}
}

func run(t *testing.T, h *Helper, input string) []string {
	t.Helper()
	var out strings.Builder
	if err := h.Serve(context.Background(), strings.NewReader(input), &out); err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
}

func TestHelperReplies(t *testing.T) {
	tests := []struct {
		name, input string
		want        []string // in order, or sorted when the input has channel IDs
	}{
		{"verified URL gets the shared key", signed + " 127.0.0.1/- - GET myip=127.0.0.1 myport=3128\n",
			[]string{"OK store-id=" + shared}},
		{"refused URL is filed apart", tampered + "\n", []string{"OK store-id=" + cdnurl.UnverifiedKey(tampered) + " unverified=1"}},
		{"a bare blob URL the CDN refuses is filed apart", blob + "\n", []string{"OK store-id=" + cdnurl.UnverifiedKey(blob) + " unverified=1"}},
		{"failed check is filed apart", broken + "\n", []string{"OK store-id=" + cdnurl.UnverifiedKey(broken) + " unverified=1"}},
		{"other URLs are left alone", "https://quay.io/v2/\n", []string{"ERR"}},
		{"malformed lines get BH", "\n0\nnot-a-url extras\n", []string{`BH message="no URL"`, `0 BH message="no URL"`, `BH message="not a URL"`}},
		{"a registry's blob, authorized by the registry", registryBlob + " authorization=Bearer%20good\n",
			[]string{"OK store-id=" + shared + " verified=1"}},
		{"the Authorization among Squid's default extras", registryBlob + " 127.0.0.1/- - GET authorization=Bearer%20good myip=127.0.0.1\n",
			[]string{"OK store-id=" + shared + " verified=1"}},
		{"a registry's blob, refused", registryBlob + " authorization=Bearer%20bad\n",
			[]string{"OK store-id=" + cdnurl.UnverifiedKey(registryBlob) + " unverified=1"}},
		{"a registry's blob without Authorization", registryBlob + " authorization=-\n",
			[]string{"OK store-id=" + cdnurl.UnverifiedKey(registryBlob) + " unverified=1"}},
		{"a registry's blob without extras", registryBlob + "\n",
			[]string{"OK store-id=" + cdnurl.UnverifiedKey(registryBlob) + " unverified=1"}},
		{"a registry not named", "https://other.test:5000/v2/app/blobs/sha256:" + hex + " authorization=Bearer%20good\n", []string{"ERR"}},
		{"an Authorization that is not URL-encoded", registryBlob + " authorization=%zz\n", []string{`BH message="authorization extra is not URL-encoded"`}},
		{"channel IDs come back", "0 " + signed + "\n1 https://quay.io/v2/\n2 " + tampered + "\n",
			[]string{"0 OK store-id=" + shared, "1 ERR", "2 OK store-id=" + cdnurl.UnverifiedKey(tampered) + " unverified=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, newHelper(t, time.Second), tt.input)
			if strings.HasPrefix(tt.input, "0 ") {
				sort.Strings(got)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("replies:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// A slow check holds up only its own request: the others, sent after it,
// are answered first, and at EOF the helper waits for the slow one, which
// gets the same verified key as the fast ones.
func TestSlowCheckBlocksNothingElse(t *testing.T) {
	// The replies the fast path gives, so that the test does not spell out
	// the key format: slow and signed are the same blob, both authorized.
	verified := strings.TrimPrefix(run(t, newHelper(t, time.Second), "1 "+signed+"\n")[0], "1 ")
	refused := strings.TrimPrefix(run(t, newHelper(t, time.Second), "1 "+tampered+"\n")[0], "1 ")
	if verified == refused {
		t.Fatalf("an authorized and a refused URL get the same reply %q", verified)
	}
	h := newHelper(t, 5*time.Second)
	in, feed := io.Pipe()
	out := newLineRecorder()
	done := make(chan error)
	go func() { done <- h.Serve(context.Background(), in, out) }()
	io.WriteString(feed, "0 "+slow+"\n")
	for i := 1; i <= 100; i++ {
		io.WriteString(feed, itoa(i)+" "+signed+"\n")
	}
	// The slow check takes 2 s: the 100 fast replies must all come before.
	fast := out.waitFor(100, 1500*time.Millisecond)
	if len(fast) < 100 {
		t.Fatalf("%d of the 100 fast requests answered while the slow check ran", len(fast))
	}
	for _, reply := range fast {
		if channel, key, _ := strings.Cut(reply, " "); channel == "0" || key != verified {
			t.Fatalf("while the slow check ran: %q (want the fast replies, %q)", reply, verified)
		}
	}
	feed.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	all := out.snapshot()
	if len(all) != 101 || all[100] != "0 "+verified {
		t.Errorf("%d replies, the last %q; want 101, the last the slow request's %q", len(all), all[len(all)-1], "0 "+verified)
	}
}

func TestCheckTimeout(t *testing.T) {
	got := run(t, newHelper(t, 50*time.Millisecond), "7 "+slow+"\n")
	if got[0] != "7 OK store-id="+cdnurl.UnverifiedKey(slow)+" unverified=1" {
		t.Errorf("a check past its time must not verify: %q", got[0])
	}
}

// A failed check is logged (into Squid's cache.log) without the signed
// query: it is a credential for as long as it is valid.
func TestFailedCheckLogsNoSignature(t *testing.T) {
	h := newHelper(t, time.Second)
	var logs strings.Builder
	h.Logger = log.NewLogfmtLogger(log.NewSyncWriter(&logs))
	run(t, h, broken+"\n")
	if !strings.Contains(logs.String(), "authorization check failed") {
		t.Fatalf("the failure was not logged: %q", logs.String())
	}
	if strings.Contains(logs.String(), "Signature=broken") {
		t.Errorf("signature in the log: %s", logs.String())
	}
}

func FuzzParseLine(f *testing.F) {
	for _, s := range []string{"0 " + signed + " 127.0.0.1/- - GET", signed, "", "12", "1 2 3", "x://"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := ParseLine(line)
		if err == nil && !strings.Contains(r.URL, "://") {
			t.Fatalf("accepted %q", line)
		}
		if reply := r.reply("ERR"); strings.Count(reply, "\n") != 1 && !strings.ContainsAny(line, "\n\r") {
			t.Fatalf("reply %q is not one line", reply)
		}
	})
}

// lineRecorder keeps the helper's replies, one a Write, and says when one
// comes.
type lineRecorder struct {
	mu    sync.Mutex
	lines []string
	wrote chan struct{}
}

func newLineRecorder() *lineRecorder { return &lineRecorder{wrote: make(chan struct{}, 1)} }

func (l *lineRecorder) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.lines = append(l.lines, strings.TrimSuffix(string(p), "\n"))
	l.mu.Unlock()
	select {
	case l.wrote <- struct{}{}:
	default:
	}
	return len(p), nil
}

// snapshot copies the replies so far.
func (l *lineRecorder) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// waitFor returns the replies once there are n, or those there are when
// the time is up.
func (l *lineRecorder) waitFor(n int, within time.Duration) []string {
	timeout := time.After(within)
	for {
		if lines := l.snapshot(); len(lines) >= n {
			return lines
		}
		select {
		case <-l.wrote:
		case <-timeout:
			return l.snapshot()
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// A CDN URL that names no digest is shared under the digest its
// registry's redirect named, once the CDN authorized that very URL; one
// whose digest nobody learned, or whose lookup failed, is filed apart.
func TestHelperLearnedURLs(t *testing.T) {
	download := "https://us-docker.pkg.dev/artifacts-downloads/namespaces/p/repositories/r/downloads/"
	learnedDigests := map[string]string{download + "good": hex, download + "bad": hex}
	h := newHelper(t, time.Second)
	h.Learned, _ = cdnurl.NewLearned(registries.Default)
	h.Digest = func(_ context.Context, rawURL string) (string, bool, error) {
		if strings.HasSuffix(rawURL, "broken") {
			return "", false, errors.New("connection refused")
		}
		d, ok := learnedDigests[rawURL]
		return d, ok, nil
	}
	for url, want := range map[string]string{
		download + "good":   "OK store-id=" + shared,
		download + "bad":    "OK store-id=squid-cache-unverified:" + download + "bad unverified=1", // learned, the CDN refused it
		download + "other":  "OK store-id=squid-cache-unverified:" + download + "other unverified=1",
		download + "broken": "OK store-id=squid-cache-unverified:" + download + "broken unverified=1",
	} {
		if got := run(t, h, url+" 127.0.0.1/- - GET\n"); len(got) != 1 || got[0] != want {
			t.Errorf("%s: %q, want %q", url, got, want)
		}
	}
	h.Digest = nil // lookups off: not shared, and not stored under the URL either
	if got := run(t, h, download+"good 127.0.0.1/- - GET\n"); got[0] != "OK store-id=squid-cache-unverified:"+download+"good unverified=1" {
		t.Errorf("without lookups: %q, want it filed apart", got)
	}
}
