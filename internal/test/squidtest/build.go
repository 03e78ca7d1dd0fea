package squidtest

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The Squid the tests run is chosen by the environment, so that the same
// suite covers every Squid we support (make test-squid-matrix):
//
//   - SQUID_ROOT, a Debian root made by hack/squid-root.sh (Squid 6 from
//     trixie, 7 from sid); unset, the host's Squid (5.7 on Debian 12).
//   - SQUID_WORKERS, the number of SMP workers; unset or 1, one process
//     (squid -N), as before.
const (
	rootEnv    = "SQUID_ROOT"
	workersEnv = "SQUID_WORKERS"
)

// build is where a Squid comes from and how many workers it runs.
type build struct {
	root    string // "" for the host's Squid
	workers int
}

// selected reads the environment once.
var selected = sync.OnceValues(func() (build, error) {
	b := build{root: os.Getenv(rootEnv), workers: 1}
	if w := os.Getenv(workersEnv); w != "" {
		n, err := strconv.Atoi(w)
		if err != nil || n < 1 {
			return b, fmt.Errorf("%s=%q: want a number of workers, 1 or more", workersEnv, w)
		}
		b.workers = n
	}
	if b.root == "" {
		return b, nil
	}
	if os.Geteuid() != 0 {
		return b, fmt.Errorf("%s needs root: Squid runs chrooted in a mount namespace", rootEnv)
	}
	if _, err := os.Stat(filepath.Join(b.root, ".squid-root-ready")); err != nil {
		return b, fmt.Errorf("%s=%s is not a Squid root (make it with hack/squid-root.sh): %v", rootEnv, b.root, err)
	}
	return b, nil
})

// selectedBuild returns the chosen build. A SQUID_ROOT or SQUID_WORKERS
// that cannot be used fails the test even outside CI: someone asked for that
// Squid, and running another instead would test the wrong one.
func selectedBuild(t testing.TB) build {
	t.Helper()
	b, err := selected()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Workers is the number of SMP workers the test Squids run (1: no SMP).
func Workers(t testing.TB) int { return selectedBuild(t).workers }

// SkipUnderSMP skips a test that cannot make sense with SMP workers; why
// says what about SMP rules it out. It never skips a single-process Squid.
func SkipUnderSMP(t testing.TB, why string) {
	t.Helper()
	if n := Workers(t); n > 1 {
		t.Skipf("not run with %s=%d: %s", workersEnv, n, why)
	}
}

// MemHitNeedsOneProcess is why the prober's tests do not run with SMP
// workers: they check that a repeat pull is a TCP_MEM_HIT, and with
// workers it may reach another worker before the first pull's object is
// in the shared memory cache; it is then a TCP_HIT from the rock store,
// or a TCP_SWAPFAIL_MISS while the disker still writes it. Seen on 6.13
// and 7.7 with workers 2 in several rounds of every run of these tests.
const MemHitNeedsOneProcess = "a repeat pull is a TCP_MEM_HIT only when one process served both: " +
	"with workers it may be a TCP_HIT or TCP_SWAPFAIL_MISS"

// enterRoot runs a command of the root in a mount namespace of its own: the
// root sees the host's /proc, /dev and temporary directory (where the test
// Squids' directories and helpers are, at the same paths), and gets its own
// /dev/shm and /run/squid, where SMP Squids keep their shared memory and
// IPC sockets. So Squids run side by side without clashing, nothing stays
// mounted on the host, and the kernel drops it all when the last process of
// the Squid is gone, killed or not.
const enterRoot = `
r=$1; tmp=$2; shift 2
mount -t proc proc "$r/proc"
mount --rbind /dev "$r/dev"
mount -t tmpfs -o mode=1777 tmpfs "$r/dev/shm"
mkdir -p "$r$tmp"
mount --rbind "$tmp" "$r$tmp"
mount -t tmpfs -o mode=0755 tmpfs "$r/run/squid"
chroot "$r" chown proxy:proxy /run/squid
exec chroot "$r" "$@"
`

// command returns the command that runs a Squid program (a path as the
// build sees it) with args.
func (b build) command(bin string, args ...string) *exec.Cmd {
	if b.root == "" {
		return exec.Command(bin, args...)
	}
	wrapped := append([]string{"--mount", "--propagation", "private", "sh", "-ec", enterRoot, "sh",
		b.root, strings.TrimSuffix(os.TempDir(), "/"), bin}, args...)
	return exec.Command("unshare", wrapped...)
}

// binary returns the path of squid as the build sees it.
func (b build) binary(t testing.TB) string {
	if b.root == "" {
		return Binary(t)
	}
	return "/usr/sbin/squid"
}

// runFlags are the flags that keep Squid in the foreground: -N for one
// process; with workers, -N would turn SMP off, so --foreground instead.
func (b build) runFlags() []string {
	if b.workers > 1 {
		return []string{"--foreground"}
	}
	return []string{"-N"}
}

// waitKids waits until every kid of an SMP Squid answers the cache manager:
// the first worker up answers alone, and a report read then would lack
// the other worker and the disker, with its cache_dir. The utilization
// report has a "by kidN {" block for each; a Squid that refuses it
// (http_access deny manager) cannot be asked and is taken as ready.
func (s *Squid) waitKids(limit time.Duration) error {
	kids := s.build.workers + 1 // and one disker, for the one rock cache_dir
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := client.Get(s.URL + "/squid-internal-mgr/utilization")
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || countKids(body) >= kids {
			return nil
		}
	}
	return fmt.Errorf("not all %d kids answered within %s", kids, limit)
}

func countKids(report []byte) int {
	n := 0
	for _, line := range strings.Split(string(report), "\n") {
		if strings.HasPrefix(line, "by kid") && strings.HasSuffix(line, "{") {
			n++
		}
	}
	return n
}

// waitGroupGone waits until the processes of group pgid are gone. An SMP
// Squid's kids outlive its master for a moment when all are killed, and
// one that still holds the listening socket resets connections that a
// test expects to be refused.
func waitGroupGone(pgid int) {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) {
			return
		}
	}
}
