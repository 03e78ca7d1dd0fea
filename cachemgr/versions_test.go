package cachemgr

import (
	"testing"
)

// The fixtures squid-<version>[-workers2]-<report>.txt were recorded from
// live Squids by internal/test/squidtest's TestRecordFixtures, after the same
// traffic: 3 objects fetched, 2 of them again (2 hits), a private object
// twice, and one request to a closed port.

func TestParseInfoLiveVersions(t *testing.T) {
	tests := []struct {
		fixture, version                         string
		uptime, entries, memObjects, diskObjects float64
		// Under SMP the file descriptor limit is the sum over the
		// processes: 2 workers and the disker, 20000 each.
		fdMax     float64
		memUsedKB float64
	}{
		{"squid-6.13-info.txt", "6.13", 63.917, 56, 3, 3, 20000, 256},
		{"squid-6.13-workers2-info.txt", "6.13", 63.818, 159, 3, 0, 60000, 96},
		{"squid-7.7-info.txt", "7.7", 63.617, 56, 3, 3, 20000, 256},
		{"squid-7.7-workers2-info.txt", "7.7", 63.746, 159, 3, 3, 60000, 316},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			info, err := ParseInfo(readFixture(t, tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			if info.Version != tt.version || info.ServiceName != "squid" {
				t.Errorf("identity = %q %q, want %q squid", info.Version, info.ServiceName, tt.version)
			}
			checks := []struct {
				name      string
				got, want float64
			}{
				{"uptime", info.UptimeSeconds, tt.uptime},
				{"store entries", info.StoreEntries, tt.entries},
				{"memory objects", info.MemoryObjects, tt.memObjects},
				{"disk objects", info.DiskObjects, tt.diskObjects},
				{"fd max", info.FileDescriptorsMax, tt.fdMax},
				{"memory used", info.MemoryUsedBytes, tt.memUsedKB * 1024},
			}
			for _, c := range checks {
				if !near(c.got, c.want) {
					t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
				}
			}
			checkNoneMissing(t, info.Clients, info.RequestHitRatio.Last5m, info.ByteHitRatio.Last60m,
				info.MemoryHitRatio.Last5m, info.DiskHitRatio.Last60m, info.DiskUsedBytes, info.MemoryUsedRatio,
				info.MeanObjectSizeBytes, info.CPUSeconds, info.FileDescriptorsUsed, info.FileDescriptorsAvailable)
		})
	}
}

func TestParseCountersLiveVersions(t *testing.T) {
	tests := []struct {
		fixture                                 string
		requests, hits, serverRequests, aborted float64
	}{
		{"squid-6.13-counters.txt", 11, 2, 5, 0},
		// With workers, the counters are the sum over the workers.
		{"squid-6.13-workers2-counters.txt", 12, 2, 5, 4},
		{"squid-7.7-counters.txt", 11, 2, 5, 0},
		{"squid-7.7-workers2-counters.txt", 12, 2, 5, 4},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			c, err := ParseCounters(readFixture(t, tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			checks := []struct {
				name      string
				got, want float64
			}{
				{"client requests", c.Client.Requests, tt.requests},
				{"client hits", c.ClientHits, tt.hits},
				{"server http requests", c.Server["http"].Requests, tt.serverRequests},
				{"aborted", c.AbortedRequests, tt.aborted},
				{"hit bytes", c.HitSentBytes, 2 * 8 * 1024}, // two 8 KiB objects
			}
			for _, ch := range checks {
				if !near(ch.got, ch.want) {
					t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
				}
			}
			checkNoneMissing(t, c.Client.Errors, c.Client.ReceivedBytes, c.Client.SentBytes, c.SwapOuts,
				c.SwapIns, c.SwapFilesCleaned, c.CPUSeconds, c.PageFaults, c.SelectLoops)
		})
	}
}

// Every report of every live Squid parses, each by its own parser.
// storedir's values are checked by TestParseStoreDir.
func TestParseLiveVersions(t *testing.T) {
	parsers := map[string]func([]byte) error{
		"info":     func(b []byte) error { _, err := ParseInfo(b); return err },
		"counters": func(b []byte) error { _, err := ParseCounters(b); return err },
		"storedir": func(b []byte) error { _, err := ParseStoreDir(b); return err },
	}
	for _, squid := range []string{"squid-6.13", "squid-6.13-workers2", "squid-7.7", "squid-7.7-workers2"} {
		for report, parse := range parsers {
			t.Run(squid+"/"+report, func(t *testing.T) {
				if err := parse(readFixture(t, squid+"-"+report+".txt")); err != nil {
					t.Error(err)
				}
			})
		}
	}
}

func checkNoneMissing(t *testing.T, values ...float64) {
	t.Helper()
	for i, v := range values {
		if IsMissing(v) {
			t.Errorf("value %d is missing", i)
		}
	}
}
