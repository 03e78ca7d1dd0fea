// Command quayemu serves internal/test/quaytest's emulation of quay.io, its CDN
// and a public registry inside a Kubernetes cluster, for the Helm chart's
// cluster test (hack/test-k8s.sh). It is test tooling, not part of the
// product.
//
// quaytest listens on random loopback ports. quayemu puts one TLS front on
// -listen before them that routes by host name (quay.test, cdn01.quay.test,
// registry.access.test) and drops the loopback ports from the redirects and
// token realms it passes on, so that clients see the names on port 443 of
// one Service. The CDN's signatures cover the path, not the host, so they
// stay valid. It pushes one image to a private quay repository, one to a
// public quay repository and one to the public registry, and serves the
// origin CA on -control (/ca.pem) for the proxy to trust. Behind the same
// front are the other flavors, each with one image in its private
// repository: Docker Hub's and GHCR's on their real names
// (registry-1.docker.io and its CloudFront CDN, ghcr.io and
// pkg-containers.githubusercontent.com), harbor.test, a registry that
// serves its private blobs itself, Artifact Registry's (us-docker.pkg.dev)
// and ECR's (123456789012.dkr.ecr.us-east-1.amazonaws.com and its layer
// bucket), each with a public image as well. alice and bob may pull the
// private ones, mallory may not.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/quaytest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/testenv"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/webserver"
)

// Repositories the emulation serves, each with one single-layer image
// tagged latest.
const (
	PrivateRepo = "org/private"    // on quay.test, needs credentials
	PublicRepo  = "org/public"     // on quay.test, anonymous pulls
	AccessRepo  = "ubi9/ubi-micro" // on registry.access.test
	BigRepo     = "org/big"        // on registry.access.test: a layer that takes a while to pull
	FleetRepo   = "org/fleet"      // on quay.test, public: 30 layers, for the fleet's measurement
	FleetRepo2  = "org/fleet2"     // the same, other layers: pulled while a replica is killed
	fleetLayers = 30
	layerSize   = 256 << 10 // bytes of random data per layer
	bigSize     = 32 << 20  // bytes of the big layer
)

// skopeoUsers pull through the proxy in the cluster test: alice and bob
// may pull every private repository, mallory none.
var skopeoUsers = map[string]string{"alice": "alice-pw", "bob": "bob-pw", "mallory": "mallory-pw"}

// Server bounds.
const (
	headerTimeout = webserver.ReadHeaderTimeout
	readTimeout   = webserver.ReadTimeout
	idleTimeout   = webserver.IdleTimeout
	dialTimeout   = 5 * time.Second
	shutdown      = 5 * time.Second
	maxHeader     = 64 << 10
)

