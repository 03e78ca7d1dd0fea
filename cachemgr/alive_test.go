package cachemgr_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/cachemgr"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/squidtest"
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
