package traffic

import "sync"

// redirects remembers which registry last redirected a blob to a CDN, so
// that the CDN's line counts under that registry: registry.redhat.io and
// quay.io redirect to the same CDN hosts. It holds the last size digests,
// so memory is bounded whatever the traffic, and it keys them by their
// first 64 bits: a collision between two blobs is as unlikely as that.
type redirects struct {
	mu    sync.Mutex
	by    map[uint64]int // digest prefix -> registry index
	ring  []uint64       // insertion order, for eviction
	next  int
	added int
}

const rememberedRedirects = 4096

func newRedirects(size int) *redirects {
	return &redirects{by: make(map[uint64]int, size), ring: make([]uint64, size)}
}

// remember notes that registry redirected the blob with this hex digest.
func (r *redirects) remember(hexDigest []byte, registry int) {
	key, ok := prefix(hexDigest)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, known := r.by[key]; !known {
		if r.added == len(r.ring) {
			delete(r.by, r.ring[r.next])
		} else {
			r.added++
		}
		r.ring[r.next] = key
		r.next = (r.next + 1) % len(r.ring)
	}
	r.by[key] = registry
}

// registry returns who redirected the blob, if anyone did lately.
func (r *redirects) registry(hexDigest []byte) (int, bool) {
	key, ok := prefix(hexDigest)
	if !ok {
		return 0, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	i, found := r.by[key]
	return i, found
}

// prefix reads the first 16 hex digits of a digest.
func prefix(hexDigest []byte) (uint64, bool) {
	if len(hexDigest) < 16 {
		return 0, false
	}
	var v uint64
	for _, c := range hexDigest[:16] {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}
