// Package squidtest runs a real Squid on loopback for end-to-end tests: a
// temporary config on a free port, started, checked for readiness through
// its cache manager, and stopped with all of its helper processes.
package squidtest

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/pkitest"
)

// Options shape the Squid a test gets. The zero value is a caching proxy
// with a small memory cache and a ufs cache_dir.
type Options struct {
	// Password, when set, protects the listed manager actions with
	// cachemgr_passwd.
	Password        string
	PasswordActions []string // default: info counters storedir
	// Hosts become Squid's hosts_file, name to loopback address.
	Hosts map[string]string
	// Extra lines for the config; they come before its http_access rules.
	// "{dir}" in them stands for the Squid's directory (with its hosts file
	// "hosts" and, when bumping, "origin-ca.pem").
	Extra []string
	// BumpCA, when set, makes the port an ssl-bump port whose generated
	// certificates this CA signs; Squid then trusts OriginCA upstream.
	BumpCA, OriginCA *pkitest.CA
	// StoreID, when set, is the text of a store_id_program script.
	StoreID string

	// Cache sizes, in Squid's units ("1200 MB"); empty keeps the small
	// defaults: cache_mem 16 MB, maximum_object_size_in_memory 4 MB,
	// maximum_object_size 64 MB. They are written before cache_dir:
	// Squid takes a cache_dir's object size limit from the
	// maximum_object_size read before it, so a limit set in Extra would
	// come too late for big objects.
	CacheMem, MaxObjectSizeInMemory, MaxObjectSize string
	// CacheDirType is the cache_dir's store, "ufs" or "rock"; empty: ufs
	// for one process, rock with SMP workers (the only SMP-aware one).
	// CacheDirMiB is its size (default 64), CacheDirOptions what follows
	// it on the line, such as "slot-size=32768 swap-timeout=300".
	CacheDirType    string
	CacheDirMiB     int
	CacheDirOptions string
	// Workers, when above 0, is this Squid's number of SMP workers,
	// whatever SQUID_WORKERS says (1: one process, squid -N).
	Workers int
}

// StripQueryStoreID is a store-ID helper that files every CDN URL under
// itself without its query, whoever asks: the naive helper, which caches
// signed URLs but checks no authorization.
const StripQueryStoreID = `#!/bin/sh
while read -r url rest; do
  case "$url" in
    https://cdn*\?*) echo "OK store-id=${url%%\?*}" ;;
    *) echo "ERR" ;;
  esac
done
`

// Squid is a running (or stopped) Squid owned by one test.
type Squid struct {
	t         testing.TB
	Dir       string
	Port      int
	URL       string // http://127.0.0.1:Port
	AccessLog string
	CacheLog  string
	conf      string
	build     build
	cmd       *exec.Cmd
	exited    chan struct{}
}

// Binary returns the path of squid, or fails the test in CI and skips it
// elsewhere when Squid is not installed.
func Binary(t testing.TB) string {
	t.Helper()
	return RequireTool(t, "squid", "/usr/sbin/squid", "squid-openssl")
}

// RequireTool finds a program. A missing one fails the test in CI, where a
// skip would hide that nothing was tested, and skips it on a workstation.
func RequireTool(t testing.TB, name, fallback, pkg string) string {
	t.Helper()
	if path, err := exec.LookPath(name); err == nil {
		return path
	}
	if _, err := os.Stat(fallback); err == nil {
		return fallback
	}
	msg := fmt.Sprintf("%s not found: install Debian package %s (make test-deps)", name, pkg)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg + "; CI=true makes this a failure") // not CI: a workstation without Squid
	return ""
}

// Start writes a config into a fresh directory and starts Squid. It is
// stopped when the test ends.
func Start(t testing.TB, opts Options) *Squid {
	t.Helper()
	s := &Squid{t: t, build: selectedBuild(t)}
	if opts.Workers > 0 {
		s.build.workers = opts.Workers
	}
	s.launch(func() { s.writeConfig(opts) })
	return s
}

