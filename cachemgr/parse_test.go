package cachemgr

import (
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
	tests := []struct {
		fixture string
		want    []StoreDir
	}{
		{"squid-5.7-storedir.txt", []StoreDir{{"ufs", "/tmp/squidlab/cache", 262144 * 1024, 40444 * 1024}}},
		{"squid-7-storedir.txt", []StoreDir{{"ufs", "/tmp/squidlab/cache", 262144 * 1024, 40444 * 1024}}},
		// Workers report no rock dir; the disker reports it once. The shared
		// memory cache's sizes are not a cache_dir.
		{"squid-smp-storedir.txt", []StoreDir{{"rock", "/var/spool/squid/rock", 1048576 * 1024, 2048 * 1024}}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			dirs, err := ParseStoreDir(readFixture(t, tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			if len(dirs) != len(tt.want) {
				t.Fatalf("got %d dirs, want %d: %+v", len(dirs), len(tt.want), dirs)
			}
			for i := range dirs {
				if dirs[i] != tt.want[i] {
					t.Errorf("dir %d = %+v, want %+v", i, dirs[i], tt.want[i])
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	info := string(readFixture(t, "squid-5.7-info.txt"))
	counters := string(readFixture(t, "squid-5.7-counters.txt"))
	storedir := string(readFixture(t, "squid-5.7-storedir.txt"))
	parsers := map[string]func([]byte) error{
		"info":     func(b []byte) error { _, err := ParseInfo(b); return err },
		"counters": func(b []byte) error { _, err := ParseCounters(b); return err },
		"storedir": func(b []byte) error { _, err := ParseStoreDir(b); return err },
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
