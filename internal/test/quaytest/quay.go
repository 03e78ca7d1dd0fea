// Package quaytest emulates, on loopback, the registries our users cache:
//
//   - quay.test: token auth (401 + Bearer challenge, /v2/auth), private
//     repositories that need credentials, and blob GETs answered with a 302
//     to a signed CDN URL whose query (X-Amz-Credential, X-Amz-Date,
//     X-Amz-Expires, X-Amz-Signature) changes on every redirect;
//   - cdn01.quay.test: serves blobs only for a valid, unexpired signature;
//   - registry.access.test: a public registry with no auth that serves
//     blobs itself, like registry.access.redhat.com.
//
// Each has its own 127.0.0.x address, so Squid's hosts_file can name them
// (ssl-bump needs host names), and a TLS certificate from the origin CA.
package quaytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/pkitest"
)

// Host names, and the loopback addresses they live on.
const (
	RegistryName = "quay.test"
	CDNName      = "cdn01.quay.test"
	PublicName   = "registry.access.test"
)

// quiet keeps the registries from logging every request.
var quiet = registry.Logger(log.New(io.Discard, "", 0))

var addresses = map[string]string{RegistryName: "127.0.0.2", CDNName: "127.0.0.3", PublicName: "127.0.0.4",
	DockerHubFlavor.Registry: "127.0.0.5", DockerHubFlavor.CDN: "127.0.0.6", GHCRFlavor.Registry: "127.0.0.7", GHCRFlavor.CDN: "127.0.0.8",
	SelfServingFlavor.Registry: "127.0.0.9", ArtifactRegistryFlavor.Registry: "127.0.0.10",
	ECRFlavor.Registry: "127.0.0.11", ECRFlavor.CDN: "127.0.0.12"}

// Admin may push anywhere; tests push their images as admin.
const Admin, AdminPassword = "admin", "admin-password"

// Quay is the running emulation.
type Quay struct {
	Flavor                Flavor            // the registry emulated: quay's, Docker Hub's, GHCR's
	Registry, CDN, Public string            // host:port of each
	Hosts                 map[string]string // name -> address, for Squid's hosts_file
	CA                    *pkitest.CA       // signs the hosts' certificates

	blobs  *blobStore
	auth   *tokenAuth
	signer *signer
	opaque *opaqueURLs
	cdn    *httptest.Server

	mu          sync.Mutex
	cdnGets     map[string]int // blob hex -> deliveries by the CDN
	cdnRange    map[string]int // blob hex -> ranged GETs (authorization checks)
	publicGets  map[string]int // blob hex -> the public registry's blob GETs
	manifests   map[string]int // "GET <reference>" or "HEAD <reference>" -> answered past the token check
	fetchesDone map[string]int // blob hex -> deliveries and public GETs that ended
	rate        int            // bytes a second per blob body; 0: as fast as it goes
	poisoned    map[string]bool
	checkDelay  time.Duration // added to every ranged GET
	cacheAll    bool          // every registry answer says it may be shared
}

// Start starts the three hosts of quay's flavor; they stop when the test
// ends. users may pull the private repositories.
func Start(t testing.TB, users map[string]string) *Quay {
	t.Helper()
	return StartFlavor(t, users, QuayFlavor)
}

