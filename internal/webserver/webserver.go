// Package webserver builds the programs' HTTP servers with timeouts, so that
// a client that sends slowly or not at all cannot hold a connection (and
// its goroutine and buffers) for ever.
package webserver

import (
	"log/slog"
	"net/http"
	"time"
)

// Timeouts of every server. ReadTimeout bounds reading a request, not
// answering it: net/http lifts the read deadline once the request is read,
// so the exporter's /probe may still run for minutes. There is no
// WriteTimeout for that reason.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second
	IdleTimeout       = 2 * time.Minute
)

// New returns a server on addr for h (nil is http.DefaultServeMux). Its
// own errors (a failed TLS handshake, say) go to logger, so that they look
// like every other line.
func New(addr string, h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		IdleTimeout:       IdleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelError),
	}
}
