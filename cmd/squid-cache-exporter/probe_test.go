package main

import (
	"strings"
	"testing"
)

// The prober reads exactly one access log source: a file and a receiver fed
// by the same Squid would count each line twice and turn a hit into a
// false not_cached.
func TestCheckLogSource(t *testing.T) {
	tests := []struct {
		name string
		o    probeOptions
		want string // in the error; "" means accepted
	}{
		{"file", probeOptions{accessLog: "/var/log/squid/access.log"}, ""},
		{"receiver", probeOptions{listen: ":5140"}, ""},
		{"receiver with peers", probeOptions{listen: ":5140", allowedPeers: []string{"10.0.0.0/8", "::1/128"}}, ""},
		{"none", probeOptions{}, "set --probe.access-log or"},
		{"both", probeOptions{accessLog: "/var/log/squid/access.log", listen: ":5140"}, "not both"},
		{"peers without receiver", probeOptions{accessLog: "x", allowedPeers: []string{"10.0.0.0/8"}}, "needs --probe.access-log.listen-address"},
		{"bad peer", probeOptions{listen: ":5140", allowedPeers: []string{"10.0.0.1"}}, "allowed-peers"},
	}
	for _, tt := range tests {
		err := checkLogSource(tt.o)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want one saying %q", tt.name, err, tt.want)
		}
	}
}
