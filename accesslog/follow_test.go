package accesslog

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/testio"
)

// line returns a native log line whose URL ends in /obj/<n>.
func line(n int) string {
	return fmt.Sprintf("1795472260.576      0 127.0.0.1 TCP_MEM_HIT/200 322 GET http://origin.test/obj/%d - HIER_NONE/- text/plain\n", n)
}

// collect opens a watch for every line.
func collect(hub *Hub) *Watch { return hub.Watch(func(*Entry) bool { return true }) }

func waitFor(t *testing.T, w *Watch, n int) []Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := w.Wait(ctx, func(r []Record) bool { return len(r) >= n })
	if err != nil {
		t.Fatalf("got %d lines, want %d: %v", len(got), n, err)
	}
	return got
}

func startFollower(t *testing.T, path string) (*Follower, *Hub) {
	hub := &Hub{}
	f := &Follower{Path: path, Hub: hub, Poll: 5 * time.Millisecond, Logger: log.NewNopLogger()}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := f.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return f, hub
}

func appendTo(t *testing.T, path, text string) {
	t.Helper()
	file, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	file.WriteString(text)
}

func urls(records []Record) string {
	var s []string
	for _, r := range records {
		s = append(s, r.URL[strings.LastIndex(r.URL, "/")+1:])
	}
	return strings.Join(s, ",")
}

// Start says at once when the log cannot be read; only a file that does
// not exist yet is waited for.
func TestFollowerStartErrors(t *testing.T) {
	f := &Follower{Path: "/dev/null/access.log", Hub: &Hub{}, Logger: log.NewNopLogger()}
	if err := f.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "/dev/null/access.log") {
		t.Errorf("a path that can never be a file: %v", err)
	}
}

func TestFollower(t *testing.T) {
	tests := []struct {
		name   string
		before string                               // in the file before following starts
		steps  func(t *testing.T, path, dir string) // while following
		want   string                               // object numbers seen, in order
	}{
		{"starts at the end", line(0), func(t *testing.T, path, _ string) {
			appendTo(t, path, line(1)+line(2))
		}, "1,2"},
		{"assembles a line written in pieces", "", func(t *testing.T, path, _ string) {
			l := line(1)
			appendTo(t, path, l[:20])
			time.Sleep(20 * time.Millisecond)
			appendTo(t, path, l[20:])
		}, "1"},
		{"rotation by rename", "", func(t *testing.T, path, dir string) {
			appendTo(t, path, line(1))
			time.Sleep(20 * time.Millisecond)
			appendTo(t, path, line(2)) // written just before the rename: still read
			os.Rename(path, filepath.Join(dir, "access.log.0"))
			appendTo(t, path, line(3))
		}, "1,2,3"},
		{"rotation by rename, flushed to the old file before the new one exists", "", func(t *testing.T, path, dir string) {
			old := filepath.Join(dir, "access.log.0")
			appendTo(t, path, line(1))
			os.Rename(path, old)
			time.Sleep(100 * time.Millisecond) // polls that find no file
			appendTo(t, old, line(2))          // squid -k rotate flushes its buffer, then reopens
			appendTo(t, path, line(3))
		}, "1,2,3"},
		{"rotation by logrotate's create: the new file exists before Squid reopens", "", func(t *testing.T, path, dir string) {
			old := filepath.Join(dir, "access.log.0")
			appendTo(t, path, line(1))
			os.Rename(path, old)
			appendTo(t, path, "") // logrotate creates the new, empty file
			time.Sleep(50 * time.Millisecond)
			appendTo(t, old, line(2)) // Squid still writes to the old one
			time.Sleep(50 * time.Millisecond)
			appendTo(t, path, line(3)) // then reopens
		}, "1,2,3"},
		{"rotation by truncation", "", func(t *testing.T, path, _ string) {
			appendTo(t, path, line(1)+line(2))
			time.Sleep(20 * time.Millisecond)
			os.Truncate(path, 0)
			time.Sleep(20 * time.Millisecond)
			appendTo(t, path, line(3))
		}, "1,2,3"},
		{"file created later", "-", func(t *testing.T, path, _ string) {
			appendTo(t, path, line(1))
		}, "1"},
		{"an over-long line is dropped, the next one kept", "", func(t *testing.T, path, _ string) {
			appendTo(t, path, strings.Repeat("x", maxLine+10)+"\n"+line(1))
		}, "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "access.log")
			if tt.before != "-" {
				appendTo(t, path, tt.before)
			}
			_, hub := startFollower(t, path)
			w := collect(hub)
			defer w.Close()
			tt.steps(t, path, dir)
			want := strings.Count(tt.want, ",") + 1
			if got := urls(waitFor(t, w, want)); got != tt.want {
				t.Errorf("lines seen: %s, want %s", got, tt.want)
			}
		})
	}
}

