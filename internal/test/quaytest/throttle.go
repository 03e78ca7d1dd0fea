package quaytest

import (
	"net/http"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Throttle makes the CDN and the public registry send blob bodies at
// bytesPerSecond per request, as a distant origin does; 0 lifts it. A
// stampede test needs the first fetch still running when the others come.
func (q *Quay) Throttle(bytesPerSecond int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.rate = bytesPerSecond
}

// PublicGets is how many times the public registry sent the blob's body
// (ranged GETs included: each is a fetch from the origin).
func (q *Quay) PublicGets(h v1.Hash) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.publicGets[h.Hex]
}

// OriginFetches is what both origins sent of the blob: the CDN's full
// deliveries and the public registry's GETs.
func (q *Quay) OriginFetches(h v1.Hash) int {
	return q.CDNGets(h) + q.PublicGets(h)
}

// FetchesDone is how many of the origins' sends of the blob (those
// OriginFetches counts) have ended: the last byte handed to the
// connection, or the connection gone. It tells when a fetch that Squid
// goes on with alone, such as the whole-blob fetch behind a range request,
// has come in.
func (q *Quay) FetchesDone(h v1.Hash) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.fetchesDone[h.Hex]
}

// fetchDone counts a send of the blob that ended.
func (q *Quay) fetchDone(hex string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.fetchesDone[hex]++
}

// countingPublicBlobs counts the public registry's blob GETs and throttles
// their bodies.
func (q *Quay) countingPublicBlobs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := strings.Index(r.URL.Path, "/blobs/sha256:")
		if r.Method != http.MethodGet || i < 0 {
			next.ServeHTTP(w, r)
			return
		}
		hexDigest := r.URL.Path[i+len("/blobs/sha256:"):]
		q.mu.Lock()
		q.publicGets[hexDigest]++
		q.mu.Unlock()
		defer q.fetchDone(hexDigest)
		next.ServeHTTP(q.throttled(w), r)
	})
}

// throttled wraps w so that its body goes out at the configured rate.
func (q *Quay) throttled(w http.ResponseWriter) http.ResponseWriter {
	q.mu.Lock()
	rate := q.rate
	q.mu.Unlock()
	if rate <= 0 {
		return w
	}
	return &slowWriter{ResponseWriter: w, rate: rate, start: time.Now()}
}

// slowWriter sends at most rate bytes a second since start, in chunks
// small enough that the pace is even.
type slowWriter struct {
	http.ResponseWriter
	rate  int
	start time.Time
	sent  int
}

func (s *slowWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		chunk := min(len(p), max(s.rate/50, 1))
		if due := s.start.Add(time.Duration(float64(s.sent) / float64(s.rate) * float64(time.Second))); time.Until(due) > 0 {
			time.Sleep(time.Until(due))
		}
		n, err := s.ResponseWriter.Write(p[:chunk])
		written += n
		s.sent += n
		if err != nil {
			return written, err
		}
		if f, ok := s.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		p = p[chunk:]
	}
	return written, nil
}
