// Package icap is an ICAP (RFC 3507) REQMOD service for Squid. For a request
// to a CDN blob URL it removes Authorization, so that Squid may cache the
// response; it answers 204 (no change) to everything else. Only headers
// pass through it: Squid sends no body for a GET, and it is told a zero
// preview, so bodies of other requests never come.
package icap

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"strconv"
	"strings"
)

// Request is one ICAP request.
type Request struct {
	Method  string // OPTIONS or REQMOD
	URI     string
	Header  textproto.MIMEHeader
	HTTPHdr []byte // the encapsulated HTTP request header block (req-hdr), as sent
	HasBody bool   // a req-body follows, chunked
}

// maxHeader bounds the ICAP and the encapsulated HTTP headers.
const maxHeader = 64 << 10

// ReadRequest reads one ICAP request's head and its encapsulated HTTP
// header from r, leaving any body unread.
func ReadRequest(r *bufio.Reader) (*Request, error) {
	tp := textproto.NewReader(r)
	line, err := tp.ReadLine()
	if err != nil {
		return nil, err
	}
	method, rest, ok1 := strings.Cut(line, " ")
	uri, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || proto != "ICAP/1.0" {
		return nil, fmt.Errorf("bad request line %q", line)
	}
	header, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, fmt.Errorf("bad ICAP header: %w", err)
	}
	req := &Request{Method: method, URI: uri, Header: header}
	if method != "REQMOD" {
		return req, nil
	}
	parts, err := parseEncapsulated(header.Get("Encapsulated"))
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 || parts[0].name != "req-hdr" || parts[0].offset != 0 || len(parts) != 2 {
		return nil, fmt.Errorf("REQMOD needs Encapsulated: req-hdr=0 and one body part, got %q", header.Get("Encapsulated"))
	}
	size := parts[1].offset
	if size > maxHeader {
		return nil, fmt.Errorf("encapsulated header of %d bytes is too large", size)
	}
	req.HTTPHdr = make([]byte, size)
	if _, err := io.ReadFull(r, req.HTTPHdr); err != nil {
		return nil, fmt.Errorf("reading the encapsulated header: %w", err)
	}
	switch parts[1].name {
	case "null-body":
	case "req-body":
		req.HasBody = true
	default:
		return nil, fmt.Errorf("unexpected %s in a REQMOD", parts[1].name)
	}
	return req, nil
}

type part struct {
	name   string
	offset int
}

// parseEncapsulated reads "req-hdr=0, null-body=170".
func parseEncapsulated(v string) ([]part, error) {
	if v == "" {
		return nil, errors.New("no Encapsulated header")
	}
	var parts []part
	last := -1
	for _, field := range strings.Split(v, ",") {
		name, off, ok := strings.Cut(strings.TrimSpace(field), "=")
		n, err := strconv.Atoi(off)
		if !ok || err != nil || n < 0 || n < last {
			return nil, fmt.Errorf("bad Encapsulated %q", v)
		}
		parts = append(parts, part{name, n})
		last = n
	}
	return parts, nil
}

// skipBody reads and drops a chunked body up to its last chunk, which is
// all the client sends when its preview ends the body ("0; ieof") or when
// it sent the whole body.
func skipBody(r *bufio.Reader) error {
	tp := textproto.NewReader(r)
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return err
		}
		sizeField, _, _ := strings.Cut(line, ";")
		size, err := strconv.ParseInt(strings.TrimSpace(sizeField), 16, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("bad chunk size %q", line)
		}
		if size == 0 {
			_, err := tp.ReadLine() // the empty line after the last chunk
			return err
		}
		if _, err := io.CopyN(io.Discard, r, size); err != nil {
			return err
		}
		if _, err := tp.ReadLine(); err != nil {
			return err
		}
	}
}

// requestLine returns the method and target of an HTTP header block.
func requestLine(hdr []byte) (method, target string, ok bool) {
	line, _, _ := bytes.Cut(hdr, []byte("\r\n"))
	fields := strings.Fields(string(line))
	if len(fields) != 3 || !strings.HasPrefix(fields[2], "HTTP/") {
		return "", "", false
	}
	return fields[0], fields[1], true
}

// headerValue returns the first value of the named field in an HTTP
// header block.
func headerValue(hdr []byte, name string) string {
	for _, line := range bytes.Split(hdr, []byte("\r\n"))[1:] {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && strings.EqualFold(string(k), name) {
			return strings.TrimSpace(string(v))
		}
	}
	return ""
}

// withoutField returns the header block without any line of the named
// field; every other byte stays as it was.
func withoutField(hdr []byte, name string) ([]byte, bool) {
	out := make([]byte, 0, len(hdr))
	removed := false
	for _, line := range bytes.SplitAfter(hdr, []byte("\r\n")) {
		k, _, ok := bytes.Cut(line, []byte(":"))
		if ok && strings.EqualFold(string(k), name) {
			removed = true
			continue
		}
		out = append(out, line...)
	}
	return out, removed
}
