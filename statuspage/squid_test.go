package statuspage

import (
	"context"
	"strings"
	"testing"

	"github.com/squid-cache-exporter/squid-cache-exporter/cachemgr"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
)

// A real Squid is up with its version; many page views in a row cost it
// one request. A Squid that is not there is down, with what to check.
func TestFromManager(t *testing.T) {
	squid := squidtest.Start(t, squidtest.Options{})
	client, err := cachemgr.NewClient(squid.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	up := FromManager(client, squid.URL)
	for range 20 {
		if s := up(context.Background()); s.Err != nil || s.Version == "" {
			t.Fatalf("%+v", s)
		}
	}
	if n := client.Requests(); n != 1 {
		t.Errorf("20 views sent %d requests to Squid, want 1", n)
	}

	closed, _ := cachemgr.NewClient("http://127.0.0.1:1", "")
	down := FromManager(closed, "http://127.0.0.1:1")(context.Background())
	if down.Err == nil || !strings.Contains(down.Err.Error(), "is it running") {
		t.Errorf("down: %+v", down)
	}
}
