package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/squid-cache-exporter/squid-cache-exporter/cdnurl"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/quaytest"
)

// attack is one way a client without access tries to get a private blob.
type attack struct {
	name string
	send func(a *attacker) (status int, body []byte, err error)
}

// attacker holds what a client without access to org/private can have:
// the digest, a token for another repository, its own connection to Squid.
type attacker struct {
	s          *setup
	h          v1.Hash
	victimURL  string // a signed URL of the victim's, to tamper with
	otherToken string // valid, for org/public only
	http       *http.Client
}

// attacks are every request our docs could lead an attacker to: the bare
// blob URL with and without tokens (the shared key of old), a ranged GET,
// bad and expired signatures, and the shared and unverified key forms
// themselves, as absolute URLs and inside the bumped tunnel.
func attacks() []attack {
	bare := func(a *attacker) string {
		if a.s.Quay.Flavor.PathCredential() { // the bare URL is the victim's: take its token away
			return a.victimURL[:strings.LastIndex(a.victimURL, "/")+1]
		}
		return cdnurl.WithoutQuery(a.victimURL)
	}
	out := []attack{
		{"bare blob URL", func(a *attacker) (int, []byte, error) { return a.get(bare(a)) }},
		{"bare blob URL, wrong token", func(a *attacker) (int, []byte, error) {
			return a.get(bare(a), "Authorization", "Bearer 0123456789abcdef")
		}},
		{"bare blob URL, token for another repository", func(a *attacker) (int, []byte, error) {
			return a.get(bare(a), "Authorization", a.otherToken)
		}},
		{"bare blob URL, ranged", func(a *attacker) (int, []byte, error) { return a.get(bare(a), "Range", "bytes=100-4195") }},
		{"tampered signature", func(a *attacker) (int, []byte, error) {
			return a.get(a.s.Quay.Flavor.Tamper(a.victimURL))
		}},
		{"expired signature", func(a *attacker) (int, []byte, error) { return a.get(a.s.Quay.SignedURL(a.h, time.Hour)) }},
		{"shared key as the CDN path", func(a *attacker) (int, []byte, error) {
			return a.get("https://" + a.s.Quay.CDN + "/" + sharedKey(a.h))
		}},
	}
	for _, form := range keySpellings {
		out = append(out,
			attack{"forward-proxy request line " + form, func(a *attacker) (int, []byte, error) {
				return a.raw(fmt.Sprintf(form, a.h.Hex), false)
			}},
			attack{"request line in the bumped tunnel " + form, func(a *attacker) (int, []byte, error) {
				return a.raw(fmt.Sprintf(form, a.h.Hex), true)
			}})
	}
	return out
}

// keySpellings are the key forms of docs/security.md as a client could
// write them in a request line; %s is the digest's hex.
var keySpellings = []string{
	cdnurl.KeyScheme + ":sha256:%s",
	strings.ToUpper(cdnurl.KeyScheme) + ":sha256:%s",
	cdnurl.KeyScheme + "://sha256:%s",
	cdnurl.KeyScheme + ":sha256:%s?X-Amz-Signature=0",
	cdnurl.ManifestKeyPrefix + "%s",
	"squid-cache-unverified:" + cdnurl.KeyScheme + ":sha256:%s",
	"/" + cdnurl.KeyScheme + ":sha256:%s",
}

func sharedKey(h v1.Hash) string { return cdnurl.KeyScheme + ":sha256:" + h.Hex }

// attackers returns n attackers, each with its own connection to Squid.
func (s *setup) attackers(t testing.TB, n int, h v1.Hash, victimURL string) []*attacker {
	t.Helper()
	token, err := s.client("", "").token("org/public")
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*attacker, n)
	for i := range out {
		out[i] = &attacker{s: s, h: h, victimURL: victimURL, otherToken: token, http: s.client("", "").http}
	}
	return out
}

func (a *attacker) get(rawURL string, hdr ...string) (int, []byte, error) {
	return fetch(a.http, rawURL, hdr...)
}

