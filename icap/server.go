package icap

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/squid-cache-exporter/squid-cache-exporter/cdnurl"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/tcpserve"
)

// ISTag names this service's behaviour; it changes when what it does does.
const ISTag = `"squid-cache-exporter-reqmod-1"`

// Defaults of the Server's bounds.
const (
	// DefaultMaxConns is the Max-Connections the service advertises, and
	// enforces: Squid keeps to it, so only another client goes over.
	DefaultMaxConns = 1000
	// DefaultIdleTimeout closes a connection Squid has left unused.
	DefaultIdleTimeout = 5 * time.Minute
	// DefaultRequestTimeout bounds one request, from its first byte to the
	// answer written. Squid sends a request at once, so this only cuts off
	// a client trickling its bytes to hold the connection (slowloris).
	DefaultRequestTimeout = 30 * time.Second
)

// Server is the REQMOD service, and the RESPMOD one of registries that
// serve their blobs themselves (respmod.go).
type Server struct {
	URLs       *cdnurl.Matcher
	Registries *cdnurl.Registries // nil or empty: RESPMOD changes nothing
	Learner    *Learner           // nil: /learn learns nothing
	Logger     log.Logger
	Metrics    *Metrics

	// Bounds; zero means the default above.
	MaxConns       int
	IdleTimeout    time.Duration
	RequestTimeout time.Duration
}

// Serve accepts ICAP connections on l until ctx ends or l is closed; it
// returns nil then. It does not stop on accept errors: it logs them and
// retries.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	tcpserve.Serve(ctx, l, s.serveConn, tcpserve.Options{MaxConns: s.maxConns(), Logger: s.Logger})
	return nil
}

// serveConn answers the requests of one persistent connection in order.
func (s *Server) serveConn(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	w := bufio.NewWriter(conn)
	for s.awaitRequest(conn, r) {
		req, err := ReadRequest(r)
		if err != nil {
			s.refuse(conn, w, err)
			return
		}
		start := time.Now()
		result, err := s.answer(r, w, req)
		if err == nil {
			err = w.Flush()
		}
		s.Metrics.observe(req.Method, result, time.Since(start))
		if err != nil {
			level.Warn(s.Logger).Log("msg", "ICAP exchange failed; closing the connection", "remote", conn.RemoteAddr(), "err", err)
			return
		}
	}
}

// awaitRequest waits up to IdleTimeout for the next request to begin, then
// gives the request RequestTimeout to be read and answered: a connection
// may idle a while, but not hold the service by sending slowly. It reports
// false when the connection ended or idled too long, which needs no word.
func (s *Server) awaitRequest(conn net.Conn, r *bufio.Reader) bool {
	conn.SetDeadline(time.Now().Add(cmp.Or(s.IdleTimeout, DefaultIdleTimeout)))
	if _, err := r.Peek(1); err != nil {
		return false
	}
	conn.SetDeadline(time.Now().Add(s.requestTimeout()))
	return true
}

// refuse logs a request that could not be read, and answers 400 unless the
// client was too slow or went away.
func (s *Server) refuse(conn net.Conn, w *bufio.Writer, err error) {
	s.Metrics.observe("unknown", resultError, 0)
	switch {
	case isTimeout(err):
		level.Warn(s.Logger).Log("msg", "ICAP request not read in time; closing the connection", "remote", conn.RemoteAddr(), "timeout", s.requestTimeout())
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed):
		level.Warn(s.Logger).Log("msg", "ICAP request cut short", "remote", conn.RemoteAddr(), "err", err)
	default:
		level.Warn(s.Logger).Log("msg", "bad ICAP request; closing the connection", "remote", conn.RemoteAddr(), "err", err)
		writeStatus(w, 400, "Bad Request")
		w.Flush()
	}
}

func (s *Server) maxConns() int { return cmp.Or(s.MaxConns, DefaultMaxConns) }
func (s *Server) requestTimeout() time.Duration {
	return cmp.Or(s.RequestTimeout, DefaultRequestTimeout)
}

