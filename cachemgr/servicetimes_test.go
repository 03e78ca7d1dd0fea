package cachemgr

import (
	"strings"
	"testing"
)

func TestParseServiceTimes(t *testing.T) {
	const all, miss, hit, icp = 0, 1, 2, 6
	tests := []struct {
		fixture  string
		category int
		pct      int
		want     Windows
	}{
		{"squid-5.7-service_times.txt", all, 5, Windows{0, 0}},
		{"squid-5.7-service_times.txt", all, 10, Windows{0.00091, 0}},
		{"squid-5.7-service_times.txt", all, 50, Windows{0.00405, 0.00379}},
		{"squid-5.7-service_times.txt", miss, 95, Windows{0.01387, 0.01556}},
		{"squid-5.7-service_times.txt", hit, 90, Windows{0.00678, 0.00767}},
		{"squid-5.7-service_times.txt", icp, 95, Windows{0, 0}},
		{"squid-6.13-service_times.txt", all, 50, Windows{0.00091, 0.00091}},
		{"squid-6.13-workers2-service_times.txt", all, 50, Windows{0.00102, 0.00102}},
		{"squid-7.7-service_times.txt", all, 50, Windows{0.00091, 0.00091}},
		{"squid-7.7-workers2-service_times.txt", icp, 95, Windows{0, 0}},
	}
	for _, tt := range tests {
		st, err := ParseServiceTimes(readFixture(t, tt.fixture))
		if err != nil {
			t.Fatalf("%s: %v", tt.fixture, err)
		}
		for c, series := range st.Seconds {
			for i, w := range series {
				if IsMissing(w.Last5m) || IsMissing(w.Last60m) {
					t.Errorf("%s: %s %d%% missing", tt.fixture, ServiceCategories[c], Percentile(i))
				}
			}
		}
		got := st.Seconds[tt.category][tt.pct/5-1]
		if !near(got.Last5m, tt.want.Last5m) || !near(got.Last60m, tt.want.Last60m) {
			t.Errorf("%s: %s %d%% = %+v, want %+v", tt.fixture, ServiceCategories[tt.category], tt.pct, got, tt.want)
		}
	}
}

func TestParseServiceTimesVariants(t *testing.T) {
	base := string(readFixture(t, "squid-5.7-service_times.txt"))
	withoutICP := func(s string) string {
		var keep []string
		for _, line := range strings.SplitAfter(s, "\n") {
			if !strings.Contains(line, "ICP Queries") {
				keep = append(keep, line)
			}
		}
		return strings.Join(keep, "")
	}
	tests := []struct {
		name  string
		edit  func(string) string
		check func(*ServiceTimes) bool
	}{
		{"a category a newer Squid drops is missing, not an error", withoutICP,
			func(st *ServiceTimes) bool {
				return IsMissing(st.Seconds[6][0].Last5m) && st.Seconds[0][1].Last5m == 0.00091
			}},
		{"unknown categories and percentiles are ignored",
			func(s string) string {
				return s + "\tSomething New:          5%   1.00000  1.00000\n\tHTTP Requests (All): 100%   9.00000  9.00000\n"
			},
			func(st *ServiceTimes) bool { return st.Seconds[0][18].Last5m == 0.01309 }},
		{"CRLF line ends",
			func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") },
			func(st *ServiceTimes) bool { return st.Seconds[1][18].Last60m == 0.01556 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := ParseServiceTimes([]byte(tt.edit(base)))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(st) {
				t.Errorf("unexpected result: %+v", st.Seconds)
			}
		})
	}
}

func TestParseInfoServiceTimeMedians(t *testing.T) {
	tests := []struct {
		fixture string
		want    [len(ServiceCategories)]Windows
	}{
		{"squid-5.7-info.txt", [...]Windows{{0.00405, 0.00379}, {0.00379, 0.00286}, {0.00286, 0.00286}, {}, {}, {}, {}}},
		{"squid-6.13-info.txt", [...]Windows{{0.00091, 0.00091}, {0.00091, 0.00091}, {}, {}, {}, {}, {}}},
		// Under SMP Squid averages its kids' medians, the disker's zeros
		// included.
		{"squid-7.7-workers2-info.txt", [...]Windows{{}, {0.00034, 0.00034}, {}, {}, {}, {}, {}}},
	}
	for _, tt := range tests {
		info, err := ParseInfo(readFixture(t, tt.fixture))
		if err != nil {
			t.Fatalf("%s: %v", tt.fixture, err)
		}
		for c, w := range info.ServiceTimeMedians {
			if !near(w.Last5m, tt.want[c].Last5m) || !near(w.Last60m, tt.want[c].Last60m) {
				t.Errorf("%s: %s median = %+v, want %+v", tt.fixture, ServiceCategories[c], w, tt.want[c])
			}
		}
	}
}
