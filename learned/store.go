// Package learned remembers which blob a registry's redirect named for a
// signed CDN URL that names no digest itself (an Artifact Registry
// download token, an ECR layer bucket key), so that the store-ID helper
// can file that very URL under the blob's shared key. The ICAP service
// learns from the redirects Squid shows it; the helper asks.
//
// The store keeps only a hash of each URL: the signed URL is a client's
// credential, and what is remembered must be no use to whoever reads the
// service's memory, its answers, or its metrics. An answer is only a
// digest, given to someone who already holds the URL.
package learned

import (
	"crypto/sha256"
	"sync"
	"time"
)

// Defaults of the Store's bounds.
const (
	// DefaultMaxEntries bounds memory: about 150 bytes an entry.
	DefaultMaxEntries = 100_000
	// MaxAge bounds how long an entry is kept, whatever the URL says: a
	// client follows a redirect at once, and a URL no longer known is
	// still fetched, only not shared.
	MaxAge = 15 * time.Minute
)

// Key is what the store files a URL under: the SHA-256 of its bytes.
type Key [sha256.Size]byte

// KeyOf is the key of rawURL.
func KeyOf(rawURL string) Key { return sha256.Sum256([]byte(rawURL)) }

// Store maps URL keys to digests, each until its expiry, oldest dropped
// first when full.
type Store struct {
	MaxEntries int              // 0: DefaultMaxEntries
	Now        func() time.Time // nil: time.Now

	mu      sync.Mutex
	entries map[Key]entry
	order   []Key // in the order added; the oldest first
}

type entry struct {
	hex     string
	expires time.Time
}

// Add remembers that rawURL is the blob sha256:<hex> until expires (at
// most MaxAge from now).
func (s *Store) Add(rawURL, hex string, expires time.Time) {
	now := s.now()
	if limit := now.Add(MaxAge); expires.IsZero() || expires.After(limit) {
		expires = limit
	}
	if !expires.After(now) {
		return
	}
	k := KeyOf(rawURL)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.entries == nil {
		s.entries = map[Key]entry{}
	}
	s.dropOld(now)
	if _, ok := s.entries[k]; !ok {
		s.order = append(s.order, k)
	}
	s.entries[k] = entry{hex, expires}
}

// Lookup is the digest's hex for the URL key k, while it is current.
func (s *Store) Lookup(k Key) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[k]
	if !ok || !e.expires.After(s.now()) {
		return "", false
	}
	return e.hex, true
}

// Len is the number of entries kept, expired ones not yet dropped included.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// dropOld drops, oldest first, the expired entries and those over the
// bound (leaving room for one more).
func (s *Store) dropOld(now time.Time) {
	limit := s.MaxEntries
	if limit <= 0 {
		limit = DefaultMaxEntries
	}
	for len(s.order) > 0 {
		k := s.order[0]
		e, ok := s.entries[k]
		if ok && e.expires.After(now) && len(s.entries) < limit {
			break
		}
		delete(s.entries, k)
		s.order = s.order[1:] // append reallocates with the live part only
	}
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}
