// Package cachemgr reads Squid's cache manager: it fetches reports over HTTP
// and parses them into typed values. It knows nothing about Prometheus.
package cachemgr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
)

// maxReportSize bounds what one report may cost us in memory. The largest
// report we read (info) is about 3 KiB; a body this big is not a report.
const maxReportSize = 4 << 20

// Client fetches cache manager reports from one Squid.
type Client struct {
	base     *url.URL
	password string
	http     *http.Client
	requests atomic.Uint64
}

// NewClient returns a client for the Squid listening at base (for example
// http://127.0.0.1:3128). An empty password sends no credentials.
//
// The reports are fetched over /squid-internal-mgr/, which every Squid from
// 3.2 to 7 serves; the cache_object:// scheme is gone in Squid 7.
func NewClient(base, password string) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("squid address %q: %w", base, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("squid address %q: want http://host:port", base)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	// A scrape fetches its reports concurrently; keep one idle connection
	// per report so the next scrape does not pay for new ones.
	transport.MaxIdleConnsPerHost = 8
	// Squid is a proxy; never send its manager requests through another.
	transport.Proxy = nil
	return &Client{base: u, password: password, http: &http.Client{Transport: transport}}, nil
}

// Requests is the number of requests this client has sent to the cache
// manager. Squid counts each one as a client request.
func (c *Client) Requests() uint64 { return c.requests.Load() }

// Fetch returns the body of the report named action (info, counters, ...).
// Its errors say what the operator should fix.
func (c *Client) Fetch(ctx context.Context, action string) ([]byte, error) {
	u := c.base.JoinPath("squid-internal-mgr", action)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if c.password != "" {
		// Squid checks only the password against cachemgr_passwd.
		req.SetBasicAuth("squid-cache-exporter", c.password)
	}
	c.requests.Add(1)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.describe(ctx, err)
	}
	defer resp.Body.Close()
	if err := checkStatus(resp); err != nil {
		// Drain so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxReportSize))
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReportSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading report %q: %w (truncated response)", action, c.describe(ctx, err))
	}
	if len(body) > maxReportSize {
		return nil, fmt.Errorf("report %q is larger than %d bytes", action, maxReportSize)
	}
	return body, nil
}

// describe turns transport errors into messages that name the cause.
func (c *Client) describe(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("squid at %s did not answer in time: %w", c.base.Host, context.DeadlineExceeded)
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return fmt.Errorf("cannot connect to squid at %s (is it running, and is http_port right?): %w", c.base.Host, op.Err)
	}
	return err
}

// checkStatus maps the cache manager's refusals to what the operator must do.
func checkStatus(resp *http.Response) error {
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusUnauthorized:
		return fmt.Errorf("cache manager refused the password (401, %s): check that the password file matches cachemgr_passwd", squidError(resp))
	case http.StatusForbidden:
		return fmt.Errorf("cache manager denied access (403, %s): allow this exporter with 'http_access allow <acl> manager'", squidError(resp))
	case http.StatusNotFound:
		return fmt.Errorf("cache manager has no such report (404, %s)", squidError(resp))
	default:
		return fmt.Errorf("cache manager answered %s (%s)", resp.Status, squidError(resp))
	}
}

// squidError returns Squid's own error code, such as ERR_ACCESS_DENIED.
func squidError(resp *http.Response) string {
	if e := resp.Header.Get("X-Squid-Error"); e != "" {
		code, _, _ := strings.Cut(e, " ")
		return code
	}
	return "no X-Squid-Error"
}
