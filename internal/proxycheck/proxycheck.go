// Package proxycheck asks a proxy for a URL or a tunnel and reports what the
// proxy answered, byte-level, with no client-side policy in the way (Go's
// own transport never sends a request for localhost through a proxy). The
// tests of Squid's access rules use it: every forbidden destination must get
// Squid's denial.
package proxycheck

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// Result is the proxy's answer to one request.
type Result struct {
	Status     int    // the HTTP status the proxy answered with
	SquidError string // its X-Squid-Error header: "ERR_ACCESS_DENIED 0"
}

// Denied says whether Squid refused the request by its access rules.
func (r Result) Denied() bool {
	return r.Status == http.StatusForbidden && strings.HasPrefix(r.SquidError, "ERR_ACCESS_DENIED")
}

func (r Result) String() string { return fmt.Sprintf("%d %s", r.Status, r.SquidError) }

// Do sends one request through the proxy at proxyAddr (host:port): "GET" of
// an absolute URL, or "CONNECT" to host:port.
func Do(proxyAddr, method, target string, timeout time.Duration) (Result, error) {
	conn, err := net.DialTimeout("tcp", proxyAddr, timeout)
	if err != nil {
		return Result{}, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	host := target
	if method != http.MethodConnect {
		host = hostOf(target)
	}
	if _, err := fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", method, target, host); err != nil {
		return Result{}, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		return Result{}, fmt.Errorf("reading the answer to %s %s: %w", method, target, err)
	}
	resp.Body.Close()
	return Result{Status: resp.StatusCode, SquidError: resp.Header.Get("X-Squid-Error")}, nil
}

// hostOf is the authority of an absolute URL: "http://a:1/b" is "a:1".
func hostOf(url string) string {
	_, rest, ok := strings.Cut(url, "://")
	if !ok {
		return url
	}
	host, _, _ := strings.Cut(rest, "/")
	return host
}
