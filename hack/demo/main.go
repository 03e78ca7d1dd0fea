// Command demo is what `make run` runs: a bumping Squid caching proxy in
// front of an emulated quay.io (token auth, a private repository, signed
// CDN redirects) and a public registry, with the private-blob helpers
// (store-ID and ICAP), the exporter with its prober, and a round of each
// probe. It prints the verdicts, the blob hit ratio per registry and what
// to open, and on Ctrl-C (SIGINT) or SIGTERM stops and removes everything
// and exits 0. It is built from the end-to-end tests' own harness.
package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
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
	"sync"
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

const (
	user, password = "demo", "demo-password"
	defaultAddress = "127.0.0.1:9301"
	// The probe targets, and how often the exporter's background rounds run:
	// a target's first round comes within twice the interval.
	publicTarget, privateTarget = "ubi-public", "quay-private"
	interval                    = 5 * time.Second
)

// registries are the exporter's traffic registries (--squid.access-log.registry):
// the emulated hosts count as the registries they stand for.
var registries = []string{
	"quay.io=" + quaytest.RegistryName + ",*.quay.test", // and its CDN, cdn01.quay.test
	"registry.access.redhat.com=" + quaytest.PublicName,
}

// seriesPattern is what the banner's curl shows of /metrics: Squid's and the
// probes' verdicts, and the blob requests the hit ratios come from.
const seriesPattern = `^squid_(up|probe_success)[{ ]|^squid_access_requests_total\{cache="(hit|revalidated|miss)",object="blob",registry="(quay\.io|registry\.access\.redhat\.com)"`

func main() {
	exporter := flag.String("exporter", "./squid-cache-exporter", "the exporter binary")
	listen := flag.String("web.listen-address", "", "where the exporter serves; when it is in use, the demo exits 1 (empty: -web.default-address)")
	fallback := flag.String("web.default-address", defaultAddress, "where the exporter serves without -web.listen-address; when it is in use, a free port on the same host")
	helper := flag.String("helper", "./cmd/squid-store-id-helper", "the store-ID helper's package")
	once := flag.Bool("once", false, "exit after the banner (exit code 1 if a probe failed)")
	flag.Parse()

	// Caught from the start: a stop while starting removes what has started.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	addr, err := reserve(*listen, *fallback)
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("Starting Squid, the emulated registries and the exporter...")
	p := &program{Program: testenv.NewProgram("demo"), ctx: ctx}
	ok := run(ctx, p, *exporter, *helper, addr)
	if !*once {
		<-ctx.Done()
	}
	p.Close()
	if ctx.Err() != nil {
		fmt.Println("\nStopped: Squid, the exporter and the emulated registries are gone.")
		return
	}
	if !ok {
		os.Exit(1)
	}
}

// address is where the exporter is to serve, held until it starts.
type address struct {
	net.Listener
	addr string
}

// reserve takes the address the exporter will serve on: the one given,
// or else the default or, when that is in use, a free port on its host.
func reserve(given, fallback string) (*address, error) {
	want := cmp.Or(given, fallback)
	l, err := net.Listen("tcp", want)
	switch {
	case err == nil:
	case given != "" && errors.Is(err, syscall.EADDRINUSE):
		return nil, fmt.Errorf("%s is in use: give another address (make run WEB_ADDRESS=HOST:PORT)", given)
	case given == "" && errors.Is(err, syscall.EADDRINUSE):
		host, _, _ := net.SplitHostPort(fallback)
		if l, err = net.Listen("tcp", net.JoinHostPort(host, "0")); err != nil {
			return nil, fmt.Errorf("%s is in use, and no other port is free: %v", fallback, err)
		}
		fmt.Printf("%s is in use; serving on %s instead\n", fallback, l.Addr())
	default:
		return nil, fmt.Errorf("cannot serve on %s: %v", want, err)
	}
	return &address{Listener: l, addr: l.Addr().String()}, nil
}

// program runs the test harnesses (testenv.Program), but a harness that
// fails because the demo was asked to stop ends it with exit code 0.
type program struct {
	*testenv.Program
	ctx context.Context
}

