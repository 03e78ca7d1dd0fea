package cachemgr

import (
	"bytes"
	"errors"
	"fmt"
	"math"
)

// StoreDir is one cache_dir as mgr:storedir reports it.
type StoreDir struct {
	Type          string // ufs, aufs, diskd, rock
	Path          string
	CapacityBytes float64
	UsedBytes     float64
	// LRUReferenceAgeSeconds is how long ago the least recently used
	// object was last used: about how long an object stays once the dir is
	// full. Squid prints it in days rounded to 0.01 (864 s), and only for
	// the lru removal policy with an object to evict; otherwise Missing.
	LRUReferenceAgeSeconds float64
}

// StoreDirReport is what the exporter reads from mgr:storedir.
type StoreDirReport struct {
	// Dirs holds every cache_dir once. Under SMP each worker reports the
	// non-SMP-aware dirs (ufs, aufs, diskd) it uses, so a dir shared by
	// workers comes several times; rock dirs come from their disker only.
	Dirs []StoreDir
	// SharedMemory is the shared memory cache of SMP workers, with
	// cache_mem exactly; nil without one (no SMP, or memory_cache_shared
	// off).
	SharedMemory *MemoryCache
}

// ParseStoreDir parses the body of mgr:storedir, all of its SMP kids'
// blocks.
func ParseStoreDir(report []byte) (*StoreDirReport, error) {
	r := &StoreDirReport{}
	seen := false
	for block := range kidBlocks(report) {
		found, err := r.parseBlock(block)
		if err != nil {
			return nil, fmt.Errorf("storedir: %w", err)
		}
		seen = seen || found
	}
	if !seen {
		return nil, errors.New("storedir: not a storedir report: no 'Store Directory Statistics:' line")
	}
	r.Dirs = mergeDuplicateDirs(r.Dirs)
	return r, nil
}

// storeSection is the part of a block a line belongs to.
type storeSection int

const (
	totalsSection storeSection = iota // the totals, and sections we skip
	memorySection                     // "Shared Memory Cache"
	dirSection                        // "Store Directory #N (type): path"
)

// parseBlock adds the dirs and shared memory cache of one process's block
// to r and says whether the block was a storedir report.
func (r *StoreDirReport) parseBlock(block []byte) (bool, error) {
	found := false
	section := totalsSection
	var dir *StoreDir
	memory := MemoryCache{UsedBytes: Missing, CapacityBytes: Missing, Exact: true}
	for line := range bytes.Lines(block) {
		line = bytes.TrimSpace(line)
		switch {
		case bytes.Equal(line, []byte("Store Directory Statistics:")):
			found = true
		case bytes.Equal(line, []byte("Shared Memory Cache")):
			section = memorySection
		case bytes.HasPrefix(line, []byte("Store Directory #")):
			if err := checkDir(dir); err != nil {
				return found, err
			}
			d, err := parseDirHeader(line[len("Store Directory #"):])
			if err != nil {
				return found, err
			}
			r.Dirs = append(r.Dirs, d)
			dir = &r.Dirs[len(r.Dirs)-1]
			section = dirSection
		case section == memorySection:
			if len(line) > 0 && !bytes.Contains(line, []byte(":")) {
				section = totalsSection // a header: another section starts
				continue
			}
			if err := memory.parseLine(line); err != nil {
				return found, err
			}
		case section == dirSection:
			if err := dir.parseLine(line); err != nil {
				return found, err
			}
		}
	}
	if err := checkDir(dir); err != nil {
		return found, err
	}
	return found, r.addSharedMemory(memory)
}

// addSharedMemory keeps the first worker's shared memory cache: every
// worker reports the same one.
func (r *StoreDirReport) addSharedMemory(m MemoryCache) error {
	if IsMissing(m.UsedBytes) && IsMissing(m.CapacityBytes) {
		return nil // this block had none
	}
	if IsMissing(m.UsedBytes) || IsMissing(m.CapacityBytes) {
		return errors.New("shared memory cache: report is incomplete (no 'Maximum Size' or 'Current Size')")
	}
	if r.SharedMemory == nil {
		r.SharedMemory = &m
	}
	return nil
}

