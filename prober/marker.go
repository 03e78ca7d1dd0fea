package prober

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
)

// newMarker returns a fresh round's marker: 128 random bits in hex. A
// local process can make Squid log a GET of the blob from our address, or
// send the access log receiver any line it likes; it cannot guess this,
// so its lines never count for the round.
func newMarker() string {
	var b [16]byte
	rand.Read(b[:]) // never fails: see crypto/rand.Read
	return hex.EncodeToString(b[:])
}

// markerTransport sends the round's marker with every request it carries:
// the ping, the token, the blob GETs and the redirected CDN GETs alike.
type markerTransport struct {
	next   http.RoundTripper
	marker string
}

func (m *markerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// A RoundTripper must not change the caller's request.
	req = req.Clone(req.Context())
	req.Header.Set(accesslog.MarkerHeader, m.marker)
	return m.next.RoundTrip(req)
}
