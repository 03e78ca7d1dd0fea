package cachemgr

import (
	"testing"
)

func TestActiveClientRequests(t *testing.T) {
	fixture := readFixture(t, "squid-5.7-active_requests.txt")
	for _, tt := range []struct {
		name   string
		report string
		want   int
		bad    bool
	}{
		// Recorded from a live Squid 5.7 during a download, asked by the
		// cache manager itself.
		{"a download and the manager's own request", string(fixture), 1, false},
		{"only the manager", "Connection: 0x1\nuri http://vm:3128/squid-internal-mgr/active_requests\n", 0, false},
		{"idle", "", 0, false},
		{"a tunnel", "Connection: 0x1\nuri quay.io:443\n\nConnection: 0x2\nuri http://a/squid-internal-mgr/x\n", 1, false},
		{"a uri outside a block", "uri http://a/\n", 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ActiveClientRequests([]byte(tt.report))
			if (err != nil) != tt.bad || got != tt.want {
				t.Errorf("got %d, %v; want %d, error %v", got, err, tt.want, tt.bad)
			}
		})
	}
}
