package accesslog

import (
	"errors"
	"net"
	"os"
	"syscall"
	"time"
)

// DefaultReadInterval is how long a source lets lines gather before it
// reads again (Follower.Poll, Receiver.ReadInterval). Squid writes each
// line on its own (buffered_logs off), and waking the process for a line
// costs it far more than parsing the line: gathered, a burst of lines costs
// one wakeup. The traffic counters lag by up to this much, which no scrape
// (every 15 s or more) can see. A probe round does not wait for it: while a
// watch waits, sources read lines as they come (Receiver) or every
// waitingPoll (Follower); and --probe.log-wait (3 s) is 30 times longer.
const DefaultReadInterval = 100 * time.Millisecond

// waitingPoll is how often a follower looks for lines while a watch waits.
const waitingPoll = 5 * time.Millisecond

// gatherBytes is the low-water mark of a gathering connection: the kernel
// wakes its reader when this much has come (about 250 lines), before the
// interval ends, so a busy log is read as fast as it comes. It is below
// the receive window a connection starts with (64 KiB), so a gathering
// reader never stops Squid's writes; were it stopped, Squid would buffer
// (access_log buffer-size, 64 KB by default) and then drop lines (with
// on-error=drop).
const gatherBytes = readChunk

// gatherer paces the reads of one connection. Gathering, the kernel holds
// the lines until gatherBytes have come (SO_RCVLOWAT: neither the reader
// nor the runtime's poller wakes for each line) or the read deadline,
// interval away, passes; then one read takes them all. Eager, a read
// returns as soon as a byte comes: while a watch waits for lines, and on a
// connection with nothing to gather (an interval without a byte), where a
// deadline every interval would be wakeups for nothing.
type gatherer struct {
	conn           net.Conn
	hub            *Hub
	interval, idle time.Duration

	raw        syscall.RawConn // nil: no low-water mark to set; always eager
	toGather   func(fd uintptr)
	toEager    func(fd uintptr)
	setErr     error
	gathering  bool      // the low-water mark is gatherBytes
	quiet      bool      // an interval passed without a byte, or nothing read yet
	fresh      bool      // bytes read since the last deadline passed
	last       time.Time // bytes last read
	registered bool      // with the hub, which can cut a gathering read short
}

func newGatherer(conn net.Conn, hub *Hub, interval, idle time.Duration) *gatherer {
	return &gatherer{conn: conn, hub: hub, interval: interval, idle: idle, quiet: true, last: time.Now()}
}

// start lets the connection gather from now on, if it can.
func (g *gatherer) start() {
	sc, ok := g.conn.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	g.raw = raw
	g.toGather = func(fd uintptr) {
		g.setErr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, gatherBytes)
	}
	g.toEager = func(fd uintptr) {
		g.setErr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, 1)
	}
	g.hub.addReader(g.conn)
	g.registered = true
}

// stop forgets the connection.
func (g *gatherer) stop() {
	if g.registered {
		g.hub.removeReader(g.conn)
	}
}

// arm sets the connection up for its next read. The deadline is set before
// the hub is asked whether a watch waits: a watch that starts waiting
// after that question moves the deadline to now (Hub.startWaiting), one
// that started before it is seen.
func (g *gatherer) arm(now time.Time) {
	eager := g.raw == nil || g.quiet || g.hub.waiting.Load() > 0
	for {
		g.setGathering(!eager)
		if eager {
			g.conn.SetReadDeadline(g.last.Add(g.idle))
			return
		}
		deadline := now.Add(g.interval)
		if idle := g.last.Add(g.idle); idle.Before(deadline) {
			deadline = idle
		}
		g.conn.SetReadDeadline(deadline)
		if g.hub.waiting.Load() == 0 {
			return
		}
		eager = true
	}
}

// setGathering sets the low-water mark, when it changes.
func (g *gatherer) setGathering(on bool) {
	if g.raw == nil || g.gathering == on {
		return
	}
	set := g.toEager
	if on {
		set = g.toGather
	}
	if err := g.raw.Control(set); err != nil || g.setErr != nil {
		g.raw = nil // cannot gather: read lines as they come
		return
	}
	g.gathering = on
}

// read notes n bytes read at now.
func (g *gatherer) read(n int, now time.Time) {
	if n > 0 {
		g.last, g.quiet, g.fresh = now, false, true
	}
}

// due says whether err, from a read at now, only means that a read is due:
// a gathering deadline passed, or a watch started waiting. Otherwise the
// connection has ended, or been idle for the idle timeout.
func (g *gatherer) due(err error, now time.Time) bool {
	if !errors.Is(err, os.ErrDeadlineExceeded) || !now.Before(g.last.Add(g.idle)) {
		return false
	}
	if g.gathering {
		g.quiet = !g.fresh
		g.fresh = false
	}
	return true
}
