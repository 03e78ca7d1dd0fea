package traffic

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/quaytest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/testenv"
)

// The emulated registries, as a user would configure them.
var testRegistries = []Registry{
	{Name: quaytest.RegistryName, Hosts: []string{quaytest.RegistryName, "*.quay.test"}},
	{Name: quaytest.PublicName, Hosts: []string{quaytest.PublicName}},
}

// A real client pulls the same image twice through a bumping Squid, from a
// registry that serves blobs itself and from quay, which redirects them to
// its CDN (cached here by the naive store-ID helper). The counts are what
// the pulls did: every blob a miss and then a hit, under the registry the
// user pulled from; quay's redirects as redirects; the CONNECTs as tunnels;
// and nothing for the cache manager; each blob fetched from the origin
// once, whole.
func TestTwoPullsCountedAsTheyHappened(t *testing.T) {
	env := testenv.Start(t, testenv.Options{StoreID: squidtest.StripQueryStoreID})
	c, err := New(testRegistries)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	feed, err := accesslog.StartFeed(ctx, accesslog.FeedConfig{File: env.Squid.AccessLog, Tap: c.Observe, Logger: log.NewNopLogger()})
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(64<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	blobs := blobCount(t, img)
	for _, host := range []string{env.Quay.Public, env.Quay.Registry} {
		ref := env.Quay.Push(t, host, "org/app", img)
		for range 2 {
			env.SkopeoCopy(t, ref.String())
		}
	}
	want := map[[3]string]float64{
		{quaytest.PublicName, "blob", "miss"}:       blobs,
		{quaytest.PublicName, "blob", "hit"}:        blobs,
		{quaytest.RegistryName, "blob", "miss"}:     blobs, // the CDN's deliveries, under quay
		{quaytest.RegistryName, "blob", "hit"}:      blobs,
		{quaytest.RegistryName, "blob", "redirect"}: 2 * blobs,
	}
	waitForCounts(t, c, want)
	for key, n := range want {
		if got := testutil.ToFloat64(c.requests[c.index(key[0])][object(key[1])][cache(key[2])]); got != n {
			t.Errorf("%v: %v requests, want %v", key, got, n)
		}
	}
	// Every blob came from the origin once, whole: no refetch.
	if got := refetchCounts(c); got != [numReasons]float64{} {
		t.Errorf("refetches %v, want none", got)
		b, _ := os.ReadFile(env.Squid.AccessLog)
		t.Logf("the access log:\n%s", b)
	}
	for _, reg := range []string{quaytest.PublicName, quaytest.RegistryName} {
		r := c.index(reg)
		if got, want := testutil.ToFloat64(c.originBytes[r]), testutil.ToFloat64(c.bytes[r][Blob][Miss]); got != want || got == 0 {
			t.Errorf("%s: origin bytes %v, blob miss bytes %v", reg, got, want)
		}
	}
	gets, connects := logLines(t, env.Squid.AccessLog)
	if got := total(c, "requests"); got != float64(gets) {
		t.Errorf("%v requests counted, the log has %d GETs and HEADs", got, gets)
	}
	if got := total(c, "tunnels"); got != float64(connects) || connects == 0 {
		t.Errorf("%v tunnels counted, the log has %d CONNECTs", got, connects)
	}
	if feed.Hub.Malformed.Load() != 0 {
		t.Errorf("%d malformed lines", feed.Hub.Malformed.Load())
	}
}

func blobCount(t *testing.T, img v1.Image) float64 {
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return float64(len(layers) + 1) // and the config blob
}

func waitForCounts(t *testing.T, c *Counter, want map[[3]string]float64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		done := true
		for key, n := range want {
			done = done && testutil.ToFloat64(c.requests[c.index(key[0])][object(key[1])][cache(key[2])]) >= n
		}
		if done {
			return
		}
	}
}

// logLines counts the requests (not CONNECTs, not the cache manager's) and
// the CONNECTs in the access log.
func logLines(t *testing.T, path string) (requests, connects int) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		var e accesslog.Entry
		if accesslog.Parse([]byte(line), &e) != nil || isManagerURL(e.URL) {
			continue
		}
		if string(e.Method) == "CONNECT" {
			connects++
		} else {
			requests++
		}
	}
	return requests, connects
}

func total(c *Counter, what string) float64 {
	var sum float64
	for r := range c.registries.names {
		if what == "tunnels" {
			sum += testutil.ToFloat64(c.tunnels[r])
			continue
		}
		for o := range numObjects {
			for k := range numCaches {
				sum += testutil.ToFloat64(c.requests[r][o][k])
			}
		}
	}
	return sum
}

func (c *Counter) index(registry string) int {
	for i, n := range c.registries.names {
		if n == registry {
			return i
		}
	}
	return c.registries.other()
}

func object(s string) Object {
	for o, n := range objectNames {
		if n == s {
			return Object(o)
		}
	}
	panic(s)
}

func cache(s string) Cache {
	for k, n := range cacheNames {
		if n == s {
			return Cache(k)
		}
	}
	panic(s)
}

func isManagerURL(u []byte) bool {
	_, path := splitURL(u)
	return isManager(u, path)
}
