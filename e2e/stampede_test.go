package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/quaytest"
)

// A stampede on a cold private blob: 20 authorized clients start pulling it
// at once, each with its own signed CDN URL and token, from a CDN that
// sends it slowly, while 20 clients without access join with every request
// our docs could lead them to. The CDN delivers the blob once (collapsed
// forwarding, on the key the store-ID helper gives only to verified URLs),
// every authorized client gets the right bytes, and no joiner gets a byte
// of it. Under faults (the helper's checks slow, the helper killed) the
// joiners still get nothing and the clients the right bytes; a fetch whose
// check failed is the client's own, so the CDN may then deliver more than
// once. A client whose GET failed (the helper's death fails the checks it
// held) retries once, as buildah does, and must then get the blob.
func TestStampedeFetchesOnceAndLeaksNothing(t *testing.T) {
	const (
		authorized, joiners = 20, 20
		size                = 8 << 20
		rate                = 4 << 20 // bytes a second: the fetch takes 2 s
	)
	for _, c := range []struct {
		name     string
		slow     time.Duration // every authorization check at the CDN takes this long
		kill     bool          // the store-ID helper is killed as the stampede starts
		onceOnly bool          // the CDN must deliver exactly once
	}{
		{name: "undisturbed", onceOnly: true},
		{name: "checks slowed to 500ms", slow: 500 * time.Millisecond, onceOnly: true},
		{name: "store-ID helper killed", kill: true},
	} {
		forEachSharingFlavor(t, func(t *testing.T, f quaytest.Flavor) {
			t.Run(c.name, func(t *testing.T) {
				s := startFlavor(t, f, true, nil)
				// The helper has answered before: Squid 5.7 exits ("store_id
				// helpers are crashing too rapidly") when a helper that never
				// replied dies within 30 s of its start.
				warm, warmData := s.Quay.RandomBlob(4 << 10)
				s.client("alice", users["alice"]).pull(t, "org/private", warm, warmData)
				h, data := s.Quay.RandomBlob(size)
				s.Quay.SlowChecks(c.slow)
				clients := make([]*client, authorized)
				// Each client's signed URL and token, and a second pair for
				// its one retry, as buildah retries a failed blob GET.
				urls, tokens := make([][2]string, authorized), make([][2]string, authorized)
				for i := range clients {
					user := []string{"alice", "bob"}[i%2]
					clients[i] = s.client(user, users[user])
					clients[i].http.Timeout = time.Minute
					for try := range 2 {
						urls[i][try], tokens[i][try] = clients[i].signedURL(t, "org/private", h)
					}
				}
				victimURL, _ := clients[0].signedURL(t, "org/private", h)
				s.Quay.Throttle(rate)

				var wg sync.WaitGroup
				var wrong, failed, retried atomic.Int64
				done := make(chan struct{})
				start := make(chan struct{})
				for i, cl := range clients {
					wg.Go(func() {
						<-start
						for try := range 2 {
							switch pull(cl, urls[i][try], tokens[i][try], data) {
							case pullWrongBytes:
								wrong.Add(1)
								return
							case pullRight:
								return
							}
							if try == 0 {
								retried.Add(1)
								time.Sleep(time.Second)
							}
						}
						failed.Add(1)
					})
				}
				l := &load{statuses: map[string]int{}}
				var joined sync.WaitGroup
				for _, a := range s.attackers(t, joiners, h, victimURL) {
					joined.Go(func() {
						<-start
						time.Sleep(200 * time.Millisecond) // the fetch is under way
						for n := 0; ; n++ {
							select {
							case <-done:
								return
							default:
							}
							at := attacks()[n%len(attacks())]
							status, body, err := at.send(a)
							l.count(at.name, status, body, data, err)
						}
					})
				}
				began := time.Now()
				close(start)
				if c.kill {
					time.Sleep(50 * time.Millisecond)
					if n := s.Squid.KillHelpers(helperBinary); n == 0 {
						t.Error("no store-ID helper process to kill")
					}
				}
				wg.Wait()
				took := time.Since(began)
				close(done)
				joined.Wait()

				fetches := s.Quay.CDNGets(h)
				t.Logf("%d authorized pulls of %d MiB in %s (%d retried): %d CDN deliveries; %d requests from %d joiners: %d leaked, answers %v",
					authorized, size>>20, took.Round(time.Millisecond), retried.Load(), fetches, l.requests.Load(), joiners, l.leaks.Load(), l.statuses)
				t.Logf("result codes of the CDN GETs: %v", codeCounts(s.deliveries("https://"+s.Quay.CDN)))
				if wrong.Load() != 0 {
					t.Errorf("%d authorized clients got a 200 with the wrong bytes", wrong.Load())
				}
				if failed.Load() != 0 {
					b, _ := os.ReadFile(s.Squid.CacheLog)
					t.Errorf("%d authorized clients did not get the blob after a retry; cache.log ends:\n%s", failed.Load(), tail(b, 3000))
				}
				if !c.kill && retried.Load() != 0 {
					t.Errorf("%d authorized clients had to retry", retried.Load())
				}
				if l.leaks.Load() != 0 {
					t.Errorf("%d of %d requests of clients without access received bytes of the private blob", l.leaks.Load(), l.requests.Load())
				}
				if l.requests.Load() < joiners {
					t.Errorf("only %d requests of joiners were answered during the stampede", l.requests.Load())
				}
				if c.onceOnly && fetches != 1 {
					t.Errorf("the CDN delivered the blob %d times, want 1", fetches)
				}
				if fetches == 0 || fetches > authorized {
					t.Errorf("the CDN delivered the blob %d times", fetches)
				}
			})
		})
	}
}

// pullResult is what an authorized client's GET got.
type pullResult int

const (
	pullRight      pullResult = iota
	pullFailed                // an error or a status other than 200: the client retries
	pullWrongBytes            // a 200 with bytes other than the blob's: never acceptable
)

// pull GETs a signed CDN URL with the client's token, hashing the body as
// it reads.
func pull(c *client, rawURL, token string, want []byte) pullResult {
	sum := sha256.New()
	status, n, err := getInto(context.Background(), c.http, rawURL, sum, "Authorization", token)
	wantSum := sha256.Sum256(want)
	switch {
	case status != http.StatusOK || err != nil && n < int64(len(want)):
		return pullFailed
	case n != int64(len(want)) || !bytes.Equal(sum.Sum(nil), wantSum[:]):
		return pullWrongBytes
	}
	return pullRight
}

// codeCounts counts result codes: "TCP_MISS:1 TCP_CF_HIT:19".
func codeCounts(codes []string) string {
	counts := map[string]int{}
	var order []string
	for _, c := range codes {
		if counts[c] == 0 {
			order = append(order, c)
		}
		counts[c]++
	}
	var b strings.Builder
	for _, c := range order {
		fmt.Fprintf(&b, "%s:%d ", c, counts[c])
	}
	return strings.TrimSpace(b.String())
}

// tail is the last n bytes of b.
func tail(b []byte, n int) []byte { return b[max(0, len(b)-n):] }