// StartFlavor starts a registry of flavor f, its CDN and the public
// registry.
func StartFlavor(t testing.TB, users map[string]string, f Flavor) *Quay {
	t.Helper()
	q := &Quay{
		Flavor:      f,
		CA:          pkitest.NewCA(t, "quaytest origin CA"),
		Hosts:       map[string]string{},
		blobs:       newBlobStore(),
		signer:      newSigner(f.style),
		opaque:      newOpaqueURLs(),
		cdnGets:     map[string]int{},
		cdnRange:    map[string]int{},
		publicGets:  map[string]int{},
		manifests:   map[string]int{},
		fetchesDone: map[string]int{},
		poisoned:    map[string]bool{},
	}
	q.blobs.poisoned = q.isPoisoned
	cert := q.CA.Server(t, f.Registry, f.CDN, PublicName, "*.quay.test")
	q.signer.sessionToken = f.opaque == bucketKey
	var blobs registry.BlobHandler = redirectingBlobs{q}
	onRegistryHost := f.SelfServing || f.opaque == downloadToken
	switch {
	case f.SelfServing:
		blobs = q.blobs
	case !onRegistryHost:
		q.cdn = q.serve(t, f.CDN, cert, http.HandlerFunc(q.serveCDN))
		q.CDN = f.CDN + ":" + port(q.cdn.Listener.Addr().String())
	}

	quay := q.serve(t, f.Registry, cert, nil)
	q.Registry = f.Registry + ":" + port(quay.Listener.Addr().String())
	q.auth = newTokenAuth(q.Registry, f, users)
	var blobServer http.Handler = registry.New(registry.WithBlobHandler(blobs), quiet)
	if f.SelfServing {
		blobServer = q.servingBlobs(blobServer)
	}
	if onRegistryHost {
		q.cdn, q.CDN = quay, q.Registry
	}
	registryHandler := q.shareable(q.auth.wrap(q.countingManifests(blobServer)))
	quay.Config.Handler = registryHandler
	if f.opaque == downloadToken { // downloads need no Authorization: the token is the credential
		mux := http.NewServeMux()
		mux.Handle("/", registryHandler)
		mux.HandleFunc("/artifacts-downloads/", q.serveCDN)
		quay.Config.Handler = mux
	}

	public := q.serve(t, PublicName, cert, nil)
	public.Config.Handler = q.countingPublicBlobs(cacheableBlobs(registry.New(registry.WithBlobHandler(q.blobs), quiet)))
	q.Public = PublicName + ":" + port(public.Listener.Addr().String())
	return q
}

func (q *Quay) serve(t testing.TB, name string, cert tls.Certificate, h http.Handler) *httptest.Server {
	l, err := net.Listen("tcp", addresses[name]+":0")
	if err != nil {
		t.Fatalf("listen on %s: %v", addresses[name], err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = l
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	q.Hosts[name] = addresses[name]
	return srv
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// MakePrivate makes repo (such as "org/private") need credentials.
func (q *Quay) MakePrivate(repo string) { q.auth.makePrivate(repo) }

// Deny keeps user from pulling repo (a private one), with the right
// password: a user without access.
func (q *Quay) Deny(repo, user string) { q.auth.deny(repo, user) }

// AddBlob stores a blob under every repository and returns its digest.
func (q *Quay) AddBlob(data []byte) v1.Hash { return q.blobs.add(data) }

// RandomBlob stores size random bytes.
func (q *Quay) RandomBlob(size int) (v1.Hash, []byte) {
	data := make([]byte, size)
	rand.Read(data)
	return q.AddBlob(data), data
}

// CDNGets is how many times the CDN delivered the blob (ranged checks not
// counted).
func (q *Quay) CDNGets(h v1.Hash) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.cdnGets[h.Hex]
}

// CDNChecks is how many ranged GETs (authorization checks) the CDN
// answered for the blob.
func (q *Quay) CDNChecks(h v1.Hash) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.cdnRange[h.Hex]
}

// Poison makes the CDN and the public registry serve wrong bytes for h.
func (q *Quay) Poison(h v1.Hash) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.poisoned[h.Hex] = true
}

func (q *Quay) isPoisoned(hex string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.poisoned[hex]
}

// SlowChecks makes the CDN answer every ranged GET (the store-ID helper's
// authorization check) after d, as a distant or overloaded CDN does.
func (q *Quay) SlowChecks(d time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.checkDelay = d
}

// MarkEverythingShareable makes the registry mark every answer (tokens,
// manifests, 401s) "public, max-age=3600", as a misconfigured origin or a
// CDN in front of it might: a cache must still never share them.
func (q *Quay) MarkEverythingShareable() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.cacheAll = true
}