func TestReceiverEchoesAndPublishes(t *testing.T) {
	hub := &Hub{}
	w := collect(hub)
	var echo testio.SyncBuffer
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Receiver{Hub: hub, Echo: &echo, Logger: log.NewNopLogger()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Serve(ctx, l)

	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	const marker = "6a7d4f92cf485732cee3e58b94ab7032"
	fmt.Fprint(conn, line(1)+"not a log line\n"+line(2)+strings.TrimSuffix(line(3), "\n")+" "+marker+"\n")
	conn.Close()
	if got := urls(waitFor(t, w, 3)); got != "1,2,3" {
		t.Errorf("lines: %s", got)
	}
	if !strings.Contains(echo.String(), "not a log line\n") || strings.Count(echo.String(), "\n") != 4 {
		t.Errorf("echo: %q", echo.String())
	}
	// A round's marker is its secret while it runs: the echo masks it.
	if strings.Contains(echo.String(), marker) || !strings.Contains(echo.String(), strings.TrimSuffix(line(3), "\n")+" -\n") {
		t.Errorf("echo of a marked line: %q", echo.String())
	}
	if hub.Malformed.Load() != 1 {
		t.Errorf("malformed = %d, want 1", hub.Malformed.Load())
	}
}

// TestBusyLogLosesNothing sends 50,000 lines a second for two seconds, over
// TCP and into a followed file, and checks that every line arrives and that
// memory does not grow with the number of lines.
func TestBusyLogLosesNothing(t *testing.T) {
	const rate, seconds = 50000, 2
	const total = rate * seconds
	t.Run("tcp receiver", func(t *testing.T) {
		hub := &Hub{}
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go (&Receiver{Hub: hub, Logger: log.NewNopLogger()}).Serve(ctx, l)
		conn, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		heap := heapGrowth(func() { generate(conn, rate, seconds); conn.Close() }, func() bool { return hub.Lines.Load() >= total })
		checkBusy(t, hub, total, heap)
	})
	t.Run("followed file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "access.log")
		appendTo(t, path, "")
		_, hub := startFollower(t, path)
		file, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		defer file.Close()
		heap := heapGrowth(func() { generate(file, rate, seconds) }, func() bool { return hub.Lines.Load() >= total })
		checkBusy(t, hub, total, heap)
	})
}

// generate writes rate lines a second, in 10 ms batches.
func generate(w interface{ Write([]byte) (int, error) }, rate, seconds int) {
	batch := rate / 100
	var buf bytes.Buffer
	start := time.Now()
	for i := 0; i < rate*seconds; i += batch {
		buf.Reset()
		for j := 0; j < batch; j++ {
			buf.WriteString(line(i + j))
		}
		w.Write(buf.Bytes())
		time.Sleep(time.Until(start.Add(time.Duration(i+batch) * time.Second / time.Duration(rate))))
	}
}

// heapGrowth runs load and waits until done, and returns how much the live
// heap grew.
func heapGrowth(load func(), done func() bool) int64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	load()
	for deadline := time.Now().Add(5 * time.Second); !done() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	return int64(after.HeapAlloc) - int64(before.HeapAlloc)
}

func checkBusy(t *testing.T, hub *Hub, total int, heap int64) {
	t.Helper()
	if got := hub.Lines.Load(); got != uint64(total) || hub.Malformed.Load() != 0 {
		t.Errorf("lines = %d (malformed %d), want %d", got, hub.Malformed.Load(), total)
	}
	t.Logf("live heap grew by %d bytes over %d lines", heap, total)
	if heap > 1<<20 {
		t.Errorf("live heap grew by %d bytes: memory is not bounded", heap)
	}
}
