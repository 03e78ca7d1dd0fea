package learned

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var (
	hexA = strings.Repeat("a", 64)
	hexB = strings.Repeat("b", 64)
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestStore(t *testing.T) {
	start := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name    string
		expires time.Duration // after start; 0: none given
		after   time.Duration // when looked up
		want    bool
	}{
		{"current", 10 * time.Minute, 9 * time.Minute, true},
		{"expired", 10 * time.Minute, 10 * time.Minute, false},
		{"no expiry: MaxAge", 0, MaxAge - time.Second, true},
		{"no expiry, past MaxAge", 0, MaxAge, false},
		{"a week: cut to MaxAge", 7 * 24 * time.Hour, MaxAge + time.Second, false},
		{"expired when added", -time.Second, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{start}
			s := &Store{Now: c.now}
			var exp time.Time
			if tt.expires != 0 {
				exp = start.Add(tt.expires)
			}
			s.Add("https://cdn.test/x?sig=1", hexA, exp)
			c.t = start.Add(tt.after)
			got, ok := s.Lookup(KeyOf("https://cdn.test/x?sig=1"))
			if ok != tt.want || ok && got != hexA {
				t.Errorf("Lookup = %q, %t; want %t", got, ok, tt.want)
			}
			if _, ok := s.Lookup(KeyOf("https://cdn.test/x?sig=2")); ok {
				t.Error("another URL (another signature) found")
			}
		})
	}
}

// Full, the store drops the oldest entries; its size never passes the
// bound, whatever a flood of redirects adds.
func TestStoreIsBounded(t *testing.T) {
	s := &Store{MaxEntries: 100}
	for i := range 10_000 {
		s.Add(fmt.Sprintf("https://cdn.test/%d", i), hexA, time.Time{})
		if s.Len() > 100 {
			t.Fatalf("%d entries after %d adds", s.Len(), i+1)
		}
	}
	if _, ok := s.Lookup(KeyOf("https://cdn.test/9999")); !ok {
		t.Error("the newest entry is gone")
	}
	if _, ok := s.Lookup(KeyOf("https://cdn.test/0")); ok {
		t.Error("the oldest entry is kept")
	}
	if cap(s.order) > 1000 {
		t.Errorf("order holds %d slots for 100 entries", cap(s.order))
	}
}

func TestHandlerAndClient(t *testing.T) {
	s := &Store{}
	s.Add("https://cdn.test/x?sig=1", hexB, time.Time{})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, HTTP: srv.Client()}
	ctx := context.Background()
	if d, ok, err := c.Lookup(ctx, "https://cdn.test/x?sig=1"); d != hexB || !ok || err != nil {
		t.Errorf("known URL: %q, %t, %v", d, ok, err)
	}
	if d, ok, err := c.Lookup(ctx, "https://cdn.test/x?sig=2"); d != "" || ok || err != nil {
		t.Errorf("unknown URL: %q, %t, %v", d, ok, err)
	}
	for _, path := range []string{"/digests/", "/digests/xyz", "/digests/" + hexA + "00", "/", "/digests/" + strings.Repeat("G", 64)} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s: %d, want 400", path, resp.StatusCode)
		}
	}
}

// A service that answers anything but a digest is an error, never a key.
func TestClientRefusesWhatIsNotADigest(t *testing.T) {
	for _, body := range []string{"sha256:" + strings.Repeat("A", 64), "sha512:" + hexA, hexA, "sha256:" + hexA + "\n", ""} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(body)) }))
		c := &Client{BaseURL: srv.URL, HTTP: srv.Client()}
		if d, ok, err := c.Lookup(context.Background(), "https://cdn.test/x"); ok || err == nil {
			t.Errorf("%q: %q, %t, %v", body, d, ok, err)
		}
		srv.Close()
	}
}
