package cachemgr

import (
	"bytes"
	"errors"
	"fmt"
)

// StoreDir is one cache_dir as mgr:storedir reports it.
type StoreDir struct {
	Type          string // ufs, aufs, diskd, rock
	Path          string
	CapacityBytes float64
	UsedBytes     float64
}

// ParseStoreDir parses the body of mgr:storedir and returns every cache_dir
// of every Squid process. Each dir is reported by exactly one process (a
// rock dir only by its disker), so callers may add them up.
func ParseStoreDir(report []byte) ([]StoreDir, error) {
	var dirs []StoreDir
	seen := false
	for block := range kidBlocks(report) {
		found, err := parseStoreBlock(block, &dirs)
		if err != nil {
			return nil, fmt.Errorf("storedir: %w", err)
		}
		seen = seen || found
	}
	if !seen {
		return nil, errors.New("storedir: not a storedir report: no 'Store Directory Statistics:' line")
	}
	return dirs, nil
}

// parseStoreBlock appends the dirs of one process's block to dirs and says
// whether the block was a storedir report.
func parseStoreBlock(block []byte, dirs *[]StoreDir) (bool, error) {
	found := false
	var dir *StoreDir
	for line := range bytes.Lines(block) {
		line = bytes.TrimSpace(line)
		if bytes.Equal(line, []byte("Store Directory Statistics:")) {
			found = true
			continue
		}
		if rest, ok := bytes.CutPrefix(line, []byte("Store Directory #")); ok {
			if err := checkDir(dir); err != nil {
				return found, err
			}
			d, err := parseDirHeader(rest)
			if err != nil {
				return found, err
			}
			*dirs = append(*dirs, d)
			dir = &(*dirs)[len(*dirs)-1]
			continue
		}
		if dir == nil {
			continue // the totals and the shared memory cache come before the dirs
		}
		if err := dir.parseLine(line); err != nil {
			return found, err
		}
	}
	return found, checkDir(dir)
}

// parseDirHeader reads "0 (ufs): /var/spool/squid".
func parseDirHeader(b []byte) (StoreDir, error) {
	_, rest, ok1 := bytes.Cut(b, []byte(" ("))
	typ, path, ok2 := bytes.Cut(rest, []byte("): "))
	if !ok1 || !ok2 || len(typ) == 0 || len(path) == 0 {
		return StoreDir{}, fmt.Errorf("bad store directory line %q", b)
	}
	return StoreDir{Type: string(typ), Path: string(path), CapacityBytes: Missing, UsedBytes: Missing}, nil
}

func (d *StoreDir) parseLine(line []byte) error {
	key, value, _ := bytes.Cut(line, []byte(":"))
	var target *float64
	switch string(key) {
	case "Maximum Size":
		target = &d.CapacityBytes
	case "Current Size":
		target = &d.UsedBytes
	default:
		return nil
	}
	// rock appends a percentage: "Current Size: 123.00 KB 0.05%".
	value = bytes.TrimSpace(value)
	if i := bytes.Index(value, []byte("KB")); i >= 0 {
		value = value[:i+len("KB")]
	}
	v, err := parseKB(value)
	if err != nil {
		return fmt.Errorf("%s %s: %w", d.Path, key, err)
	}
	*target = v
	return nil
}

func checkDir(d *StoreDir) error {
	if d != nil && (IsMissing(d.CapacityBytes) || IsMissing(d.UsedBytes)) {
		return fmt.Errorf("store directory %s: report is incomplete (no 'Maximum Size' or 'Current Size')", d.Path)
	}
	return nil
}
