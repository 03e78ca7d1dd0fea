package cachemgr

import (
	"strings"
	"testing"
)

func TestParseHelperStats(t *testing.T) {
	tests := []struct {
		fixture string
		want    HelperStats
	}{
		{"squid-5.7-store_id.txt", HelperStats{Processes: 1, ActiveChildren: 1, MaxChildren: 5, BusyChildren: 1,
			Requests: 221, Replies: 220, TimedOut: 0, QueueLength: 0, AverageServiceSeconds: 0, Bypassed: 0}},
		{"squid-6.13-store_id.txt", HelperStats{Processes: 1, ActiveChildren: 1, MaxChildren: 3, BusyChildren: 1,
			Requests: 15, Replies: 14, AverageServiceSeconds: 0, Bypassed: 0}},
		{"squid-7.7-store_id.txt", HelperStats{Processes: 1, ActiveChildren: 1, MaxChildren: 3, BusyChildren: 1,
			Requests: 15, Replies: 14, AverageServiceSeconds: 0, Bypassed: 0}},
		// Two workers and the disker each run their own children. The
		// average is weighted by replies: (12×0 + 3×4 ms) / 15.
		{"squid-6.13-workers2-store_id.txt", HelperStats{Processes: 3, ActiveChildren: 3, MaxChildren: 9,
			Requests: 15, Replies: 15, AverageServiceSeconds: 0.0008, Bypassed: 0}},
		{"squid-7.7-workers2-store_id.txt", HelperStats{Processes: 3, ActiveChildren: 3, MaxChildren: 9,
			Requests: 15, Replies: 15, AverageServiceSeconds: 0, Bypassed: 0}},
		// store_id_bypass off: Squid never bypasses and prints no count.
		{"squid-5.7-bypass-off-store_id.txt", HelperStats{Processes: 1, ActiveChildren: 1, MaxChildren: 1, BusyChildren: 1,
			Requests: 4, Replies: 3, AverageServiceSeconds: 0, Bypassed: Missing}},
		// No store_id_program: a valid report with nothing to count.
		{"squid-5.7-workers2-store_id.txt", HelperStats{}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			h, err := ParseHelperStats(readFixture(t, tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			if h.Processes != tt.want.Processes {
				t.Fatalf("processes = %d, want %d", h.Processes, tt.want.Processes)
			}
			if h.Processes == 0 {
				return
			}
			checks := []struct {
				name      string
				got, want float64
			}{
				{"active", h.ActiveChildren, tt.want.ActiveChildren},
				{"max", h.MaxChildren, tt.want.MaxChildren},
				{"busy", h.BusyChildren, tt.want.BusyChildren},
				{"requests", h.Requests, tt.want.Requests},
				{"replies", h.Replies, tt.want.Replies},
				{"timed out", h.TimedOut, tt.want.TimedOut},
				{"queue", h.QueueLength, tt.want.QueueLength},
				{"average service time", h.AverageServiceSeconds, tt.want.AverageServiceSeconds},
				{"bypassed", h.Bypassed, tt.want.Bypassed},
			}
			for _, c := range checks {
				if !near(c.got, c.want) && !(IsMissing(c.got) && IsMissing(c.want)) {
					t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
				}
			}
		})
	}
}

func TestParseHelperStatsVariants(t *testing.T) {
	base := string(readFixture(t, "squid-5.7-store_id.txt"))
	const bypassLine = "Number of requests bypassed because all StoreId helpers were busy: 0\n"
	tests := []struct {
		name  string
		edit  func(string) string
		check func(*HelperStats) bool
	}{
		{"store_id_bypass off: no bypass line, the count is missing",
			func(s string) string { return strings.Replace(s, bypassLine, "", 1) },
			func(h *HelperStats) bool { return IsMissing(h.Bypassed) }},
		{"bypasses counted",
			func(s string) string { return strings.Replace(s, "busy: 0", "busy: 17", 1) },
			func(h *HelperStats) bool { return h.Bypassed == 17 }},
		{"service time in milliseconds",
			func(s string) string {
				return strings.Replace(s, "avg service time: 0 msec", "avg service time: 250 msec", 1)
			},
			func(h *HelperStats) bool { return h.AverageServiceSeconds == 0.25 }},
		{"an idle child is not busy",
			func(s string) string { return strings.Replace(s, "\tB     \t", "\t      \t", 1) },
			func(h *HelperStats) bool { return h.BusyChildren == 0 && h.ActiveChildren == 1 }},
		{"a pending signed URL in the table is skipped",
			func(s string) string {
				return strings.Replace(s, "(none)", "https://cdn01.quay.io/sha256/ab/x?X-Amz-Signature=deadbeef\tcolumns\tafter", 1)
			},
			func(h *HelperStats) bool { return h.BusyChildren == 1 }},
		{"CRLF line ends",
			func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") },
			func(h *HelperStats) bool { return h.Requests == 221 && h.BusyChildren == 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseHelperStats([]byte(tt.edit(base)))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(h) {
				t.Errorf("unexpected result: %+v", h)
			}
		})
	}
}

// The child table shows each child's pending request: for the store-ID
// helper, a signed CDN URL. A row Squid did not write whole must not put
// it into the error, which the exporter logs.
func TestHelperErrorsNeverQuoteTheTable(t *testing.T) {
	const secret = "X-Amz-Signature=deadbeef"
	base := string(readFixture(t, "squid-5.7-store_id.txt"))
	row := "      2\t     15\t  30597\t        221\t        220\t          0\tB     \t  0.000\t      4\t(none)"
	broken := strings.Replace(base, row, "      2\t     15\thttps://cdn01.quay.io/x?"+secret, 1)
	_, err := ParseHelperStats([]byte(broken))
	if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "row 1") {
		t.Errorf("error = %v, want one naming the row and not quoting it", err)
	}
}
