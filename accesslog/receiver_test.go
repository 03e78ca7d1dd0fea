package accesslog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/testio"
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

// testToken is Squid's token in these tests: 32 hex digits, as the chart's
// start script writes.
const testToken = "5f0c9a1e7b3d42c8a6e19f047d2b8c3e"

// startTokenReceiver runs a receiver that wants the token in a file it
// returns, echoing into echo.
func startTokenReceiver(t *testing.T, token string) (r *Receiver, addr, file string, echo, logs *testio.SyncBuffer) {
	t.Helper()
	file = filepath.Join(t.TempDir(), "token")
	writeToken(t, file, token)
	echo = &testio.SyncBuffer{}
	r = &Receiver{TokenFile: file, Echo: echo}
	addr, logs = startReceiver(t, r)
	return r, addr, file, echo, logs
}

// writeToken writes the token as a shell's echo would, newline and all.
func writeToken(t *testing.T, file, token string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// tokened puts the token before each line, as logformat squid_probe TOKEN
// ... does.
func tokened(token string, lines ...string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(token + " " + l)
	}
	return b.String()
}

// stillOpen says whether the receiver keeps conn open.
func stillOpen(conn net.Conn) bool {
	conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	_, err := conn.Read(make([]byte, 1))
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// checkNoSecret fails the test if the token reached the echo or the log.
func checkNoSecret(t *testing.T, token string, outputs map[string]*testio.SyncBuffer) {
	t.Helper()
	for name, out := range outputs {
		if strings.Contains(out.String(), token) {
			t.Errorf("the token reached the %s:\n%s", name, out.String())
		}
	}
}

// With a token file, a connection's lines must each begin with the token
// and a space; the first that does not closes the connection, and neither
// it nor anything after it is read.
func TestTokenGuardsEveryLine(t *testing.T) {
	tests := []struct {
		name string
		sent string
		want []int // the lines published, by number
		shut bool  // the receiver closes the connection
	}{
		{"tokened lines", tokened(testToken, line(1), line(2)), []int{1, 2}, false},
		{"no token", line(1), nil, true},
		{"a wrong token", tokened("0123456789abcdef0123456789abcdef", line(1)), nil, true},
		{"the token without the space", testToken + line(1), nil, true},
		{"a prefix of the token", tokened(testToken[:16], line(1)), nil, true},
		{"the token and a tab", testToken + "\t" + line(1), nil, true},
		{"good lines, then a bad one", tokened(testToken, line(1), line(2)) + line(3) + tokened(testToken, line(4)), []int{1, 2}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, addr, _, echo, logs := startTokenReceiver(t, testToken)
			w := collect(r.Hub)
			conn := dialFrom(t, "127.0.0.1", addr)
			fmt.Fprint(conn, tt.sent)
			var want, wantEcho []string
			for _, n := range tt.want {
				want, wantEcho = append(want, fmt.Sprint(n)), append(wantEcho, line(n))
			}
			if len(want) > 0 {
				waitFor(t, w, len(want))
			}
			var rejected uint64
			if tt.shut {
				waitClosed(t, conn)
				rejected = 1
			} else if !stillOpen(conn) {
				t.Error("the receiver closed a connection that sent only tokened lines")
			}
			// Closed or idle, the connection has nothing more to publish.
			if got := urls(w.Records()); got != strings.Join(want, ",") || r.Hub.Lines.Load() != uint64(len(want)) {
				t.Errorf("published %q (%d lines), want %q", got, r.Hub.Lines.Load(), want)
			}
			if got := echo.String(); got != strings.Join(wantEcho, "") {
				t.Errorf("echo:\n%s\nwant:\n%s", got, strings.Join(wantEcho, ""))
			}
			if n := r.RejectedToken.Load(); n != rejected {
				t.Errorf("rejected for the token: %d, want %d", n, rejected)
			}
			warnings := strings.Count(logs.String(), "reason=token")
			if uint64(warnings) != rejected || tt.shut && !strings.Contains(logs.String(), "remote=127.0.0.1:") {
				t.Errorf("want %d warnings naming the peer, got:\n%s", rejected, logs.String())
			}
			if strings.Contains(logs.String(), "origin.test") {
				t.Errorf("a line reached the log:\n%s", logs.String())
			}
			checkNoSecret(t, testToken, map[string]*testio.SyncBuffer{"echo": echo, "log": logs})
		})
	}
}

