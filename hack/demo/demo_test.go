package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/testio"
)

// The demo and the exporter, built once as make run builds them.
var demoBin, exporterBin string

func TestMain(m *testing.M) { os.Exit(buildAndRun(m)) }

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "demo-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	demoBin, exporterBin = filepath.Join(dir, "demo"), filepath.Join(dir, "squid-cache-exporter")
	for bin, pkg := range map[string]string{demoBin: ".", exporterBin: "../../cmd/squid-cache-exporter"} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build %s: %v\n%s", pkg, err, out)
			return 1
		}
	}
	return m.Run()
}

// demo is a running demo, started from the repository's root as make run
// starts it, in a process group of its own as a terminal's job is.
type demo struct {
	cmd            *exec.Cmd
	stdout, stderr *testio.SyncBuffer
	tag            string // in the environment of the demo and of every process it starts
	exited         chan struct{}
}

func startDemo(t *testing.T, args ...string) *demo {
	t.Helper()
	tag := make([]byte, 8)
	rand.Read(tag)
	d := &demo{stdout: &testio.SyncBuffer{}, stderr: &testio.SyncBuffer{}, tag: "DEMO_TEST_TAG=" + hex.EncodeToString(tag),
		exited: make(chan struct{})}
	d.cmd = exec.Command(demoBin, append([]string{"-exporter", exporterBin}, args...)...)
	d.cmd.Dir = "../.."
	d.cmd.Env = append(os.Environ(), d.tag)
	d.cmd.Stdout, d.cmd.Stderr = d.stdout, d.stderr
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() { // whatever happened, nothing of this demo outlives the test
		syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.exited
		for _, p := range d.processes() {
			syscall.Kill(p.pid, syscall.SIGKILL)
		}
	})
	return d
}

// waitFor waits until the demo's stdout holds s.
func (d *demo) waitFor(t *testing.T, s string, limit time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(limit); !strings.Contains(d.stdout.String(), s); time.Sleep(50 * time.Millisecond) {
		select {
		case <-d.exited:
			t.Fatalf("the demo exited (%v) before printing %q\nstdout:\n%s\nstderr:\n%s", d.cmd.ProcessState, s, d.stdout, d.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo did not print %q within %s\nstdout:\n%s\nstderr:\n%s", s, limit, d.stdout, d.stderr)
		}
	}
}

// wait waits for the demo to exit and returns its exit code.
func (d *demo) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-d.exited:
		return d.cmd.ProcessState.ExitCode() // -1 when a signal killed it
	case <-time.After(limit):
		t.Fatalf("the demo did not exit within %s\nstdout:\n%s\nstderr:\n%s", limit, d.stdout, d.stderr)
		return 0
	}
}

type process struct {
	pid     int
	cmdline string
}

// processes are the live processes that carry the demo's tag: the demo,
// Squid and its helpers, the exporter.
func (d *demo) processes() []process {
	var out []process
	environs, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, f := range environs {
		env, err := os.ReadFile(f)
		if err != nil || !strings.Contains("\x00"+string(env)+"\x00", "\x00"+d.tag+"\x00") {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		cmdline, _ := os.ReadFile(filepath.Join(filepath.Dir(f), "cmdline"))
		out = append(out, process{pid, strings.ReplaceAll(string(cmdline), "\x00", " ")})
	}
	return out
}

// checkNothingLeft fails unless every process of the demo is gone within
// a few seconds (Squid's helpers leave when Squid has gone).
func (d *demo) checkNothingLeft(t *testing.T) {
	t.Helper()
	var left []process
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if left = d.processes(); len(left) == 0 {
			return
		}
	}
	t.Errorf("processes of the demo still run after it exited: %v", left)
}

// foreignServer serves an HTML 404 page on a free loopback port, as
// another program on the demo's port would, and counts its requests.
func foreignServer(t *testing.T) (addr string, requests *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	requests = &atomic.Int64{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, foreignPage)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String(), requests
}

