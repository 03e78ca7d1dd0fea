package cachemgr

import (
	"bytes"
	"iter"
)

// kidBlocks yields the per-process blocks of a report. Squid wraps some
// reports in "by kidN {" ... "} by kidN" sections: under SMP one per worker
// and disker, and from Squid 7 on even for a single process. A report with
// no sections is one block.
func kidBlocks(report []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		rest := report
		found := false
		for {
			start := indexKidOpen(rest)
			if start < 0 {
				break
			}
			found = true
			body := rest[start:]
			body = body[bytes.IndexByte(body, '\n')+1:]
			end := indexKidClose(body)
			if end < 0 {
				end = len(body) // a cut-off block; its parser decides
			}
			if !yield(body[:end]) {
				return
			}
			rest = body[end:]
		}
		if !found {
			yield(report)
		}
	}
}

// indexKidOpen finds a line "by kidN {" and returns its start, or -1.
func indexKidOpen(b []byte) int {
	for off := 0; off < len(b); {
		line, next := nextLine(b, off)
		if bytes.HasPrefix(line, []byte("by kid")) && bytes.HasSuffix(bytes.TrimSpace(line), []byte("{")) {
			return off
		}
		off = next
	}
	return -1
}

// indexKidClose finds a line "} by kidN" and returns its start, or -1.
func indexKidClose(b []byte) int {
	for off := 0; off < len(b); {
		line, next := nextLine(b, off)
		if bytes.HasPrefix(line, []byte("} by kid")) {
			return off
		}
		off = next
	}
	return -1
}

// nextLine returns the line at off, without its newline, and where the next
// one starts.
func nextLine(b []byte, off int) (line []byte, next int) {
	if i := bytes.IndexByte(b[off:], '\n'); i >= 0 {
		return b[off : off+i], off + i + 1
	}
	return b[off:], len(b)
}
