package charts

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/pkitest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/proxycheck"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
)

// accessRules is the chart's http_access block as it renders: from its
// "# Access." comment to "http_access deny all".
func accessRules(t *testing.T, sets map[string]any) []string {
	t.Helper()
	conf := configData(t, objects(t, mustRender(t, nil, sets)), "squid.conf")
	start := strings.Index(conf, "# Access.")
	end := strings.Index(conf, "http_access deny all")
	if start < 0 || end < start {
		t.Fatalf("squid.conf has no access block:\n%s", conf)
	}
	return strings.Split(conf[start:end+len("http_access deny all")], "\n")
}

// The chart's proxy is no door into its own pod or the node: a client the
// rules admit cannot reach a loopback listener through it, by address, by
// name or in any spelling, with a plain request or a tunnel. A real Squid
// runs the rendered rules; every destination here is a loopback address, so
// a rule that failed would still send nothing off this machine (the pod,
// link-local and cluster addresses are make test-k8s's, inside the cluster).
func TestProxyDeniesLoopbackDestinations(t *testing.T) {
	origin := squidtest.StartOrigin(t)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(origin.URL, "http://"))
	tunnels := countingListener(t, "127.0.0.7:443")
	hosts := map[string]string{"evil.test": "127.0.0.1", "evil.quay.io": "127.0.0.7"}

	// Without the chart's rules this Squid reaches the origin: the denials
	// below are the rules' doing, not an unreachable listener.
	plain := squidtest.Start(t, squidtest.Options{Hosts: hosts})
	if r, err := proxycheck.Do(strings.TrimPrefix(plain.URL, "http://"), "GET", origin.URL+"/x", 10*time.Second); err != nil || r.Status != http.StatusOK {
		t.Fatalf("a Squid without the chart's rules: %v %v, want 200", r, err)
	}
	before := origin.Requests()

	// The origin's port is made safe, so that only the destination rules
	// stand between the client and the listener.
	portNumber, _ := strconv.Atoi(port)
	rules := accessRules(t, map[string]any{"squid.safePorts": []any{80, 443, portNumber}})
	// An ssl-bump port, as the chart's: Squid answers a denied CONNECT there
	// with 200 and tells the client inside the tunnel, over TLS.
	ca := pkitest.NewCA(t, "bump")
	squid := squidtest.Start(t, squidtest.Options{Hosts: hosts, Extra: rules, BumpCA: ca, OriginCA: ca})
	proxy := strings.TrimPrefix(squid.URL, "http://")
	for _, c := range []struct{ method, target string }{
		{"GET", "http://127.0.0.1:" + port + "/metrics"},
		{"GET", "http://127.0.0.2:" + port + "/"},
		{"GET", "http://localhost:" + port + "/"},
		{"GET", "http://evil.test:" + port + "/"},
		{"GET", "http://[::1]:" + port + "/"},
		{"GET", "http://[::ffff:127.0.0.1]:" + port + "/"},
		{"GET", "http://0.0.0.0:" + port + "/"},
		{"GET", "http://2130706433:" + port + "/"},
		{"GET", "http://0x7f000001:" + port + "/"},
		{"GET", "http://127.1:" + port + "/"},
		{"POST", "http://127.0.0.1:" + port + "/"},
		{"CONNECT", "127.0.0.7:443"},
		{"CONNECT", "evil.quay.io:443"},
		{"CONNECT", "localhost:443"},
		{"CONNECT", "127.0.0.1:" + port},
	} {
		t.Run(fmt.Sprintf("%s %s", c.method, c.target), func(t *testing.T) {
			r, err := proxycheck.Do(proxy, c.method, c.target, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			// Forms Squid does not take for an address (2130706433) it looks
			// up as names and fails; every other one is an access denial.
			if !r.Denied() && !strings.HasPrefix(r.SquidError, "ERR_DNS_FAIL") {
				t.Errorf("Squid answered %v, want ERR_ACCESS_DENIED", r)
			}
			if c.method == "CONNECT" && !r.Tunnelled {
				t.Logf("the CONNECT was refused at once (%v), not in the tunnel", r)
			}
		})
	}
	if n := origin.Requests() - before; n != 0 {
		t.Errorf("%d requests reached the loopback origin through the proxy", n)
	}
	if n := tunnels.Load(); n != 0 {
		t.Errorf("%d tunnels reached the loopback listener on :443 through the proxy", n)
	}
}

// countingListener accepts on addr and counts connections; on a machine
// where it cannot listen there (port 443 needs root) it counts nothing,
// and the test relies on Squid's answers alone.
func countingListener(t *testing.T, addr string) *atomic.Int64 {
	var n atomic.Int64
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Logf("not listening on %s (%v): tunnels are checked by Squid's answers only", addr, err)
		return &n
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return &n
}
