package cachemgr

import (
	"bytes"
	"errors"
	"fmt"
)

// Traffic is one side's request, error and volume counters. Squid counts
// volume in KiB; these are bytes.
type Traffic struct {
	Requests      float64
	Errors        float64
	ReceivedBytes float64 // kbytes_in
	SentBytes     float64 // kbytes_out
}

// Counters is what the exporter reads from mgr:counters: totals since Squid
// started. Counters the report lacked are Missing.
type Counters struct {
	Client       Traffic
	ClientHits   float64
	HitSentBytes float64 // client_http.hit_kbytes_out

	// Server-side traffic by protocol (Squid's http, ftp and other). Squid's
	// server.all is their sum and is left out so that sums stay right.
	Server map[string]*Traffic

	SwapOuts         float64
	SwapIns          float64
	SwapFilesCleaned float64

	AbortedRequests float64
	CPUSeconds      float64
	PageFaults      float64
	SelectLoops     float64
}

// ServerProtocols are the protocols Squid splits server.* counters by.
var ServerProtocols = [...]string{"http", "ftp", "other"}

// ParseCounters parses the body of mgr:counters. Unknown counters are
// ignored; a known one that is not a number is an error, and so is a report
// without the client request count.
func ParseCounters(report []byte) (*Counters, error) {
	c := newCounters()
	for line := range bytes.Lines(report) {
		name, value, found := bytes.Cut(bytes.TrimSpace(line), []byte(" = "))
		if !found {
			continue
		}
		target := c.field(name)
		if target == nil {
			continue
		}
		v, err := parseNumber(value)
		if err != nil {
			return nil, fmt.Errorf("counters: %s: %w", name, err)
		}
		*target = v * kbytesScale(name)
	}
	if IsMissing(c.Client.Requests) || IsMissing(c.AbortedRequests) {
		// aborted_requests is the last line Squid 5 to 7 print.
		return nil, errors.New("counters: report is incomplete or not a counters report")
	}
	return c, nil
}

func newCounters() *Counters {
	m := Missing
	c := &Counters{
		Client:     Traffic{m, m, m, m},
		ClientHits: m, HitSentBytes: m,
		Server:   make(map[string]*Traffic, len(ServerProtocols)),
		SwapOuts: m, SwapIns: m, SwapFilesCleaned: m,
		AbortedRequests: m, CPUSeconds: m, PageFaults: m, SelectLoops: m,
	}
	for _, p := range ServerProtocols {
		c.Server[p] = &Traffic{m, m, m, m}
	}
	return c
}

// field returns where the counter called name goes, or nil to skip it.
func (c *Counters) field(name []byte) *float64 {
	switch string(name) {
	case "client_http.requests":
		return &c.Client.Requests
	case "client_http.hits":
		return &c.ClientHits
	case "client_http.errors":
		return &c.Client.Errors
	case "client_http.kbytes_in":
		return &c.Client.ReceivedBytes
	case "client_http.kbytes_out":
		return &c.Client.SentBytes
	case "client_http.hit_kbytes_out":
		return &c.HitSentBytes
	case "swap.outs":
		return &c.SwapOuts
	case "swap.ins":
		return &c.SwapIns
	case "swap.files_cleaned":
		return &c.SwapFilesCleaned
	case "aborted_requests":
		return &c.AbortedRequests
	case "cpu_time":
		return &c.CPUSeconds
	case "page_faults":
		return &c.PageFaults
	case "select_loops":
		return &c.SelectLoops
	}
	if rest, ok := bytes.CutPrefix(name, []byte("server.")); ok {
		return c.serverField(rest)
	}
	return nil
}

// serverField handles "<protocol>.<counter>" after "server.".
func (c *Counters) serverField(name []byte) *float64 {
	proto, counter, _ := bytes.Cut(name, []byte("."))
	t := c.Server[string(proto)]
	if t == nil {
		return nil // "all", or a protocol we do not know
	}
	switch string(counter) {
	case "requests":
		return &t.Requests
	case "errors":
		return &t.Errors
	case "kbytes_in":
		return &t.ReceivedBytes
	case "kbytes_out":
		return &t.SentBytes
	}
	return nil
}

func kbytesScale(name []byte) float64 {
	if bytes.Contains(name, []byte("kbytes")) {
		return 1024
	}
	return 1
}
