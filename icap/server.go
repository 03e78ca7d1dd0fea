package icap

import (
	"bufio"
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

// idleTimeout closes a connection Squid has left unused.
const idleTimeout = 5 * time.Minute

// Server is the REQMOD service.
type Server struct {
	URLs    *cdnurl.Matcher
	Logger  log.Logger
	Metrics *Metrics
}

// Serve accepts ICAP connections on l until ctx ends.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	return tcpserve.Serve(ctx, l, s.serveConn)
}

// serveConn answers the requests of one persistent connection in order.
func (s *Server) serveConn(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	w := bufio.NewWriter(conn)
	for {
		conn.SetReadDeadline(time.Now().Add(idleTimeout))
		req, err := ReadRequest(r)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isTimeout(err) {
				s.Metrics.observe("unknown", resultError, 0)
				level.Warn(s.Logger).Log("msg", "bad ICAP request; closing the connection", "remote", conn.RemoteAddr(), "err", err)
				writeStatus(w, 400, "Bad Request")
				w.Flush()
			}
			return
		}
		start := time.Now()
		result, err := s.answer(r, w, req)
		if err == nil {
			err = w.Flush()
		}
		s.Metrics.observe(req.Method, result, time.Since(start))
		if err != nil {
			level.Warn(s.Logger).Log("msg", "ICAP exchange failed", "remote", conn.RemoteAddr(), "err", err)
			return
		}
	}
}

// answer writes the response to one request.
func (s *Server) answer(r *bufio.Reader, w *bufio.Writer, req *Request) (string, error) {
	switch req.Method {
	case "OPTIONS":
		writeOptions(w)
		return resultOptions, nil
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
	if !ok || method != "GET" || !s.URLs.Match(absoluteURL(target, req.HTTPHdr)) {
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

// absoluteURL is the request's URL: Squid sends an absolute one; an
// origin-form target is completed from Host.
func absoluteURL(target string, hdr []byte) string {
	if strings.Contains(target, "://") {
		return target
	}
	return "https://" + headerValue(hdr, "Host") + target
}

// writeNoChange answers 204 when the client allows it, and otherwise
// returns the request header unchanged.
func writeNoChange(w *bufio.Writer, req *Request) error {
	if strings.Contains(req.Header.Get("Allow"), "204") || req.HasBody {
		fmt.Fprintf(w, "ICAP/1.0 204 No Content\r\nISTag: %s\r\nEncapsulated: null-body=0\r\n\r\n", ISTag)
		return nil
	}
	fmt.Fprintf(w, "ICAP/1.0 200 OK\r\nISTag: %s\r\nEncapsulated: req-hdr=0, null-body=%d\r\n\r\n", ISTag, len(req.HTTPHdr))
	_, err := w.Write(req.HTTPHdr)
	return err
}

// writeOptions says what the service does: REQMOD, a zero preview for every
// request, and 204 for no change.
func writeOptions(w *bufio.Writer) {
	fmt.Fprintf(w, "ICAP/1.0 200 OK\r\nMethods: REQMOD\r\nService: squid-cache-exporter blob REQMOD\r\nISTag: %s\r\n"+
		"Allow: 204\r\nPreview: 0\r\nTransfer-Preview: *\r\nOptions-TTL: 3600\r\nMax-Connections: 1000\r\n"+
		"Encapsulated: null-body=0\r\n\r\n", ISTag)
}

func writeStatus(w *bufio.Writer, code int, text string) {
	fmt.Fprintf(w, "ICAP/1.0 %d %s\r\nISTag: %s\r\nEncapsulated: null-body=0\r\n\r\n", code, text, ISTag)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
