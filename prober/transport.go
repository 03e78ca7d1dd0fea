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

// pool is the one connection pool every round of a Prober uses, until
// SetRootCAs replaces it. A transport per round leaked: its idle
// connections, each with two goroutines and a descriptor, stayed open for
// good. Closing them at each round's end would also do, but would cost
// Squid an ssl-bump handshake per host per round; a shared pool keeps a few
// connections, and none past idleTimeout.
type pool struct {
	transport *http.Transport
	rounds    int  // rounds using it, under Prober.mu
	retired   bool // replaced: its connections close when its last round ends
}

func (p *Prober) newPool() *pool {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return &pool{transport: &http.Transport{
		Proxy:               http.ProxyURL(p.Proxy),
		DialContext:         countConnects(dialer.DialContext),
		TLSClientConfig:     tlsConfig(p.RootCAs),
		TLSHandshakeTimeout: 10 * time.Second,
		IdleConnTimeout:     idleTimeout,
		DisableCompression:  true, // the digest is of the bytes as stored
	}}
}

// acquire is the pool a round starts with; the round releases it at its end.
func (p *Prober) acquire() *pool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pool == nil {
		p.pool = p.newPool()
	}
	p.pool.rounds++
	return p.pool
}

func (p *Prober) release(pl *pool) {
	p.mu.Lock()
	pl.rounds--
	done := pl.retired && pl.rounds == 0
	p.mu.Unlock()
	if done {
		pl.transport.CloseIdleConnections()
	}
}

// SetRootCAs makes later rounds trust roots, on a new pool. The old pool's
// connections close when its last round ends: closed any earlier, a round
// under way would open new ones on it, and those would stay.
func (p *Prober) SetRootCAs(roots *x509.CertPool) {
	p.mu.Lock()
	p.RootCAs = roots
	old := p.pool
	p.pool = nil
	done := false
	if old != nil {
		old.retired = true
		done = old.rounds == 0
	}
	p.mu.Unlock()
	if done {
		// Also closes the connections that become idle after this.
		old.transport.CloseIdleConnections()
	}
}

// roundTripper is what a round's requests go through.
func (p *Prober) roundTripper(pl *pool) http.RoundTripper {
	if p.wrapBase != nil {
		return p.wrapBase(pl.transport)
	}
	return pl.transport
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
