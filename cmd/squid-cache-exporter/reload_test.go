package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/promtest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
)

// SIGHUP has the exporter re-read its probe config: a bad edit keeps the
// targets and says so on /metrics, a good one is applied. No Squid is
// needed: the rounds fail, and the test reads only the target set.
func TestBinaryReloadsProbeConfigOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	writeFile := func(path, content string) {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	config, accessLog := filepath.Join(dir, "probe.yml"), filepath.Join(dir, "access.log")
	target := func(name string) string {
		return fmt.Sprintf("targets:\n- name: %s\n  blob: quay.test/org/x@sha256:%s\n", name, strings.Repeat("a", 64))
	}
	writeFile(config, target("first"))
	writeFile(accessLog, "")
	p := startBinary(t, fmt.Sprintf("--squid.address=http://127.0.0.1:%d", squidtest.FreePort(t)),
		"--squid.access-log="+accessLog, "--probe.config="+config)

	steps := []struct {
		config     string
		successful float64 // squid_exporter_probe_config_last_reload_successful
		targets    string  // /probe/targets
	}{
		{target("first"), 1, `["first"]`},
		{target("second") + "  intervall: 1m\n", 0, `["first"]`},
		{target("second"), 1, `["second"]`},
	}
	for i, step := range steps {
		if i > 0 {
			writeFile(config, step.config)
			p.cmd.Process.Signal(syscall.SIGHUP)
		}
		var samples promtest.Samples
		var targets string
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			samples, _ = promtest.Scrape(t, p.URL+"/metrics")
			targets = strings.TrimSpace(promtest.Get(t, p.URL+"/probe/targets"))
			if samples["squid_exporter_probe_config_last_reload_successful"] == step.successful && targets == step.targets {
				break
			}
		}
		if samples["squid_exporter_probe_config_last_reload_successful"] != step.successful || targets != step.targets ||
			!samples.Has("squid_exporter_probe_config_last_reload_success_timestamp_seconds") {
			t.Errorf("step %d: targets %s, metrics %v", i, targets, samples)
		}
	}
	p.cmd.Process.Kill()
	p.cmd.Wait()
	for _, want := range []string{`msg="probe config not reloaded; the running targets stay" err="` + config + `: yaml: unmarshal errors:\n  line 4: field intervall not found`,
		`msg="probe config reloaded" added=second removed=first changed= ca_changed=false`} {
		if !strings.Contains(p.logs.String(), want) {
			t.Errorf("the log has no %s:\n%s", want, p.logs)
		}
	}
}
