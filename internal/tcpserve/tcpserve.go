// Package tcpserve runs a TCP accept loop tied to a context, with the bounds
// a service that hostile clients can reach needs: a cap on open
// connections, a peer filter, and accept errors that are retried rather
// than fatal.
package tcpserve

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// Why a connection was closed as soon as it was accepted.
const (
	RejectPeer  = "peer"  // Options.Allow refused the peer
	RejectLimit = "limit" // Options.MaxConns connections were open
)

// Options bound and observe Serve. The zero value admits everyone and logs
// nothing.
type Options struct {
	MaxConns int                 // open connections at most; 0 is no limit
	Allow    func(net.Addr) bool // whether this peer may connect; nil allows all
	Rejected func(reason string) // told of every rejected connection, to count it
	Logger   log.Logger          // accept errors and rejections, at most one line a logEvery each
}

// Backoff after a failed Accept, as net/http's Server does: EMFILE and the
// like go away once connections close, so waiting beats both giving up and
// spinning.
const (
	minBackoff = 5 * time.Millisecond
	maxBackoff = time.Second
)

// logEvery bounds how often one kind of event is logged, so a flood of
// connections does not become a flood of log lines.
const logEvery = 10 * time.Second

// Serve accepts connections on l and handles each on its own goroutine
// until ctx ends or l is closed; then it closes l and every open
// connection, and returns once the handlers have. An Accept error does not
// stop it: it waits, logs, and tries again.
func Serve(ctx context.Context, l net.Listener, handle func(net.Conn), o Options) {
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	a := newAdmission(o)
	var wg sync.WaitGroup
	defer wg.Wait()
	var backoff time.Duration
	for {
		conn, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, minBackoff), maxBackoff)
			a.failures.log(o.Logger, "msg", "accept failed; retrying", "err", err, "retry_in", backoff)
			if !sleep(ctx, backoff) {
				return
			}
			continue
		}
		backoff = 0
		if !a.admit(conn) {
			conn.Close()
			continue
		}
		wg.Go(func() {
			defer a.release()
			stopConn := context.AfterFunc(ctx, func() { conn.Close() })
			defer stopConn()
			handle(conn)
		})
	}
}

// admission applies Options to each new connection.
type admission struct {
	o        Options
	slots    chan struct{} // holds one token per open connection; nil when unlimited
	failures sampled
	rejects  map[string]*sampled // by reason, so that one flood hides not the other
}

func newAdmission(o Options) *admission {
	a := &admission{o: o, rejects: map[string]*sampled{RejectPeer: {}, RejectLimit: {}}}
	if o.MaxConns > 0 {
		a.slots = make(chan struct{}, o.MaxConns)
	}
	return a
}

// admit says whether conn may be served; if so, release must follow once
// it is done with. The peer check comes first, so that refused peers never
// take a slot from allowed ones.
func (a *admission) admit(conn net.Conn) bool {
	if a.o.Allow != nil && !a.o.Allow(conn.RemoteAddr()) {
		a.reject(RejectPeer, conn)
		return false
	}
	if a.slots == nil {
		return true
	}
	select {
	case a.slots <- struct{}{}:
		return true
	default:
		a.reject(RejectLimit, conn)
		return false
	}
}

func (a *admission) release() {
	if a.slots != nil {
		<-a.slots
	}
}

func (a *admission) reject(reason string, conn net.Conn) {
	if a.o.Rejected != nil {
		a.o.Rejected(reason)
	}
	keyvals := []any{"msg", "connection rejected and closed", "reason", reason, "remote", conn.RemoteAddr()}
	if reason == RejectLimit {
		keyvals = append(keyvals, "max_conns", a.o.MaxConns)
	}
	a.rejects[reason].log(a.o.Logger, keyvals...)
}

// sleep waits for d, or until ctx ends; it reports whether to go on.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// sampled logs an event at most once a logEvery, saying how many like it
// were left out since. Only the accept loop uses it, so it needs no lock.
type sampled struct {
	next    time.Time
	skipped int
}

func (s *sampled) log(logger log.Logger, keyvals ...any) {
	if logger == nil {
		return
	}
	now := time.Now()
	if now.Before(s.next) {
		s.skipped++
		return
	}
	s.next = now.Add(logEvery)
	if s.skipped > 0 {
		keyvals = append(keyvals, "not_logged_since_last", s.skipped)
	}
	s.skipped = 0
	level.Warn(logger).Log(keyvals...)
}