const foreignPage = "<html><head><title>404 Not Found</title></head><body><h1>Not Found: another server</h1></body></html>\n"

// The exporter's address in use: the default one makes the demo serve on
// a free port and say so; a given one makes it exit 1 with a one-line error
// before anything starts. The other server's pages never appear, and the
// other server is never asked.
func TestDemoAddressTaken(t *testing.T) {
	for _, tc := range []struct {
		name      string
		flag      string
		needSquid bool
		exitCode  int
		check     func(t *testing.T, d *demo, taken string)
	}{
		{
			name: "default address: a free port instead", flag: "-web.default-address", needSquid: true, exitCode: 0,
			check: func(t *testing.T, d *demo, taken string) {
				m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(taken) + ` is in use; serving on 127\.0\.0\.1:(\d+) instead$`).
					FindStringSubmatch(d.stdout.String())
				if m == nil {
					t.Fatalf("the demo did not say it serves elsewhere:\n%s", d.stdout)
				}
				if "127.0.0.1:"+m[1] == taken {
					t.Errorf("the demo says it serves on the address in use, %s", taken)
				}
				if want := "Metrics:       http://127.0.0.1:" + m[1] + "/metrics"; !strings.Contains(d.stdout.String(), want) {
					t.Errorf("the banner lacks %q:\n%s", want, d.stdout)
				}
				if n := strings.Count(d.stdout.String(), "\nPASS "); n != 2 {
					t.Errorf("%d PASS lines, want 2:\n%s", n, d.stdout)
				}
			},
		},
		{
			name: "given address: exit 1 before anything", flag: "-web.listen-address", exitCode: 1,
			check: func(t *testing.T, d *demo, taken string) {
				if d.stdout.String() != "" {
					t.Errorf("the demo printed on stdout:\n%s", d.stdout)
				}
				want := "demo: " + taken + " is in use: give another address (make run WEB_ADDRESS=HOST:PORT)\n"
				if d.stderr.String() != want {
					t.Errorf("stderr:\n%s\nwant the one line:\n%s", d.stderr, want)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needSquid {
				squidtest.Binary(t)
			}
			taken, requests := foreignServer(t)
			d := startDemo(t, tc.flag+"="+taken, "-once")
			if code := d.wait(t, 60*time.Second); code != tc.exitCode {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.exitCode, d.stdout, d.stderr)
			}
			tc.check(t, d, taken)
			if out := d.stdout.String() + d.stderr.String(); strings.Contains(strings.ToLower(out), "<html") {
				t.Errorf("the demo printed the other server's page:\n%s", out)
			}
			if n := requests.Load(); n != 0 {
				t.Errorf("the demo sent %d requests to the other server", n)
			}
			d.checkNothingLeft(t)
		})
	}
}

