package cachemgr_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/cachemgr"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
)

// Alive is the chart's liveness probe: it must tell a serving Squid from a
// hung one (which still accepts TCP connections) and from anything else.
func TestAlive(t *testing.T) {
	squid := squidtest.Start(t, squidtest.Options{Password: "secret"})
	addr := strings.TrimPrefix(squid.URL, "http://")
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	check := func(addr string) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return cachemgr.Alive(ctx, addr)
	}
	if err := check(addr); err != nil {
		t.Errorf("a serving Squid: %v", err)
	}
	for name, addr := range map[string]string{
		"another HTTP server": strings.TrimPrefix(other.URL, "http://"),
		"nothing listening":   closedAddr,
	} {
		if err := check(addr); err == nil {
			t.Errorf("%s: alive, want an error", name)
		}
	}
	squid.Pause() // its socket still completes handshakes
	defer squid.Resume()
	if err := check(addr); err == nil || !strings.Contains(err.Error(), "did not answer") {
		t.Errorf("a stopped Squid: %v, want did not answer", err)
	}
}

// Drain is the chart's preStop: it returns once the downloads under way
// are done, not before, and says how many are left at its deadline.
func TestDrain(t *testing.T) {
	release := make(chan struct{})
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "2")
		w.Write([]byte("a"))
		w.(http.Flusher).Flush()
		<-release
		w.Write([]byte("b"))
	}))
	defer origin.Close()
	defer close(release)
	squid := squidtest.Start(t, squidtest.Options{Password: "secret", PasswordActions: []string{"active_requests"}})
	client, err := cachemgr.NewClient(squid.URL, "secret")
	if err != nil {
		t.Fatal(err)
	}
	drain := func(d time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		return client.Drain(ctx, 50*time.Millisecond)
	}
	if err := drain(5 * time.Second); err != nil {
		t.Fatalf("an idle Squid: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		resp, err := squid.Client().Get(origin.URL + "/slow")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		done <- err
	}()
	time.Sleep(300 * time.Millisecond) // the download is under way
	if err := drain(time.Second); err == nil || !strings.Contains(err.Error(), "1 client requests still under way") {
		t.Errorf("during a download: %v, want 1 still under way", err)
	}
	go func() { time.Sleep(500 * time.Millisecond); release <- struct{}{} }()
	start := time.Now()
	if err := drain(10 * time.Second); err != nil {
		t.Errorf("after the download: %v", err)
	}
	if waited := time.Since(start); waited < 400*time.Millisecond {
		t.Errorf("drained after %v, before the download ended", waited)
	}
	if err := <-done; err != nil {
		t.Errorf("the download: %v", err)
	}
}