func (q *Quay) shareable(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q.mu.Lock()
		all := q.cacheAll
		q.mu.Unlock()
		if all {
			w.Header().Set("Cache-Control", "public, max-age=3600")
		}
		next.ServeHTTP(w, r)
	})
}

// SignedURL is a CDN URL for h as quay's redirect gives it; signedAgo
// dates its signature in the past (past X-Amz-Expires, it has expired).
func (q *Quay) SignedURL(h v1.Hash, signedAgo time.Duration) string {
	return q.cdnURL(h.Hex, time.Now().Add(-signedAgo))
}

// cdnURL is a CDN URL for the blob as the registry's redirect names it,
// signed (or its download token made) at signedAt.
func (q *Quay) cdnURL(hexDigest string, signedAt time.Time) string {
	s := *q.signer
	s.now = func() time.Time { return signedAt }
	switch q.Flavor.opaque {
	case downloadToken:
		return "https://" + q.CDN + q.opaque.downloadPath(hexDigest, signedAt.Add(q.signer.expires))
	case bucketKey:
		return s.sign("https://" + q.CDN + q.opaque.objectKey(hexDigest))
	}
	return s.sign("https://" + q.CDN + q.Flavor.cdnPath(hexDigest))
}

// resolveCDN finds the blob a CDN URL serves, or says why the CDN
// refuses it (errNoSuchKey: nothing there).
func (q *Quay) resolveCDN(u *url.URL) (string, error) {
	if q.Flavor.opaque == downloadToken {
		return q.opaque.resolve(downloadToken, u, q.signer.now())
	}
	if err := q.signer.verify(u); err != nil {
		return "", err
	}
	if q.Flavor.opaque == bucketKey {
		return q.opaque.resolve(bucketKey, u, q.signer.now())
	}
	if hexDigest, ok := cdnBlob(u.Path); ok {
		return hexDigest, nil
	}
	return "", errNoSuchKey
}

// TokenURL is where a client gets a pull token for repo.
func (q *Quay) TokenURL(repo string) string {
	return "https://" + q.Registry + q.Flavor.TokenPath + "?service=" + q.Flavor.Service + "&scope=repository:" + repo + ":pull"
}

// Secrets returns every signature and temporary credential the signed URLs
// carried so far: a credential each, for as long as it is valid.
func (q *Quay) Secrets() []string {
	q.signer.issued.mu.Lock()
	defer q.signer.issued.mu.Unlock()
	return slices.Clone(q.signer.issued.sigs)
}

// PathSecrets are the credentials handed out in URL paths (Artifact
// Registry's download tokens): Squid's own access log holds them, as it
// holds every path; nothing else may.
func (q *Quay) PathSecrets() []string { return q.opaque.secrets() }

// StopCDN takes the CDN down: connections to it are refused.
func (q *Quay) StopCDN() { q.cdn.Close() }

// redirectingBlobs answers quay's blob GETs with a signed CDN URL.
type redirectingBlobs struct{ q *Quay }

func (r redirectingBlobs) Get(_ context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	if !r.q.blobs.has(h) {
		return nil, errNotFound
	}
	location := r.q.cdnURL(h.Hex, time.Now())
	if r.q.Flavor.relativeRedirect {
		location = strings.TrimPrefix(location, "https://"+r.q.CDN)
	}
	return nil, registry.RedirectError{Location: location, Code: r.q.Flavor.Redirect}
}

func (r redirectingBlobs) Stat(ctx context.Context, repo string, h v1.Hash) (int64, error) {
	return r.q.blobs.Stat(ctx, repo, h)
}

func (r redirectingBlobs) Put(ctx context.Context, repo string, h v1.Hash, rc io.ReadCloser) error {
	return r.q.blobs.Put(ctx, repo, h, rc)
}

