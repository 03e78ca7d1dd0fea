// Package tcpserve runs a TCP accept loop tied to a context.
package tcpserve

import (
	"context"
	"errors"
	"net"
	"sync"
)

// Serve accepts connections on l and handles each on its own goroutine
// until ctx ends; then it closes l and every open connection, and returns
// once the handlers have.
func Serve(ctx context.Context, l net.Listener, handle func(net.Conn)) error {
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		wg.Go(func() {
			stopConn := context.AfterFunc(ctx, func() { conn.Close() })
			defer stopConn()
			handle(conn)
		})
	}
}