func main() {
	listen := flag.String("listen", ":8443", "TLS address the registries answer on (a Service maps 443 here)")
	control := flag.String("control", ":8080", "plain HTTP address serving /ca.pem and /healthz")
	user := flag.String("user", "probe", "user that may pull "+PrivateRepo)
	password := flag.String("password", "probe-password", "that user's password")
	flag.Parse()

	t := testenv.NewProgram("quayemu")
	defer t.Close()
	users := map[string]string{*user: *password}
	for u, p := range skopeoUsers {
		users[u] = p
	}
	q := quaytest.Start(t, users)
	q.MakePrivate(PrivateRepo)
	q.Deny(PrivateRepo, "mallory")
	type push struct {
		emu        *quaytest.Quay
		host, repo string
		size       int64
		layers     int64
	}
	pushes := []push{{q, q.Registry, PrivateRepo, layerSize, 1}, {q, q.Registry, PublicRepo, layerSize, 1}, {q, q.Public, AccessRepo, layerSize, 1},
		{q, q.Public, BigRepo, bigSize, 1}, {q, q.Registry, FleetRepo, 64 << 10, fleetLayers}, {q, q.Registry, FleetRepo2, 64 << 10, fleetLayers}}
	var others []*quaytest.Quay
	names := []string{quaytest.RegistryName, quaytest.CDNName, quaytest.PublicName}
	for _, f := range []quaytest.Flavor{quaytest.DockerHubFlavor, quaytest.GHCRFlavor, quaytest.SelfServingFlavor,
		quaytest.ArtifactRegistryFlavor, quaytest.ECRFlavor} {
		o := quaytest.StartFlavor(t, users, f)
		o.MakePrivate(PrivateRepo)
		o.Deny(PrivateRepo, "mallory")
		others = append(others, o)
		pushes = append(pushes, push{o, o.Registry, PrivateRepo, layerSize, 1}, push{o, o.Registry, PublicRepo, layerSize, 1})
		names = append(names, f.Registry)
		if f.CDN != f.Registry {
			names = append(names, f.CDN)
		}
	}
	for _, push := range pushes {
		img, err := random.Image(push.size, push.layers)
		if err != nil {
			log.Fatal(err)
		}
		ref := push.emu.Push(t, push.host, push.repo, img)
		log.Printf("pushed %s", ref)
	}

	front := &http.Server{
		Addr:              *listen,
		Handler:           newFront(q, others...),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{q.CA.Server(t, names...)}},
		ReadHeaderTimeout: headerTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeader,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/ca.pem", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-pem-file")
		w.Write(q.CA.CertPEM())
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	ctl := &http.Server{Addr: *control, Handler: mux, ReadHeaderTimeout: headerTimeout, IdleTimeout: idleTimeout}

	go func() { log.Fatal(front.ListenAndServeTLS("", "")) }()
	go func() { log.Fatal(ctl.ListenAndServe()) }()
	log.Printf("serving %s on %s; CA on %s/ca.pem", strings.Join(names, ", "), *listen, *control)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	<-stop
	ctx, cancel := context.WithTimeout(context.Background(), shutdown)
	defer cancel()
	front.Shutdown(ctx)
	ctl.Shutdown(ctx)
}

// newFront routes each request by its host name to the emulated host
// behind it, and rewrites that host's loopback host:port in redirects and
// token challenges to the bare name. The others' public registries are
// not routed: registry.access.test is q's.
func newFront(q *quaytest.Quay, others ...*quaytest.Quay) http.Handler {
	backends := map[string]string{} // name -> name:port of quaytest's listener
	addrs := map[string]string{}    // name -> loopback address
	roots := q.CA.Pool()
	hostPorts := []string{q.Registry, q.CDN, q.Public}
	for _, o := range others {
		roots.AppendCertsFromPEM(o.CA.CertPEM())
		hostPorts = append(hostPorts, o.Registry, o.CDN)
		for name, addr := range o.Hosts {
			addrs[name] = addr
		}
	}
	for _, hp := range hostPorts {
		name, _, _ := net.SplitHostPort(hp)
		backends[name] = hp
	}
	for name, addr := range q.Hosts {
		addrs[name] = addr
	}
	var pairs []string
	for name, hp := range backends {
		pairs = append(pairs, hp, name)
	}
	unport := strings.NewReplacer(pairs...)
	dialer := &net.Dialer{Timeout: dialTimeout}
	transport := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			name, port, _ := net.SplitHostPort(addr)
			return dialer.DialContext(ctx, network, net.JoinHostPort(addrs[name], port))
		},
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     idleTimeout,
	}
	return &httputil.ReverseProxy{
		Transport: transport,
		Rewrite: func(r *httputil.ProxyRequest) {
			name, _, err := net.SplitHostPort(r.In.Host)
			if err != nil {
				name = r.In.Host
			}
			backend, ok := backends[name]
			if !ok {
				backend = q.Registry // an unknown name gets quay's 404s
			}
			r.Out.URL.Scheme, r.Out.URL.Host, r.Out.Host = "https", backend, backend
		},
		ModifyResponse: func(resp *http.Response) error {
			for _, h := range []string{"Location", "WWW-Authenticate"} {
				if v := resp.Header.Get(h); v != "" {
					resp.Header.Set(h, unport.Replace(v))
				}
			}
			return nil
		},
	}
}
