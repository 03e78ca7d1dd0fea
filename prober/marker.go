package prober

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"sync"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
)

// newMarker returns a fresh marker: 128 random bits in hex. A local
// process can make Squid log a GET of the blob from our address, or send
// the access log receiver any line it likes; it cannot guess this, so its
// lines never count for the round.
func newMarker() string {
	var b [16]byte
	rand.Read(b[:]) // never fails: see crypto/rand.Read
	return hex.EncodeToString(b[:])
}

// markers are a round's: a fresh one for every request it sends, each
// remembered with the pull it belongs to (0 while authenticating). A
// marker is known outside the prober only once Squid has logged the line
// that carries it, so a line copied from the log to forge another comes
// after the real one, and only the first line of a marker counts.
type markers struct {
	mu   sync.Mutex
	pull int
	of   map[string]int
}

func newMarkers() *markers { return &markers{of: map[string]int{}} }

// next makes the marker of a request of the current pull.
func (m *markers) next() string {
	mk := newMarker()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.of[mk] = m.pull
	return mk
}

// startPull says the requests from now on are pull n's.
func (m *markers) startPull(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pull = n
}

// pullOf says which pull sent the marker, if this round did.
func (m *markers) pullOf(marker string) (int, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.of[marker]
	return n, ok
}

// markerTransport sends a fresh marker with every request it carries: the
// ping, the token, the blob GETs and the redirected CDN GETs alike.
type markerTransport struct {
	next    http.RoundTripper
	markers *markers
}

func (m *markerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// A RoundTripper must not change the caller's request.
	req = req.Clone(req.Context())
	req.Header.Set(accesslog.MarkerHeader, m.markers.next())
	return m.next.RoundTrip(req)
}
