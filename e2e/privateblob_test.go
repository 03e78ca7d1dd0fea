// Package e2e tests the private-blob caching setup end to end: a real
// bumping Squid running the store-ID helper binary and the ICAP service, in
// front of the quay emulation, with clients that send Authorization to the
// CDN as container clients do.
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/testio"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/testenv"

	"github.com/go-kit/log"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
	"github.com/squid-cache-exporter/squid-cache-exporter/cdnurl"
	"github.com/squid-cache-exporter/squid-cache-exporter/icap"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/quaytest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
	"github.com/squid-cache-exporter/squid-cache-exporter/learned"
	"github.com/squid-cache-exporter/squid-cache-exporter/prober"
	"github.com/squid-cache-exporter/squid-cache-exporter/registries"
	"github.com/squid-cache-exporter/squid-cache-exporter/traffic"
)

var update = flag.Bool("update", false, "rewrite the captured ICAP request in icap/testdata/")

// helperBinary is the store-ID helper, built where Squid's user can run it.
var helperBinary string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(squidtest.RunWithHelper(m, "../cmd/squid-store-id-helper", &helperBinary))
}

// Credentials of the two clients allowed to pull org/private.
var users = map[string]string{"alice": "alice-pw", "bob": "bob-pw"}

type setup struct {
	*testenv.Env
	traffic *traffic.Counter // Squid's access log counted with the built-in registries
	icap    *capture
	out     *testio.SyncBuffer // what the stack prints besides Squid's logs: the ICAP service's log, the prober's verdicts
}

// start runs the stack in front of the quay emulation; helpers false
// leaves out the store-ID helper and the ICAP service, as a plain Squid
// would run.
func start(t testing.TB, helpers bool) *setup {
	t.Helper()
	return startEdited(t, helpers, nil)
}

// startEdited is start with the snippet's lines changed by edit first.
func startEdited(t testing.TB, helpers bool, edit func(line string) string) *setup {
	t.Helper()
	return startFlavor(t, quaytest.QuayFlavor, helpers, edit)
}

// startFlavor is startEdited in front of the emulation of flavor f: the
// helpers match its CDN with the registries table's pattern.
func startFlavor(t testing.TB, f quaytest.Flavor, helpers bool, edit func(line string) string) *setup {
	t.Helper()
	return startOrigins(t, f, helpers, false, edit)
}

// startOrigins is startFlavor, with the registry's manifests by digest
// shared when manifests is set.
func startOrigins(t testing.TB, f quaytest.Flavor, helpers, manifests bool, edit func(line string) string) *setup {
	t.Helper()
	s := &setup{out: &testio.SyncBuffer{}}
	q := quaytest.StartFlavor(t, users, f)
	var extra []string
	if helpers {
		s.icap = startICAP(t, s.out, f.CDNPattern(), origins(q, manifests))
		extra = squidtest.PrivateBlobs(t, helperBinary, f.CDNPattern(), s.icap.addr, s.icap.learning(origins(q, manifests)))
		for i := range extra {
			if edit != nil {
				extra[i] = edit(extra[i])
			}
		}
	}
	s.traffic, _ = traffic.New(nil)
	s.Env = testenv.Start(t, testenv.Options{Users: users, Private: []string{"org/private"}, Extra: extra, Quay: q,
		Tap: s.traffic.Observe})
	t.Cleanup(func() { s.checkNoSecrets(t) }) // runs before Squid's directory goes
	return s
}

// client pulls blobs like buildah: a token from the registry, the blob GET,
// then the CDN GET with the same Authorization header.
type client struct {
	s          *setup
	user, pass string
	http       *http.Client
}

func (s *setup) client(user, pass string) *client { return s.clientVia(s.Squid.URL, user, pass) }