// serveCDN serves a blob for a valid signature, as S3 behind CloudFront
// does: anything else is a 403.
func (q *Quay) serveCDN(w http.ResponseWriter, r *http.Request) {
	hexDigest, err := q.resolveCDN(r.URL)
	if err != nil && err != errNoSuchKey {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "<Error><Code>AccessDenied</Code><Message>%s</Message></Error>", err)
		return
	}
	data, ok := q.blobs.get(hexDigest)
	if err != nil || !ok {
		http.Error(w, "NoSuchKey", http.StatusNotFound)
		return
	}
	q.mu.Lock()
	delay := time.Duration(0)
	if r.Header.Get("Range") == "" {
		q.cdnGets[hexDigest]++
	} else { // an authorization check, not a delivery
		q.cdnRange[hexDigest]++
		delay = q.checkDelay
	}
	q.mu.Unlock()
	time.Sleep(delay)
	if r.Header.Get("Range") == "" {
		w = q.throttled(w)
		defer q.fetchDone(hexDigest)
	}
	// Fresh for a year, but not "public": Squid does not cache it for a
	// request that carries Authorization, as clients' CDN requests do.
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "max-age=31536000, immutable")
	w.Header().Set("ETag", `"`+hexDigest[:32]+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// ManifestRequests is how many times the registry answered method (GET
// or HEAD) for a manifest of reference (a tag or "sha256:<hex>") past its
// token check: Docker Hub counts the GETs against its pull rate limit.
func (q *Quay) ManifestRequests(method, reference string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.manifests[method+" "+reference]
}

func (q *Quay) countingManifests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ref, ok := strings.Cut(r.URL.Path, "/manifests/"); ok {
			q.mu.Lock()
			q.manifests[r.Method+" "+ref]++
			q.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
}

// servingBlobs counts a self-serving registry's blob GETs (deliveries)
// and HEADs (the store-ID helper's checks) that its token check let
// through, throttles the deliveries, and marks them fresh for a year but
// not "public", as distribution does.
func (q *Quay) servingBlobs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, hexDigest, ok := strings.Cut(r.URL.Path, "/blobs/sha256:")
		if !ok || !q.blobs.has(v1.Hash{Algorithm: "sha256", Hex: hexDigest}) {
			next.ServeHTTP(w, r)
			return
		}
		q.mu.Lock()
		delay := time.Duration(0)
		if r.Method == http.MethodGet {
			q.cdnGets[hexDigest]++
		} else {
			q.cdnRange[hexDigest]++
			delay = q.checkDelay
		}
		q.mu.Unlock()
		time.Sleep(delay)
		if r.Method == http.MethodGet {
			w = q.throttled(w)
			defer q.fetchDone(hexDigest)
		}
		w.Header().Set("Cache-Control", "max-age=31536000")
		next.ServeHTTP(w, r)
	})
}

// cacheableBlobs marks blob responses cacheable, as registries do for
// content-addressed data.
func cacheableBlobs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		next.ServeHTTP(w, r)
	})
}

// Digest of data, as a registry names it.
func Digest(data []byte) v1.Hash {
	sum := sha256.Sum256(data)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// Push writes img to repo on host (Registry or Public) directly, not through
// Squid, as admin, and returns its digest reference.
func (q *Quay) Push(t testing.TB, host, repo string, img v1.Image) name.Digest {
	t.Helper()
	ref, err := name.ParseReference(host + "/" + repo + ":latest")
	if err != nil {
		t.Fatal(err)
	}
	dialer := &net.Dialer{}
	direct := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: q.CA.Pool()},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			h, p, _ := net.SplitHostPort(addr)
			return dialer.DialContext(ctx, network, net.JoinHostPort(addresses[h], p))
		},
	}
	auth := authn.FromConfig(authn.AuthConfig{Username: Admin, Password: AdminPassword})
	if err := remote.Write(ref, img, remote.WithTransport(direct), remote.WithAuth(auth)); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, _ := img.Digest()
	return ref.Context().Digest(d.String())
}

// CDNPattern is cdnurl.DefaultPattern for the emulated CDN's name and port,
// without parentheses: Squid's config parser takes "cdn(" for a function.
const CDNPattern = `^https://cdn[0-9]*\.quay\.test:[0-9]+/[^?#]+/sha256/[a-f0-9]{2}/[a-f0-9]{64}$`
