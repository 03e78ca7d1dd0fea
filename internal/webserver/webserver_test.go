package webserver

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serve runs s, its timeouts shortened to timeout, on a loopback port until
// the test ends.
func serve(t *testing.T, h http.Handler, timeout time.Duration) string {
	t.Helper()
	s := New("", h, slog.Default())
	s.ReadHeaderTimeout, s.ReadTimeout, s.IdleTimeout = timeout, timeout, timeout
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return l.Addr().String()
}

func TestNewSetsTimeouts(t *testing.T) {
	s := New("127.0.0.1:0", nil, slog.Default())
	if s.ReadHeaderTimeout == 0 || s.ReadTimeout == 0 || s.IdleTimeout == 0 || s.WriteTimeout != 0 {
		t.Errorf("timeouts: header %v, read %v, idle %v, write %v", s.ReadHeaderTimeout, s.ReadTimeout, s.IdleTimeout, s.WriteTimeout)
	}
}

// A handler may run past ReadTimeout (the exporter's /probe does): the
// timeout bounds reading the request only.
func TestLongHandlersOutliveReadTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	canceled := make(chan bool, 1)
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			canceled <- true
		case <-time.After(5 * timeout):
			canceled <- false
			io.WriteString(w, "done")
		}
	}), timeout)
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if <-canceled || string(body) != "done" {
		t.Errorf("a handler running past ReadTimeout was cut off: %q", body)
	}
}

// A client that sends its header slowly, or nothing, loses the connection.
func TestSlowClientsAreCutOff(t *testing.T) {
	const timeout = 100 * time.Millisecond
	addr := serve(t, http.NotFoundHandler(), timeout)
	for _, sent := range []string{"", "GET / HTTP/1.1\r\nHost: x\r\n"} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(conn, sent)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		start := time.Now()
		_, err = bufio.NewReader(conn).ReadString('\n')
		if err == nil || strings.Contains(err.Error(), "timeout") || time.Since(start) > 2*time.Second {
			t.Errorf("after %q the connection was not closed: %v", sent, err)
		}
		conn.Close()
	}
}
