package accesslog

import (
	"context"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Hub receives log lines from a source (Follow, Receiver) and passes those
// that an open Watch matches to it. A line no watch wants is parsed and
// counted, nothing more: the hub keeps no history, so memory stays bounded
// however busy the log is.
type Hub struct {
	mu      sync.Mutex
	watches atomic.Pointer[[]*Watch] // copy on write: Publish takes no lock

	Lines     atomic.Uint64 // lines published
	Malformed atomic.Uint64 // lines in neither the squid nor the squid_probe format

	// Tap, when set before the first line, sees every well-formed line, on
	// the goroutine that read it (one per source connection). It must not
	// keep e, and should not allocate: it runs at line rate.
	Tap func(e *Entry)

	// Sources read in batches; a watch that waits cuts that short.
	// waiting counts the watches in Wait. When one starts to wait, nudge
	// is closed (and made anew when a follower next asks for it), and the
	// deadline of every receiver's connection moves to now.
	waiting atomic.Int32
	nudgeMu sync.Mutex
	nudge   chan struct{}         // guarded by nudgeMu
	readers map[net.Conn]struct{} // guarded by nudgeMu
}

// watched returns a channel that is closed when a watch next starts to
// wait, and whether one is waiting now: a follower's. The channel is
// taken first, so a watch that starts waiting in between is not missed.
func (h *Hub) watched() (nudge <-chan struct{}, waiting bool) {
	h.nudgeMu.Lock()
	if h.nudge == nil {
		h.nudge = make(chan struct{})
	}
	nudge = h.nudge
	h.nudgeMu.Unlock()
	return nudge, h.waiting.Load() > 0
}

// startWaiting says that a watch waits for lines, until stopWaiting.
func (h *Hub) startWaiting() {
	h.waiting.Add(1)
	h.nudgeMu.Lock()
	defer h.nudgeMu.Unlock()
	if h.nudge != nil {
		close(h.nudge)
		h.nudge = nil
	}
	now := time.Now()
	for c := range h.readers {
		c.SetReadDeadline(now)
	}
}

// addReader lets a watch that starts waiting cut a gathering read on c
// short, until removeReader.
func (h *Hub) addReader(c net.Conn) {
	h.nudgeMu.Lock()
	defer h.nudgeMu.Unlock()
	if h.readers == nil {
		h.readers = map[net.Conn]struct{}{}
	}
	h.readers[c] = struct{}{}
}

func (h *Hub) removeReader(c net.Conn) {
	h.nudgeMu.Lock()
	defer h.nudgeMu.Unlock()
	delete(h.readers, c)
}

func (h *Hub) stopWaiting() { h.waiting.Add(-1) }

// publish hands one line, without its newline, to the watches, parsing it
// into e: the caller's, so that no line allocates. The hub keeps neither.
func (h *Hub) publish(line []byte, e *Entry) {
	h.Lines.Add(1)
	if err := Parse(line, e); err != nil {
		h.Malformed.Add(1)
		return
	}
	if h.Tap != nil {
		h.Tap(e)
	}
	ws := h.watches.Load()
	if ws == nil {
		return
	}
	for _, w := range *ws {
		if w.match(e) {
			w.add(e.Record())
		}
	}
}

// Watch collects the lines for which match returns true, until Close.
// match runs on the publishing goroutine and must not keep e.
func (h *Hub) Watch(match func(e *Entry) bool) *Watch {
	w := &Watch{hub: h, match: match, changed: make(chan struct{}, 1)}
	h.update(func(ws []*Watch) []*Watch { return append(ws, w) })
	return w
}

func (h *Hub) update(change func([]*Watch) []*Watch) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ws []*Watch
	if old := h.watches.Load(); old != nil {
		ws = slices.Clone(*old)
	}
	ws = change(ws)
	h.watches.Store(&ws)
}

// Watch is a probe's interest in some log lines.
type Watch struct {
	hub     *Hub
	match   func(*Entry) bool
	mu      sync.Mutex
	records []Record
	changed chan struct{}
}

func (w *Watch) add(r Record) {
	w.mu.Lock()
	w.records = append(w.records, r)
	w.mu.Unlock()
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// Records returns a copy of what the watch has collected so far.
func (w *Watch) Records() []Record {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.records)
}

// Wait returns the records once done says they are enough, or what there
// is when ctx ends, with ctx's error. While it waits, sources read as soon
// as lines come rather than in batches.
func (w *Watch) Wait(ctx context.Context, done func([]Record) bool) ([]Record, error) {
	w.hub.startWaiting()
	defer w.hub.stopWaiting()
	for {
		records := w.Records()
		if done(records) {
			return records, nil
		}
		select {
		case <-w.changed:
		case <-ctx.Done():
			return w.Records(), ctx.Err()
		}
	}
}

// Close stops the watch.
func (w *Watch) Close() {
	w.hub.update(func(ws []*Watch) []*Watch {
		return slices.DeleteFunc(ws, func(x *Watch) bool { return x == w })
	})
}
