package accesslog

import (
	"bytes"
	"crypto/subtle"
)

// splitter cuts a byte stream into lines for the hub. A line longer than
// maxLine is dropped and counted as malformed; the stream goes on.
type splitter struct {
	hub     *Hub
	each    func(line []byte, e *Entry) // also called for every line with what it parsed to, when set
	buf     []byte                      // an incomplete last line; grown when first needed, so idle sources hold none
	dropped bool                        // inside a line too long to keep
	entry   Entry                       // reused for every line

	// require, when set, must begin every line; it is cut off before the
	// line is published. The first line without it sets refused, and the
	// splitter then takes nothing more: the source is not who it claims.
	require []byte
	refused bool
}

func newSplitter(hub *Hub, each func([]byte, *Entry)) *splitter {
	return &splitter{hub: hub, each: each}
}

// feed publishes every line that data completes.
func (s *splitter) feed(data []byte) {
	for len(data) > 0 && !s.refused {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			s.keep(data)
			return
		}
		line := data[:i]
		if len(s.buf) > 0 || s.dropped {
			s.keep(line)
			line = s.buf
		}
		s.line(line)
		s.reset()
		data = data[i+1:]
	}
}

// line publishes one complete line, or counts it as malformed when it was
// too long to keep.
func (s *splitter) line(line []byte) {
	if s.dropped {
		s.hub.Lines.Add(1)
		s.hub.Malformed.Add(1)
		return
	}
	line, ok := s.admit(line)
	if !ok {
		s.refused = true
		return
	}
	s.hub.publish(line, &s.entry)
	if s.each != nil {
		s.each(line, &s.entry)
	}
}

// admit cuts require off line; ok is false when line does not begin with
// it. The comparison takes the same time wherever the first difference
// is, so that a sender cannot guess the token a byte at a time; only its
// length, no secret, shows.
func (s *splitter) admit(line []byte) (rest []byte, ok bool) {
	n := len(s.require)
	if n == 0 {
		return line, true
	}
	if len(line) < n || subtle.ConstantTimeCompare(line[:n], s.require) != 1 {
		return nil, false
	}
	return line[n:], true
}

// keep holds part of a line until its newline arrives.
func (s *splitter) keep(part []byte) {
	if s.dropped || len(s.buf)+len(part) > maxLine {
		s.buf, s.dropped = s.buf[:0], true
		return
	}
	s.buf = append(s.buf, part...)
}

// reset forgets an incomplete line, as after a truncation.
func (s *splitter) reset() { s.buf, s.dropped = s.buf[:0], false }
