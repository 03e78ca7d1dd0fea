package charts

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/pkitest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/quaytest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
)

// The fleet as the chart renders it (fleet.enabled, two owners), on real
// Squids: every blob pulled through a frontend is fetched from the CDN
// once, by the owner CARP picks for it, and pulled again it is a hit
// there, whatever signed URL it came by; the frontend stores nothing and
// goes to no CDN itself. With an owner stopped, every pull still succeeds:
// CARP skips the dead owner, and the other takes its blobs.
func TestFleetFetchesEachBlobOnce(t *testing.T) {
	q := quaytest.Start(t, nil)
	bump := pkitest.NewCA(t, "bump")
	objs := renderedObjects(t, map[string]any{"fleet.enabled": true, "replicaCount": 2})
	var owners []*squidtest.Squid
	for i := range 2 {
		owners = append(owners, startRendered(t, q, bump, objs, "squid.conf", visibleHostname(fmt.Sprintf("owner-%d", i))))
	}
	front := startRendered(t, q, bump, objs, "squid-frontend.conf", func(conf string) string {
		return visibleHostname("frontend")(peersAt(t, conf, owners))
	})

	const blobs = 12
	for i := range blobs {
		h, data := q.RandomBlob(64<<10 + i)
		for pass := range 2 {
			pullQuayBlobVia(t, q, front, bump, "org/public", h, data)
			if n := q.CDNGets(h); n != 1 {
				t.Fatalf("blob %d, pass %d: the CDN delivered it %d times, want 1", i, pass+1, n)
			}
		}
	}
	served := map[string]int{}
	for i, o := range owners {
		for _, code := range deliveries(t, o) {
			served[fmt.Sprintf("owner-%d %s", i, code)]++
		}
	}
	if served["owner-0 TCP_MISS"]+served["owner-1 TCP_MISS"] != blobs || served["owner-0 TCP_MEM_HIT"]+served["owner-1 TCP_MEM_HIT"] != blobs ||
		served["owner-0 TCP_MISS"] == 0 || served["owner-1 TCP_MISS"] == 0 {
		t.Errorf("the owners served %v; want %d misses and %d memory hits, spread over both", served, blobs, blobs)
	}
	if log := readLog(t, front); strings.Contains(log, "HIER_DIRECT/"+q.Hosts[quaytest.CDNName]) || strings.Contains(log, "_HIT/") {
		t.Error("the frontend went to the CDN itself, or served from a cache of its own")
	}

	owners[1].Stop()
	before := len(deliveries(t, owners[0]))
	failed := 0
	for i := range blobs {
		h, data := q.RandomBlob(64<<10 + blobs + i)
		if !tryPull(t, q, front, bump, "org/public", h, data) {
			failed++
		}
		if q.CDNGets(h) != 1 {
			t.Errorf("with owner-1 down, blob %d was delivered %d times", i, q.CDNGets(h))
		}
	}
	if taken := len(deliveries(t, owners[0])) - before; failed != 0 || taken != blobs {
		t.Errorf("with owner-1 down: %d of %d pulls failed, owner-0 served %d; want 0 failed, all served by owner-0", failed, blobs, taken)
	}
}

// visibleHostname names a Squid: the owners refuse a request whose Via
// already names their own (a loop), so in one machine each needs its own.
func visibleHostname(name string) func(string) string {
	return func(conf string) string { return conf + "\nvisible_hostname " + name + "\n" }
}

// peersAt points the frontend's cache_peer lines, which name the owners'
// Services, at the owners' loopback ports, in order.
func peersAt(t *testing.T, conf string, owners []*squidtest.Squid) string {
	t.Helper()
	for i, o := range owners {
		re := regexp.MustCompile(fmt.Sprintf(`cache_peer [^ ]+-owner-%d\.proxy\.svc\.cluster\.local parent 3128 `, i))
		if n := len(re.FindAllString(conf, -1)); n != 2 {
			t.Fatalf("owner %d: %d cache_peer lines, want 2 (by path, and for learned registries):\n%s", i, n, conf)
		}
		conf = re.ReplaceAllString(conf, "cache_peer 127.0.0.1 parent "+strings.TrimPrefix(o.URL, "http://127.0.0.1:")+" ")
	}
	return conf
}

