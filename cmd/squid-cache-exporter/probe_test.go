package main

import (
	"strings"
	"testing"

	"github.com/go-kit/log"
)

// The access log flags: one source, the old flags as aliases, and never
// the same log twice.
func TestAccessLogFlags(t *testing.T) {
	tests := []struct {
		name              string
		o                 accessLogOptions
		file, listen, err string
	}{
		{"none", accessLogOptions{}, "", "", ""},
		{"file", accessLogOptions{source: "/var/log/squid/access.log"}, "/var/log/squid/access.log", "", ""},
		{"tcp", accessLogOptions{source: "tcp://:5140", allowedPeers: []string{"10.1.2.3/8"}}, "", ":5140", ""},
		{"old file flag", accessLogOptions{oldFile: "/x.log"}, "/x.log", "", ""},
		{"old listen flag", accessLogOptions{oldListen: "127.0.0.1:5140"}, "", "127.0.0.1:5140", ""},
		{"file and tcp", accessLogOptions{source: "/x.log", oldListen: ":5140"}, "", "", "not several"},
		{"peers for a file", accessLogOptions{source: "/x.log", allowedPeers: []string{"10.0.0.0/8"}}, "", "", "listen address"},
		{"another scheme", accessLogOptions{source: "udp://:5140"}, "", "", "tcp://HOST:PORT"},
		{"bad peer", accessLogOptions{source: "tcp://:5140", allowedPeers: []string{"10.0.0.1"}}, "", "", "allowed-peers"},
		{"tcp with a token", accessLogOptions{source: "tcp://:5140", tokenFile: "/run/token"}, "", ":5140", ""},
		{"token for a file", accessLogOptions{source: "/x.log", tokenFile: "/run/token"}, "", "", "listen address"},
	}
	for _, tt := range tests {
		c, err := feedConfig(tt.o, log.NewNopLogger())
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: error %v, want one saying %q", tt.name, err, tt.err)
			}
		case err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case c == nil:
			if tt.file != "" || tt.listen != "" {
				t.Errorf("%s: no feed", tt.name)
			}
		case c.File != tt.file || c.Listen != tt.listen || c.TokenFile != tt.o.tokenFile:
			t.Errorf("%s: file %q listen %q token file %q", tt.name, c.File, c.Listen, c.TokenFile)
		}
	}
}
