package prober

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// idleTimeout closes a pooled connection before Squid does: its
// client_idle_pconn_timeout is 2 minutes by default, and a request sent on
// a connection Squid is closing fails.
const idleTimeout = 90 * time.Second

// transport is the one connection pool every round of p uses. A transport
// per round leaked: its idle connections, each with two goroutines and a
// descriptor, stayed open for good. Closing them at each round's end would
// also do, but would cost Squid an ssl-bump handshake per host per round;
// a shared pool keeps a few connections, and none past idleTimeout.
func (p *Prober) transport() http.RoundTripper {
	p.baseOnce.Do(func() {
		dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
		p.base = &http.Transport{
			Proxy:               http.ProxyURL(p.Proxy),
			DialContext:         countConnects(dialer.DialContext),
			TLSClientConfig:     tlsConfig(p.RootCAs),
			TLSHandshakeTimeout: 10 * time.Second,
			IdleConnTimeout:     idleTimeout,
			DisableCompression:  true, // the digest is of the bytes as stored
		}
	})
	if p.wrapBase != nil {
		return p.wrapBase(p.base)
	}
	return p.base
}

// connectsKey holds, in a round's context, the counter of requests Squid
// counts for it.
type connectsKey struct{}

// countConnects adds each connection to Squid to the counter of the round
// that dialed it: the CONNECT sent on it is a request Squid counts. Counted
// here, and not when a request gets the connection, a connection dialed
// for one round but handed to another or to the pool counts exactly once.
func countConnects(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if sent, ok := ctx.Value(connectsKey{}).(*atomic.Int64); ok && err == nil {
			sent.Add(1)
		}
		return conn, err
	}
}

func tlsConfig(roots *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
}
