// Package accesslog reads Squid's access log in its native "squid" format,
// or in "squid_probe" (the same with the prober's marker at the end), from a
// file it follows or from Squid's tcp:// logging module, and hands the lines
// that a prober waits for to it.
package accesslog

import (
	"bytes"
	"errors"
	"time"
)

// MarkerHeader is the request header in which a probe round sends its
// marker, and which the squid_probe format logs.
const MarkerHeader = "X-Squid-Cache-Probe"

// ProbeLogFormat defines squid_probe for squid.conf: the native format plus
// the marker, which ties a line to the round that caused it. Squid writes
// "-" for a request without the header.
const ProbeLogFormat = "logformat squid_probe %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt %{" + MarkerHeader + "}>h"

// Entry is one line of the native format
//
//	%ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt
//
// or of squid_probe, which adds the marker (ProbeLogFormat). Its byte
// fields point into the line: they are valid until the line's buffer is
// reused. Record copies what must outlive it.
type Entry struct {
	Time      int64 // Unix milliseconds when Squid logged the transaction (its end)
	Elapsed   int64 // milliseconds the transaction took
	Client    []byte
	Result    []byte // TCP_MEM_HIT, TCP_MISS, ...
	Status    int
	Bytes     int64
	Method    []byte
	URL       []byte
	User      []byte
	Hierarchy []byte // HIER_NONE, HIER_DIRECT, ...
	Peer      []byte
	MimeType  []byte
	// Marker is the MarkerHeader the request carried; nil when it carried
	// none ("-") or the line has no marker field.
	Marker []byte
	// MarkerField says the line is in the squid_probe format, so a missing
	// Marker means the request had none, not that the log cannot show it.
	MarkerField bool
}

// Start is when the transaction began.
func (e *Entry) Start() time.Time { return time.UnixMilli(e.Time - e.Elapsed) }

// ErrFormat says a line is in neither the squid nor the squid_probe format.
var ErrFormat = errors.New("not a squid or squid_probe access log line")

// Parse reads one line of either format, without its newline, into e. It
// allocates nothing.
func Parse(line []byte, e *Entry) error {
	var f fields
	f.rest = line
	var ok [6]bool
	e.Time, ok[0] = parseMillis(f.next())
	e.Elapsed, ok[1] = parseInt(f.next())
	e.Client = f.next()
	e.Result, e.Status, ok[2] = parseResult(f.next())
	e.Bytes, ok[3] = parseInt(f.next())
	e.Method = f.next()
	e.URL = f.next()
	e.User = f.next()
	e.Hierarchy, e.Peer, ok[4] = cutSlash(f.next())
	e.MimeType = f.next()
	e.Marker, e.MarkerField = parseMarker(f.next())
	ok[5] = len(e.MimeType) > 0 && len(f.next()) == 0
	if ok != [6]bool{true, true, true, true, true, true} {
		return ErrFormat
	}
	return nil
}

// fields splits on runs of spaces: Squid pads the elapsed time.
type fields struct{ rest []byte }

func (f *fields) next() []byte {
	i := 0
	for i < len(f.rest) && f.rest[i] == ' ' {
		i++
	}
	// Fields such as URLs are long: IndexByte finds their end many bytes
	// at a time.
	j := bytes.IndexByte(f.rest[i:], ' ')
	if j < 0 {
		j = len(f.rest) - i
	}
	field := f.rest[i : i+j]
	f.rest = f.rest[i+j:]
	return field
}

// parseMarker reads the optional last field: absent in the native format,
// "-" in squid_probe for a request without the header.
func parseMarker(b []byte) (marker []byte, field bool) {
	switch {
	case len(b) == 0:
		return nil, false
	case len(b) == 1 && b[0] == '-':
		return nil, true
	}
	return b, true
}

// parseMillis reads "1795472260.565" as Unix milliseconds.
func parseMillis(b []byte) (int64, bool) {
	for i, c := range b {
		if c == '.' {
			sec, ok1 := parseInt(b[:i])
			frac := b[i+1:]
			if len(frac) != 3 {
				return 0, false
			}
			ms, ok2 := parseInt(frac)
			return sec*1000 + ms, ok1 && ok2
		}
	}
	return 0, false
}

func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseResult reads "TCP_MEM_HIT/200".
func parseResult(b []byte) ([]byte, int, bool) {
	code, status, ok := cutSlash(b)
	if !ok || len(code) == 0 || len(status) != 3 {
		return nil, 0, false
	}
	n, ok := parseInt(status)
	return code, int(n), ok
}

func cutSlash(b []byte) (before, after []byte, ok bool) {
	for i, c := range b {
		if c == '/' {
			return b[:i], b[i+1:], true
		}
	}
	return nil, nil, false
}
