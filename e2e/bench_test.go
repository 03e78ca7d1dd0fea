package e2e

import (
	"net/http"
	"testing"
)

// BenchmarkCDNGet is one client GET of a 256 KiB CDN blob through Squid.
// With the helpers (store-ID and ICAP), the GET carries Authorization as
// container clients send it, and a new signed URL each time. The baselines
// are what a plain Squid does with a cacheable request (no Authorization):
// a miss that is stored, and a hit on the very same URL. The difference is
// what the helpers add: the store-ID check's round trip to the CDN and an
// ICAP exchange.
func BenchmarkCDNGet(b *testing.B) {
	for _, bc := range []struct {
		name    string
		helpers bool
		hit     bool
	}{
		{"plain/miss", false, false},
		{"helpers/miss", true, false},
		{"plain/hit", false, true},
		{"helpers/hit", true, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := start(b, bc.helpers)
			alice := s.client("alice", users["alice"])
			token := ""
			if bc.helpers {
				_, token = alice.signedURL(b, "org/private", s.Quay.AddBlob([]byte("warm up the token")))
			}
			h, _ := s.Quay.RandomBlob(256 << 10)
			url := s.Quay.SignedURL(h, 0)
			get := func(url string) {
				if status, body := alice.cdnGet(b, url, token); status != http.StatusOK || len(body) != 256<<10 {
					b.Fatalf("GET: %d, %d bytes", status, len(body))
				}
			}
			get(url) // now cached
			for b.Loop() {
				if bc.hit {
					if bc.helpers {
						url = s.Quay.SignedURL(h, 0)
					}
					get(url)
					continue
				}
				b.StopTimer()
				h, _ = s.Quay.RandomBlob(256 << 10)
				b.StartTimer()
				get(s.Quay.SignedURL(h, 0))
			}
			codes := s.deliveries("https://" + s.Quay.CDN)
			if want := map[bool]string{true: "TCP_MEM_HIT", false: "TCP_MISS"}[bc.hit]; codes[len(codes)-1] != want {
				b.Errorf("the last GET was a %s, not a %s", codes[len(codes)-1], want)
			}
		})
	}
}