// Squid writes a new token each time it starts and opens new connections:
// a new connection needs the token in the file when it connects.
func TestTokenFileIsReadForEachConnection(t *testing.T) {
	const newToken = "c3b1e0f9d8a7465b8c2e1f0a9b8c7d6e"
	r, addr, file, echo, logs := startTokenReceiver(t, testToken)
	w := collect(r.Hub)
	old := dialFrom(t, "127.0.0.1", addr)
	fmt.Fprint(old, tokened(testToken, line(1)))
	waitFor(t, w, 1)

	writeToken(t, file, newToken)
	stale := dialFrom(t, "127.0.0.1", addr)
	fmt.Fprint(stale, tokened(testToken, line(2)))
	waitClosed(t, stale)
	fresh := dialFrom(t, "127.0.0.1", addr)
	fmt.Fprint(fresh, tokened(newToken, line(3)))
	if got := urls(waitFor(t, w, 2)); got != "1,3" {
		t.Errorf("lines: %s, want 1,3", got)
	}
	if n := r.RejectedToken.Load(); n != 1 {
		t.Errorf("rejected for the token: %d, want 1", n)
	}
	// A connection keeps the token it was accepted with, as its Squid does.
	fmt.Fprint(old, tokened(testToken, line(4)))
	if got := urls(waitFor(t, w, 3)); got != "1,3,4" {
		t.Errorf("lines: %s, want 1,3,4", got)
	}
	checkNoSecret(t, testToken, map[string]*testio.SyncBuffer{"echo": echo, "log": logs})
	checkNoSecret(t, newToken, map[string]*testio.SyncBuffer{"echo": echo, "log": logs})
}

// Without a token to check against, no line can prove itself: every
// connection is closed, and the log says which file to look at.
func TestNoTokenRefusesConnections(t *testing.T) {
	tests := []struct {
		name  string
		write func(t *testing.T, file string)
	}{
		{"missing", func(t *testing.T, file string) { os.Remove(file) }},
		{"empty", func(t *testing.T, file string) { writeToken(t, file, "") }},
		{"blank", func(t *testing.T, file string) { writeToken(t, file, "  \t") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, addr, file, echo, logs := startTokenReceiver(t, testToken)
			tt.write(t, file)
			conn := dialFrom(t, "127.0.0.1", addr)
			fmt.Fprint(conn, tokened(testToken, line(1)), tokened("", line(2)))
			waitClosed(t, conn)
			if n := r.Hub.Lines.Load(); n != 0 {
				t.Errorf("%d lines read", n)
			}
			if n := r.RejectedToken.Load(); n != 1 {
				t.Errorf("rejected for the token: %d, want 1", n)
			}
			if !strings.Contains(logs.String(), "level=warn") || !strings.Contains(logs.String(), "file="+file) {
				t.Errorf("want a warning naming %s, got:\n%s", file, logs.String())
			}
			checkNoSecret(t, testToken, map[string]*testio.SyncBuffer{"echo": echo, "log": logs})
		})
	}
}

// BenchmarkFeedWithToken is BenchmarkFeed with every line behind Squid's
// token, as a receiver with a TokenFile reads them: checking and cutting
// the token must cost little and allocate nothing.
func BenchmarkFeedWithToken(b *testing.B) {
	var log bytes.Buffer
	for _, l := range fixtureLines(b) {
		log.WriteString(testToken + " ")
		log.Write(l)
		log.WriteByte('\n')
	}
	hub := &Hub{}
	w := hub.Watch(func(e *Entry) bool { return bytes.Contains(e.URL, []byte("0123456789abcdef")) })
	defer w.Close()
	s := newSplitter(hub, nil)
	s.require = []byte(testToken + " ")
	b.ReportAllocs()
	b.SetBytes(int64(log.Len()))
	for b.Loop() {
		s.feed(log.Bytes())
	}
	if s.refused || hub.Malformed.Load() != 0 {
		b.Fatalf("refused %v, %d malformed", s.refused, hub.Malformed.Load())
	}
	b.ReportMetric(float64(hub.Lines.Load())/b.Elapsed().Seconds(), "lines/s")
}
