package cachemgr

import (
	"bytes"
	"errors"
	"fmt"
)

// HelperStats is one helper's statistics, as Squid prints them for
// mgr:store_id (and for its other helper reports: redirector,
// external_acl, the authenticators). Under SMP each worker runs its own
// helper processes; their blocks are added up.
type HelperStats struct {
	// Processes is how many Squid processes run the helper: 0 when none
	// is configured ("No StoreId helpers defined").
	Processes int

	ActiveChildren float64 // "number active: 1 of 5"
	MaxChildren    float64
	BusyChildren   float64 // children with a request pending (flag B)

	Requests    float64 // since start
	Replies     float64
	TimedOut    float64 // "requests timedout"
	QueueLength float64 // requests waiting for a free child

	// AverageServiceSeconds is Squid's moving average of the time a child
	// took to answer; Squid prints it in whole milliseconds. SMP workers'
	// averages are weighted by their replies.
	AverageServiceSeconds float64

	// Bypassed counts requests Squid did not send to the helper because all
	// children were busy. Squid prints it only when bypass is on
	// (store_id_bypass, the default); otherwise Missing.
	Bypassed float64
}

// helperBlock is one process's helper statistics.
type helperBlock struct {
	HelperStats
	found     bool // a "... Statistics:" header
	none      bool // "No ... defined"
	inTable   bool
	rowsAfter bool // the table ended
}

// ParseHelperStats parses a helper report such as mgr:store_id. The table
// of children holds the request each one is working on, which for the
// store-ID helper is a signed CDN URL: errors never quote a row.
func ParseHelperStats(report []byte) (*HelperStats, error) {
	total := &HelperStats{AverageServiceSeconds: Missing, Bypassed: Missing}
	var avg serviceAverage
	recognized := false
	for block := range kidBlocks(report) {
		b, err := parseHelperBlock(block)
		if err != nil {
			return nil, fmt.Errorf("helper: %w", err)
		}
		recognized = recognized || b.found || b.none
		if b.found {
			total.add(&b.HelperStats)
			avg.add(b.AverageServiceSeconds, b.Replies)
		}
	}
	if !recognized {
		return nil, errors.New("helper: not a helper report: no 'helper Statistics:' or 'No ... defined' line")
	}
	total.AverageServiceSeconds = avg.value()
	return total, nil
}

func parseHelperBlock(block []byte) (*helperBlock, error) {
	b := &helperBlock{HelperStats: HelperStats{
		ActiveChildren: Missing, MaxChildren: Missing, Requests: Missing, Replies: Missing,
		TimedOut: Missing, QueueLength: Missing, AverageServiceSeconds: Missing, Bypassed: Missing,
	}}
	row := 0
	for line := range bytes.Lines(block) {
		trimmed := bytes.TrimSpace(line)
		switch {
		case b.inTable && len(trimmed) == 0:
			b.inTable, b.rowsAfter = false, true
		case b.inTable:
			row++
			if err := b.parseRow(line); err != nil {
				return nil, fmt.Errorf("child table row %d: %w", row, err)
			}
		case bytes.HasPrefix(trimmed, []byte("ID #")):
			b.inTable = true
		case bytes.HasPrefix(trimmed, []byte("No ")) && bytes.HasSuffix(trimmed, []byte(" defined")):
			b.none = true
		case bytes.HasSuffix(trimmed, []byte(" Statistics:")):
			b.found = true
		default:
			if err := b.parseLine(trimmed); err != nil {
				return nil, err
			}
		}
	}
	if b.found {
		return b, b.check()
	}
	return b, nil
}

func (b *helperBlock) parseLine(line []byte) error {
	key, value, found := bytes.Cut(line, []byte(":"))
	if !found {
		return nil
	}
	value = bytes.TrimSpace(value)
	var err error
	switch {
	case string(key) == "number active":
		b.ActiveChildren, b.MaxChildren, err = parseActive(value)
	case string(key) == "requests sent":
		b.Requests, err = parseNumber(value)
	case string(key) == "replies received":
		b.Replies, err = parseNumber(value)
	case string(key) == "requests timedout":
		b.TimedOut, err = parseNumber(value)
	case string(key) == "queue length":
		b.QueueLength, err = parseNumber(value)
	case string(key) == "avg service time":
		var ms float64
		ms, err = parseWithUnit(value, "msec")
		b.AverageServiceSeconds = ms / 1000
	case bytes.HasPrefix(key, []byte("Number of requests bypassed")):
		b.Bypassed, err = parseNumber(value)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// parseActive reads "1 of 5 (0 shutting down)".
func parseActive(b []byte) (active, maximum float64, err error) {
	a, rest, ok := bytes.Cut(b, []byte(" of "))
	m, _ := nextField(rest)
	if !ok {
		return 0, 0, fmt.Errorf("want 'N of M', got %q", b)
	}
	active, err1 := parseNumber(a)
	maximum, err2 := parseNumber(m)
	return active, maximum, errors.Join(err1, err2)
}

// parseRow reads one child's row: ID, FD, PID, requests, replies,
// timed-out, flags, time, offset and the pending request, tab-separated.
// Only the flags are kept; the request is never looked at.
func (b *helperBlock) parseRow(line []byte) error {
	rest := line
	var field []byte
	for range 7 {
		var ok bool
		field, rest, ok = bytes.Cut(rest, []byte("\t"))
		if !ok {
			return errors.New("fewer columns than Squid prints")
		}
	}
	if bytes.IndexByte(field, 'B') >= 0 {
		b.BusyChildren++
	}
	return nil
}

// check refuses a block cut short: every version from 5 to 7 prints these
// lines before the table.
func (b *helperBlock) check() error {
	for _, v := range []float64{b.ActiveChildren, b.Requests, b.Replies, b.QueueLength, b.AverageServiceSeconds} {
		if IsMissing(v) {
			return errors.New("report is incomplete (no 'number active', 'requests sent', 'replies received', 'queue length' or 'avg service time')")
		}
	}
	if !b.rowsAfter {
		return errors.New("report is incomplete (no end of the child table)")
	}
	return nil
}

// add adds one process's statistics to the total.
func (h *HelperStats) add(b *HelperStats) {
	h.Processes++
	h.ActiveChildren += b.ActiveChildren
	h.MaxChildren += b.MaxChildren
	h.BusyChildren += b.BusyChildren
	h.Requests += b.Requests
	h.Replies += b.Replies
	h.TimedOut += b.TimedOut // Missing stays Missing: NaN + x is NaN
	h.QueueLength += b.QueueLength
	if !IsMissing(b.Bypassed) {
		h.Bypassed = maxPresent(h.Bypassed, 0) + b.Bypassed
	}
}

// serviceAverage combines the SMP workers' average service times, each
// weighted by its replies (equally while none has replied).
type serviceAverage struct {
	weighted, replies, plain, n float64
}

func (a *serviceAverage) add(seconds, replies float64) {
	a.weighted += seconds * replies
	a.replies += replies
	a.plain += seconds
	a.n++
}

func (a *serviceAverage) value() float64 {
	switch {
	case a.n == 0:
		return Missing
	case a.replies == 0:
		return a.plain / a.n
	}
	return a.weighted / a.replies
}