func (m *MemoryCache) parseLine(line []byte) error {
	return parseSizes(line, "shared memory cache", &m.CapacityBytes, &m.UsedBytes)
}

// parseSizes sets capacity ("Maximum Size") or used from a size line of
// the section what names in errors; other lines are left alone.
func parseSizes(line []byte, what string, capacity, used *float64) error {
	key, v, ok, err := parseSizeLine(line)
	switch {
	case err != nil:
		return fmt.Errorf("%s %s: %w", what, key, err)
	case !ok:
		return nil
	case string(key) == "Maximum Size":
		*capacity = v
	default:
		*used = v
	}
	return nil
}

// parseDirHeader reads "0 (ufs): /var/spool/squid".
func parseDirHeader(b []byte) (StoreDir, error) {
	_, rest, ok1 := bytes.Cut(b, []byte(" ("))
	typ, path, ok2 := bytes.Cut(rest, []byte("): "))
	if !ok1 || !ok2 || len(typ) == 0 || len(path) == 0 {
		return StoreDir{}, fmt.Errorf("bad store directory line %q", b)
	}
	return StoreDir{
		Type: string(typ), Path: string(path),
		CapacityBytes: Missing, UsedBytes: Missing, LRUReferenceAgeSeconds: Missing,
	}, nil
}

func (d *StoreDir) parseLine(line []byte) error {
	if age, ok := bytes.CutPrefix(line, []byte("LRU reference age:")); ok {
		days, err := parseWithUnit(bytes.TrimSpace(age), "days")
		if err != nil {
			return fmt.Errorf("%s LRU reference age: %w", d.Path, err)
		}
		// Whole seconds: 0.01 days is not exact in binary (863.99... s).
		d.LRUReferenceAgeSeconds = math.Round(days * 24 * 60 * 60)
		return nil
	}
	return parseSizes(line, d.Path, &d.CapacityBytes, &d.UsedBytes)
}

// parseSizeLine reads "Maximum Size: 262144 KB" or "Current Size: 123.00
// KB", which rock dirs and the shared memory cache follow with a
// percentage ("Current Size: 1024.00 KB 0.39%"). ok is false for any other
// line.
func parseSizeLine(line []byte) (key []byte, bytesValue float64, ok bool, err error) {
	key, value, _ := bytes.Cut(line, []byte(":"))
	if string(key) != "Maximum Size" && string(key) != "Current Size" {
		return key, 0, false, nil
	}
	value = bytes.TrimSpace(value)
	if i := bytes.Index(value, []byte("KB")); i >= 0 {
		value = value[:i+len("KB")]
	}
	v, err := parseKB(value)
	return key, v, err == nil, err
}

func checkDir(d *StoreDir) error {
	if d != nil && (IsMissing(d.CapacityBytes) || IsMissing(d.UsedBytes)) {
		return fmt.Errorf("store directory %s: report is incomplete (no 'Maximum Size' or 'Current Size')", d.Path)
	}
	return nil
}

// mergeDuplicateDirs keeps one entry per dir (type and path). SMP workers
// sharing a ufs dir each report it, each from its own index of it: the
// configured size is the same, the used sizes differ. The fullest view is
// kept, because it is the one closest to eviction, and the oldest LRU age.
// It works in place: a report has a few dirs.
func mergeDuplicateDirs(dirs []StoreDir) []StoreDir {
	out := dirs[:0]
next:
	for _, d := range dirs {
		for i := range out {
			if out[i].Type == d.Type && out[i].Path == d.Path {
				out[i].CapacityBytes = max(out[i].CapacityBytes, d.CapacityBytes)
				out[i].UsedBytes = max(out[i].UsedBytes, d.UsedBytes)
				out[i].LRUReferenceAgeSeconds = maxPresent(out[i].LRUReferenceAgeSeconds, d.LRUReferenceAgeSeconds)
				continue next
			}
		}
		out = append(out, d)
	}
	return out
}

// maxPresent is the larger of a and b, or the one that is not Missing.
func maxPresent(a, b float64) float64 {
	switch {
	case IsMissing(a):
		return b
	case IsMissing(b):
		return a
	}
	return max(a, b)
}