func (p *program) Error(args ...any)                 { p.fail(fmt.Sprint(args...)) }
func (p *program) Errorf(format string, args ...any) { p.fail(fmt.Sprintf(format, args...)) }
func (p *program) Fatal(args ...any)                 { p.fail(fmt.Sprint(args...)) }
func (p *program) Fatalf(format string, args ...any) { p.fail(fmt.Sprintf(format, args...)) }
func (p *program) FailNow()                          { p.fail("failed") }
func (p *program) Skip(args ...any)                  { p.fail(fmt.Sprint(args...)) }
func (p *program) Skipf(format string, args ...any)  { p.fail(fmt.Sprintf(format, args...)) }

// fail removes what has started and exits: 0 when the demo was asked to
// stop, 1 otherwise. Ctrl-C reaches the demo's short-lived children (go
// build, squid -z) as it reaches the demo, so a failure waits a moment for
// the demo's own signal.
func (p *program) fail(msg string) {
	select {
	case <-p.ctx.Done():
	case <-time.After(500 * time.Millisecond):
	}
	p.Close()
	if p.ctx.Err() != nil {
		fmt.Println("\nStopped: Squid, the exporter and the emulated registries are gone.")
		os.Exit(0)
	}
	log.Printf("demo: %s", msg)
	os.Exit(1)
}

// stopIfAsked ends the demo (exit code 0) once it was asked to stop.
func (p *program) stopIfAsked() {
	if p.ctx.Err() != nil {
		p.fail("stopped")
	}
}

// run starts everything and runs one round of each probe; it says whether
// both passed, on demand and in the exporter's background rounds.
func run(ctx context.Context, p *program, exporter, helperPkg string, addr *address) bool {
	helper, cleanup, err := squidtest.BuildForSquid(helperPkg)
	if err != nil {
		p.Fatal(err)
	}
	p.Cleanup(cleanup)
	p.stopIfAsked()
	env := testenv.Start(p, testenv.Options{Users: map[string]string{user: password}, Private: []string{"org/private"},
		Extra: squidtest.PrivateBlobs(p, helper, quaytest.CDNPattern, startICAP(p), squidtest.Origins{})})
	p.stopIfAsked()
	public := push(p, env, env.Quay.Public, "ubi9/ubi-micro")
	private := push(p, env, env.Quay.Registry, "org/private")

	dir := p.TempDir()
	env.Bump.WriteCert(p, filepath.Join(dir, "bump-ca.pem"))
	config := filepath.Join(dir, "probe.yml")
	err = os.WriteFile(config, []byte(fmt.Sprintf(`targets:
  - name: %[1]s
    image: %[2]s
    layer: -1
    interval: %[3]s
    timeout: %[3]s
  - name: %[4]s
    image: %[5]s
    layer: -1
    private: true
    credentials: %[6]s
    interval: %[3]s
    timeout: %[3]s
`, publicTarget, public, interval, privateTarget, private, env.DockerConfig(p, user, password))), 0o600)
	if err != nil {
		p.Fatal(err)
	}
	p.stopIfAsked()

	args := []string{"--squid.address=" + env.Squid.URL, "--probe.config=" + config,
		"--probe.ca-file=" + filepath.Join(dir, "bump-ca.pem"), "--squid.access-log=" + env.Squid.AccessLog}
	for _, r := range registries {
		args = append(args, "--squid.access-log.registry="+r)
	}
	startExporter(ctx, p, exporter, addr, args...)
	base := "http://" + urlHost(addr.addr)
	ok := true
	for _, target := range []string{publicTarget, privateTarget} {
		verdict := get(ctx, p, base+"/probe?debug=true&target="+target)
		fmt.Printf("\n%s", verdict)
		ok = ok && strings.HasPrefix(verdict, "PASS")
	}

	fmt.Printf("\nWaiting (up to %s) for the exporter's background rounds, whose verdicts /metrics shows...\n", 2*interval)
	m := waitForVerdicts(ctx, p, base+"/metrics", []string{publicTarget, privateTarget}, 2*interval+interval+10*time.Second)
	for _, target := range []string{publicTarget, privateTarget} {
		v := m.verdict(target)
		fmt.Printf("  squid_probe_success{target=%q} %g\n", target, v)
		ok = ok && v == 1
	}
	fmt.Println("\nBlob hit ratio per registry, from squid_access_requests_total{object=\"blob\"}: hit / (hit + revalidated + miss)")
	fmt.Print(formatRatios(m.blobHitRatios()))
	fmt.Println("(squid_request_hit_ratio is Squid's own figure, over all requests and from snapshots it takes every minute: 0 in its first minute.)")

	fmt.Printf(`
Squid (ssl-bump, store-ID helper, ICAP):  %s   access log: %s
Registries:    %s and %s count as quay.io, %s as registry.access.redhat.com
Status page:   %s/   (Squid, the verdicts, the blob hit ratio per registry)
Metrics:       %s/metrics
A probe now:   %s/probe?target=%s&debug=true
Try:           curl -s %s/metrics | grep -E '%s'
Ctrl-C stops everything.
`, env.Squid.URL, env.Squid.AccessLog, quaytest.RegistryName, quaytest.CDNName, quaytest.PublicName,
		base, base, base, privateTarget, base, seriesPattern)
	return ok
}

