package cachemgr

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseInfo(t *testing.T) {
	info, err := ParseInfo(readFixture(t, "squid-5.7-info.txt"))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want float64
	}{
		{"clients", info.Clients, 1},
		{"request hit 5m", info.RequestHitRatio.Last5m, 0.375},
		{"request hit 60m", info.RequestHitRatio.Last60m, 0.376},
		{"byte hit 5m", info.ByteHitRatio.Last5m, 0.75},
		{"byte hit 60m", info.ByteHitRatio.Last60m, 0.856},
		{"memory hit 60m", info.MemoryHitRatio.Last60m, 0.921},
		{"disk hit 60m", info.DiskHitRatio.Last60m, 0.066},
		{"disk used", info.DiskUsedBytes, 40444 * 1024},
		{"memory used", info.MemoryUsedBytes, 18104 * 1024},
		{"memory used ratio", info.MemoryUsedRatio, 0.276},
		{"mean object size", info.MeanObjectSizeBytes, 722.21 * 1024},
		{"uptime", info.UptimeSeconds, 372.2},
		{"cpu", info.CPUSeconds, 0.847},
		{"fd max", info.FileDescriptorsMax, 20000},
		{"fd used", info.FileDescriptorsUsed, 18},
		{"fd available", info.FileDescriptorsAvailable, 19982},
		{"store entries", info.StoreEntries, 109},
		{"memory objects", info.MemoryObjects, 49},
		{"disk objects", info.DiskObjects, 56},
	}
	for _, c := range checks {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if info.Version != "5.7" || info.ServiceName != "squid" {
		t.Errorf("identity = %q %q", info.Version, info.ServiceName)
	}
	if want := time.Date(2026, 11, 23, 22, 17, 55, 0, time.UTC); !info.StartTime.Equal(want) {
		t.Errorf("start time = %v, want %v", info.StartTime, want)
	}
}

func TestParseInfoVariants(t *testing.T) {
	base := string(readFixture(t, "squid-5.7-info.txt"))
	tests := []struct {
		name  string
		edit  func(string) string
		check func(*Info) bool
	}{
		{"negative zero reads as zero",
			func(s string) string { return strings.Replace(s, "5min: 75.0%", "5min: -0.0%", 1) },
			func(i *Info) bool { return i.ByteHitRatio.Last5m == 0 }},
		{"client_db off leaves clients missing",
			func(s string) string { return strings.Replace(s, "cache:\t1\n", "cache:\t(client_db off)\n", 1) },
			func(i *Info) bool { return IsMissing(i.Clients) }},
		{"unknown lines from newer Squids are ignored",
			func(s string) string {
				return strings.Replace(s, "Build Info", "\tSomething New:\t42 widgets\nBuild Info", 1)
			},
			func(i *Info) bool { return i.Version == "5.7" }},
		{"CRLF line ends",
			func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") },
			func(i *Info) bool { return i.FileDescriptorsMax == 20000 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := ParseInfo([]byte(tt.edit(base)))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(info) {
				t.Errorf("unexpected result: %+v", info)
			}
		})
	}
}

