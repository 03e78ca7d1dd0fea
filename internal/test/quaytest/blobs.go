package quaytest

import (
	"bytes"
	"context"
	"io"
	"sync"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

var errNotFound = registry.ErrNotFound

// blobStore is content-addressed storage shared by every repository and
// host. A poisoned blob is served with its first byte flipped.
type blobStore struct {
	mu       sync.Mutex
	data     map[string][]byte // hex -> bytes
	poisoned func(hex string) bool
}

func newBlobStore() *blobStore { return &blobStore{data: map[string][]byte{}} }

func (s *blobStore) add(data []byte) v1.Hash {
	h := Digest(data)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[h.Hex] = data
	return h
}

func (s *blobStore) has(h v1.Hash) bool {
	_, ok := s.get(h.Hex)
	return ok
}

// get returns the bytes to serve for hex, poisoned or not.
func (s *blobStore) get(hex string) ([]byte, bool) {
	s.mu.Lock()
	data, ok := s.data[hex]
	s.mu.Unlock()
	if ok && s.poisoned != nil && s.poisoned(hex) && len(data) > 0 {
		data = bytes.Clone(data)
		data[0] ^= 0xff
	}
	return data, ok
}

func (s *blobStore) Get(_ context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	data, ok := s.get(h.Hex)
	if !ok {
		return nil, errNotFound
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func (s *blobStore) Stat(_ context.Context, _ string, h v1.Hash) (int64, error) {
	data, ok := s.get(h.Hex)
	if !ok {
		return 0, errNotFound
	}
	return int64(len(data)), nil
}

func (s *blobStore) Put(_ context.Context, _ string, h v1.Hash, rc io.ReadCloser) error {
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[h.Hex] = data
	return nil
}
