// Package accesslog reads Squid's access log in its native "squid" format,
// from a file it follows or from Squid's tcp:// logging module, and hands
// the lines that a prober waits for to it.
package accesslog

import (
	"errors"
	"time"
)

// Entry is one line of the native format
//
//	%ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt
//
// Its byte fields point into the line: they are valid until the line's
// buffer is reused. Record copies what must outlive it.
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
}

// Start is when the transaction began.
func (e *Entry) Start() time.Time { return time.UnixMilli(e.Time - e.Elapsed) }

// ErrFormat says a line is not in the native squid format.
var ErrFormat = errors.New("not a squid native access log line")

// Parse reads one line, without its newline, into e. It allocates nothing.
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
	j := i
	for j < len(f.rest) && f.rest[j] != ' ' {
		j++
	}
	field := f.rest[i:j]
	f.rest = f.rest[j:]
	return field
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
