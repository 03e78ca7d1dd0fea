package quaytest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"
)

// opaqueStyle is how a CDN URL names a blob when it names no digest.
type opaqueStyle int

const (
	// The zero value: the CDN path carries the digest (quay, Docker Hub, GHCR).
	_ opaqueStyle = iota
	// downloadToken: Artifact Registry's 302 to a relative
	// /artifacts-downloads/namespaces/<project>/repositories/<repo>/downloads/<token>
	// on its own host. The token, about a thousand base64url characters,
	// is the whole credential: no query, no Authorization needed. Here it
	// is random, and the emulation remembers its blob and expiry.
	downloadToken
	// bucketKey: ECR's 307 to an S3 presigned URL of its layer bucket,
	// under an object key that names no digest (one per layer).
	bucketKey
)

// downloadPrefix is where Artifact Registry's download tokens live.
const downloadPrefix = "/artifacts-downloads/namespaces/emulated-project/repositories/images/downloads/"

// opaqueURLs remembers what an opaque CDN URL is.
type opaqueURLs struct {
	mu     sync.Mutex
	tokens map[string]tokenGrant // download token -> blob
	keys   map[string]string     // object key (path) -> blob hex
	keyOf  map[string]string     // blob hex -> object key
	issued []string              // every token handed out: credentials in a URL path
}

type tokenGrant struct {
	hex     string
	expires time.Time
}

func newOpaqueURLs() *opaqueURLs {
	return &opaqueURLs{tokens: map[string]tokenGrant{}, keys: map[string]string{}, keyOf: map[string]string{}}
}

// downloadPath is a new download token's path for hex, valid until expires.
func (o *opaqueURLs) downloadPath(hexDigest string, expires time.Time) string {
	raw := make([]byte, 768) // 1,024 base64url characters, as Artifact Registry's
	rand.Read(raw)
	token := base64.RawURLEncoding.EncodeToString(raw)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.tokens[token] = tokenGrant{hexDigest, expires}
	o.issued = append(o.issued, token)
	return downloadPrefix + token
}

// objectKey is the blob's object key in the layer bucket: random, made
// once, as ECR keys a layer.
func (o *opaqueURLs) objectKey(hexDigest string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if k, ok := o.keyOf[hexDigest]; ok {
		return k
	}
	id := make([]byte, 16)
	rand.Read(id)
	k := fmt.Sprintf("/%s-123456789012-%s/%s", hex.EncodeToString(id[:2]), uuid(id), uuid(id[4:]))
	o.keys[k], o.keyOf[hexDigest] = hexDigest, k
	return k
}

func uuid(b []byte) string {
	s := hex.EncodeToString(append(b[:12:12], b[:4]...))
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

// resolve finds the blob of an opaque CDN URL, or says why the CDN
// refuses it.
func (o *opaqueURLs) resolve(style opaqueStyle, u *url.URL, now time.Time) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if style == downloadToken {
		token, ok := strings.CutPrefix(u.Path, downloadPrefix)
		g, known := o.tokens[token]
		switch {
		case !ok || !known:
			return "", errors.New("invalid download token")
		case now.After(g.expires):
			return "", errors.New("download token expired")
		}
		return g.hex, nil
	}
	if h, ok := o.keys[u.Path]; ok {
		return h, nil
	}
	return "", errNoSuchKey
}

var errNoSuchKey = errors.New("NoSuchKey")

func (o *opaqueURLs) secrets() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.issued...)
}