// urlHost is addr as a URL's host: a wildcard address is reached on loopback.
func urlHost(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
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

// startExporter runs the exporter on addr until the program ends, and waits
// until it says it listens there: only then is what answers on addr the
// exporter. Its log goes to stderr. It runs in a process group of its own,
// so that Ctrl-C reaches the demo alone, which stops it.
func startExporter(ctx context.Context, p *program, exporter string, addr *address, args ...string) {
	r, w, err := os.Pipe()
	if err != nil {
		p.Fatal(err)
	}
	cmd := exec.Command(exporter, append([]string{"--web.listen-address=" + addr.addr}, args...)...)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	addr.Close() // the exporter takes the address over
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		p.Fatalf("%s: %v (make build first)", exporter, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	p.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})

	listening, logged := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var lastError string
	go func() {
		defer close(logged)
		defer r.Close()
		once := sync.Once{}
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(os.Stderr, line)
			if strings.Contains(line, `msg="Listening on"`) {
				once.Do(func() { close(listening) })
			}
			if strings.Contains(line, "level=error") {
				mu.Lock()
				lastError = line
				mu.Unlock()
			}
		}
		io.Copy(io.Discard, r)
	}()
	select {
	case <-listening:
	case <-exited:
		<-logged
		mu.Lock()
		defer mu.Unlock()
		p.Fatalf("the exporter exited (%v) before it served on %s: %s", cmd.ProcessState, addr.addr, lastError)
	case <-time.After(15 * time.Second):
		p.Fatalf("the exporter did not serve on %s within 15s", addr.addr)
	case <-ctx.Done():
		p.stopIfAsked()
	}
}

// get returns the exporter's answer to a GET of url. Anything but a 200 is
// a failure, reported without the body.
func get(ctx context.Context, p *program, url string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		p.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		p.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		p.Fatalf("GET %s: %s", url, resp.Status)
	}
	return string(b)
}

// waitForVerdicts polls the exporter's /metrics until it holds a
// squid_probe_success for each target, and returns that scrape.
func waitForVerdicts(ctx context.Context, p *program, url string, targets []string, limit time.Duration) metrics {
	deadline := time.Now().Add(limit)
	for {
		m, err := parseMetrics(get(ctx, p, url))
		if err != nil {
			p.Fatalf("%s: %v", url, err)
		}
		missing := ""
		for _, t := range targets {
			if !m.hasVerdict(t) {
				missing = t
			}
		}
		if missing == "" {
			return m
		}
		if time.Now().After(deadline) {
			p.Fatalf("no squid_probe_success{target=%q} on %s after %s", missing, url, limit)
		}
		select {
		case <-ctx.Done():
			p.stopIfAsked()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func init() { log.SetFlags(0) }
