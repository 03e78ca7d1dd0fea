package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// pull reads the first layer of image through the proxy, at most rate
// bytes a second, and checks its digest.
func pull(proxy, caFile, image string, rate int64, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	n, err := pullLayer(ctx, proxy, caFile, image, rate)
	if err != nil {
		fmt.Printf("FAIL after %s: %v\n", time.Since(start).Round(time.Millisecond), err)
		return false
	}
	fmt.Printf("pulled %d bytes in %s, digest matches\n", n, time.Since(start).Round(time.Millisecond))
	return true
}

func pullLayer(ctx context.Context, proxy, caFile, image string, rate int64) (int64, error) {
	roots, err := loadRoots(caFile)
	if err != nil {
		return 0, err
	}
	ref, err := name.ParseReference(image)
	if err != nil {
		return 0, err
	}
	transport := &http.Transport{
		Proxy:           http.ProxyURL(&url.URL{Scheme: "http", Host: proxy}),
		TLSClientConfig: &tls.Config{RootCAs: roots},
	}
	img, err := remote.Image(ref, remote.WithContext(ctx), remote.WithTransport(transport))
	if err != nil {
		return 0, err
	}
	layers, err := img.Layers()
	if err != nil || len(layers) == 0 {
		return 0, fmt.Errorf("layers of %s: %v", image, err)
	}
	want, err := layers[0].Digest()
	if err != nil {
		return 0, err
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, &slowReader{r: rc, rate: rate, start: time.Now()})
	if err != nil {
		return n, fmt.Errorf("after %d bytes: %w", n, err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != want.String() {
		return n, fmt.Errorf("digest %s, want %s", got, want)
	}
	return n, nil
}

// slowReader reads no faster than rate bytes a second (0: no limit).
type slowReader struct {
	r     io.Reader
	rate  int64
	start time.Time
	n     int64
}

func (s *slowReader) Read(p []byte) (int, error) {
	if s.rate > 0 {
		if len(p) > 32<<10 {
			p = p[:32<<10]
		}
		due := s.start.Add(time.Duration(s.n * int64(time.Second) / s.rate))
		time.Sleep(time.Until(due))
	}
	n, err := s.r.Read(p)
	s.n += int64(n)
	return n, err
}
