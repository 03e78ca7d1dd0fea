package accesslog

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/go-kit/log"
)

// A feed reads exactly one source: a file and a receiver fed by the same
// Squid would count each line twice and turn a hit into a false not_cached.
func TestFeedConfigCheck(t *testing.T) {
	peers := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name string
		c    FeedConfig
		want string // in the error; "" means accepted
	}{
		{"file", FeedConfig{File: "/var/log/squid/access.log"}, ""},
		{"receiver", FeedConfig{Listen: ":5140"}, ""},
		{"receiver with peers", FeedConfig{Listen: ":5140", AllowedPeers: peers}, ""},
		{"none", FeedConfig{}, "no access log"},
		{"both", FeedConfig{File: "/var/log/squid/access.log", Listen: ":5140"}, "not both"},
		{"peers without receiver", FeedConfig{File: "x", AllowedPeers: peers}, "give a listen address"},
		{"receiver with token", FeedConfig{Listen: ":5140", TokenFile: "/run/squid-token/token"}, ""},
		{"token without receiver", FeedConfig{File: "x", TokenFile: "/run/squid-token/token"}, "token file is for the receiver"},
	}
	for _, tt := range tests {
		err := tt.c.Check()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want one saying %q", tt.name, err, tt.want)
		}
	}
}

// StartFeed opens its source before it returns: a line written right after
// is seen, with no wait.
func TestStartFeedSeesTheNextLine(t *testing.T) {
	path := t.TempDir() + "/access.log"
	appendTo(t, path, line(0))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	feed, err := StartFeed(ctx, FeedConfig{File: path, Logger: log.NewNopLogger()})
	if err != nil {
		t.Fatal(err)
	}
	w := collect(feed.Hub)
	defer w.Close()
	appendTo(t, path, line(1))
	if got := urls(waitFor(t, w, 1)); got != "1" {
		t.Errorf("lines: %s, want 1", got)
	}
	if _, err := StartFeed(ctx, FeedConfig{File: "/dev/null/x", Logger: log.NewNopLogger()}); err == nil {
		t.Error("an unreadable log was accepted")
	}
}