func readLog(t *testing.T, s *squidtest.Squid) string {
	b, err := os.ReadFile(s.AccessLog)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// Through a frontend, a private blob is shared only between clients its
// registry lets in, at its owner: for quay (the digest in the CDN URL) and
// for Artifact Registry, whose download URLs name no digest (the owner that
// saw the redirect learned it: CARP sends a learned registry's requests to
// one owner). A client without access gets no byte.
func TestFleetKeepsPrivateBlobsPrivate(t *testing.T) {
	users := map[string]string{"alice": "alice-pw", "bob": "bob-pw"}
	for _, tt := range []struct {
		flavor quaytest.Flavor
		sets   map[string]any
		cdn    string // what the CDN GETs' URLs hold
	}{
		{quaytest.QuayFlavor, nil, quaytest.CDNName},
		{quaytest.ArtifactRegistryFlavor, map[string]any{"squid.cachedRegistries": []string{"gcr.io"}}, "/artifacts-downloads/"},
	} {
		t.Run(tt.flavor.Name, func(t *testing.T) {
			q := quaytest.StartFlavor(t, users, tt.flavor)
			q.MakePrivate("org/private")
			bump := pkitest.NewCA(t, "bump")
			sets := map[string]any{"fleet.enabled": true, "replicaCount": 2}
			for k, v := range tt.sets {
				sets[k] = v
			}
			objs := renderedObjects(t, sets)
			var owners []*squidtest.Squid
			for i := range 2 {
				owners = append(owners, startRendered(t, q, bump, objs, "squid.conf", visibleHostname(fmt.Sprintf("owner-%d", i))))
			}
			front := startRendered(t, q, bump, objs, "squid-frontend.conf", func(conf string) string {
				return visibleHostname("frontend")(peersAt(t, conf, owners))
			})
			h, data := q.RandomBlob(96 << 10)
			for _, user := range []string{"alice", "bob"} {
				if err := pullAs(q, front, bump, user, users[user], "org/private", h, data); err != nil {
					t.Fatalf("%s: %v", user, err)
				}
			}
			var codes []string
			for _, o := range owners {
				codes = append(codes, deliveriesOf(t, o, tt.cdn)...)
			}
			if fmt.Sprint(codes) != "[TCP_MISS TCP_MEM_HIT]" || q.CDNGets(h) != 1 {
				t.Errorf("alice's and bob's pulls at the owners: %v, the CDN delivered %d times; want a miss, a hit, 1", codes, q.CDNGets(h))
			}
			if q.Flavor.PathCredential() && !strings.Contains(readLog(t, front), "/artifacts-downloads/REDACTED ") {
				t.Error("the frontend logged no download, or not without its token")
			}
			for _, token := range q.PathSecrets() {
				if strings.Contains(readLog(t, front), token) {
					t.Errorf("the frontend's log holds a download token (%.8s…)", token)
				}
			}
			if err := pullAs(q, front, bump, "", "", "org/private", h, data); err == nil {
				t.Error("an anonymous client pulled the private blob through the frontend")
			}
			bare := q.SignedURL(h, 0)
			if !q.Flavor.PathCredential() {
				bare = strings.SplitN(bare, "?", 2)[0]
			} else {
				bare = bare[:strings.LastIndex(bare, "/")+1] + "forged"
			}
			if status, body := getVia(t, front, bump, bare); bytes.Contains(body, data[:64]) || status == 200 {
				t.Errorf("%s through the frontend: %d and %d bytes", bare, status, len(body))
			}
		})
	}
}

// deliveriesOf are the result codes of a Squid's GETs answered 200 whose
// URL holds substr, in order.
func deliveriesOf(t *testing.T, s *squidtest.Squid, substr string) []string {
	var codes []string
	for _, line := range strings.Split(readLog(t, s), "\n") {
		var e accesslog.Entry
		if accesslog.Parse([]byte(line), &e) == nil && e.Status == http.StatusOK && string(e.Method) == http.MethodGet && strings.Contains(string(e.URL), substr) {
			codes = append(codes, string(e.Result))
		}
	}
	return codes
}

// getVia GETs rawURL through proxy, with no credential.
func getVia(t *testing.T, proxy *squidtest.Squid, bump *pkitest.CA, rawURL string) (int, []byte) {
	c := &http.Client{Timeout: 20 * time.Second,
		Transport: &http.Transport{Proxy: http.ProxyURL(proxy.ProxyURL()), TLSClientConfig: &tls.Config{RootCAs: bump.Pool()}}}
	defer c.CloseIdleConnections()
	resp, err := c.Get(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// Growing the fleet gives the frontends new parents and restarts them; the
// owners, whose configuration is the same, keep running and keep their
// caches. Without the fleet the render is what it was.
func TestGrowingTheFleetRestartsOnlyFrontends(t *testing.T) {
	checksums := func(sets map[string]any) (owners, frontends any) {
		objs := objects(t, mustRender(t, nil, sets))
		owners = find(t, objs, "StatefulSet", "squid-cache").get("spec", "template", "metadata", "annotations", "checksum/squid")
		frontends = find(t, objs, "Deployment", "squid-cache-frontend").get("spec", "template", "metadata", "annotations", "checksum/squid")
		return owners, frontends
	}
	o2, f2 := checksums(map[string]any{"fleet.enabled": true, "replicaCount": 2})
	o3, f3 := checksums(map[string]any{"fleet.enabled": true, "replicaCount": 3})
	if o2 != o3 || f2 == f3 || o2 == nil || f2 == nil {
		t.Errorf("2 -> 3 owners: owners' checksum %v -> %v, frontends' %v -> %v; want the owners' the same, the frontends' changed", o2, o3, f2, f3)
	}
	if has(objects(t, mustRender(t, nil, nil)), "Deployment") {
		t.Error("a frontend Deployment without fleet.enabled")
	}
	// A release made before the fleet existed, upgraded with --reuse-values.
	if _, err := render(t, nil, map[string]any{"fleet": nil}); err != nil {
		t.Errorf("values without fleet: %v", err)
	}
}