// answer writes the response to one request.
func (s *Server) answer(r *bufio.Reader, w *bufio.Writer, req *Request) (string, error) {
	switch req.Method {
	case "OPTIONS":
		writeOptions(w, req.URI, s.maxConns())
		return resultOptions, nil
	case "RESPMOD":
		if strings.HasSuffix(req.URI, "/learn") {
			return s.answerLearn(r, w, req)
		}
		return s.answerRespmod(r, w, req)
	case "REQMOD":
	default:
		writeStatus(w, 405, "Method Not Allowed")
		return resultError, nil
	}
	if req.HasBody {
		// A zero preview was asked for: what follows is its last chunk
		// (or the whole body). Read it, then leave the request as it is.
		if err := skipBody(r); err != nil {
			return resultError, err
		}
		return resultUnmodified, writeNoChange(w, req)
	}
	method, target, ok := requestLine(req.HTTPHdr)
	if !ok || method != "GET" || !s.isCDNBlob(absoluteURL(target, req.HTTPHdr)) {
		return resultUnmodified, writeNoChange(w, req)
	}
	hdr, removed := withoutField(req.HTTPHdr, "Authorization")
	if !removed {
		return resultUnmodified, writeNoChange(w, req)
	}
	fmt.Fprintf(w, "ICAP/1.0 200 OK\r\nISTag: %s\r\nEncapsulated: req-hdr=0, null-body=%d\r\n\r\n", ISTag, len(hdr))
	_, err := w.Write(hdr)
	return resultModified, err
}

// isCDNBlob: a CDN blob URL, whether it names its digest or not.
func (s *Server) isCDNBlob(rawURL string) bool {
	return s.URLs.Match(rawURL) || s.Learner != nil && s.Learner.URLs.Match(rawURL)
}

// absoluteURL is the request's URL: Squid sends an absolute one; an
// origin-form target is completed from Host.
func absoluteURL(target string, hdr []byte) string {
	if strings.Contains(target, "://") {
		return target
	}
	return "https://" + headerValue(hdr, "Host") + target
}

// writeNoChange answers 204 when the client allows it (always after a
// preview), and otherwise returns the message unchanged (it has no body).
func writeNoChange(w *bufio.Writer, req *Request) error {
	if strings.Contains(req.Header.Get("Allow"), "204") || req.HasBody {
		fmt.Fprintf(w, "ICAP/1.0 204 No Content\r\nISTag: %s\r\nEncapsulated: null-body=0\r\n\r\n", ISTag)
		return nil
	}
	if req.Method == "RESPMOD" {
		fmt.Fprintf(w, "ICAP/1.0 200 OK\r\nISTag: %s\r\nEncapsulated: res-hdr=0, null-body=%d\r\n\r\n", ISTag, len(req.ResHdr))
		_, err := w.Write(req.ResHdr)
		return err
	}
	fmt.Fprintf(w, "ICAP/1.0 200 OK\r\nISTag: %s\r\nEncapsulated: req-hdr=0, null-body=%d\r\n\r\n", ISTag, len(req.HTTPHdr))
	_, err := w.Write(req.HTTPHdr)
	return err
}

// writeOptions says what the service at uri does: REQMOD, or RESPMOD at a
// URI ending in /respmod or /learn; a zero preview for every request, 204 for no
// change, 206 (RESPMOD: new headers, the body as it came), and the
// connections it accepts at most.
func writeOptions(w *bufio.Writer, uri string, maxConns int) {
	method, allow := "REQMOD", "204"
	switch {
	case strings.HasSuffix(uri, "/respmod"):
		method, allow = "RESPMOD", "204, 206"
	case strings.HasSuffix(uri, "/learn"):
		method = "RESPMOD"
	}
	fmt.Fprintf(w, "ICAP/1.0 200 OK\r\nMethods: %s\r\nService: squid-cache-exporter blob %s\r\nISTag: %s\r\n"+
		"Allow: %s\r\nPreview: 0\r\nTransfer-Preview: *\r\nOptions-TTL: 3600\r\nMax-Connections: %d\r\n"+
		"Encapsulated: null-body=0\r\n\r\n", method, method, ISTag, allow, maxConns)
}

func writeStatus(w *bufio.Writer, code int, text string) {
	fmt.Fprintf(w, "ICAP/1.0 %d %s\r\nISTag: %s\r\nEncapsulated: null-body=0\r\n\r\n", code, text, ISTag)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
