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
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
)

// startGatheringReceiver serves a receiver on hub with interval and returns a
// connection to it.
func startGatheringReceiver(t *testing.T, hub *Hub, interval time.Duration) net.Conn {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go (&Receiver{Hub: hub, Logger: log.NewNopLogger(), ReadInterval: interval}).Serve(ctx, l)
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// publishTimes is a tap that notes when each line was published.
type publishTimes struct {
	mu sync.Mutex
	at []time.Time
}

func (p *publishTimes) tap(*Entry) {
	p.mu.Lock()
	p.at = append(p.at, time.Now())
	p.mu.Unlock()
}

func (p *publishTimes) times() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.at...)
}

// Lines written one by one after a read wait for ReadInterval, and are then
// read together: one wakeup, not one a line.
func TestReceiverGathersLines(t *testing.T) {
	const interval = 300 * time.Millisecond
	var published publishTimes
	hub := &Hub{Tap: published.tap}
	conn := startGatheringReceiver(t, hub, interval)
	conn.Write([]byte(line(0))) // the first read takes one byte
	waitForLines(t, hub, 1)
	conn.Write([]byte(line(1)))
	waitForLines(t, hub, 2)
	for i := 2; i < 6; i++ {
		time.Sleep(10 * time.Millisecond)
		conn.Write([]byte(line(i)))
	}
	waitForLines(t, hub, 6)
	at := published.times()
	for i := 2; i < 6; i++ {
		if gap := at[i].Sub(at[1]); gap < interval-10*time.Millisecond {
			t.Errorf("line %d was read %v after line 1, before the read interval (%v) ended", i, gap, interval)
		}
	}
	if spread := at[5].Sub(at[2]); spread > 5*time.Millisecond {
		t.Errorf("lines 2 to 5 were read over %v: not in one read", spread)
	}
}

// A watch that waits has lines read as they come, whatever ReadInterval.
func TestWaitingWatchCutsTheReadIntervalShort(t *testing.T) {
	const interval = time.Minute
	t.Run("receiver", func(t *testing.T) {
		hub := &Hub{}
		conn := startGatheringReceiver(t, hub, interval)
		conn.Write([]byte(line(0) + line(1)))
		waitForLines(t, hub, 2) // the receiver now waits for its interval
		testWaitIsShort(t, hub, func(s string) { conn.Write([]byte(s)) })
	})
	t.Run("follower", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "access.log")
		appendTo(t, path, "")
		hub := &Hub{}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if err := (&Follower{Path: path, Hub: hub, Poll: interval, Logger: log.NewNopLogger()}).Start(ctx); err != nil {
			t.Fatal(err)
		}
		testWaitIsShort(t, hub, func(s string) { appendTo(t, path, s) })
	})
}

// testWaitIsShort writes a line, before and after a watch starts waiting
// for it, and wants it seen in far less than a minute.
func testWaitIsShort(t *testing.T, hub *Hub, write func(string)) {
	for _, before := range []bool{true, false} {
		n := 10
		if !before {
			n = 11
		}
		suffix := []byte(fmt.Sprintf("/obj/%d", n))
		w := hub.Watch(func(e *Entry) bool { return bytes.HasSuffix(e.URL, suffix) })
		start := time.Now()
		if before {
			write(line(n))
		} else {
			go func() { time.Sleep(20 * time.Millisecond); write(line(n)) }()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := w.Wait(ctx, func(r []Record) bool { return len(r) == 1 })
		cancel()
		w.Close()
		if err != nil {
			t.Fatalf("line written before the wait = %v: %v after %v", before, err, time.Since(start))
		}
	}
}

// A log that comes fast is read as fast as it comes: the kernel wakes the
// reader each time gatherBytes have come, not at the end of the interval.
func TestReceiverKeepsUpWithABurst(t *testing.T) {
	const interval = time.Second
	hub := &Hub{}
	conn := startGatheringReceiver(t, hub, interval)
	var burst bytes.Buffer
	for i := 0; burst.Len() < 32<<20; i++ {
		burst.WriteString(line(i))
	}
	n := strings.Count(burst.String(), "\n")
	start := time.Now()
	if _, err := conn.Write(burst.Bytes()); err != nil {
		t.Fatal(err)
	}
	waitForLines(t, hub, n)
	// Read at each interval, 32 MiB would take hundreds of them: what
	// gathers in one is the receive window, some 64 to 128 KiB.
	if took := time.Since(start); took > 3*interval {
		t.Errorf("%d lines (32 MiB) took %v to read, with a read interval of %v", n, took, interval)
	}
}

// Reading in batches allocates nothing a line: at Squid's pace, one line a
// write, over tcp:// and from a followed file.
func TestGatheredReadsAllocateNothingPerLine(t *testing.T) {
	const lines = 2000
	for _, source := range []string{"tcp", "file"} {
		t.Run(source, func(t *testing.T) {
			hub := &Hub{}
			var write func([]byte)
			if source == "tcp" {
				conn := startGatheringReceiver(t, hub, 20*time.Millisecond)
				write = func(b []byte) { conn.Write(b) }
			} else {
				path := filepath.Join(t.TempDir(), "access.log")
				appendTo(t, path, "")
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if err := (&Follower{Path: path, Hub: hub, Poll: 20 * time.Millisecond, Logger: log.NewNopLogger()}).Start(ctx); err != nil {
					t.Fatal(err)
				}
				f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				write = func(b []byte) { f.Write(b) }
			}
			text := []byte(line(0))
			write(text)
			waitForLines(t, hub, 1)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			for i := range lines {
				time.Sleep(time.Until(start.Add(time.Duration(i) * 100 * time.Microsecond)))
				write(text)
			}
			waitForLines(t, hub, 1+lines)
			runtime.ReadMemStats(&after)
			// A follower's look at the file (os.Stat) allocates: 10 of
			// them at most, 20 ms apart, while the lines are written.
			if allocs := after.Mallocs - before.Mallocs; allocs > lines/50 {
				t.Errorf("%d allocations for %d lines", allocs, lines)
			}
		})
	}
}

func waitForLines(t *testing.T, hub *Hub, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); hub.Lines.Load() < uint64(n); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d lines read, want %d", hub.Lines.Load(), n)
		}
	}
}
