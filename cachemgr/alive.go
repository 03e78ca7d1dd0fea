package cachemgr

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// AlivePath is what Alive asks for: the cache manager's menu. Any answer
// will do, a refusal too, so Alive needs no password; the chart keeps these
// requests out of the access log by this path.
const AlivePath = "/squid-internal-mgr/menu"

// Alive says whether the Squid at addr (host:port of its http_port) answers
// an HTTP request before ctx ends. A Squid whose event loop hangs still
// completes TCP handshakes, since the kernel does them, so only an HTTP
// answer shows that it serves.
func Alive(ctx context.Context, addr string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+AlivePath, nil)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("squid at %s did not answer: %w", addr, err)
	}
	resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Server"), "squid") {
		return fmt.Errorf("%s answered %s, but not as Squid (Server: %q)", addr, resp.Status, resp.Header.Get("Server"))
	}
	return nil
}
