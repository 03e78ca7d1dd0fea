package accesslog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/testio"
)

// startReceiver runs r on a loopback port until the test ends, logging into
// the returned buffer.
func startReceiver(t *testing.T, r *Receiver) (string, *testio.SyncBuffer) {
	t.Helper()
	logs := &testio.SyncBuffer{}
	r.Hub, r.Logger = &Hub{}, log.NewLogfmtLogger(logs)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Serve(ctx, l); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return l.Addr().String(), logs
}

// dialFrom connects to addr from the loopback address from.
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// waitClosed waits until the receiver closes conn: an EOF, or a reset when
// it had unread lines.
func waitClosed(t *testing.T, conn net.Conn) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := conn.Read(make([]byte, 1))
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the receiver did not close the connection: %v", err)
	}
}

// eventually polls cond, which has no channel to wait on, for up to 10 s.
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

func heapInuse() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// admittedConn dials until the receiver keeps a connection: one that races
// the release of a slot may be closed at once.
func admittedConn(t *testing.T, addr string) net.Conn {
	t.Helper()
	for range 100 {
		conn := dialFrom(t, "127.0.0.1", addr)
		conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		_, err := conn.Read(make([]byte, 1))
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return conn
		}
		conn.Close()
	}
	t.Fatal("no connection admitted")
	return nil
}

// TestIdleConnectionsAreBounded opens 1,500 connections that send nothing,
// as a hostile local client could. Memory stays bounded, and Squid's lines
// are still counted, on its connection open before the flood and on a new
// one after it.
func TestIdleConnectionsAreBounded(t *testing.T) {
	const flood, maxGrowth = 1500, 16 << 20
	tests := []struct {
		name     string
		maxConns int
		admitted int // of the flood; Squid's connection takes one slot
	}{
		{"default limit", 0, DefaultMaxConns - 1},
		{"no limit to speak of", 2 * flood, flood}, // what idle connections cost
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Receiver{MaxConns: tt.maxConns}
			addr, _ := startReceiver(t, r)
			w := collect(r.Hub)
			squid := admittedConn(t, addr)
			goroutines, before := runtime.NumGoroutine(), heapInuse()
			var idle []net.Conn
			for range flood {
				idle = append(idle, dialFrom(t, "127.0.0.1", addr))
			}
			rejected := uint64(flood - tt.admitted)
			if !eventually(func() bool {
				return r.RejectedLimit.Load() == rejected && runtime.NumGoroutine() >= goroutines+tt.admitted
			}) {
				t.Fatalf("%d connections rejected, want %d", r.RejectedLimit.Load(), rejected)
			}
			growth := heapInuse() - before
			t.Logf("heap in use: %.1f MiB before %d idle connections (%d admitted), grew %.2f MiB",
				float64(before)/(1<<20), flood, tt.admitted, float64(growth)/(1<<20))
			if growth > maxGrowth {
				t.Errorf("heap in use grew by %d bytes, over %d", growth, maxGrowth)
			}

			fmt.Fprint(squid, line(1))
			waitFor(t, w, 1)
			for _, c := range idle {
				c.Close()
			}
			fmt.Fprint(admittedConn(t, addr), line(2))
			if got := urls(waitFor(t, w, 2)); got != "1,2" {
				t.Errorf("lines: %s", got)
			}
		})
	}
}

// Only AllowedPeers may send lines. Linux routes all of 127.0.0.0/8 to
// the loopback, so a test can dial from two loopback addresses.
func TestAllowedPeers(t *testing.T) {
	only9 := []netip.Prefix{netip.MustParsePrefix("127.0.0.9/32")}
	tests := []struct {
		name    string
		allowed []netip.Prefix
		from    string
		admit   bool
	}{
		{"loopback by default", nil, "127.0.0.1", true},
		{"an allowed peer", only9, "127.0.0.9", true},
		{"a peer not allowed", only9, "127.0.0.1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Receiver{AllowedPeers: tt.allowed}
			addr, logs := startReceiver(t, r)
			w := collect(r.Hub)
			conn := dialFrom(t, tt.from, addr)
			fmt.Fprint(conn, line(1))
			if tt.admit {
				waitFor(t, w, 1)
				return
			}
			waitClosed(t, conn)
			for range 20 { // a flood is counted, not logged line by line
				waitClosed(t, dialFrom(t, tt.from, addr))
			}
			if n := r.Hub.Lines.Load(); n != 0 {
				t.Errorf("%d lines from a peer not allowed were read", n)
			}
			if n := r.RejectedPeer.Load(); n != 21 {
				t.Errorf("rejected %d connections, want 21", n)
			}
			if got := logs.String(); strings.Count(got, "reason=peer") != 1 || !strings.Contains(got, "remote=127.0.0.1:") {
				t.Errorf("want one warning naming the peer, got:\n%s", got)
			}
		})
	}
}

func TestIdleTimeoutClosesConnections(t *testing.T) {
	r := &Receiver{IdleTimeout: 100 * time.Millisecond}
	addr, logs := startReceiver(t, r)
	w := collect(r.Hub)
	conn := dialFrom(t, "127.0.0.1", addr)
	fmt.Fprint(conn, line(1))
	waitFor(t, w, 1)
	waitClosed(t, conn)
	if !strings.Contains(logs.String(), "closing an idle access log connection") {
		t.Errorf("nothing logged:\n%s", logs.String())
	}
}

func TestListenLoopbackDefault(t *testing.T) {
	tests := []struct{ addr, host string }{
		{":0", "127.0.0.1"},
		{"127.0.0.2:0", "127.0.0.2"},
		{"nonsense", ""},
	}
	for _, tt := range tests {
		l, err := ListenLoopbackDefault(tt.addr)
		if tt.host == "" {
			if err == nil {
				l.Close()
				t.Errorf("%q: no error", tt.addr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tt.addr, err)
		}
		if got := l.Addr().(*net.TCPAddr).IP.String(); got != tt.host {
			t.Errorf("%q listens on %s, want %s", tt.addr, got, tt.host)
		}
		l.Close()
	}
}
