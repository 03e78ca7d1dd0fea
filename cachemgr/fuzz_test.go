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
	// Shapes no fixture has: an SMP helper report, a helper not configured,
	// a short table row, percentiles Squid does not print, a shared memory
	// cache without its dirs.
	f.Add([]byte("by kid1 {\nStoreId helper Statistics:\n  number active: 1 of 2 (0 shutting down)\n" +
		"  requests sent: 5\n  replies received: 5\n  queue length: 0\n  avg service time: 3 msec\n\n" +
		"   ID #\t     FD\n      1\t2\t3\t4\t5\t6\tB     \t0.1\t0\t(none)\n\n} by kid1\n"))
	f.Add([]byte("No StoreId helpers defined\n"))
	f.Add([]byte("Service Time Percentiles            5 min    60 min:\n\tHTTP Requests (All): 100%  1 2\n\tCache Hits: 7%% 1\n"))
	f.Add([]byte("Store Directory Statistics:\nShared Memory Cache\nMaximum Size: 1 KB\nCurrent Size: x KB 1%\n"))
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
		r, err := ParseStoreDir(b)
		if err != nil {
			return
		}
		for _, d := range r.Dirs {
			if IsMissing(d.CapacityBytes) || IsMissing(d.UsedBytes) {
				t.Fatalf("accepted a dir without sizes: %+v", d)
			}
		}
		if m := r.SharedMemory; m != nil && (IsMissing(m.CapacityBytes) || IsMissing(m.UsedBytes) || !m.Exact) {
			t.Fatalf("accepted a shared memory cache without sizes: %+v", m)
		}
	})
}

func FuzzParseServiceTimes(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseServiceTimes(b)
		if err != nil {
			return
		}
		for i, w := range st.Seconds[0] {
			if IsMissing(w.Last5m) || IsMissing(w.Last60m) {
				t.Fatalf("accepted a report without the %d%% of all requests", Percentile(i))
			}
		}
	})
}

func FuzzParseHelperStats(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHelperStats(b)
		if err != nil {
			return
		}
		if h.Processes > 0 && (IsMissing(h.Requests) || IsMissing(h.QueueLength) || IsMissing(h.AverageServiceSeconds)) {
			t.Fatalf("accepted helper statistics without their required lines: %+v", h)
		}
	})
}

func FuzzActiveClientRequests(f *testing.F) {
	f.Add(readFixture(f, "squid-5.7-active_requests.txt"))
	f.Add([]byte("uri x\n"))
	f.Fuzz(func(t *testing.T, report []byte) {
		if n, err := ActiveClientRequests(report); n < 0 || err != nil && n != 0 {
			t.Errorf("%d, %v", n, err)
		}
	})
}
