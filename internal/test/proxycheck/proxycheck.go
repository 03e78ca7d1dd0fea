// Package proxycheck asks a proxy for a URL or a tunnel and reports what the
// proxy answered, byte-level, with no client-side policy in the way (Go's
// own transport never sends a request for localhost through a proxy). The
// tests of Squid's access rules use it: every forbidden destination must get
// Squid's denial.
package proxycheck

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Result is the proxy's answer to one request.
type Result struct {
	Status     int    // the HTTP status the proxy answered with
	SquidError string // its X-Squid-Error header: "ERR_ACCESS_DENIED 0"
	// Tunnelled: the proxy answered a CONNECT with 200, and Status and
	// SquidError are the answer to a GET inside the tunnel. On an ssl-bump
	// port Squid answers a denied CONNECT so, then tells the client over
	// TLS, on its first request, without connecting anywhere.
	Tunnelled bool
}

// Denied says whether Squid refused the request by its access rules.
func (r Result) Denied() bool {
	return r.Status == http.StatusForbidden && strings.HasPrefix(r.SquidError, "ERR_ACCESS_DENIED")
}

func (r Result) String() string {
	if r.Tunnelled {
		return fmt.Sprintf("200 tunnel, inside it %d %s", r.Status, r.SquidError)
	}
	return fmt.Sprintf("%d %s", r.Status, r.SquidError)
}

// Do sends one request through the proxy at proxyAddr (host:port): "GET" (or
// another method) of an absolute URL, or "CONNECT" to host:port.
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
	r, err := ask(conn, method, target, host)
	if err != nil || method != http.MethodConnect || r.Status != http.StatusOK {
		return r, err
	}
	return insideTunnel(conn, target)
}

// Tunnel opens a CONNECT tunnel to target (host:port) through the proxy and
// returns it, ready for the client's first byte; a proxy answer other than
// 200 is an error that names it. The deadline of timeout stays set.
func Tunnel(proxyAddr, target string, timeout time.Duration) (net.Conn, error) {
	conn, err := net.DialTimeout("tcp", proxyAddr, timeout)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(timeout))
	r, err := ask(conn, http.MethodConnect, target, target)
	if err == nil && r.Status != http.StatusOK {
		err = fmt.Errorf("CONNECT %s: %s", target, r)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// insideTunnel speaks TLS in an open tunnel to target and asks for "/".
// The certificate is not checked: what matters is who answers.
func insideTunnel(conn net.Conn, target string) (Result, error) {
	name, _, _ := net.SplitHostPort(target)
	c := tls.Client(conn, &tls.Config{ServerName: name, InsecureSkipVerify: true})
	if err := c.Handshake(); err != nil {
		return Result{Tunnelled: true}, fmt.Errorf("a tunnel to %s: TLS: %w", target, err)
	}
	r, err := ask(c, http.MethodGet, "/", target)
	r.Tunnelled = true
	return r, err
}

// ask writes one request and reads the answer's status and Squid's error.
func ask(conn io.ReadWriter, method, target, host string) (Result, error) {
	if _, err := fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", method, target, host); err != nil {
		return Result{}, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		return Result{}, fmt.Errorf("reading the answer to %s %s: %w", method, target, err)
	}
	if method != http.MethodConnect || resp.StatusCode != http.StatusOK {
		resp.Body.Close()
	}
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
