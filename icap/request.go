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
	ResHdr  []byte // RESPMOD: the encapsulated HTTP response header block (res-hdr)
	HasBody bool   // a req-body or res-body follows, chunked
}

// Bounds on what a client may send. Squid's heads are a few hundred bytes
// and, with the zero preview this service asks for, a body is just its last
// chunk line: anything near these sizes is hostile, and the bounds keep the
// memory a connection can make the service hold small.
const (
	maxHeader      = 64 << 10 // the ICAP head; apart, the encapsulated HTTP header
	maxHeaderLines = 100      // ICAP header fields; Squid sends under ten
	maxBody        = 64 << 10 // a req-body: chunk lines and data together
)

// errTooLarge is a head, line or body beyond the bounds above.
var errTooLarge = errors.New("too large")

// ReadRequest reads one ICAP request's head and its encapsulated HTTP
// header from r, leaving any body unread. It reads no more than the bounds
// above: a larger request is an error once the bound is reached, not after
// the whole of it has been read.
func ReadRequest(r *bufio.Reader) (*Request, error) {
	budget := maxHeader
	line, err := readLine(r, &budget)
	if err != nil {
		return nil, fmt.Errorf("ICAP request line: %w", err)
	}
	method, rest, ok1 := strings.Cut(line, " ")
	uri, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || proto != "ICAP/1.0" {
		return nil, fmt.Errorf("bad request line %.80q", line)
	}
	header, err := readHeader(r, &budget)
	if err != nil {
		return nil, fmt.Errorf("bad ICAP header: %w", err)
	}
	req := &Request{Method: method, URI: uri, Header: header}
	if method != "REQMOD" && method != "RESPMOD" {
		return req, nil
	}
	parts, err := parseEncapsulated(header.Get("Encapsulated"))
	if err != nil {
		return nil, err
	}
	if err := checkParts(method, parts, header.Get("Encapsulated")); err != nil {
		return nil, err
	}
	var blocks [][]byte
	for i := 1; i < len(parts); i++ {
		size := parts[i].offset - parts[i-1].offset
		if parts[i].offset > maxHeader || size < 0 {
			return nil, fmt.Errorf("encapsulated headers of %d bytes: %w", parts[i].offset, errTooLarge)
		}
		// Grown as bytes arrive, not reserved from the announced size: a
		// client announcing 64 KiB and sending nothing holds no 64 KiB.
		var hdr bytes.Buffer
		if _, err := io.CopyN(&hdr, r, int64(size)); err != nil {
			return nil, fmt.Errorf("reading the encapsulated %s: %w", parts[i-1].name, err)
		}
		blocks = append(blocks, hdr.Bytes())
	}
	req.HTTPHdr = blocks[0]
	if method == "RESPMOD" {
		req.ResHdr = blocks[1]
	}
	req.HasBody = parts[len(parts)-1].name != "null-body"
	return req, nil
}

// checkParts holds Encapsulated to the shapes Squid sends: REQMOD
// "req-hdr=0, null-body|req-body=N", RESPMOD "req-hdr=0, res-hdr=N,
// null-body|res-body=M".
func checkParts(method string, parts []part, field string) error {
	want := []string{"req-hdr", "req-body"}
	if method == "RESPMOD" {
		want = []string{"req-hdr", "res-hdr", "res-body"}
	}
	if len(parts) != len(want) || parts[0].offset != 0 {
		return fmt.Errorf("%s needs Encapsulated: %s=0 and %d more parts, got %.80q", method, want[0], len(want)-1, field)
	}
	for i, p := range parts {
		if p.name != want[i] && (i < len(want)-1 || p.name != "null-body") {
			return fmt.Errorf("unexpected %.40q in a %s", p.name, method)
		}
	}
	return nil
}

// readHeader reads header fields up to the empty line that ends them,
// taking their length from *budget. Folded lines, long obsolete, are
// refused.
func readHeader(r *bufio.Reader, budget *int) (textproto.MIMEHeader, error) {
	h := make(textproto.MIMEHeader)
	for n := 0; ; n++ {
		line, err := readLine(r, budget)
		if err != nil {
			return nil, err
		}
		if line == "" {
			return h, nil
		}
		if n == maxHeaderLines {
			return nil, fmt.Errorf("more than %d lines: %w", maxHeaderLines, errTooLarge)
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok || key == "" || strings.ContainsAny(key, " \t") {
			return nil, fmt.Errorf("bad header line %.80q", line)
		}
		key = textproto.CanonicalMIMEHeaderKey(key)
		h[key] = append(h[key], strings.TrimSpace(value))
	}
}

// readLine reads one line, returned without its line ending, and takes its
// length from *budget. It holds no more than the budget and one buffer of r
// however long the line is: a line that would exceed the budget is
// errTooLarge as soon as that is known.
func readLine(r *bufio.Reader, budget *int) (string, error) {
	part, err := r.ReadSlice('\n')
	var long []byte // a line longer than r's buffer, gathered
	for err == bufio.ErrBufferFull {
		if len(long)+len(part) > *budget {
			return "", errTooLarge
		}
		long = append(long, part...)
		part, err = r.ReadSlice('\n')
	}
	n := len(long) + len(part)
	if n > *budget {
		return "", errTooLarge
	}
	if err != nil {
		if err == io.EOF && n > 0 {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	*budget -= n
	line := string(part) // the common case: one slice, one copy
	if long != nil {
		line = string(append(long, part...))
	}
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
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
// it sent the whole body. Having asked for a zero preview, it expects a
// line or two: a body over maxBody is hostile, and an error.
func skipBody(r *bufio.Reader) error {
	budget := maxBody
	for {
		line, err := readLine(r, &budget)
		if err != nil {
			return fmt.Errorf("req-body chunk size: %w", err)
		}
		sizeField, _, _ := strings.Cut(line, ";")
		size, err := strconv.ParseInt(strings.TrimSpace(sizeField), 16, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("bad chunk size %.80q", line)
		}
		if size == 0 {
			_, err := readLine(r, &budget) // the empty line after the last chunk
			return err
		}
		if size > int64(budget) {
			return fmt.Errorf("req-body over %d bytes: %w", maxBody, errTooLarge)
		}
		budget -= int(size)
		if _, err := r.Discard(int(size)); err != nil {
			return err
		}
		if _, err := readLine(r, &budget); err != nil {
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
