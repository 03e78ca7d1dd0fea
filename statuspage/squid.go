package statuspage

import (
	"context"
	"sync"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/cachemgr"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/redact"
)

// Squid is what the page says about Squid: up with its version and
// uptime, or down with the reason.
type Squid struct {
	Address string
	Version string
	Uptime  time.Duration
	Err     error // why it is down, in words that say what to fix
}

// FromManager asks Squid's cache manager for its info report, through the
// client the collector uses, so the page's request is counted among the
// exporter's own (squid_exporter_manager_requests_total) and a wrong
// password or a denying ACL shows as such. An answer serves every page
// view for reuseFor: reloading the page in a loop does not load Squid.
func FromManager(client *cachemgr.Client, address string) func(context.Context) Squid {
	var (
		mu   sync.Mutex
		at   time.Time
		last Squid
	)
	return func(ctx context.Context) Squid {
		mu.Lock() // views wait for the one request under way
		defer mu.Unlock()
		if time.Since(at) < reuseFor {
			return last
		}
		last, at = askManager(ctx, client, address), time.Now()
		return last
	}
}

const reuseFor = 5 * time.Second

func askManager(ctx context.Context, client *cachemgr.Client, address string) Squid {
	s := Squid{Address: redact.URL(address)}
	body, err := client.Fetch(ctx, "info")
	if err != nil {
		s.Err = redact.Error(err)
		return s
	}
	info, err := cachemgr.ParseInfo(body)
	if err != nil {
		s.Err = err
		return s
	}
	s.Version = info.Version
	if !cachemgr.IsMissing(info.UptimeSeconds) {
		s.Uptime = time.Duration(info.UptimeSeconds) * time.Second
	}
	return s
}
