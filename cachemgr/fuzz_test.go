package cachemgr

import (
	"os"
	"path/filepath"
	"testing"
)

// seed adds every fixture to the corpus: each parser also meets the others'
// reports, which is bad input it must refuse without panicking.
func seed(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join("testdata", "*.txt"))
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("by kid1 {\n} by kid1\nby kid"))
}

func FuzzParseInfo(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := ParseInfo(b)
		if err == nil && (info.Version == "" || IsMissing(info.UptimeSeconds)) {
			t.Fatalf("accepted a report without its required lines: %+v", info)
		}
	})
}

func FuzzParseCounters(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCounters(b)
		if err == nil && IsMissing(c.Client.Requests) {
			t.Fatal("accepted a report without client_http.requests")
		}
	})
}

func FuzzParseStoreDir(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		dirs, err := ParseStoreDir(b)
		if err != nil {
			return
		}
		for _, d := range dirs {
			if IsMissing(d.CapacityBytes) || IsMissing(d.UsedBytes) {
				t.Fatalf("accepted a dir without sizes: %+v", d)
			}
		}
	})
}