// fetch GETs rawURL with the header fields given as name, value pairs.
func fetch(c *http.Client, rawURL string, hdr ...string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		return 0, nil, err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] != "" { // an anonymous client's Authorization
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// raw sends "GET target HTTP/1.1" as written, on a fresh connection to
// Squid, or inside a bumped CONNECT tunnel to the CDN: Go's client would
// refuse most of these targets itself.
func (a *attacker) raw(target string, tunnel bool) (int, []byte, error) {
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(a.s.Squid.URL, "http://"), 5*time.Second)
	if err != nil {
		return 0, nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	host := a.s.Quay.CDN
	if tunnel {
		fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", host, host)
		r := bufio.NewReader(conn)
		resp, err := http.ReadResponse(r, nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			return 0, nil, fmt.Errorf("CONNECT: %v %v", resp, err)
		}
		name, _, _ := strings.Cut(host, ":")
		tc := tls.Client(conn, &tls.Config{RootCAs: a.s.Bump.Pool(), ServerName: name})
		conn = tc
	}
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target, host)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// leaked says whether an answer holds any of the blob: a success status,
// or a run of its bytes.
func leaked(status int, body, blob []byte) bool {
	if status >= 200 && status < 300 && len(body) > 0 {
		return true
	}
	for off := 0; off+32 <= len(body); off += 32 {
		if bytes.Contains(blob, body[off:off+32]) {
			return true
		}
	}
	return false
}

// A client that has read our docs asks for the key form itself, in every
// spelling, once the blob is cached: Squid refuses each, and none reaches
// the shared entry.
func TestSharedKeyCannotBeRequested(t *testing.T) {
	forEachSharingFlavor(t, func(t *testing.T, f quaytest.Flavor) {
		s := startFlavor(t, f, true, nil)
		h, data := s.Quay.RandomBlob(64 << 10)
		alice := s.client("alice", users["alice"])
		alice.pull(t, "org/private", h, data)
		victimURL, _ := alice.signedURL(t, "org/private", h)
		a := s.attackers(t, 1, h, victimURL)[0]
		for _, at := range attacks() {
			status, body, err := at.send(a)
			if leaked(status, body, data) {
				t.Errorf("%s: got %d and the blob's bytes", at.name, status)
			}
			t.Logf("%-60s %d %v", at.name, status, err)
		}
		if code := s.client("bob", users["bob"]).pull(t, "org/private", h, data); code != "TCP_MEM_HIT" {
			t.Errorf("bob's pull after the attacks: %s, want TCP_MEM_HIT", code)
		}
	})
}

// forEachFlavor runs test on the emulation of every registry the
// registries table shares: quay.io, Docker Hub, GHCR.
func forEachFlavor(t *testing.T, test func(t *testing.T, f quaytest.Flavor)) {
	for _, f := range quaytest.Flavors {
		t.Run(f.Name, func(t *testing.T) { test(t, f) })
	}
}

// forEachSharingFlavor is forEachFlavor and a registry that serves its
// private blobs itself.
func forEachSharingFlavor(t *testing.T, test func(t *testing.T, f quaytest.Flavor)) {
	forEachFlavor(t, test)
	t.Run(quaytest.SelfServingFlavor.Name, func(t *testing.T) { test(t, quaytest.SelfServingFlavor) })
}

// load is what a run of attackers under a fault did.
type load struct {
	requests, leaks, failed atomic.Int64
	mu                      sync.Mutex
	statuses                map[string]int // "status" -> count, for the log
}

// attackUnderFault runs clients attackers, each on its own connection, for
// d; fault runs a third of the way in. It returns what they got.
func (s *setup) attackUnderFault(t *testing.T, h v1.Hash, data []byte, victimURL string, clients int, d time.Duration, fault func()) *load {
	all := attacks()
	l := &load{statuses: map[string]int{}}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	for i, a := range s.attackers(t, clients, h, victimURL) {
		wg.Go(func() {
			for n := i; ctx.Err() == nil; n++ {
				at := all[n%len(all)]
				status, body, err := at.send(a)
				l.count(at.name, status, body, data, err)
			}
			a.http.CloseIdleConnections()
		})
	}
	if fault != nil {
		wg.Go(func() {
			select {
			case <-time.After(d / 3):
				fault()
			case <-ctx.Done():
			}
		})
	}
	wg.Wait()
	return l
}

func (l *load) count(name string, status int, body, data []byte, err error) {
	l.requests.Add(1)
	if leaked(status, body, data) {
		l.leaks.Add(1)
	}
	key := fmt.Sprint(status)
	if err != nil {
		l.failed.Add(1)
		key = "error"
	}
	l.mu.Lock()
	l.statuses[key]++
	l.mu.Unlock()
}

// No client without access ever gets a byte of a private blob, whatever
// fails while 150 of them try at once: the store-ID helper overloaded (so
// that Squid would bypass it), killed and restarted, the ICAP service
// killed and back, Squid reconfigured. And authorized pulls still hit.
//
// On a registry that serves its blobs itself, the victim's URL is the
// registry's blob URL, and the CDN's attacks go to the registry.
func TestNoLeakUnderLoadAndFaults(t *testing.T) {
	const clients = 150
	faults := []struct {
		name string
		// edit changes the shipped snippet for the fault; slow delays
		// every authorization check at the CDN.
		edit  func(string) string
		slow  time.Duration
		fault func(t *testing.T, s *setup)
	}{
		{name: "store-ID helper overloaded: 10 checks at once, 300ms each",
			edit: func(l string) string { return strings.Replace(l, "concurrency=1000", "concurrency=10", 1) },
			slow: 300 * time.Millisecond},
		{name: "store-ID helper killed", fault: func(t *testing.T, s *setup) {
			if n := s.Squid.KillHelpers(helperBinary); n == 0 {
				t.Error("no store-ID helper process to kill")
			}
		}},
		{name: "ICAP service killed and restarted", fault: func(t *testing.T, s *setup) {
			s.icap.kill()
			time.Sleep(time.Second) // down for a while, under load
			s.icap.revive(t)
		}},
		{name: "Squid reconfigured", fault: func(t *testing.T, s *setup) { s.Squid.Reconfigure() }},
	}
	forEachSharingFlavor(t, func(t *testing.T, flavor quaytest.Flavor) {
		for _, f := range faults {
			t.Run(f.name, func(t *testing.T) {
				s := startFlavor(t, flavor, true, f.edit)
				s.Quay.SlowChecks(f.slow)
				h, data := s.Quay.RandomBlob(64 << 10)
				alice := s.client("alice", users["alice"])
				alice.pull(t, "org/private", h, data)
				victimURL, _ := alice.signedURL(t, "org/private", h)
				var fault func()
				if f.fault != nil {
					fault = func() { f.fault(t, s) }
				}
				l := s.attackUnderFault(t, h, data, victimURL, clients, 4*time.Second, fault)
				t.Logf("%d unauthorized requests from %d clients: %d leaked; answers %v", l.requests.Load(), clients, l.leaks.Load(), l.statuses)
				if l.leaks.Load() != 0 {
					t.Errorf("%d of %d unauthorized requests received bytes of the private blob", l.leaks.Load(), l.requests.Load())
				}
				if l.requests.Load() < clients {
					t.Errorf("only %d requests were answered: the load did not happen", l.requests.Load())
				}
				// Caching still works: an authorized client's pull is a hit.
				s.Quay.SlowChecks(0)
				if code := s.client("bob", users["bob"]).pull(t, "org/private", h, data); !strings.HasSuffix(code, "HIT") {
					t.Errorf("bob's pull after the fault: %s, want a hit", code)
				}
			})
		}
	})
}

// A signed URL whose check failed (here: timed out) is fetched, but never
// stored: replayed once it has expired, it goes to the CDN and gets the
// CDN's 403, not the cached blob.
func TestUnverifiedURLReplayedAfterExpiry(t *testing.T) {
	forEachFlavor(t, func(t *testing.T, f quaytest.Flavor) {
		s := startFlavor(t, f, true, func(l string) string { return strings.Replace(l, "--check-timeout=5s", "--check-timeout=100ms", 1) })
		h, data := s.Quay.RandomBlob(64 << 10)
		const left = 3 * time.Second
		signed := s.Quay.SignedURL(h, 10*time.Minute-left) // the emulated signatures last 10 minutes
		s.Quay.SlowChecks(300 * time.Millisecond)
		anyone := s.client("", "")
		if status, body := anyone.cdnGet(t, signed, ""); status != http.StatusOK || !bytes.Equal(body, data) {
			t.Fatalf("while valid: %d, %d bytes", status, len(body))
		}
		s.Quay.SlowChecks(0)
		time.Sleep(left + time.Second)
		if status, body := anyone.cdnGet(t, signed, ""); leaked(status, body, data) {
			t.Errorf("the expired signed URL got %d and the blob's bytes from the cache", status)
		}
	})
}
