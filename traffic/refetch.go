package traffic

import (
	"bytes"
	"sync"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
)

// What a bigger cache would have saved: a blob that Squid fetches whole
// from the origin although it fetched it before. The log tells three cases
// apart, by the reason label.
type refetchReason uint8

const (
	// The earlier fetch of the digest was still running when this one
	// started, or had ended less than concurrentGraceMillis before: a stampede
	// that collapsed forwarding did not join.
	concurrent refetchReason = iota
	// The earlier fetch had ended, and a hit (or a revalidation, or a
	// refresh) of the digest showed that Squid had stored the blob: it
	// was evicted since (or purged, or lost when a memory-only cache
	// restarted).
	evicted
	// The earlier fetch had ended and no hit of the digest was seen: evicted
	// before anyone asked again, or never stored (larger than
	// maximum_object_size, not cacheable, or kept under a key no later
	// request has, as a CDN URL without the store-ID helper).
	neverHit
	numReasons
)

var reasonNames = [numReasons]string{"concurrent", "evicted", "never_hit"}

func (r refetchReason) String() string { return reasonNames[r] }

// concurrentGraceMillis: a fetch that starts less than this after the
// previous fetch of the digest ended counts as concurrent with it. Squid
// logs a transaction when its last byte is sent, and the blob becomes a
// hit for others only once it is in the store: a swap-out to disk, or to
// the shared memory of SMP workers, can finish after the log line. Clients
// that queue behind one pull (the nodes of a cluster starting the same
// image) also start within about a second of each other.
const concurrentGraceMillis = 2000

// The digest memory's size: digestSets sets of digestWays slots, 65,536
// digests in 1.5 MiB (24 bytes a slot).
const (
	digestSetBits = 13
	digestWays    = 8
	digestSets    = 1 << digestSetBits
)

// digests remembers, for the blobs most recently seen, when Squid last
// fetched each whole from the origin and whether it was ever seen cached.
// It is a set-associative table: a digest has one set of digestWays slots,
// and a new digest takes the least recently used slot of its set, so its
// size is fixed. It is allocated once, at the first blob line: an exporter
// that sees none (a sidecar whose Squid serves no blobs yet) keeps its
// memory. Like redirects it keys digests by their first 64 bits, and also
// by the registry of the host that served them: Squid files a blob by
// URL, so the same layer from registry.redhat.io and from
// registry.access.redhat.com is two objects, each fetched once, while the
// CDN hosts of one registry serve one object (under the store-ID helper's
// key).
type digests struct {
	mu    sync.Mutex
	slots []digestSlot // digestSets sets of digestWays slots; nil until used
	clock uint32       // counts lookups; 0 marks an empty slot
}

type digestSlot struct {
	key     uint64 // the digest's first 64 bits
	fetched int64  // Unix ms when the latest whole fetch from the origin ended
	used    uint32 // the clock when the slot was last looked up; 0: empty
	source  uint16 // the registry of the host that served the blob
	fetch   bool   // fetched is set: a whole fetch was seen
	stored  bool   // a hit, revalidation or refresh showed Squid had stored it
}

func newDigests() *digests { return &digests{} }

// cached notes that Squid had the blob stored: it served it from the cache
// or revalidated its copy.
func (d *digests) cached(key uint64, source int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.slot(key, source).stored = true
}

// fetched notes a whole fetch of the blob from the origin, from start to
// end (Unix ms). hadCopy says Squid's result code shows it had a copy
// (a refresh, a client's reload, a failed swap-in): that proves the blob
// was stored, and that this fetch, unless concurrent with the earlier
// one, is not a refetch for want of space.
// When it is one, fetched says why.
func (d *digests) fetched(key uint64, source int, start, end int64, hadCopy bool) (reason refetchReason, again bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.slot(key, source)
	switch {
	case s.fetch && start < s.fetched+concurrentGraceMillis:
		// First: under SMP workers a worker that cannot read the blob
		// another is still writing fetches it itself (TCP_SWAPFAIL_MISS).
		reason, again = concurrent, true
	case hadCopy:
	case s.stored:
		reason, again = evicted, true
	case s.fetch:
		reason, again = neverHit, true
	}
	if !s.fetch || end > s.fetched {
		s.fetched = end
	}
	s.fetch = true
	s.stored = s.stored || hadCopy
	return reason, again
}