// clientVia is a client whose proxy is proxyURL.
func (s *setup) clientVia(proxyURL, user, pass string) *client {
	proxy, _ := url.Parse(proxyURL)
	return &client{s: s, user: user, pass: pass, http: &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{Proxy: http.ProxyURL(proxy), TLSClientConfig: &tls.Config{RootCAs: s.Bump.Pool()}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// token is the Authorization value the client pulls repo with: a pull
// token from the registry ("Bearer ..."), or, where the registry takes
// basic credentials on every request (ECR), those, once the registry
// accepted them as docker login does ("" for an anonymous client). It
// fails with the registry's status.
func (c *client) token(repo string) (string, error) {
	if c.s.Quay.Flavor.BasicAuth {
		return c.basicAuth()
	}
	req, _ := http.NewRequest(http.MethodGet, c.s.Quay.TokenURL(repo), nil)
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct{ Token string }
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil {
		return "", fmt.Errorf("token: %s", resp.Status)
	}
	return "Bearer " + body.Token, nil
}

func (c *client) basicAuth() (string, error) {
	if c.user == "" {
		return "", nil
	}
	req, _ := http.NewRequest(http.MethodGet, "https://"+c.s.Quay.Registry+"/v2/", nil)
	req.SetBasicAuth(c.user, c.pass)
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("login: %s", resp.Status)
	}
	return req.Header.Get("Authorization"), nil
}

// setAuthorization sets the header unless value is empty (anonymous).
func setAuthorization(req *http.Request, value string) {
	if value != "" {
		req.Header.Set("Authorization", value)
	}
}

// signedURL asks the registry for the blob and returns the CDN URL its
// redirect names.
func (c *client) signedURL(t testing.TB, repo string, h v1.Hash) (string, string) {
	t.Helper()
	token, err := c.token(repo)
	if err != nil {
		t.Fatalf("%s: %v", c.user, err)
	}
	blobURL := "https://" + c.s.Quay.Registry + "/v2/" + repo + "/blobs/" + h.String()
	if c.s.Quay.Flavor.SelfServing { // no redirect: the registry's URL is the blob's
		return blobURL, token
	}
	req, _ := http.NewRequest(http.MethodGet, blobURL, nil)
	setAuthorization(req, token)
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != c.s.Quay.Flavor.Redirect {
		t.Fatalf("%s: blob GET %s: %s", c.user, repo, resp.Status)
	}
	location, err := req.URL.Parse(resp.Header.Get("Location")) // Artifact Registry's is relative
	if err != nil {
		t.Fatal(err)
	}
	return location.String(), token
}

// cdnGet GETs a CDN URL with the Authorization header clients send.
func (c *client) cdnGet(t testing.TB, rawURL, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
	if sameHost(rawURL, c.s.Quay.Registry) || !c.s.Quay.Flavor.BasicAuth {
		// Clients keep a token across the redirect (buildah sends it to
		// the CDN too); basic credentials go only to their own host.
		setAuthorization(req, token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// pull is a whole authorized pull; it returns Squid's result code for the
// CDN GET.
func (c *client) pull(t testing.TB, repo string, h v1.Hash, want []byte) string {
	t.Helper()
	location, token := c.signedURL(t, repo, h)
	key := cdnurl.WithoutQuery(location)
	before := len(c.s.deliveries(key))
	status, body := c.cdnGet(t, location, token)
	if status != http.StatusOK || !bytes.Equal(body, want) {
		t.Fatalf("%s pulled %s: %d, %d bytes (want %d)", c.user, repo, status, len(body), len(want))
	}
	return c.s.nextDelivery(t, key, before)
}

// deliveries are the codes of the access log lines that sent a 200 for a
// URL starting with prefix, oldest first.
func (s *setup) deliveries(prefix string) []string {
	b, _ := os.ReadFile(s.Squid.AccessLog)
	var codes []string
	for _, line := range strings.Split(string(b), "\n") {
		var e accesslog.Entry
		if accesslog.Parse([]byte(line), &e) == nil && e.Status == http.StatusOK && strings.HasPrefix(string(e.URL), prefix) {
			codes = append(codes, string(e.Result))
		}
	}
	return codes
}

// nextDelivery waits for the delivery after the first n and returns its
// code: Squid logs a transaction only after the client has its bytes.
func (s *setup) nextDelivery(t testing.TB, prefix string, n int) string {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if codes := s.deliveries(prefix); len(codes) > n {
			return codes[n]
		}
	}
	t.Fatalf("no access log line for delivery %d of %s", n+1, prefix)
	return ""
}

func TestPrivateBlobIsSharedBetweenAuthorizedClients(t *testing.T) {
	forEachSharingFlavor(t, testPrivateBlobIsShared)
}

func testPrivateBlobIsShared(t *testing.T, f quaytest.Flavor) {
	s := startFlavor(t, f, true, nil)
	h, data := s.Quay.RandomBlob(512 << 10)
	alice, bob := s.client("alice", users["alice"]), s.client("bob", users["bob"])
	if code := alice.pull(t, "org/private", h, data); code != "TCP_MISS" {
		t.Errorf("alice's first pull: %s, want TCP_MISS", code)
	}
	if code := bob.pull(t, "org/private", h, data); code != "TCP_MEM_HIT" {
		t.Errorf("bob's pull: %s, want TCP_MEM_HIT", code)
	}
	// The check adds one round trip to the CDN per pull and nothing more:
	// a miss is a check and a delivery, a hit is a check. (A registry that
	// serves its blobs: the same, a HEAD for a check.)
	if n, checks := s.Quay.CDNGets(h), s.Quay.CDNChecks(h); n != 1 || checks != 2 {
		t.Errorf("the CDN delivered the blob %d times and checked %d, want 1 and 2", n, checks)
	}
	if s.icap.modified() == 0 && !f.BasicAuth { // basic credentials stay with the registry's host
		t.Error("the ICAP service removed no Authorization header")
	}
	// The bumped CONNECTs never reach the helper: it would answer BH to
	// each, and Squid would retry and log an error.
	if strings.Contains(readFile(s.Squid.CacheLog), "result=BH") {
		t.Error("the store-ID helper was sent something it could not read (a CONNECT?): see cache.log")
	}
	switch {
	case f.Name == quaytest.QuayFlavor.Name:
		s.icap.saveFixture(t)
		return
	case f.SelfServing: // the one change is the RESPMOD's
		if s.icap.modified() != 1 {
			t.Errorf("the RESPMOD service made %v answers storable, want 1", s.icap.modified())
		}
		s.icap.saveRespmod(t, "/respmod", "squid-5.7-respmod.txt")
		return
	case f.Learned: // each redirect taught the digest of its URL
		if n := s.icap.count("RESPMOD", "learned"); n != 2 {
			t.Errorf("the service learned from %v redirects, want 2", n)
		}
		if f.Name == quaytest.ArtifactRegistryFlavor.Name {
			s.icap.saveRespmod(t, "/learn", "squid-5.7-learn.txt")
		}
	}
	// Docker Hub's and GHCR's emulations have their real CDN names: the
	// traffic metrics count the CDN's deliveries under the registry.
	var got traffic.BlobCount
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline) && got.Deliveries < 2; time.Sleep(20 * time.Millisecond) {
		for _, b := range s.traffic.Blobs() { // the follower reads the log a moment after Squid writes it
			if b.Registry == f.Name {
				got = b
			}
		}
	}
	if got.Hits != 1 || got.Deliveries != 2 {
		t.Errorf("%s blobs in the traffic metrics: %v hits of %v, want 1 of 2", f.Name, got.Hits, got.Deliveries)
	}
}

func TestPublicBlobIsShared(t *testing.T) {
	s := start(t, true)
	h, data := s.Quay.RandomBlob(256 << 10)
	anonymous, alice := s.client("", ""), s.client("alice", users["alice"])
	if code := anonymous.pull(t, "org/public", h, data); code != "TCP_MISS" {
		t.Errorf("first pull: %s, want TCP_MISS", code)
	}
	if code := alice.pull(t, "org/public", h, data); code != "TCP_MEM_HIT" {
		t.Errorf("second client's pull: %s, want TCP_MEM_HIT", code)
	}
}

// The heart of it: whoever the CDN refuses never gets the private blob's
// bytes from the cache, whether it was cached before or after they asked.
func TestPrivateBlobNeverLeaks(t *testing.T) {
	attackers := []struct {
		name string
		url  func(s *setup, h v1.Hash, victimURL string) string
		as   *struct{ user, pass string }
	}{
		{name: "no credentials, the bare blob URL", url: func(s *setup, h v1.Hash, _ string) string {
			return cdnurl.WithoutQuery(s.Quay.SignedURL(h, 0))
		}},
		{name: "wrong credentials, the bare blob URL", as: &struct{ user, pass string }{"alice", "guess"},
			url: func(s *setup, h v1.Hash, _ string) string { return cdnurl.WithoutQuery(s.Quay.SignedURL(h, 0)) }},
		{name: "tampered signature", url: func(s *setup, _ v1.Hash, victim string) string {
			return s.Quay.Flavor.Tamper(victim)
		}},
		{name: "expired signature", url: func(s *setup, h v1.Hash, _ string) string { return s.Quay.SignedURL(h, time.Hour) }},
	}
	s := start(t, true)
	for _, cachedFirst := range []bool{true, false} {
		for _, a := range attackers {
			name := a.name + map[bool]string{true: ", after the blob is cached", false: ", before it is cached"}[cachedFirst]
			t.Run(name, func(t *testing.T) {
				h, data := s.Quay.RandomBlob(128 << 10)
				alice := s.client("alice", users["alice"])
				victimURL, _ := alice.signedURL(t, "org/private", h)
				attacker := s.client("", "")
				if a.as != nil {
					attacker = s.client(a.as.user, a.as.pass)
					if _, err := attacker.token("org/private"); err == nil {
						t.Fatal("the registry gave a token for wrong credentials")
					}
				}
				if cachedFirst {
					alice.pull(t, "org/private", h, data)
				}
				status, body := attacker.cdnGet(t, a.url(s, h, victimURL), "")
				if status != http.StatusForbidden || bytes.Contains(body, data[:64]) {
					t.Errorf("attacker got %d and %d bytes, want the CDN's 403", status, len(body))
				}
				// Nothing the attacker did poisoned or took the cache.
				code := alice.pull(t, "org/private", h, data)
				if want := map[bool]string{true: "TCP_MEM_HIT", false: "TCP_MISS"}[cachedFirst]; code != want {
					t.Errorf("alice's pull after the attack: %s, want %s", code, want)
				}
			})
		}
	}
}

// capture runs the ICAP service behind a listener that keeps the first
// REQMOD request Squid sends that the service modifies. kill and revive
// stop and restart it on the same address, as a crashing sidecar would.
type capture struct {
	addr    string
	metrics *prometheus.Registry
	server  *icap.Server
	stop    func()
	mu      sync.Mutex
	raw     map[net.Conn]*bytes.Buffer

	secret     string // what Squid sends to /learn, as the chart's start script writes it
	digestsURL string // where the helper asks for learned digests
}

func startICAP(t testing.TB, logs io.Writer, cdnPattern string, o squidtest.Origins) *capture {
	c := &capture{addr: "127.0.0.1:0", metrics: prometheus.NewRegistry(), raw: map[net.Conn]*bytes.Buffer{}}
	urls, _ := cdnurl.New(cdnPattern)
	registries, err := cdnurl.NewRegistries(o.Blobs, o.Manifests)
	if err != nil {
		t.Fatal(err)
	}
	c.server = &icap.Server{URLs: urls, Registries: registries, Learner: c.startLearner(t),
		Logger: log.NewLogfmtLogger(logs), Metrics: icap.NewMetrics(c.metrics)}
	c.revive(t)
	t.Cleanup(c.kill)
	return c
}

// startLearner gives the service a secret file and serves its digest
// lookups, as the chart runs it.
func (c *capture) startLearner(t testing.TB) *icap.Learner {
	raw := make([]byte, 16)
	rand.Read(raw)
	c.secret = hex.EncodeToString(raw)
	file := filepath.Join(t.TempDir(), "learn-secret")
	if err := os.WriteFile(file, []byte(c.secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l := &icap.Learner{Store: &learned.Store{}, Secret: &icap.SecretFile{Path: file}}
	l.URLs, _ = cdnurl.NewLearned(registries.Default)
	lookups := httptest.NewServer(l.Store.Handler())
	t.Cleanup(lookups.Close)
	c.digestsURL = lookups.URL
	return l
}

// learning is o with the learning secret and the lookup URL.
func (c *capture) learning(o squidtest.Origins) squidtest.Origins {
	o.LearnSecret, o.DigestsURL = c.secret, c.digestsURL
	return o
}

// revive serves ICAP on c.addr (a free port the first time).
func (c *capture) revive(t testing.TB) {
	l, err := net.Listen("tcp", c.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.addr = l.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.server.Serve(ctx, &recordingListener{l, c}); close(done) }()
	c.stop = func() { cancel(); <-done }
}

// kill closes the listener and every connection.
func (c *capture) kill() {
	if c.stop != nil {
		c.stop()
		c.stop = nil
	}
}

// modified is how many requests the service changed, REQMOD and RESPMOD.
func (c *capture) modified() float64 {
	return c.count("REQMOD", "modified") + c.count("RESPMOD", "modified")
}

// count is the service's count of method's requests with result.
func (c *capture) count(method, result string) float64 {
	mfs, _ := c.metrics.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if mf.GetName() == "squid_icap_requests_total" && labels["method"] == method && labels["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// saveFixture writes the first REQMOD with an Authorization header that
// Squid sent, with -update.
func (c *capture) saveFixture(t testing.TB) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, buf := range c.raw {
		for _, req := range strings.SplitAfter(buf.String(), "\r\n\r\n") {
			if !strings.HasPrefix(req, "REQMOD") {
				continue
			}
			// The request is its ICAP head and the HTTP head after it.
			i := strings.Index(buf.String(), req)
			rest := buf.String()[i:]
			parts := strings.SplitN(rest, "\r\n\r\n", 3)
			if len(parts) < 3 || !strings.Contains(parts[1], "Authorization:") {
				continue
			}
			if *update {
				os.WriteFile("../icap/testdata/squid-5.7-reqmod.txt", []byte(parts[0]+"\r\n\r\n"+parts[1]+"\r\n\r\n"), 0o644)
			}
			return
		}
	}
	t.Error("no REQMOD with Authorization was captured")
}

// saveRespmod writes the first RESPMOD Squid sent to the service at
// path (its ICAP head, the HTTP request and response heads, the zero
// preview) to icap/testdata/file, with -update.
func (c *capture) saveRespmod(t testing.TB, path, file string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, buf := range c.raw {
		i := strings.Index(buf.String(), "RESPMOD icap://"+c.addr+path+" ")
		if i < 0 {
			continue
		}
		rest := buf.String()[i:]
		head, _, _ := strings.Cut(rest, "\r\n\r\n")
		_, size, _ := strings.Cut(head, "res-body=")
		size, _, _ = strings.Cut(size, "\r\n")
		n, _ := strconv.Atoi(size)
		end := len(head) + 4 + n
		preview := strings.Index(rest[end:], "\r\n\r\n")
		if n == 0 || preview < 0 {
			continue
		}
		if *update {
			os.WriteFile("../icap/testdata/"+file, []byte(rest[:end+preview+4]), 0o644)
		}
		return
	}
	t.Errorf("no RESPMOD to %s with a body was captured", path)
}

type recordingListener struct {
	net.Listener
	c *capture
}

func (l *recordingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	buf := &bytes.Buffer{}
	l.c.mu.Lock()
	l.c.raw[conn] = buf
	l.c.mu.Unlock()
	return &recordingConn{conn, l.c, buf}, nil
}

type recordingConn struct {
	net.Conn
	c   *capture
	buf *bytes.Buffer
}

func (r *recordingConn) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.c.mu.Lock()
	r.buf.Write(p[:n])
	r.c.mu.Unlock()
	return n, err
}

// The prober's private-blob check passes through the helpers, says
// not_cached without them, and upstream_error with the CDN down. Its leak
// check passes on the shipped setup and fails in one round, with reason
// leak, on a setup made to leak: a store-ID helper that checks nothing.
// Its verdicts go to the stack's output, where no CDN credential may show.
func TestProberPrivateCheck(t *testing.T) {
	tests := []struct {
		name      string
		start     func(testing.TB, quaytest.Flavor) *setup
		cdnDown   bool
		leakCheck bool
		want      prober.Reason // "" is a pass
	}{
		{"with the helpers", withHelpers, false, false, ""},
		// Quay's signed URLs differ on every redirect; CloudFront's and
		// Azure's repeat within a second, so a plain Squid may hit those.
		{"without the helpers", withoutHelpers, false, false, prober.ReasonNotCached},
		{"CDN down", withHelpers, true, false, prober.ReasonUpstream},
		{"leak check with the helpers", withHelpers, false, true, ""},
		{"leak check on a helper that checks nothing", startLeaky, false, true, prober.ReasonLeak},
	}
	forEachSharingFlavor(t, func(t *testing.T, f quaytest.Flavor) {
		for _, tt := range tests {
			if tt.want == prober.ReasonNotCached && f.Name != quaytest.QuayFlavor.Name || tt.cdnDown && f.SelfServing {
				continue
			}
			t.Run(tt.name, func(t *testing.T) {
				s := tt.start(t, f)
				h, _ := s.Quay.RandomBlob(256 << 10)
				if tt.cdnDown {
					s.Quay.StopCDN()
				}
				creds := s.DockerConfig(t, "bob", users["bob"])
				p := &prober.Prober{Proxy: s.Proxy(), RootCAs: s.Bump.Pool(), Log: s.Log, LogWait: time.Second}
				target := &prober.Target{Name: "private", Blob: s.Quay.Registry + "/org/private@" + h.String(), Private: true,
					Credentials: creds, LeakCheck: tt.leakCheck, HitCodes: prober.DefaultHitCodes, Interval: time.Minute, Timeout: 20 * time.Second}
				r := p.Probe(context.Background(), target)
				fmt.Fprintln(s.out, r)
				t.Logf("%s", r)
				if r.Reason != tt.want || r.Success != (tt.want == "") {
					t.Errorf("verdict %q (success %t), want %q", r.Reason, r.Success, tt.want)
				}
				if tt.leakCheck && (!r.LeakChecked || r.Leaked != (tt.want == prober.ReasonLeak)) {
					t.Errorf("leak checked %t, leaked %t", r.LeakChecked, r.Leaked)
				}
			})
		}
	})
}

func withHelpers(t testing.TB, f quaytest.Flavor) *setup    { return startFlavor(t, f, true, nil) }
func withoutHelpers(t testing.TB, f quaytest.Flavor) *setup { return startFlavor(t, f, false, nil) }

// startLeaky is the stack with the snippet and the ICAP service, but a
// store-ID helper that checks nothing: a setup made to leak. It files
// every signed URL under the URL without its query, or, for a registry
// that serves its blobs, every blob GET under the shared key.
func startLeaky(t testing.TB, f quaytest.Flavor) *setup {
	t.Helper()
	if f.SelfServing {
		return startWithStoreID(t, f, verifyNothing)
	}
	return startWithStoreID(t, f, stripAnyQuery)
}

// startWithStoreID is the stack with the snippet and the ICAP service,
// and the store-ID helper script in place of ours.
func startWithStoreID(t testing.TB, f quaytest.Flavor, script string) *setup {
	t.Helper()
	s := &setup{out: &testio.SyncBuffer{}}
	q := quaytest.StartFlavor(t, users, f)
	s.icap = startICAP(t, s.out, f.CDNPattern(), origins(q, false))
	var extra []string
	for _, line := range squidtest.PrivateBlobs(t, helperBinary, f.CDNPattern(), s.icap.addr, s.icap.learning(origins(q, false))) {
		if !strings.HasPrefix(line, "store_id_program ") && !strings.HasPrefix(line, "store_id_children ") {
			extra = append(extra, line)
		}
	}
	s.Env = testenv.Start(t, testenv.Options{Users: users, Private: []string{"org/private"}, Extra: extra,
		StoreID: script, Quay: q})
	return s
}

// origins names q's registry to the helpers: for its blobs when it serves
// them itself, for its manifests by digest when manifests is set.
func origins(q *quaytest.Quay, manifests bool) squidtest.Origins {
	var o squidtest.Origins
	if q.Flavor.SelfServing {
		o.Blobs = []string{q.Registry}
	}
	if manifests {
		o.Manifests = []string{q.Registry}
	}
	return o
}

// stripAnyQuery is the naive store-ID helper for any CDN: it takes the
// signature away, the query or Artifact Registry's download token.
const stripAnyQuery = `#!/bin/sh
while read -r url rest; do
  case "$url" in
    https://*\?*) echo "OK store-id=${url%%\?*}" ;;
    https://*/artifacts-downloads/*/downloads/*) echo "OK store-id=${url%/*}" ;;
    *) echo "ERR" ;;
  esac
done
`

// sameHost says rawURL is on hostPort.
func sameHost(rawURL, hostPort string) bool {
	u, err := url.Parse(rawURL)
	return err == nil && u.Host == hostPort
}
