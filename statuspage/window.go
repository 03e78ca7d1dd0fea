package statuspage

import (
	"sync"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/traffic"
)

// The recent hit ratio compares the counters now with a sample taken
// recentSpan ago; samples are taken every sampleEvery, and a page shows
// the ratio over a span at most that much longer.
const (
	recentSpan  = 5 * time.Minute
	sampleEvery = 10 * time.Second
	keep        = int(recentSpan/sampleEvery) + 1
)

type sample struct {
	at    time.Time
	blobs []traffic.BlobCount
}

// window holds the last keep samples, oldest first: a few KiB whatever the
// traffic.
type window struct {
	mu      sync.Mutex
	samples []sample
}

func newWindow() *window { return &window{samples: make([]sample, 0, keep)} }

func (w *window) add(at time.Time, blobs []traffic.BlobCount) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.samples) == keep {
		w.samples = append(w.samples[:0], w.samples[1:]...)
	}
	w.samples = append(w.samples, sample{at, blobs})
}

// base is the sample the recent ratio starts from: the newest one at
// least recentSpan old, else the oldest (the exporter started less than
// recentSpan ago). ok is false before the first sample.
func (w *window) base(now time.Time) (s sample, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.samples) == 0 {
		return sample{}, false
	}
	s = w.samples[0]
	for _, c := range w.samples[1:] {
		if now.Sub(c.at) < recentSpan {
			break
		}
		s = c
	}
	return s, true
}