func TestParseCounters(t *testing.T) {
	c, err := ParseCounters(readFixture(t, "squid-5.7-counters.txt"))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want float64
	}{
		{"client requests", c.Client.Requests, 204},
		{"client hits", c.ClientHits, 76},
		{"client errors", c.Client.Errors, 0},
		{"client received", c.Client.ReceivedBytes, 50 * 1024},
		{"client sent", c.Client.SentBytes, 108989 * 1024},
		{"client hit sent", c.HitSentBytes, 93208 * 1024},
		{"server http requests", c.Server["http"].Requests, 70},
		{"server http received", c.Server["http"].ReceivedBytes, 15743 * 1024},
		{"server http sent", c.Server["http"].SentBytes, 14 * 1024},
		{"server ftp requests", c.Server["ftp"].Requests, 0},
		{"server other errors", c.Server["other"].Errors, 0},
		{"swap outs", c.SwapOuts, 46},
		{"swap ins", c.SwapIns, 10},
		{"swap files cleaned", c.SwapFilesCleaned, 0},
		{"aborted", c.AbortedRequests, 0},
		{"cpu", c.CPUSeconds, 0.8492},
		{"select loops", c.SelectLoops, 29560},
	}
	for _, ch := range checks {
		if !near(ch.got, ch.want) {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	if _, ok := c.Server["all"]; ok {
		t.Error("server.all must not be kept beside its parts")
	}
}

func TestParseCountersSquid6Additions(t *testing.T) {
	report := string(readFixture(t, "squid-5.7-counters.txt")) +
		"hit_validation.attempts = 3\nhit_validation.failures = 0\nserver.https.requests = 9\n"
	c, err := ParseCounters([]byte(report))
	if err != nil {
		t.Fatal(err)
	}
	if c.Client.Requests != 204 || len(c.Server) != len(ServerProtocols) {
		t.Errorf("additions changed the result: %+v", c)
	}
}

func TestParseStoreDir(t *testing.T) {
	const kb, day = 1024, 24 * 60 * 60
	ufs57 := StoreDir{"ufs", "/tmp/squidlab/cache", 262144 * kb, 40444 * kb, 0}
	tests := []struct {
		fixture string
		dirs    []StoreDir
		memory  *MemoryCache
	}{
		{"squid-5.7-storedir.txt", []StoreDir{ufs57}, nil},
		{"squid-7-storedir.txt", []StoreDir{ufs57}, nil},
		{"squid-6.13-storedir.txt", []StoreDir{{"ufs", "/tmp/squidtest-60276022/cache", 65536 * kb, 36 * kb, 0}}, nil},
		{"squid-7.7-storedir.txt", []StoreDir{{"ufs", "/tmp/squidtest-1461554402/cache", 65536 * kb, 36 * kb, 0}}, nil},
		// Workers report no rock dir; the disker reports it once, without
		// an LRU age (rock has no removal policy). Each worker reports the
		// shared memory cache, which is not a cache_dir.
		{"squid-smp-storedir.txt", []StoreDir{{"rock", "/var/spool/squid/rock", 1048576 * kb, 2048 * kb, Missing}},
			&MemoryCache{1024 * kb, 262144 * kb, true}},
		{"squid-6.13-workers2-storedir.txt", []StoreDir{{"rock", "/tmp/squidtest-190867418/cache", 65536 * kb, 16 * kb, Missing}},
			&MemoryCache{96 * kb, 16384 * kb, true}},
		{"squid-7.7-workers2-storedir.txt", []StoreDir{{"rock", "/tmp/squidtest-2123593313/cache", 65536 * kb, 64 * kb, Missing}},
			&MemoryCache{96 * kb, 16384 * kb, true}},
		// Two workers sharing one ufs dir (Squid 5.7, workers 2, no
		// ${process_number} in the path) both report it: it counts once.
		{"squid-5.7-workers2-storedir.txt", []StoreDir{{"ufs", "/tmp/smplab/cache", 262144 * kb, 8640 * kb, 0.01 * day}},
			&MemoryCache{0, 65536 * kb, true}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			r, err := ParseStoreDir(readFixture(t, tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Dirs) != len(tt.dirs) {
				t.Fatalf("got %d dirs, want %d: %+v", len(r.Dirs), len(tt.dirs), r.Dirs)
			}
			for i, d := range r.Dirs {
				if !sameDir(d, tt.dirs[i]) {
					t.Errorf("dir %d = %+v, want %+v", i, d, tt.dirs[i])
				}
			}
			switch {
			case (r.SharedMemory == nil) != (tt.memory == nil):
				t.Errorf("shared memory cache = %+v, want %+v", r.SharedMemory, tt.memory)
			case r.SharedMemory != nil && *r.SharedMemory != *tt.memory:
				t.Errorf("shared memory cache = %+v, want %+v", *r.SharedMemory, *tt.memory)
			}
		})
	}
}

func TestStoreDirDuplicatesKeepTheFullestView(t *testing.T) {
	block := func(kid int, usedKB, lruDays string) string {
		return fmt.Sprintf("by kid%d {\nStore Directory Statistics:\n\nStore Directory #0 (ufs): /cache\n"+
			"Maximum Size: 1024 KB\nCurrent Size: %s KB\nRemoval policy: lru\n%s} by kid%d\n\n", kid, usedKB, lruDays, kid)
	}
	report := block(1, "10.00", "LRU reference age: 0.50 days\n") + block(2, "30.00", "") + block(3, "20.00", "LRU reference age: 0.25 days\n")
	r, err := ParseStoreDir([]byte(report))
	if err != nil {
		t.Fatal(err)
	}
	want := StoreDir{"ufs", "/cache", 1024 * 1024, 30 * 1024, 0.5 * 24 * 60 * 60}
	if len(r.Dirs) != 1 || !sameDir(r.Dirs[0], want) {
		t.Errorf("dirs = %+v, want [%+v]", r.Dirs, want)
	}
}

// sameDir compares dirs, a Missing LRU age equal to a Missing one.
func sameDir(a, b StoreDir) bool {
	ageA, ageB := a.LRUReferenceAgeSeconds, b.LRUReferenceAgeSeconds
	a.LRUReferenceAgeSeconds, b.LRUReferenceAgeSeconds = 0, 0
	return a == b && (IsMissing(ageA) && IsMissing(ageB) || near(ageA, ageB))
}

func TestParseErrors(t *testing.T) {
	info := string(readFixture(t, "squid-5.7-info.txt"))
	counters := string(readFixture(t, "squid-5.7-counters.txt"))
	storedir := string(readFixture(t, "squid-5.7-storedir.txt"))
	smpStoredir := string(readFixture(t, "squid-7.7-workers2-storedir.txt"))
	serviceTimes := string(readFixture(t, "squid-5.7-service_times.txt"))
	storeID := string(readFixture(t, "squid-5.7-store_id.txt"))
	parsers := map[string]func([]byte) error{
		"info":          func(b []byte) error { _, err := ParseInfo(b); return err },
		"counters":      func(b []byte) error { _, err := ParseCounters(b); return err },
		"storedir":      func(b []byte) error { _, err := ParseStoreDir(b); return err },
		"service_times": func(b []byte) error { _, err := ParseServiceTimes(b); return err },
		"store_id":      func(b []byte) error { _, err := ParseHelperStats(b); return err },
	}
	tests := []struct {
		parser, name, report, wantErr string
	}{
		{"info", "empty", "", "not an info report"},
		{"info", "an HTML error page", "<html><body>ERR_ACCESS_DENIED</body></html>", "not an info report"},
		{"info", "cut short", info[:len(info)/2], "incomplete"},
		{"info", "bad number", strings.Replace(info, "20000", "2O000", 1), "Maximum number of file descriptors"},
		{"info", "bad percentage", strings.Replace(info, "5min: 37.5%", "5min: 37.5", 1), "Hits as % of all requests"},
		{"info", "bad start time", strings.Replace(info, "Mon, 23 Nov 2026 22:17:55", "yesterday", 1), "Start Time"},
		{"counters", "empty", "", "incomplete"},
		{"counters", "the info report", info, "incomplete"},
		{"counters", "cut short", counters[:len(counters)/2], "incomplete"},
		{"counters", "bad number", strings.Replace(counters, "client_http.hits = 76", "client_http.hits = x", 1), "client_http.hits"},
		{"storedir", "empty", "", "not a storedir report"},
		{"storedir", "cut inside a dir", storedir[:strings.Index(storedir, "Current Size")], "incomplete"},
		{"storedir", "bad size", strings.Replace(storedir, "Maximum Size: 262144 KB", "Maximum Size: lots", 1), "Maximum Size"},
		{"storedir", "bad LRU age", strings.Replace(storedir, "0.00 days", "0.00 weeks", 1), "LRU reference age"},
		{"storedir", "bad shared memory size", strings.Replace(smpStoredir, "Current Size: 96.00 KB", "Current Size: 9x KB", 1), "shared memory cache Current Size"},
		{"storedir", "shared memory cut short", smpStoredir[:strings.Index(smpStoredir, "Current Size: 96.00")], "shared memory cache: report is incomplete"},
		{"service_times", "empty", "", "not a service_times report"},
		{"service_times", "the info report", info, "not a service_times report"},
		{"service_times", "cut short", serviceTimes[:len(serviceTimes)/2], "incomplete: near_hit has 9 of 19"},
		{"service_times", "header only", "Service Time Percentiles            5 min    60 min:\n", "incomplete: http_all has 0 of 19"},
		{"service_times", "bad number", strings.Replace(serviceTimes, "0.00091  0.00000", "0.00091  O.0", 1), "HTTP Requests (All) 10%"},
		{"service_times", "one window", strings.Replace(serviceTimes, "0.00091  0.00000", "0.00091", 1), "want '<5 min> <60 min>'"},
		{"service_times", "bad percentile", strings.Replace(serviceTimes, "10%", "1O%", 1), "percentile"},
		{"store_id", "empty", "", "not a helper report"},
		{"store_id", "the storedir report", storedir, "incomplete"},
		{"store_id", "cut before the table", storeID[:strings.Index(storeID, "   ID #")], "no end of the child table"},
		{"store_id", "cut short", storeID[:strings.Index(storeID, "queue length")], "incomplete"},
		{"store_id", "bad count", strings.Replace(storeID, "requests sent: 221", "requests sent: many", 1), "requests sent"},
		{"store_id", "bad children", strings.Replace(storeID, "1 of 5", "one of 5", 1), "number active"},
		{"store_id", "service time without unit", strings.Replace(storeID, "0 msec", "0", 1), "avg service time"},
	}
	for _, tt := range tests {
		t.Run(tt.parser+"/"+tt.name, func(t *testing.T) {
			err := parsers[tt.parser]([]byte(tt.report))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestKidBlocks(t *testing.T) {
	tests := []struct {
		name, report string
		want         []string
	}{
		{"unwrapped", "a\nb\n", []string{"a\nb\n"}},
		{"one kid", "by kid0 {\na\n} by kid0\n\n", []string{"a\n"}},
		{"two kids", "by kid1 {\na\n} by kid1\n\nby kid2 {\nb\n} by kid2\n", []string{"a\n", "b\n"}},
		{"cut off", "by kid1 {\na\n", []string{"a\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for b := range kidBlocks([]byte(tt.report)) {
				got = append(got, string(b))
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("blocks = %q, want %q", got, tt.want)
			}
		})
	}
}

func near(got, want float64) bool {
	d := got - want
	return d < 1e-9*max(1, want) && -d < 1e-9*max(1, want)
}
