package cachemgr

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"time"
)

// ActiveClientRequests counts the client requests in Squid's
// active_requests report that are not the cache manager's own: downloads
// and tunnels under way. Each request is a block that starts with
// "Connection:" and names its URL on a "uri " line.
func ActiveClientRequests(report []byte) (int, error) {
	n, blocks := 0, 0
	sc := bufio.NewScanner(bytes.NewReader(report))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case bytes.HasPrefix(line, []byte("Connection: ")):
			blocks++
		case bytes.HasPrefix(line, []byte("uri ")):
			if blocks == 0 {
				return 0, fmt.Errorf("active_requests: a uri before any Connection: %q", line)
			}
			if !bytes.Contains(line, []byte("/squid-internal-mgr/")) {
				n++
			}
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("active_requests: %w", err)
	}
	return n, nil
}

// Drain waits until Squid has no client request under way but the cache
// manager's, asking every poll, and returns nil then; or the context's
// error, with how many were still under way. A Squid told to stop cuts
// what is under way after its shutdown_lifetime: a pod's preStop drains
// first, so that a rollout cuts no download and waits no longer than the
// downloads need.
func (c *Client) Drain(ctx context.Context, poll time.Duration) error {
	for {
		report, err := c.Fetch(ctx, "active_requests")
		n := -1
		if err == nil {
			n, err = ActiveClientRequests(report)
		}
		if err == nil && n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("not drained: %w", err)
			}
			return fmt.Errorf("not drained: %d client requests still under way", n)
		case <-time.After(poll):
		}
	}
}
