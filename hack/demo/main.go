// Command demo is what `make run` runs: a bumping Squid caching proxy in
// front of an emulated quay.io (token auth, a private repository, signed
// CDN redirects) and a public registry, with the private-blob helpers
// (store-ID and ICAP), the exporter with its prober, and a round of each
// probe. It prints what to open, and stops and removes everything on
// Ctrl-C. It is built from the end-to-end tests' own harness.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	kitlog "github.com/go-kit/log"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/squid-cache-exporter/squid-cache-exporter/cdnurl"
	"github.com/squid-cache-exporter/squid-cache-exporter/icap"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/quaytest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/testenv"
)

const user, password = "demo", "demo-password"

func main() {
	exporter := flag.String("exporter", "./squid-cache-exporter", "the exporter binary")
	listen := flag.String("web.listen-address", "127.0.0.1:9301", "where the exporter serves")
	helper := flag.String("helper", "./cmd/squid-store-id-helper", "the store-ID helper's package")
	once := flag.Bool("once", false, "exit after the first probe rounds (exit code 1 if one failed)")
	flag.Parse()
	p := testenv.NewProgram("demo")
	defer p.Close()
	ok := run(p, *exporter, *helper, *listen)
	if *once {
		p.Close()
		if !ok {
			os.Exit(1)
		}
		return
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
}

// run starts everything and runs one round of each probe; it says whether
// both passed.
func run(p testing.TB, exporter, helperPkg, listen string) bool {
	helper, cleanup, err := squidtest.BuildForSquid(helperPkg)
	if err != nil {
		p.Fatal(err)
	}
	p.Cleanup(cleanup)
	env := testenv.Start(p, testenv.Options{Users: map[string]string{user: password}, Private: []string{"org/private"},
		Extra: squidtest.PrivateBlobs(p, helper, quaytest.CDNPattern, startICAP(p))})
	public := push(p, env, env.Quay.Public, "ubi9/ubi-micro")
	private := push(p, env, env.Quay.Registry, "org/private")

	dir := p.TempDir()
	env.Bump.WriteCert(p, filepath.Join(dir, "bump-ca.pem"))
	config := filepath.Join(dir, "probe.yml")
	os.WriteFile(config, []byte(fmt.Sprintf(`targets:
  - name: ubi-public
    image: %s
    layer: -1
    interval: 30s
    timeout: 20s
  - name: quay-private
    image: %s
    layer: -1
    private: true
    credentials: %s
    interval: 30s
    timeout: 20s
`, public, private, env.DockerConfig(p, user, password))), 0o600)

	startExporter(p, exporter, "--squid.address="+env.Squid.URL, "--web.listen-address="+listen,
		"--probe.config="+config, "--probe.ca-file="+filepath.Join(dir, "bump-ca.pem"), "--squid.access-log="+env.Squid.AccessLog)
	base := "http://" + listen
	ok := true
	for _, target := range []string{"ubi-public", "quay-private"} {
		verdict := get(p, base+"/probe?debug=true&target="+target)
		fmt.Printf("\n%s", verdict)
		ok = ok && strings.HasPrefix(verdict, "PASS")
	}
	fmt.Printf(`
Squid (ssl-bump, store-ID helper, ICAP):  %s   access log: %s
Landing page:  %s/
Metrics:       %s/metrics
A probe now:   %s/probe?target=quay-private&debug=true
Try:           curl -s %s/metrics | grep -E '^squid_(up|probe_success|access_requests_total.*object="blob")' | grep -v ' 0$'
Ctrl-C stops everything.
`, env.Squid.URL, env.Squid.AccessLog, base, base, base, base)
	return ok
}

// startICAP serves the ICAP REQMOD service in this process until the
// program ends, and returns its address.
func startICAP(p testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		p.Fatal(err)
	}
	urls, _ := cdnurl.New(quaytest.CDNPattern)
	ctx, cancel := context.WithCancel(context.Background())
	p.Cleanup(cancel)
	s := &icap.Server{URLs: urls, Logger: kitlog.NewNopLogger(), Metrics: icap.NewMetrics(prometheus.NewRegistry())}
	go s.Serve(ctx, l)
	return l.Addr().String()
}

// push writes a one-layer image to repo on host and returns its reference.
func push(p testing.TB, env *testenv.Env, host, repo string) string {
	img, err := random.Image(256<<10, 1)
	if err != nil {
		p.Fatal(err)
	}
	return env.Quay.Push(p, host, repo, img).String()
}

// startExporter runs the exporter until the program ends, and waits until
// it answers.
func startExporter(p testing.TB, exporter string, args ...string) {
	cmd := exec.Command(exporter, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		p.Fatalf("%s: %v (make build first)", exporter, err)
	}
	p.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := "http://" + args[1][len("--web.listen-address="):] + "/"
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
	}
	p.Fatalf("the exporter did not answer on %s", url)
}

func get(p testing.TB, url string) string {
	resp, err := http.Get(url)
	if err != nil {
		p.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func init() { log.SetFlags(0) }