// make run as a user sees it: both rounds pass, both verdicts are on
// /metrics when the banner comes, the blob hit ratio of each registry is
// printed, the emulated quay counting as quay.io, and the banner's curl
// shows those series. Ctrl-C (SIGINT to the process group, as a terminal
// sends it) then stops everything, and the demo exits 0.
func TestDemoRunAndCtrlC(t *testing.T) {
	squidtest.Binary(t)
	addr := fmt.Sprintf("127.0.0.1:%d", squidtest.FreePort(t))
	d := startDemo(t, "-web.listen-address="+addr)
	d.waitFor(t, "Ctrl-C stops everything.", 60*time.Second)
	out := d.stdout.String()
	scrape, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(scrape.Body)
	scrape.Body.Close()

	if n := strings.Count(out, "\nPASS "); n != 2 {
		t.Errorf("%d PASS lines, want 2:\n%s", n, out)
	}
	for _, target := range []string{publicTarget, privateTarget} {
		if !strings.Contains(out, fmt.Sprintf("  squid_probe_success{target=%q} 1\n", target)) {
			t.Errorf("no passing background verdict printed for %s:\n%s", target, out)
		}
		if !regexp.MustCompile(`(?m)^squid_probe_success\{target="` + target + `"\} 1$`).Match(body) {
			t.Errorf("/metrics has no passing squid_probe_success for %s after the banner", target)
		}
	}
	ratios := regexp.MustCompile(`(?m)^  (\S+) +(\d+)%  \((\d+) hit, (\d+) revalidated, (\d+) miss\)$`).FindAllStringSubmatch(out, -1)
	got := map[string]bool{}
	for _, r := range ratios {
		got[r[1]] = true
		hit, _ := strconv.Atoi(r[3])
		miss, _ := strconv.Atoi(r[5])
		if hit < 1 || miss < 1 {
			t.Errorf("%s: %s hit and %s miss; each round's first pull of the demo is a miss, its second a hit", r[1], r[3], r[5])
		}
	}
	if !got["quay.io"] || !got["registry.access.redhat.com"] || len(got) != 2 {
		t.Errorf("hit ratio lines for %v, want quay.io and registry.access.redhat.com:\n%s", got, out)
	}
	shown := strings.Join(regexp.MustCompile("(?m)(?:"+seriesPattern+").*$").FindAllString(string(body), -1), "\n")
	for _, want := range []string{"squid_up ", `squid_probe_success{target="quay-private"}`,
		`squid_access_requests_total{cache="hit",object="blob",registry="quay.io"}`,
		`squid_access_requests_total{cache="miss",object="blob",registry="registry.access.redhat.com"}`} {
		if !strings.Contains(shown, want) {
			t.Errorf("the banner's curl does not show %s; it shows:\n%s", want, shown)
		}
	}

	squidDir := regexp.MustCompile(`access log: (\S+)/logs/access\.log`).FindStringSubmatch(out)
	if squidDir == nil {
		t.Fatalf("no access log in the banner:\n%s", out)
	}
	syscall.Kill(-d.cmd.Process.Pid, syscall.SIGINT)
	if code := d.wait(t, 20*time.Second); code != 0 {
		t.Errorf("exit code %d after Ctrl-C, want 0\nstderr:\n%s", code, d.stderr)
	}
	d.checkNothingLeft(t)
	if _, err := os.Stat(squidDir[1]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Squid's directory %s is still there (%v)", squidDir[1], err)
	}
}

// A stop while the demo starts removes what has started, and the demo exits 0.
func TestDemoStopWhileStarting(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after string // on stdout (stderr for the exporter's log line) before the signal
		sig   syscall.Signal
		group bool // to the process group, as Ctrl-C: the helper's go build gets it too
	}{
		{name: "Ctrl-C at once", after: "Starting Squid", sig: syscall.SIGINT, group: true},
		{name: "SIGTERM once the exporter listens", after: `msg="Listening on"`, sig: syscall.SIGTERM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			squidtest.Binary(t)
			d := startDemo(t, fmt.Sprintf("-web.listen-address=127.0.0.1:%d", squidtest.FreePort(t)))
			for deadline := time.Now().Add(30 * time.Second); !strings.Contains(d.stdout.String()+d.stderr.String(), tc.after); time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the demo did not print %q\nstdout:\n%s\nstderr:\n%s", tc.after, d.stdout, d.stderr)
				}
			}
			pid := d.cmd.Process.Pid
			if tc.group {
				pid = -pid
			}
			syscall.Kill(pid, tc.sig)
			if code := d.wait(t, 20*time.Second); code != 0 {
				t.Errorf("exit code %d after %v, want 0\nstdout:\n%s\nstderr:\n%s", code, tc.sig, d.stdout, d.stderr)
			}
			if !strings.Contains(d.stdout.String(), "Stopped:") {
				t.Errorf("the demo did not say it stopped:\n%s", d.stdout)
			}
			d.checkNothingLeft(t)
		})
	}
}