// slot returns the key's slot, taking the least recently used of its set
// (an empty one first) for a key the memory does not hold. The caller
// holds mu.
func (d *digests) slot(key uint64, source int) *digestSlot {
	if d.slots == nil {
		d.slots = make([]digestSlot, digestSets*digestWays)
	}
	d.clock++
	if d.clock == 0 {
		d.clock = 1
	}
	// Fibonacci hashing: the top bits of the product spread keys that
	// differ anywhere, not only in their low bits.
	set := (key * 0x9e3779b97f4a7c15) >> (64 - digestSetBits)
	slots := d.slots[set*digestWays : (set+1)*digestWays]
	var victim *digestSlot
	for i := range slots {
		s := &slots[i]
		switch {
		case s.used != 0 && s.key == key && s.source == uint16(source):
			s.used = d.clock
			return s
		case victim == nil, victim.used != 0 && (s.used == 0 || d.clock-s.used > d.clock-victim.used):
			victim = s // the clock's differences stay right when it wraps
		}
	}
	*victim = digestSlot{key: key, used: d.clock, source: uint16(source)}
	return victim
}

// len counts the digests held.
func (d *digests) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for i := range d.slots {
		if d.slots[i].used != 0 {
			n++
		}
	}
	return n
}

// observeBlob counts a blob line's share of the origin and refetch
// counters, and tells the digest memory what the line showed. A whole
// fetch is a GET answered 200 from a miss. A ranged (206) miss and an
// aborted one are not: the log shows the bytes the client got, not what
// Squid fetched, and whether Squid kept the blob depends on
// range_offset_limit and quick_abort_*. Their digests become known when a
// hit shows the blob stored. host is the registry of the line's host, reg
// the one it counts under (the one that redirected to the CDN).
func (c *Counter) observeBlob(e *accesslog.Entry, digest []byte, host, reg int, cache Cache) {
	key, ok := prefix(digest)
	if !ok {
		return
	}
	switch {
	case cache == Hit || cache == Revalidated:
		c.digests.cached(key, host)
	case cache == Miss && e.Status == 200 && bytes.Equal(e.Method, []byte("GET")) && fromOrigin(e.Hierarchy):
		c.originBytes[reg].Add(float64(e.Bytes))
		tag, _ := resultTag(e.Result)
		if bytes.Equal(tag, []byte("MISS")) || hadCopy(tag) {
			reason, again := c.digests.fetched(key, host, e.Time-e.Elapsed, e.Time, hadCopy(tag))
			if again {
				c.refetches[reg][reason].Inc()
				c.refetchBytes[reg][reason].Add(float64(e.Bytes))
			}
		}
	}
}

// fromOrigin: the line's hierarchy code says Squid fetched the body from
// the origin (HIER_DIRECT) or through a parent. A request that joined a
// fetch in flight, collapsed (TCP_CF_MISS) or attached once the headers had
// come (TCP_MISS), logs HIER_NONE: a stampede Squid fetched once is one
// fetch. A sibling's answer (a peer cache's hit) is no origin fetch either.
func fromOrigin(hier []byte) bool {
	return len(hier) > 0 && !bytes.Equal(hier, []byte("HIER_NONE")) && !bytes.Contains(hier, []byte("SIBLING"))
}

// hadCopy: the miss's result code says Squid found a stored copy and
// fetched anew all the same.
func hadCopy(tag []byte) bool {
	switch string(tag) {
	case "REFRESH_MODIFIED", "CLIENT_REFRESH_MISS", "SWAPFAIL_MISS":
		return true
	}
	return false
}
