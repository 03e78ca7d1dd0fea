package accesslog

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/tcpserve"
)

// Receiver accepts log lines from Squid's tcp logging module
// (access_log tcp://host:port squid), so a sidecar needs no shared file.
// Squid opens one connection per access_log line and sends one log line per
// request over it.
type Receiver struct {
	Hub    *Hub
	Echo   io.Writer // when set, every line is copied here (so kubectl logs still shows it)
	Logger log.Logger

	echoMu sync.Mutex
}

// Serve accepts connections on l until ctx ends.
func (r *Receiver) Serve(ctx context.Context, l net.Listener) error {
	return tcpserve.Serve(ctx, l, func(conn net.Conn) {
		level.Info(r.Logger).Log("msg", "squid connected to the access log receiver", "remote", conn.RemoteAddr())
		r.read(conn)
	})
}

func (r *Receiver) read(conn net.Conn) {
	defer conn.Close()
	var echo func([]byte)
	if r.Echo != nil {
		echo = r.echo
	}
	lines := newSplitter(r.Hub, echo)
	chunk := make([]byte, 32<<10)
	for {
		n, err := conn.Read(chunk)
		lines.feed(chunk[:n])
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				level.Warn(r.Logger).Log("msg", "access log connection ended", "remote", conn.RemoteAddr(), "err", err)
			}
			return
		}
	}
}

var newline = []byte{'\n'}

func (r *Receiver) echo(line []byte) {
	r.echoMu.Lock()
	defer r.echoMu.Unlock()
	r.Echo.Write(line)
	r.Echo.Write(newline)
}
