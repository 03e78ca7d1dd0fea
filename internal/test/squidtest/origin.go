package squidtest

import (
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// Origin is an HTTP server on loopback whose objects Squid may cache: every
// path answers with a body derived from the path and
// Cache-Control: public, max-age=3600. Paths under /private/ answer with
// Cache-Control: private, which Squid must not cache.
type Origin struct {
	URL  string
	hits atomic.Int64
}

// ObjectSize is the size of each object the origin serves.
const ObjectSize = 8 << 10

// StartOrigin starts an Origin that stops when the test ends.
func StartOrigin(t testing.TB) *Origin {
	o := &Origin{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.hits.Add(1)
		cc := "public, max-age=3600"
		if strings.HasPrefix(r.URL.Path, "/private/") {
			cc = "private"
		}
		w.Header().Set("Cache-Control", cc)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(Object(r.URL.Path))
	}))
	t.Cleanup(srv.Close)
	o.URL = srv.URL
	return o
}

// Requests is how many requests reached the origin.
func (o *Origin) Requests() int64 { return o.hits.Load() }

// Object returns the body the origin serves for path.
func Object(path string) []byte {
	seed := sha256.Sum256([]byte(path))
	body := make([]byte, 0, ObjectSize)
	for len(body) < ObjectSize {
		body = append(body, seed[:]...)
	}
	return body[:ObjectSize]
}
