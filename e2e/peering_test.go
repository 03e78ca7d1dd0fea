package e2e

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/quaytest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
)

// The ground issue 20's fleet stands on (docs/fleet.md), on every Squid the
// matrix runs: a Squid that bumps a client's request and sends it to a CARP
// parent does so through a CONNECT tunnel, which the parent (sharing the
// bump CA) bumps again; the parent runs the store-ID check on the client's
// own signed URL and caches. So Alice's and Bob's pulls through a frontend
// that keeps nothing are one CDN delivery, Bob's a memory hit at the owner;
// a client without access, through the frontend, gets no byte; and a
// client of the owner itself shares the same entry.
func TestCARPParentCachesBumpedBlobs(t *testing.T) {
	s := startFlavor(t, quaytest.QuayFlavor, true, nil) // the owner
	port := strings.TrimPrefix(s.Squid.URL, "http://127.0.0.1:")
	front := squidtest.Start(t, squidtest.Options{Hosts: s.Quay.Hosts, BumpCA: s.Bump, OriginCA: s.Bump, Extra: []string{
		"cache_peer 127.0.0.1 parent " + port + " 0 no-query no-digest carp name=owner",
		"never_direct allow all",
		"cache deny all",
		"visible_hostname frontend", // the owner refuses a request whose Via names itself: a loop
	}})
	via := func(user string) *client { return s.clientVia(front.URL, user, users[user]) }
	h, data := s.Quay.RandomBlob(512 << 10)
	for i, user := range []string{"alice", "bob"} {
		c := via(user)
		location, token := c.signedURL(t, "org/private", h)
		key := strings.SplitN(location, "?", 2)[0]
		before := len(s.deliveries(key))
		if status, body := c.cdnGet(t, location, token); status != http.StatusOK || !bytes.Equal(body, data) {
			t.Fatalf("%s through the frontend: %d, %d bytes", user, status, len(body))
		}
		want := []string{"TCP_MISS", "TCP_MEM_HIT"}[i]
		if code := s.nextDelivery(t, key, before); code != want {
			t.Errorf("%s through the frontend: %s at the owner, want %s", user, code, want)
		}
	}
	if n := s.Quay.CDNGets(h); n != 1 {
		t.Errorf("the CDN delivered the blob %d times, want 1", n)
	}
	if strings.Contains(readFile(front.AccessLog), "HIER_DIRECT") {
		t.Error("the frontend went to an origin itself")
	}
	victimURL, _ := via("alice").signedURL(t, "org/private", h)
	a := s.attackers(t, 1, h, victimURL)[0]
	proxy, _ := url.Parse(front.URL)
	a.http.Transport.(*http.Transport).Proxy = http.ProxyURL(proxy)
	for _, at := range attacks()[:7] { // the URL attacks; the request-line ones go to the owner itself
		if status, body, _ := at.send(a); leaked(status, body, data) {
			t.Errorf("through the frontend, %s: %d and the blob's bytes", at.name, status)
		}
	}
	if code := s.client("bob", users["bob"]).pull(t, "org/private", h, data); code != "TCP_MEM_HIT" {
		t.Errorf("bob at the owner itself: %s, want TCP_MEM_HIT", code)
	}
}
