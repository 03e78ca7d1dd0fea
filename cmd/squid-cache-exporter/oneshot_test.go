package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/testenv"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
)

// probeLab is a bumping Squid before the quay emulation, with a probe
// config holding a target that passes and one that cannot be cached.
type probeLab struct {
	squid              *squidtest.Squid
	bumpCA             string
	passing, notCached string // configs with one target each
}

func newProbeLab(t *testing.T) *probeLab {
	squidtest.SkipUnderSMP(t, squidtest.MemHitNeedsOneProcess)
	env := testenv.Start(t, testenv.Options{})
	quay, bump, squid := env.Quay, env.Bump, env.Squid
	dir := t.TempDir()
	l := &probeLab{squid: squid, bumpCA: filepath.Join(dir, "bump.pem")}
	bump.WriteCert(t, l.bumpCA)
	public, _ := quay.RandomBlob(100 << 10)
	redirected, _ := quay.RandomBlob(100 << 10)
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(body), 0o644)
		return path
	}
	pass := fmt.Sprintf("- name: ubi\n  blob: %s/ubi9/ubi@%s\n", quay.Public, public)
	fail := fmt.Sprintf("- name: quay\n  blob: %s/org/public@%s\n", quay.Registry, redirected)
	l.passing = write("pass.yml", "targets:\n"+pass)
	l.notCached = write("fail.yml", "targets:\n"+pass+fail)
	return l
}

func (l *probeLab) flags(config string) []string {
	return []string{"--probe.config=" + config, "--probe.proxy-url=" + l.squid.URL,
		"--probe.ca-file=" + l.bumpCA, "--squid.access-log=" + l.squid.AccessLog, "--squid.address=" + l.squid.URL}
}

func runProbe(t *testing.T, args ...string) (int, string) {
	t.Helper()
	return runProbeWithEnv(t, nil, args...)
}

// runProbeWithEnv runs the probe command with env added to the test's.
func runProbeWithEnv(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"probe"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, string(out)
}

func TestOneShotProbeFromHere(t *testing.T) {
	l := newProbeLab(t)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
	}{
		{"every target passes", l.flags(l.passing), exitPass, []string{"PASS ubi", "second pull TCP_MEM_HIT"}},
		{"one target is not cached", l.flags(l.notCached), exitFail, []string{"PASS ubi", "FAIL quay: not_cached", "second pull TCP_MISS"}},
		{"no config", nil, exitConfig, []string{"give --probe.config"}},
		{"no access log", []string{"--probe.config=" + l.passing}, exitConfig, []string{"set --squid.access-log"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := runProbe(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d\n%s", code, tt.wantCode, out)
			}
			for _, want := range tt.wantOut {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// The helm test pod cannot read the Squid pod's log: it asks the sidecar,
// which probes through its own Squid and reads its own log.
func TestOneShotProbeAsksTheSidecar(t *testing.T) {
	l := newProbeLab(t)
	sidecar := startBinary(t, l.flags(l.notCached)...)
	code, out := runProbe(t, "--exporter-url="+sidecar.URL)
	if code != exitFail || !strings.Contains(out, "PASS ubi") || !strings.Contains(out, "FAIL quay: not_cached") ||
		!strings.Contains(out, "replica "+sidecar.URL) {
		t.Errorf("exit code %d:\n%s", code, out)
	}
	if code, out := runProbe(t, "--exporter-url=http://127.0.0.1:1"); code != exitFail || !strings.Contains(out, "cannot list its targets") {
		t.Errorf("unreachable sidecar: exit code %d:\n%s", code, out)
	}
}

// fakeSidecar answers /probe/targets and /probe?debug=true as a sidecar
// whose one target passes, and remembers the passwords it was sent.
func fakeSidecar(t *testing.T) (port string, passwords *[]string) {
	var seen []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pw, ok := r.BasicAuth(); ok {
			mu.Lock()
			seen = append(seen, pw)
			mu.Unlock()
		}
		switch r.URL.Path {
		case "/probe/targets":
			fmt.Fprint(w, `["ubi"]`)
		case "/probe":
			fmt.Fprintln(w, "PASS ubi")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	_, port, _ = net.SplitHostPort(srv.Listener.Addr().String())
	return port, &seen
}

// The one-shot probe talks to the sidecars directly, whatever HTTP_PROXY
// says: a helm test pod may have a proxy set for the outside world. Go never
// proxies a loopback address, so the sidecar is asked as 0.0.0.0, which
// Linux connects to the local host but Go does not count as loopback: with
// the proxy honoured, the request would go to the closed port.
func TestOneShotProbeIgnoresProxyEnvironment(t *testing.T) {
	port, _ := fakeSidecar(t)
	closed := fmt.Sprintf("http://127.0.0.1:%d", squidtest.FreePort(t))
	env := []string{"HTTP_PROXY=" + closed, "http_proxy=" + closed, "HTTPS_PROXY=" + closed, "https_proxy=" + closed,
		"ALL_PROXY=" + closed, "NO_PROXY=", "no_proxy="}
	code, out := runProbeWithEnv(t, env, "--exporter-url=http://0.0.0.0:"+port)
	if code != exitPass || !strings.Contains(out, "replica http://0.0.0.0:"+port+": PASS ubi") {
		t.Errorf("exit code %d:\n%s", code, out)
	}
}

// An --exporter-url may hold a password for the sidecar: it is sent, and
// never printed.
func TestOneShotProbeHidesExporterPasswords(t *testing.T) {
	port, passwords := fakeSidecar(t)
	const secret = "s3cret-pw"
	tests := []struct {
		name     string
		url      string
		wantCode int
		wantOut  string
	}{
		{"reachable", "http://alice:" + secret + "@127.0.0.1:" + port, exitPass, "replica http://REDACTED@127.0.0.1:" + port + ": PASS ubi"},
		{"unreachable", "http://alice:" + secret + "@127.0.0.1:1", exitFail, "FAIL replica http://REDACTED@127.0.0.1:1: cannot list its targets"},
		{"not a URL", "http://alice:" + secret + "@[::1", exitFail, "not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := runProbe(t, "--exporter-url="+tt.url)
			if code != tt.wantCode || !strings.Contains(out, tt.wantOut) {
				t.Errorf("exit code %d, want %d, and output with %q:\n%s", code, tt.wantCode, tt.wantOut, out)
			}
			if strings.Contains(out, secret) {
				t.Errorf("the password was printed:\n%s", out)
			}
		})
	}
	if len(*passwords) == 0 || (*passwords)[0] != secret {
		t.Errorf("the sidecar was sent passwords %q, want %q", *passwords, secret)
	}
}