// launch makes the Squid's directory, has write fill it for s.Port, creates
// the cache_dir and starts Squid; the test's end stops it and removes the
// directory. The free port may be taken between FreePort and Squid's bind,
// by a client's ephemeral port or another test's Squid: then it takes
// another and writes again.
func (s *Squid) launch(write func()) {
	s.t.Helper()
	bin := s.build.binary(s.t)
	s.makeDir()
	s.t.Cleanup(func() {
		s.Stop()
		os.RemoveAll(s.Dir)
	})
	for attempt := 1; ; attempt++ {
		s.Port = FreePort(s.t)
		s.URL = fmt.Sprintf("http://127.0.0.1:%d", s.Port)
		write()
		if attempt == 1 {
			s.run(bin, s.flags("-z", "-N")...) // create the cache_dir
		}
		out, err := s.start()
		if err == nil {
			return
		}
		if attempt == 3 || !strings.Contains(out+s.tail(s.CacheLog), "Address already in use") {
			s.t.Fatalf("squid did not come up: %v\noutput: %s\ncache.log:\n%s", err, out, s.tail(s.CacheLog))
		}
	}
}

// makeDir creates the working directory. t.TempDir is mode 0700 and Squid
// runs as user proxy when started as root, so it gets its own.
func (s *Squid) makeDir() {
	dir, err := os.MkdirTemp("", "squidtest-")
	if err != nil {
		s.t.Fatal(err)
	}
	s.Dir = dir
	s.AccessLog = filepath.Join(dir, "logs", "access.log")
	s.CacheLog = filepath.Join(dir, "logs", "cache.log")
	s.conf = filepath.Join(dir, "squid.conf")
	for _, sub := range []string{"cache", "logs", "run"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			s.t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		s.t.Fatal(err)
	}
}

