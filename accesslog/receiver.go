package accesslog

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/tcpserve"
)

// Receiver accepts log lines from Squid's tcp logging module
// (access_log tcp://host:port squid), so a sidecar needs no shared file.
// Squid opens one connection per access_log line and sends one log line per
// request over it. Anyone who can connect could forge lines or hold
// connections open, so it admits only AllowedPeers, at most MaxConns at a
// time, closes a connection silent for IdleTimeout, and, with TokenFile,
// closes one at its first line that lacks Squid's token.
type Receiver struct {
	Hub    *Hub
	Echo   io.Writer // when set, every line is copied here (so kubectl logs still shows it)
	Logger log.Logger

	// AllowedPeers may send lines; empty means the loopback only
	// (127.0.0.0/8 and ::1), where a sidecar's Squid is. A connection from
	// anywhere else is closed at once.
	AllowedPeers []netip.Prefix
	// MaxConns is the open connections at most; 0 is DefaultMaxConns. One
	// over it is closed at once.
	MaxConns int
	// IdleTimeout closes a connection that has sent nothing for so long;
	// 0 is DefaultIdleTimeout.
	IdleTimeout time.Duration
	// ReadInterval is how long lines gather in a connection between
	// reads, unless 32 KiB come first; 0 is DefaultReadInterval. While a
	// watch waits, lines are read as they come.
	ReadInterval time.Duration
	// TokenFile, when set, holds a token that Squid writes at start and
	// puts, with a space, before every line (logformat squid_probe TOKEN
	// ...): a peer that shares the loopback but not the file cannot forge
	// lines. It is read for each connection; a line without it closes the
	// connection, and the token is stripped from every other line.
	TokenFile string

	// Connections closed as soon as accepted: peer not allowed, or
	// MaxConns open.
	RejectedPeer, RejectedLimit atomic.Uint64
	// Connections closed for a line without the token, or because
	// TokenFile had none to check against.
	RejectedToken atomic.Uint64

	echoMu  sync.Mutex
	echoBuf []byte // guarded by echoMu
}

// DefaultMaxConns leaves room for many access_log lines and Squid workers
// (each SMP worker has its own connection per line) while bounding the
// memory idle connections hold.
const DefaultMaxConns = 64

// DefaultIdleTimeout is long because closing is not free: Squid notices a
// closed connection only when a write to it fails, and the record it wrote
// first is lost, so the receiver must not close a connection Squid means
// to use. A quiet proxy can go minutes without a request, and the prober
// sends one every interval (5 minutes by default) through it.
const DefaultIdleTimeout = time.Hour

// loopback is who may send lines when AllowedPeers is empty.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// readChunk is the read buffer of a connection once it has sent something.
const readChunk = 32 << 10

// Serve accepts connections on l until ctx ends or l is closed; it returns
// nil then. It does not stop on accept errors: it logs them and retries.
func (r *Receiver) Serve(ctx context.Context, l net.Listener) error {
	tcpserve.Serve(ctx, l, func(conn net.Conn) {
		level.Info(r.Logger).Log("msg", "squid connected to the access log receiver", "remote", conn.RemoteAddr())
		r.read(conn)
	}, tcpserve.Options{
		MaxConns: cmp.Or(r.MaxConns, DefaultMaxConns),
		Allow:    r.allowed,
		Rejected: r.count,
		Logger:   r.Logger,
	})
	return nil
}

// allowed says whether addr is in AllowedPeers.
func (r *Receiver) allowed(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip := tcp.AddrPort().Addr().Unmap()
	prefixes := r.AllowedPeers
	if len(prefixes) == 0 {
		prefixes = loopback
	}
	return slices.ContainsFunc(prefixes, func(p netip.Prefix) bool { return p.Contains(ip) })
}

func (r *Receiver) count(reason string) {
	switch reason {
	case tcpserve.RejectPeer:
		r.RejectedPeer.Add(1)
	case tcpserve.RejectLimit:
		r.RejectedLimit.Add(1)
	}
}

// read publishes the lines of one connection. It waits for the first bytes
// with a one-byte buffer, so that a connection that only idles costs its
// goroutine and little else. Squid sends each line in its own write, and
// a read per line would cost a wakeup per line: after those first bytes,
// lines gather for ReadInterval between reads (gatherer).
func (r *Receiver) read(conn net.Conn) {
	defer conn.Close()
	prefix, ok := r.linePrefix(conn)
	if !ok {
		return
	}
	var echo func([]byte, *Entry)
	if r.Echo != nil {
		echo = r.echo
	}
	lines := newSplitter(r.Hub, echo)
	lines.require = prefix
	idle := cmp.Or(r.IdleTimeout, DefaultIdleTimeout)
	g := newGatherer(conn, r.Hub, cmp.Or(r.ReadInterval, DefaultReadInterval), idle)
	defer g.stop()
	chunk := make([]byte, 1)
	for {
		g.arm(time.Now())
		n, err := conn.Read(chunk)
		lines.feed(chunk[:n])
		if lines.refused {
			r.refuseLine(conn)
			return
		}
		now := time.Now()
		g.read(n, now)
		if err != nil {
			if g.due(err, now) {
				continue
			}
			r.ended(conn, err, idle)
			return
		}
		if len(chunk) < readChunk {
			chunk = make([]byte, readChunk)
			g.start()
		}
	}
}

// ended logs why a connection ended, when that is news.
func (r *Receiver) ended(conn net.Conn, err error, idle time.Duration) {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed):
	case errors.As(err, &ne) && ne.Timeout():
		level.Info(r.Logger).Log("msg", "closing an idle access log connection", "remote", conn.RemoteAddr(), "idle", idle)
	default:
		level.Warn(r.Logger).Log("msg", "access log connection ended", "remote", conn.RemoteAddr(), "err", err)
	}
}

// ListenLoopbackDefault listens on addr. An address without a host
// (":5140") binds the loopback, 127.0.0.1, not every interface, as
// net.Listen would: the receiver trusts its peers' lines, so reaching
// beyond the pod or host must be asked for by naming the host ("0.0.0.0:5140")
// and setting AllowedPeers.
func ListenLoopbackDefault(addr string) (net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if host == "" {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	return net.Listen("tcp", addr)
}

// echo copies a line to Echo with its probe marker and any download token
// masked: the marker is the secret of a round under way, a token a client's
// credential, and the pod's log has other readers.
func (r *Receiver) echo(line []byte, e *Entry) {
	if e.Marker != nil {
		if i := bytes.LastIndex(line, e.Marker); i >= 0 {
			line = line[:i]
		}
	}
	r.echoMu.Lock()
	defer r.echoMu.Unlock()
	// One write per line: the process's own log shares the terminal or
	// file, and a line split across writes can have a log record inside.
	b := maskDownloadTokens(append(r.echoBuf[:0], line...))
	if e.Marker != nil {
		b = append(b, maskedMarker...)
	}
	r.echoBuf = append(b, '\n')
	r.Echo.Write(r.echoBuf)
}

var maskedMarker = []byte("-")
