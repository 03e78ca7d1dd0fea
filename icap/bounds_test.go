package icap

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/squid-cache-exporter/squid-cache-exporter/cdnurl"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/testio"
)

// hostileSize is what each hostile client tries to send.
const hostileSize = 64 << 20

// maxHeapGrowth bounds what one hostile connection may add to the live heap.
const maxHeapGrowth = 8 << 20

// startServer runs s on a loopback port until the test ends, logging into
// the returned buffer.
func startServer(t *testing.T, s *Server) (string, *testio.SyncBuffer) {
	t.Helper()
	logs := &testio.SyncBuffer{}
	s.URLs, _ = cdnurl.New(pattern)
	s.Logger = log.NewLogfmtLogger(logs)
	s.Metrics = NewMetrics(prometheus.NewRegistry())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx, l); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return l.Addr().String(), logs
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// heapInuse is the heap in use once garbage is collected.
func heapInuse() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// sendHostile writes prefix, then unit again and again, up to hostileSize
// bytes or until the service stops reading. It returns how much went.
func sendHostile(conn net.Conn, prefix, unit string) int {
	block := []byte(strings.Repeat(unit, max(1, (64<<10)/len(unit))))
	conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	n, err := io.WriteString(conn, prefix)
	for err == nil && n < hostileSize {
		var m int
		m, err = conn.Write(block)
		n += m
	}
	return n
}

// closedOrRefused reads what the service answers a hostile client: a 400,
// or nothing but the end of the connection.
func closedOrRefused(t *testing.T, conn net.Conn) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(conn)
	if isTimeout(err) {
		t.Fatal("the connection is still open")
	}
	if len(b) > 0 && !strings.HasPrefix(string(b), "ICAP/1.0 400 Bad Request\r\n") {
		t.Errorf("answer to a hostile request: %q", b)
	}
}

// stillServes checks that a new connection gets OPTIONS and REQMOD answered.
func stillServes(t *testing.T, addr string) {
	t.Helper()
	conn := dial(t, addr)
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	io.WriteString(conn, "OPTIONS icap://127.0.0.1:1344/reqmod ICAP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
	if head := readHead(t, r); !strings.HasPrefix(head, "ICAP/1.0 200 OK\r\n") || !strings.Contains(head, "Methods: REQMOD") {
		t.Errorf("OPTIONS after a hostile client:\n%s", head)
	}
	io.WriteString(conn, captured(t))
	if head := readHead(t, r); !strings.HasPrefix(head, "ICAP/1.0 200 OK\r\n") {
		t.Errorf("REQMOD after a hostile client:\n%s", head)
	}
}

// TestHostileRequestsAreCutOff sends 64 MiB where Squid sends a few hundred
// bytes. The service must stop reading at its bounds, hold little memory
// meanwhile, log it, and go on serving others.
func TestHostileRequestsAreCutOff(t *testing.T) {
	if testing.Short() {
		t.Skip("testing.Short: sends 64 MiB a case")
	}
	const options = "OPTIONS icap://127.0.0.1/reqmod ICAP/1.0\r\n"
	post := reqmod("POST https://origin.test/upload HTTP/1.1\r\nHost: origin.test\r\n\r\n", "req-body", "")
	tests := []struct{ name, prefix, unit string }{
		{"endless request line", "OPTIONS icap://127.0.0.1/", "a"},
		{"endless header line", options + "X-Junk: ", "a"},
		{"endless header lines", options, "X-Junk: a\r\n"},
		{"one huge chunk", post + "4000000\r\n", "a"},
		{"endless small chunks", post, "1000\r\n" + strings.Repeat("a", 0x1000) + "\r\n"},
		{"endless chunk extension", post + "0;x=", "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, logs := startServer(t, &Server{})
			before := heapInuse()
			conn := dial(t, addr)
			sent := sendHostile(conn, tt.prefix, tt.unit)
			growth := heapInuse() - before // the connection is still open
			t.Logf("heap in use: %.1f MiB before, grew %.2f MiB; %.1f of %d MiB sent before the service stopped reading",
				float64(before)/(1<<20), float64(growth)/(1<<20), float64(sent)/(1<<20), hostileSize>>20)
			if sent >= hostileSize {
				t.Errorf("the service read all %d bytes", sent)
			}
			if growth > maxHeapGrowth {
				t.Errorf("heap in use grew by %d bytes, over %d", growth, maxHeapGrowth)
			}
			closedOrRefused(t, conn)
			if !strings.Contains(logs.String(), "closing the connection") {
				t.Errorf("nothing logged:\n%s", logs.String())
			}
			stillServes(t, addr)
		})
	}
}

// TestSlowRequestsAreCutOff: a client sending a byte at a time loses its
// connection once RequestTimeout has passed since its first byte, while a
// connection that merely idles is kept until IdleTimeout.
func TestSlowRequestsAreCutOff(t *testing.T) {
	const requestTimeout = 200 * time.Millisecond
	addr, logs := startServer(t, &Server{RequestTimeout: requestTimeout, IdleTimeout: 10 * time.Second})

	slow := dial(t, addr)
	start := time.Now()
	stopped := make(chan error, 1)
	go func() { // a slowloris: one byte every 10 ms, for ever
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for b := []byte("OPTIONS icap://127.0.0.1/reqmod ICAP/1.0\r\nX-Slow: "); ; <-tick.C {
			if _, err := slow.Write(b[:1]); err != nil {
				stopped <- err
				return
			}
			if len(b) > 1 {
				b = b[1:]
			}
		}
	}()
	closedOrRefused(t, slow)
	if took := time.Since(start); took < requestTimeout || took > 5*time.Second {
		t.Errorf("the slow request was cut off after %v; its timeout is %v", took, requestTimeout)
	}
	slow.Close()
	<-stopped
	if !strings.Contains(logs.String(), "not read in time") {
		t.Errorf("nothing logged:\n%s", logs.String())
	}

	idle := dial(t, addr)
	time.Sleep(3 * requestTimeout) // the idling under test, not synchronisation
	idle.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(idle, "OPTIONS icap://127.0.0.1/reqmod ICAP/1.0\r\n\r\n")
	if head := readHead(t, bufio.NewReader(idle)); !strings.HasPrefix(head, "ICAP/1.0 200 OK\r\n") {
		t.Errorf("an idle connection was not served:\n%s", head)
	}
}

func TestIdleConnectionsAreClosed(t *testing.T) {
	addr, _ := startServer(t, &Server{IdleTimeout: 100 * time.Millisecond})
	conn := dial(t, addr)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("an idle connection was not closed: %v", err)
	}
}

// Connections over MaxConns are closed at once, and OPTIONS advertises the
// same number.
func TestConnectionLimit(t *testing.T) {
	addr, logs := startServer(t, &Server{MaxConns: 2})
	for range 2 {
		conn := dial(t, addr)
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(conn, "OPTIONS icap://127.0.0.1/reqmod ICAP/1.0\r\n\r\n")
		if head := readHead(t, bufio.NewReader(conn)); !strings.Contains(head, "Max-Connections: 2\r\n") {
			t.Errorf("OPTIONS:\n%s", head)
		}
	}
	over := dial(t, addr)
	over.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := over.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("a connection over the limit was not closed: %v", err)
	}
	if !strings.Contains(logs.String(), "reason=limit") {
		t.Errorf("nothing logged:\n%s", logs.String())
	}
}
