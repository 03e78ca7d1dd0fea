package cachemgr

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// Windows holds a value Squid reports over its last 5 and 60 minutes.
type Windows struct {
	Last5m, Last60m float64
}

// Info is what the exporter reads from mgr:info. Numbers are in base units
// (bytes, seconds, 0-1 ratios); those the report lacked are Missing.
type Info struct {
	Version     string
	ServiceName string
	StartTime   time.Time

	Clients float64

	RequestHitRatio Windows // hits among all requests
	ByteHitRatio    Windows // hit bytes among all bytes sent
	MemoryHitRatio  Windows // memory hits among hits
	DiskHitRatio    Windows // disk hits among hits

	DiskUsedBytes       float64
	MemoryUsedBytes     float64
	MemoryUsedRatio     float64 // Squid prints only this for cache_mem
	MeanObjectSizeBytes float64

	UptimeSeconds float64
	CPUSeconds    float64

	FileDescriptorsMax       float64
	FileDescriptorsUsed      float64
	FileDescriptorsAvailable float64

	StoreEntries  float64
	MemoryObjects float64 // "Hot Object Cache Items"
	DiskObjects   float64 // "on-disk objects"

	// ServiceTimeMedians[c] is the median time, in seconds, to serve a
	// request of ServiceCategories[c] ("Median Service Times").
	ServiceTimeMedians [len(ServiceCategories)]Windows
}

// ErrNotInfo says the text is not an mgr:info report at all.
var ErrNotInfo = errors.New("not an info report: no 'Squid Object Cache: Version' line")

// ParseInfo parses the body of mgr:info. Lines it does not know are ignored,
// so newer Squids' additions do no harm; a known line with a value it cannot
// read is an error, and so is a report cut short.
func ParseInfo(report []byte) (*Info, error) {
	info := newInfo()
	for line := range bytes.Lines(report) {
		if err := info.parseLine(bytes.TrimSpace(line)); err != nil {
			return nil, fmt.Errorf("info: %w", err)
		}
	}
	if info.Version == "" {
		return nil, ErrNotInfo
	}
	// The report ends with the data-structure counts: without them it was
	// cut short, and what we have may be a mix of old and missing values.
	if IsMissing(info.UptimeSeconds) || IsMissing(info.StoreEntries) {
		return nil, errors.New("info: report is incomplete (no 'UP Time' or 'StoreEntries' line)")
	}
	return info, nil
}

func newInfo() *Info {
	m := Missing
	w := Windows{m, m}
	info := &Info{
		Clients:         m,
		RequestHitRatio: w, ByteHitRatio: w, MemoryHitRatio: w, DiskHitRatio: w,
		DiskUsedBytes: m, MemoryUsedBytes: m, MemoryUsedRatio: m, MeanObjectSizeBytes: m,
		UptimeSeconds: m, CPUSeconds: m,
		FileDescriptorsMax: m, FileDescriptorsUsed: m, FileDescriptorsAvailable: m,
		StoreEntries: m, MemoryObjects: m, DiskObjects: m,
	}
	for c := range info.ServiceTimeMedians {
		info.ServiceTimeMedians[c] = w
	}
	return info
}

func (info *Info) parseLine(line []byte) error {
	key, value, found := bytes.Cut(line, []byte(":"))
	if !found {
		return info.parseCount(line)
	}
	value = bytes.TrimSpace(value)
	var err error
	switch string(key) {
	case "Squid Object Cache":
		v, ok := bytes.CutPrefix(value, []byte("Version "))
		if !ok || len(v) == 0 {
			return fmt.Errorf("bad version line %q", line)
		}
		info.Version = string(v)
	case "Service Name":
		info.ServiceName = string(value)
	case "Start Time":
		info.StartTime, err = time.Parse(time.RFC1123, string(value))
	case "Number of clients accessing cache":
		if !bytes.Equal(value, []byte("(client_db off)")) {
			info.Clients, err = parseNumber(value)
		}
	case "Hits as % of all requests":
		info.RequestHitRatio, err = parseWindows(value)
	case "Hits as % of bytes sent":
		info.ByteHitRatio, err = parseWindows(value)
	case "Memory hits as % of hit requests":
		info.MemoryHitRatio, err = parseWindows(value)
	case "Disk hits as % of hit requests":
		info.DiskHitRatio, err = parseWindows(value)
	case "Storage Swap size":
		info.DiskUsedBytes, err = parseKB(value)
	case "Storage Mem size":
		info.MemoryUsedBytes, err = parseKB(value)
	case "Storage Mem capacity":
		info.MemoryUsedRatio, err = parseUsedPercent(value)
	case "Mean Object Size":
		info.MeanObjectSizeBytes, err = parseKB(value)
	case "UP Time":
		info.UptimeSeconds, err = parseWithUnit(value, "seconds")
	case "CPU Time":
		info.CPUSeconds, err = parseWithUnit(value, "seconds")
	case "Maximum number of file descriptors":
		info.FileDescriptorsMax, err = parseNumber(value)
	case "Number of file desc currently in use":
		info.FileDescriptorsUsed, err = parseNumber(value)
	case "Available number of file descriptors":
		info.FileDescriptorsAvailable, err = parseNumber(value)
	default:
		// "Median Service Times (seconds)  5 min    60 min:" is followed
		// by "Cache Hits:            0.00286  0.00286", one per category.
		if c := serviceCategory(key); c >= 0 {
			info.ServiceTimeMedians[c], err = parseTwoWindows(value)
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// parseCount reads the "Internal Data Structures" lines, where the number
// comes first: "109 StoreEntries".
func (info *Info) parseCount(line []byte) error {
	num, name, found := bytes.Cut(line, []byte(" "))
	if !found {
		return nil
	}
	var target *float64
	switch string(bytes.TrimSpace(name)) {
	case "StoreEntries":
		target = &info.StoreEntries
	case "Hot Object Cache Items":
		target = &info.MemoryObjects
	case "on-disk objects":
		target = &info.DiskObjects
	default:
		return nil
	}
	v, err := parseNumber(num)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	*target = v
	return nil
}

// parseWindows reads "5min: 37.5%, 60min: 37.6%".
func parseWindows(b []byte) (Windows, error) {
	five, sixty, ok := bytes.Cut(b, []byte(","))
	if !ok {
		return Windows{}, fmt.Errorf("want '5min: X%%, 60min: Y%%', got %q", b)
	}
	var w Windows
	var err5, err60 error
	w.Last5m, err5 = parseLabelled(five, "5min:")
	w.Last60m, err60 = parseLabelled(sixty, "60min:")
	return w, errors.Join(err5, err60)
}

func parseLabelled(b []byte, label string) (float64, error) {
	v, ok := bytes.CutPrefix(bytes.TrimSpace(b), []byte(label))
	if !ok {
		return 0, fmt.Errorf("want %q, got %q", label, b)
	}
	return parsePercent(bytes.TrimSpace(v))
}

// parseUsedPercent reads "27.6% used, 72.4% free" as 0.276.
func parseUsedPercent(b []byte) (float64, error) {
	used, _, ok := bytes.Cut(b, []byte(" used"))
	if !ok {
		return 0, fmt.Errorf("want 'X%% used, Y%% free', got %q", b)
	}
	return parsePercent(used)
}
