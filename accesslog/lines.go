package accesslog

import "bytes"

// splitter cuts a byte stream into lines for the hub. A line longer than
// maxLine is dropped and counted as malformed; the stream goes on.
type splitter struct {
	hub     *Hub
	each    func(line []byte, e *Entry) // also called for every line with what it parsed to, when set
	buf     []byte                      // an incomplete last line; grown when first needed, so idle sources hold none
	dropped bool                        // inside a line too long to keep
	entry   Entry                       // reused for every line
}

func newSplitter(hub *Hub, each func([]byte, *Entry)) *splitter {
	return &splitter{hub: hub, each: each}
}

// feed publishes every line that data completes.
func (s *splitter) feed(data []byte) {
	for len(data) > 0 {
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
		if s.dropped {
			s.hub.Lines.Add(1)
			s.hub.Malformed.Add(1)
		} else {
			s.hub.publish(line, &s.entry)
			if s.each != nil {
				s.each(line, &s.entry)
			}
		}
		s.reset()
		data = data[i+1:]
	}
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
