package accesslog

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
)

// BenchmarkLogMatch is the prober's log match as the hub serves it: a
// round opens a watch, Squid logs its first pull, then its second, and the
// round waits for both lines. It reports the time from the second line's
// write to the wait's end, when the line is written just before the round
// waits (line-first) and 1 ms after (wait-first), on a quiet log and on one
// busy with 2,000 other lines a second, over tcp:// and a followed file at
// their default intervals. Rounds start at random moments, so that every
// phase of a source's reading is sampled.
func BenchmarkLogMatch(b *testing.B) {
	for _, source := range []string{"tcp", "file"} {
		for _, traffic := range []string{"quiet", "busy"} {
			for _, order := range []string{"line-first", "wait-first"} {
				b.Run(source+"/"+traffic+"/"+order, func(b *testing.B) {
					benchmarkLogMatch(b, source, traffic == "busy", order == "wait-first")
				})
			}
		}
	}
}

func benchmarkLogMatch(b *testing.B, source string, busy, waitFirst bool) {
	hub, w := matchFeed(b, source)
	if busy {
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			every := time.Second / 2000
			start := time.Now()
			for i := 0; ; i++ {
				time.Sleep(time.Until(start.Add(time.Duration(i) * every)))
				select {
				case <-stop:
					return
				default:
				}
				w.write(line(i))
			}
		}()
		defer func() { close(stop); <-done }()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var took []time.Duration
	for i := 0; b.Loop(); i++ {
		time.Sleep(time.Duration(rng.Int64N(int64(150 * time.Millisecond))))
		key := fmt.Sprintf("/round/%d/", i)
		watch := hub.Watch(func(e *Entry) bool { return strings.Contains(string(e.URL), key) })
		w.write(roundLine(key, 1))
		time.Sleep(3 * time.Millisecond) // the second pull
		var wrote time.Time
		var written sync.WaitGroup
		if waitFirst {
			written.Go(func() {
				time.Sleep(time.Millisecond)
				wrote = time.Now()
				w.write(roundLine(key, 2))
			})
		} else {
			wrote = time.Now()
			w.write(roundLine(key, 2))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := watch.Wait(ctx, func(r []Record) bool { return len(r) >= 2 })
		end := time.Now()
		cancel()
		written.Wait()
		watch.Close()
		if err != nil {
			b.Fatalf("round %d: %v", i, err)
		}
		took = append(took, end.Sub(wrote))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1e3, "p50-ms")
	b.ReportMetric(float64(took[len(took)-1].Microseconds())/1e3, "max-ms")
	b.ReportMetric(0, "ns/op")
}

func roundLine(key string, pull int) string {
	return fmt.Sprintf("1795472260.576      3 127.0.0.1 TCP_MEM_HIT/200 262547 GET https://registry.test%spull%d - HIER_NONE/- application/octet-stream\n", key, pull)
}

// lineWriter writes whole lines, one a write, from several goroutines.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) write(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.Write([]byte(s))
}

// matchFeed starts a source as the binary does, at its defaults, and
// returns its hub and a writer of its lines.
func matchFeed(b *testing.B, source string) (*Hub, *lineWriter) {
	hub := &Hub{}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	if source == "file" {
		path := filepath.Join(b.TempDir(), "access.log")
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			b.Fatal(err)
		}
		if err := (&Follower{Path: path, Hub: hub, Logger: log.NewNopLogger()}).Start(ctx); err != nil {
			b.Fatal(err)
		}
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { f.Close() })
		return hub, &lineWriter{w: f}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go (&Receiver{Hub: hub, Logger: log.NewNopLogger()}).Serve(ctx, l)
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return hub, &lineWriter{w: conn}
}
