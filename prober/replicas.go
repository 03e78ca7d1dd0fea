package prober

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/redact"
)

// AskReplicas asks every replica behind each exporter URL to probe every
// target it has, prints one verdict line per replica and target to w, and
// reports whether all passed. A URL's host name stands for all of its
// addresses (a headless Service); the replica that probes is the one
// whose Squid served the pulls and whose log says how.
func AskReplicas(ctx context.Context, urls []string, w io.Writer) bool {
	ok := true
	for _, raw := range urls {
		replicas, err := replicasOf(ctx, raw)
		if err != nil {
			fmt.Fprintf(w, "FAIL %s: %v\n", redact.URL(raw), redact.Error(err))
			ok = false
			continue
		}
		for _, replica := range replicas {
			if !askReplica(ctx, replica, w) {
				ok = false
			}
		}
	}
	return ok
}

// replicasOf turns http://name:port into one URL per address of name.
func replicasOf(ctx context.Context, raw string) ([]string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("not a URL: %q", redact.URL(raw))
	}
	addrs, err := net.DefaultResolver.LookupHost(ctx, u.Hostname())
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range addrs {
		r := *u
		r.Host = net.JoinHostPort(a, u.Port())
		out = append(out, strings.TrimSuffix(r.String(), "/"))
	}
	return out, nil
}

// askReplica prints the replica's verdict for each of its targets. The
// replica's URL may hold a password for the sidecar: it is sent, never
// printed.
func askReplica(ctx context.Context, replica string, w io.Writer) bool {
	shown := redact.URL(replica)
	var names []string
	if err := getJSON(ctx, replica+"/probe/targets", &names); err != nil {
		fmt.Fprintf(w, "FAIL replica %s: cannot list its targets: %v\n", shown, redact.Error(err))
		return false
	}
	ok := true
	for _, name := range names {
		body, err := get(ctx, replica+"/probe?debug=true&target="+url.QueryEscape(name))
		if err != nil {
			body = fmt.Sprintf("FAIL %s: %v", name, redact.Error(err))
		}
		fmt.Fprintf(w, "replica %s: %s\n", shown, strings.TrimSpace(body))
		ok = ok && strings.HasPrefix(body, "PASS")
	}
	return ok
}

func getJSON(ctx context.Context, u string, v any) error {
	body, err := get(ctx, u)
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(body), v)
}

// direct talks to the sidecars themselves: a helm test pod's HTTP_PROXY is
// for the outside world, and a proxy would answer for a replica it is not.
var direct = &http.Client{Transport: directTransport()}

func directTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	return t
}

// get GETs u and returns its body. A 429 (a round of the target ran just
// now, or too many run) is waited out as its Retry-After says, within ctx.
func get(ctx context.Context, u string) (string, error) {
	for {
		body, retry, err := getOnce(ctx, u)
		if retry == 0 {
			return body, err
		}
		select {
		case <-time.After(retry):
		case <-ctx.Done():
			return "", fmt.Errorf("%w (last answer: %v)", ctx.Err(), err)
		}
	}
}

// getOnce is one GET; retry is how long a 429 asks to wait, else 0.
func getOnce(ctx context.Context, u string) (body string, retry time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", 0, err
	}
	resp, err := direct.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", 0, err
	}
	if resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
		if resp.StatusCode == http.StatusTooManyRequests {
			retry = parseRetryAfter(resp.Header.Get("Retry-After"))
		}
		return "", retry, err
	}
	return string(b), 0, nil
}

// parseRetryAfter reads Retry-After in seconds: at least 1 s, at most a minute.
func parseRetryAfter(v string) time.Duration {
	n, _ := strconv.Atoi(v)
	return time.Duration(min(max(n, 1), 60)) * time.Second
}
