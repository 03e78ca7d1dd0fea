package tcpserve

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/testio"
)

// fakeListener fails its first Accepts with EMFILE, as a process out of
// file descriptors does, then hands out the connections sent to it.
type fakeListener struct {
	failures int // Accept calls that fail first; only the accept loop reads it
	conns    chan net.Conn
	closed   chan struct{}
	once     sync.Once
}

func newFakeListener(failures int) *fakeListener {
	return &fakeListener{failures: failures, conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *fakeListener) Accept() (net.Conn, error) {
	if l.failures > 0 {
		l.failures--
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *fakeListener) Close() error   { l.once.Do(func() { close(l.closed) }); return nil }
func (l *fakeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// dial hands the listener one end of a pipe and returns the other.
func (l *fakeListener) dial(t *testing.T) net.Conn {
	t.Helper()
	client, server := net.Pipe()
	select {
	case l.conns <- server:
	case <-time.After(5 * time.Second):
		t.Fatal("the accept loop no longer accepts")
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// serve runs Serve on l until the test ends, and returns the connections
// handled; each stays open until release is closed.
func serve(t *testing.T, l net.Listener, o Options) (handled chan net.Conn, release chan struct{}) {
	handled, release = make(chan net.Conn, 16), make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Serve(ctx, l, func(c net.Conn) { handled <- c; <-release }, o)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-release:
		default:
			close(release)
		}
		<-done
	})
	return handled, release
}

func TestAcceptErrorsAreRetried(t *testing.T) {
	l := newFakeListener(4)
	var logs testio.SyncBuffer
	handled, _ := serve(t, l, Options{Logger: log.NewLogfmtLogger(&logs)})
	start := time.Now()
	l.dial(t)
	select {
	case <-handled:
	case <-time.After(5 * time.Second):
		t.Fatal("no connection handled after the accept errors")
	}
	// 5+10+20+40 ms of backoff: retried, neither given up nor spun.
	if took := time.Since(start); took < 75*time.Millisecond {
		t.Errorf("four failed accepts took %v: no backoff", took)
	}
	if got := logs.String(); !strings.Contains(got, "too many open files") || strings.Count(got, "\n") != 1 {
		t.Errorf("want one sampled log line about the error, got:\n%s", got)
	}
}

func TestRejections(t *testing.T) {
	tests := []struct {
		name   string
		opts   Options
		admits int // connections handled before the next is rejected
		reason string
	}{
		{"over the limit", Options{MaxConns: 2}, 2, RejectLimit},
		{"peer not allowed", Options{Allow: func(net.Addr) bool { return false }}, 0, RejectPeer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var reasons []string
			tt.opts.Rejected = func(r string) { mu.Lock(); reasons = append(reasons, r); mu.Unlock() }
			l := newFakeListener(0)
			handled, _ := serve(t, l, tt.opts)
			for range tt.admits {
				l.dial(t)
				<-handled
			}
			rejected := l.dial(t)
			rejected.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := rejected.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
				t.Errorf("the rejected connection was not closed: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(reasons) != 1 || reasons[0] != tt.reason {
				t.Errorf("rejections: %q, want [%s]", reasons, tt.reason)
			}
		})
	}
}

// A slot comes back when its connection ends. The slot is freed just after
// the handler returns, so a connection that races it may be rejected: the
// test dials until one is admitted.
func TestLimitFreesSlots(t *testing.T) {
	l := newFakeListener(0)
	handled := make(chan net.Conn, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go Serve(ctx, l, func(c net.Conn) { handled <- c; io.Copy(io.Discard, c) }, Options{MaxConns: 1})
	first := l.dial(t)
	<-handled
	first.Close()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		rejected := make(chan struct{})
		c := l.dial(t)
		go func() { c.Read(make([]byte, 1)); close(rejected) }()
		select {
		case <-handled:
			return
		case <-rejected:
		}
	}
	t.Fatal("the slot of a closed connection was not freed")
}

// Cancelling ctx closes the open connections and Serve returns.
func TestServeStopsWithContext(t *testing.T) {
	l := newFakeListener(0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Serve(ctx, l, func(c net.Conn) { io.Copy(io.Discard, c) }, Options{})
		close(done)
	}()
	l.dial(t)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
}