func (s *Squid) writeConfig(opts Options) {
	hosts := "127.0.0.1 localhost\n"
	for name, addr := range opts.Hosts {
		hosts += addr + " " + name + "\n"
	}
	s.writeFile("hosts", hosts)
	s.writeFile("squid.conf", config(s.Dir, s.Port, s.build.workers, opts))
	if opts.BumpCA != nil {
		s.writeFile("bump.pem", string(opts.BumpCA.CertPEM())+string(opts.BumpCA.KeyPEM(s.t)))
		s.writeFile("origin-ca.pem", string(opts.OriginCA.CertPEM()))
		if db := filepath.Join(s.Dir, "ssl_db"); !exists(db) { // written again when a port was taken
			s.run(certgen, "-c", "-s", db, "-M", "4MB")
		}
	}
	if opts.StoreID != "" {
		s.writeFile("storeid.sh", opts.StoreID)
		os.Chmod(filepath.Join(s.Dir, "storeid.sh"), 0o755)
	}
	s.chownToProxy()
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// WriteFile writes a file into the Squid's directory, readable by Squid.
func (s *Squid) writeFile(name, content string) {
	if err := os.WriteFile(filepath.Join(s.Dir, name), []byte(content), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// chownToProxy hands the directory to the user Squid switches to when it
// starts as root (cache_effective_user proxy).
func (s *Squid) chownToProxy() {
	if os.Geteuid() != 0 {
		return
	}
	u, err := user.Lookup("proxy")
	if err != nil {
		s.t.Fatalf("squid runs as user proxy, which does not exist: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	err = filepath.Walk(s.Dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
	if err != nil {
		s.t.Fatal(err)
	}
}

// certgen makes the certificates of an ssl-bump port.
const certgen = "/usr/lib/squid/security_file_certgen"

// flags are args for squid, then its service name and config. Squid names
// its shared memory segments after the service name ("squid" unless -n),
// even as one process: collapsed forwarding's /squid-cf__metadata.shm
// among them. Two test Squids starting at once with the same name race to
// create it, and one dies (shm_open: File exists); each gets its own.
func (s *Squid) flags(args ...string) []string {
	return append(args, "-n", s.service(), "-f", s.conf)
}

// ServiceName is the Squid's service name (squid -n), which mgr:info
// reports: "st" and the digits of its directory.
func (s *Squid) ServiceName() string { return s.service() }

// service is the Squid's service name: letters and digits of its directory.
func (s *Squid) service() string {
	return "st" + strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, filepath.Base(s.Dir))
}

// run runs a squid program to completion.
func (s *Squid) run(bin string, args ...string) {
	out, err := s.build.command(bin, args...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
	}
}

// Restart starts the stopped Squid again on the same port and directory,
// and waits until its cache manager answers.
func (s *Squid) Restart() {
	s.t.Helper()
	if out, err := s.start(); err != nil {
		s.t.Fatalf("squid did not come up: %v\noutput: %s\ncache.log:\n%s", err, out, s.tail(s.CacheLog))
	}
}

// start starts Squid and waits until it (every kid) answers; on failure it
// stops what started and returns Squid's output.
func (s *Squid) start() (string, error) {
	if s.cmd != nil {
		s.t.Fatal("squidtest: Restart while running")
	}
	cmd := s.build.command(s.build.binary(s.t), s.flags(s.build.runFlags()...)...)
	// Its own process group, so Stop reaches its helpers too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("starting squid: %w", err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(s.exited) }()
	err := s.waitReady(15 * time.Second)
	if err == nil && s.build.workers > 1 {
		err = s.waitKids(15 * time.Second)
	}
	if err != nil {
		s.Stop() // Squid has exited: its output is whole
		return out.String(), err
	}
	return "", nil // Squid still writes to out
}

// waitReady polls the cache manager until it answers with any HTTP status:
// a 401 counts, as info may need a password. A bare TCP connect would do,
// but it leaves an error line in access.log.
func (s *Squid) waitReady(limit time.Duration) error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("squid exited: %v", s.cmd.ProcessState)
		default:
		}
		resp, err := client.Get(s.URL + "/squid-internal-mgr/info")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("no answer from %s within %s", s.URL, limit)
}

// Stop kills Squid and its helpers at once. A graceful stop takes Squid
// seconds even with shutdown_lifetime 0, and tests need no clean shutdown.
func (s *Squid) Stop() {
	if s.cmd == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGCONT) // a paused one too
	<-s.exited
	if s.build.workers > 1 {
		waitGroupGone(s.cmd.Process.Pid)
	}
	s.cmd = nil
	s.removeSegments()
}

// removeSegments removes the shared memory segments a killed Squid leaves
// in /dev/shm (its TLS session cache alone is 2 MiB): each test Squid's have
// their own names, and would pile up in memory.
func (s *Squid) removeSegments() {
	for _, dir := range []string{"/dev/shm", filepath.Join(s.build.root, "dev", "shm")} {
		segments, _ := filepath.Glob(filepath.Join(dir, s.service()+"-*"))
		for _, f := range segments {
			os.Remove(f)
		}
	}
}

// Pause stops Squid without killing it (SIGSTOP): connections are still
// accepted by the kernel but never answered, as with a hung Squid.
func (s *Squid) Pause() { s.signal(syscall.SIGSTOP) }

// Resume continues a paused Squid.
func (s *Squid) Resume() { s.signal(syscall.SIGCONT) }

func (s *Squid) signal(sig syscall.Signal) {
	if s.cmd == nil {
		s.t.Fatal("squidtest: squid is not running")
	}
	if err := syscall.Kill(-s.cmd.Process.Pid, sig); err != nil {
		s.t.Fatal(err)
	}
}

// RotateLogs asks Squid to reopen its logs (squid -k rotate; with
// logfile_rotate 0 it renames nothing itself).
func (s *Squid) RotateLogs() {
	s.run(s.build.binary(s.t), s.flags("-k", "rotate")...)
}

// Reconfigure makes Squid re-read its config (squid -k reconfigure): it
// restarts its helpers and reopens its ICAP services, as on a config
// change in production.
func (s *Squid) Reconfigure() {
	s.run(s.build.binary(s.t), s.flags("-k", "reconfigure")...)
}

// KillHelpers kills (SIGKILL) the helper processes of this Squid that run
// the program at path, as a crash would, and returns how many there were.
// Squid starts new ones.
func (s *Squid) KillHelpers(path string) int {
	if s.cmd == nil {
		s.t.Fatal("squidtest: squid is not running")
	}
	// Helpers run in sessions of their own, named "(program)" in argv[0]:
	// the parent and the executable tell them apart. The executable is
	// compared by file, not by name: a Squid in a root sees the program
	// under the root's path.
	program, err := os.Stat(path)
	if err != nil {
		s.t.Fatal(err)
	}
	exes, _ := filepath.Glob("/proc/[0-9]*/exe")
	killed := 0
	for _, f := range exes {
		if exe, err := os.Stat(f); err != nil || !os.SameFile(exe, program) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		if s.isOurs(pid) && syscall.Kill(pid, syscall.SIGKILL) == nil {
			killed++
		}
	}
	return killed
}

// CPUTime is the CPU time (user and system) that Squid's processes have
// used since it started: the one process, or the master and every kid
// (workers, diskers, coordinator) with SMP workers. Its helpers run in
// sessions of their own and are not counted. It sums each thread's time
// on a CPU (/proc/PID/task/*/schedstat, in nanoseconds), so a few hundred
// requests of a few hundred microseconds each are measured, not rounded
// to the 10 ms ticks of /proc/PID/stat.
func (s *Squid) CPUTime() time.Duration {
	if s.cmd == nil {
		s.t.Fatal("squidtest: squid is not running")
	}
	pid := strconv.Itoa(s.cmd.Process.Pid)
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var total time.Duration
	for _, f := range stats {
		b, err := os.ReadFile(f)
		i := bytes.LastIndexByte(b, ')')
		if err != nil || i < 0 {
			continue
		}
		// After "pid (comm)": state ppid pgrp.
		fields := strings.Fields(string(b[i+1:]))
		if len(fields) < 3 || fields[2] != pid {
			continue
		}
		total += ThreadsCPU(filepath.Dir(f))
	}
	return total
}

// ThreadsCPU sums the time on a CPU of the threads of the process whose
// /proc directory is dir (/proc/PID/task/*/schedstat, in nanoseconds); a
// thread that ended is not in it.
func ThreadsCPU(dir string) time.Duration {
	tasks, _ := filepath.Glob(filepath.Join(dir, "task", "*", "schedstat"))
	var ns int64
	for _, task := range tasks {
		text, err := os.ReadFile(task)
		if err != nil {
			continue // the thread ended
		}
		if f := strings.Fields(string(text)); len(f) > 0 {
			n, _ := strconv.ParseInt(f[0], 10, 64)
			ns += n
		}
	}
	return time.Duration(ns)
}

// isOurs says whether pid is a child of this Squid or, with SMP workers, of
// one of its kids.
func (s *Squid) isOurs(pid int) bool {
	parent := parentOf(pid)
	return parent == s.cmd.Process.Pid || s.build.workers > 1 && parentOf(parent) == s.cmd.Process.Pid
}

// parentOf reads a process's parent ID from /proc.
func parentOf(pid int) int {
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "PPid:"); ok {
			ppid, _ := strconv.Atoi(strings.TrimSpace(v))
			return ppid
		}
	}
	return 0
}

func (s *Squid) tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ProxyURL is Squid's URL, for a client's Proxy.
func (s *Squid) ProxyURL() *url.URL {
	u, _ := url.Parse(s.URL)
	return u
}

// Client returns an HTTP client whose requests go through this Squid.
func (s *Squid) Client() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(s.ProxyURL())}}
}

// BuildForSquid builds the Go command in pkgDir into a directory that the
// user Squid runs as can read, for a helper program Squid starts. Call the
// returned cleanup when done.
func BuildForSquid(pkgDir string) (path string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "squid-helper-")
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err != nil {
		return "", nil, err
	}
	path = filepath.Join(dir, filepath.Base(pkgDir))
	if out, err := exec.Command("go", "build", "-o", path, pkgDir).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("go build %s: %v\n%s", pkgDir, err, out)
	}
	return path, func() { os.RemoveAll(dir) }, nil
}

// RunWithHelper is a TestMain that first builds the Go command in pkgDir
// with BuildForSquid and stores its path in *path.
func RunWithHelper(m *testing.M, pkgDir string, path *string) int {
	p, cleanup, err := BuildForSquid(pkgDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cleanup()
	*path = p
	return m.Run()
}
