package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/promtest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/testenv"
)

var binary string

func TestMain(m *testing.M) { os.Exit(testenv.RunWithBinary(m, "squid-cache-exporter", &binary)) }

// exporterProcess is the binary running against one Squid.
type exporterProcess struct {
	URL  string
	cmd  *exec.Cmd
	logs *bytes.Buffer
}

func startBinary(t *testing.T, args ...string) *exporterProcess {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", squidtest.FreePort(t))
	cmd := exec.Command(binary, append([]string{"--web.listen-address=" + addr}, args...)...)
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	p := &exporterProcess{URL: "http://" + addr, cmd: cmd, logs: logs}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(p.URL + "/"); err == nil {
			resp.Body.Close()
			return p
		}
	}
	t.Fatalf("exporter did not start: %s", logs)
	return nil
}

func TestBinaryServesMetricsThatPromtoolAccepts(t *testing.T) {
	const password = "pw-from-a-file"
	squid := squidtest.Start(t, squidtest.Options{Password: password})
	pwFile := filepath.Join(t.TempDir(), "password")
	os.WriteFile(pwFile, []byte(password+"\n"), 0o600)
	p := startBinary(t, "--squid.address="+squid.URL, "--squid.password-file="+pwFile)

	landing := promtest.Get(t, p.URL+"/")
	if !strings.Contains(landing, "Squid Cache Exporter") || !strings.Contains(landing, `href="/metrics"`) {
		t.Errorf("landing page:\n%s", landing)
	}
	samples, text := promtest.Scrape(t, p.URL+"/metrics")
	if samples["squid_up"] != 1 || !samples.HasPrefix("squid_exporter_build_info{") {
		t.Errorf("squid_up = %v, build info present = %v", samples["squid_up"], samples.HasPrefix("squid_exporter_build_info{"))
	}

	promtool := squidtest.RequireTool(t, "promtool", "/usr/bin/promtool", "prometheus")
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = strings.NewReader(text)
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	if strings.Contains(p.logs.String(), password) {
		t.Error("the password reached the log")
	}
	checkOneLogFormat(t, p.logs.String())
}

// checkOneLogFormat wants every line in one format, whether our code wrote
// it (go-kit) or exporter-toolkit's (slog): level, ts, caller, msg first.
func checkOneLogFormat(t *testing.T, logs string) {
	t.Helper()
	if !strings.Contains(logs, "Listening on") {
		t.Errorf("no line from exporter-toolkit in the log:\n%s", logs)
	}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "level=") || !strings.HasPrefix(fields[1], "ts=") ||
			!strings.HasPrefix(fields[2], "caller=") || !strings.HasPrefix(fields[3], "msg=") {
			t.Errorf("a line in another format: %s", line)
		}
	}
}

func TestBinaryMemoryStaysSmall(t *testing.T) {
	squid := squidtest.Start(t, squidtest.Options{})
	// As a sidecar runs: every report, and the access log's traffic metrics.
	p := startBinary(t, "--squid.address="+squid.URL, "--squid.access-log="+squid.AccessLog)
	// Far more often than once a second: 500 scrapes back to back.
	for i := 0; i < 500; i++ {
		promtest.Get(t, p.URL+"/metrics")
	}
	peak := statusKiB(t, p.cmd.Process.Pid, "VmHWM")
	t.Logf("peak resident memory after 500 scrapes: %d KiB", peak)
	if peak > 20<<10 {
		t.Errorf("peak resident memory %d KiB, want under 20 MiB", peak)
	}
}

func TestBinaryRejectsBadFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--squid.address=127.0.0.1:3128"}, "--squid.address"},
		{[]string{"--squid.address=ftp://127.0.0.1:21"}, "want http://host:port"},
		{[]string{"--squid.password-file=/nonexistent/pw"}, "cannot read the cache manager password"},
		{[]string{"--log.level=loud"}, "enum value must be one of debug,info,warn,error"},
	}
	for _, tt := range tests {
		out, err := exec.Command(binary, tt.args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tt.wantErr) {
			t.Errorf("%v: err %v, output %s", tt.args, err, out)
		}
	}
}

// statusKiB reads a "Vm...: N kB" line of /proc/PID/status.
func statusKiB(t *testing.T, pid int, field string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.Atoi(strings.Fields(rest)[0])
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
