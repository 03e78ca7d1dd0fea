package prober

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/pkitest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/promtest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/testio"
)

// reloadWorld is a running Service on files in a temporary directory. Its
// proxy refuses connections, so rounds fail at once, and a target's first
// round starts with its loop, the next an hour later: a target's rounds
// are its loop's starts.
type reloadWorld struct {
	svc        *Service
	config, ca string
	logs       *testio.SyncBuffer

	mu     sync.Mutex
	probed map[string][]string // target -> the blob of each of its rounds
}

func newReloadWorld(t *testing.T, config string, every time.Duration) *reloadWorld {
	t.Helper()
	dir := t.TempDir()
	w := &reloadWorld{config: filepath.Join(dir, "probe.yml"), ca: filepath.Join(dir, "ca.pem"), logs: &testio.SyncBuffer{},
		probed: map[string][]string{}}
	write(t, w.config, config)
	write(t, w.ca, string(pkitest.NewCA(t, "bump").CertPEM()))
	settings := Settings{ConfigFile: w.config, CAFile: w.ca, ProxyURL: fmt.Sprintf("http://127.0.0.1:%d", squidtest.FreePort(t)),
		ReloadInterval: every}
	svc, err := NewService(settings, &accesslog.Hub{}, log.NewLogfmtLogger(w.logs))
	if err != nil {
		t.Fatal(err)
	}
	w.svc = svc
	svc.scheduler.firstWait = func(*Target) time.Duration { return 0 }
	svc.scheduler.probeFunc = func(ctx context.Context, t *Target) *Result {
		w.mu.Lock()
		w.probed[t.Name] = append(w.probed[t.Name], t.Blob)
		w.mu.Unlock()
		return svc.scheduler.Prober.Probe(ctx, t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// blobOf is a blob reference whose digest is c, 64 times.
func blobOf(c string) string { return "quay.test/org/x@sha256:" + strings.Repeat(c, 64) }

// probeYAML is a config of targets given as name, digest letter, ...
func probeYAML(pairs ...string) string {
	var b strings.Builder
	b.WriteString("targets:\n")
	for i := 0; i < len(pairs); i += 2 {
		fmt.Fprintf(&b, "- name: %s\n  blob: %s\n  interval: 1h\n  timeout: 10s\n", pairs[i], blobOf(pairs[i+1]))
	}
	return b.String()
}

func (w *reloadWorld) waitRounds(t *testing.T, targets ...string) {
	t.Helper()
	waitRounds(t, w.svc, targets...)
}

// waitRounds waits until each target has had a background round, and
// returns the metrics then.
func waitRounds(t *testing.T, svc *Service, targets ...string) promtest.Samples {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		samples := scrapeScheduler(t, svc)
		if !slices.ContainsFunc(targets, func(name string) bool { return samples[roundsOf(name)] == 0 }) {
			return samples
		}
		if time.Now().After(deadline) {
			t.Fatalf("targets %v have not all had a round: %v", targets, samples)
		}
	}
}

func roundsOf(target string) string {
	return fmt.Sprintf(`squid_probe_rounds_total{target=%q}`, target)
}

func (w *reloadWorld) blobsProbed(target string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.probed[target])
}

// hasTarget says whether any series is about target.
func hasTarget(samples promtest.Samples, target string) bool {
	for series := range samples {
		if strings.Contains(series, fmt.Sprintf(`target=%q`, target)) {
			return true
		}
	}
	return false
}

const (
	reloadOK = "squid_exporter_probe_config_last_reload_successful"
	reloadAt = "squid_exporter_probe_config_last_reload_success_timestamp_seconds"
)

// A changed file is applied as a difference: new targets start, removed
// ones stop and their series go, changed ones start over with their new
// settings, and the others keep their verdicts and their schedule.
func TestReloadAppliesTheDifference(t *testing.T) {
	w := newReloadWorld(t, probeYAML("unchanged", "a", "removed", "b", "changed", "c"), time.Hour)
	w.waitRounds(t, "unchanged", "removed", "changed")
	write(t, w.config, probeYAML("unchanged", "a", "changed", "d", "added", "e"))
	if err := w.svc.reload(false); err != nil {
		t.Fatal(err)
	}
	w.waitRounds(t, "changed", "added")
	samples := scrapeScheduler(t, w.svc)
	tests := []struct {
		target string
		series bool
		blobs  []string // what its rounds probed, before and after the reload
	}{
		{"unchanged", true, []string{blobOf("a")}}, // no extra round
		{"removed", false, []string{blobOf("b")}},
		{"changed", true, []string{blobOf("c"), blobOf("d")}},
		{"added", true, []string{blobOf("e")}},
	}
	for _, tt := range tests {
		if got := hasTarget(samples, tt.target); got != tt.series {
			t.Errorf("%s: has series %t, want %t", tt.target, got, tt.series)
		}
		if tt.series && (samples[roundsOf(tt.target)] != 1 ||
			samples[fmt.Sprintf(`squid_probe_failure{reason="proxy_unreachable",target=%q}`, tt.target)] != 1) {
			t.Errorf("%s: want one round, failed for proxy_unreachable: %v", tt.target, samples)
		}
		if got := w.blobsProbed(tt.target); !slices.Equal(got, tt.blobs) {
			t.Errorf("%s: rounds probed %v, want %v", tt.target, got, tt.blobs)
		}
	}
	if got := w.svc.Targets(); !slices.Equal(got, []string{"unchanged", "changed", "added"}) {
		t.Errorf("targets %v", got)
	}
	if samples[reloadOK] != 1 {
		t.Errorf("%s = %v", reloadOK, samples[reloadOK])
	}
	if want := `msg="probe config reloaded" added=added removed=removed changed=changed ca_changed=false`; !strings.Contains(w.logs.String(), want) {
		t.Errorf("log has no %s:\n%s", want, w.logs)
	}
}

// A bad edit leaves the running targets alone, is logged once and shows
// on /metrics; the next good one is applied.
func TestReloadKeepsTargetsOnABadEdit(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(t *testing.T, w *reloadWorld)
		wantErr string
	}{
		{"unknown field", func(t *testing.T, w *reloadWorld) {
			write(t, w.config, probeYAML("kept", "a")+"  intervall: 1m\n")
		}, "field intervall not found"},
		{"timeout over interval", func(t *testing.T, w *reloadWorld) {
			write(t, w.config, strings.Replace(probeYAML("kept", "a"), "10s", "2h", 1))
		}, "targets[0]: timeout: 2h0m0s is longer than interval 1h0m0s"},
		{"config file gone", func(t *testing.T, w *reloadWorld) { os.Remove(w.config) }, "no such file"},
		{"CA file not PEM", func(t *testing.T, w *reloadWorld) { write(t, w.ca, "not a certificate\n") }, "holds no PEM certificate"},
		{"CA file gone", func(t *testing.T, w *reloadWorld) { os.Remove(w.ca) }, "CA file: open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newReloadWorld(t, probeYAML("kept", "a"), time.Hour)
			loadedAt := scrapeScheduler(t, w.svc)[reloadAt]
			tt.edit(t, w)
			if err := w.svc.reload(false); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("reload: %v, want an error saying %q", err, tt.wantErr)
			}
			if err := w.svc.reload(false); err != nil { // the next poll: nothing new
				t.Errorf("the next poll: %v", err)
			}
			samples := scrapeScheduler(t, w.svc)
			if samples[reloadOK] != 0 || samples[reloadAt] != loadedAt || !slices.Equal(w.svc.Targets(), []string{"kept"}) {
				t.Errorf("after a bad edit: targets %v, %v", w.svc.Targets(), samples)
			}
			if n := strings.Count(w.logs.String(), "level=error"); n != 1 || !strings.Contains(w.logs.String(), tt.wantErr) {
				t.Errorf("%d error lines, want one saying %q:\n%s", n, tt.wantErr, w.logs)
			}

			write(t, w.config, probeYAML("kept", "a", "new", "b"))
			write(t, w.ca, string(pkitest.NewCA(t, "bump").CertPEM()))
			if err := w.svc.reload(false); err != nil {
				t.Fatal(err)
			}
			samples = scrapeScheduler(t, w.svc)
			if samples[reloadOK] != 1 || samples[reloadAt] < loadedAt || !slices.Equal(w.svc.Targets(), []string{"kept", "new"}) {
				t.Errorf("after a good edit: targets %v, %v", w.svc.Targets(), samples)
			}
		})
	}
}

// SIGHUP calls Reload, which applies the files even when they did not
// change: a credentials file the config names may have appeared since.
func TestReloadOnSIGHUPRetriesUnchangedFiles(t *testing.T) {
	w := newReloadWorld(t, probeYAML("public", "a"), time.Hour)
	creds := filepath.Join(t.TempDir(), "config.json")
	write(t, w.config, probeYAML("public", "a", "private", "b")+"  private: true\n  credentials: "+creds+"\n")
	if err := w.svc.reload(false); err == nil || !strings.Contains(err.Error(), "targets[1]: credentials: stat") {
		t.Fatalf("credentials missing: %v", err)
	}
	write(t, creds, `{"auths": {}}`)
	if err := w.svc.reload(false); err != nil || !slices.Equal(w.svc.Targets(), []string{"public"}) {
		t.Errorf("a poll of unchanged files: %v, targets %v", err, w.svc.Targets())
	}
	if err := w.svc.Reload(); err != nil || !slices.Equal(w.svc.Targets(), []string{"public", "private"}) {
		t.Errorf("Reload: %v, targets %v", err, w.svc.Targets())
	}
	if samples := scrapeScheduler(t, w.svc); samples[reloadOK] != 1 {
		t.Errorf("%s = %v", reloadOK, samples[reloadOK])
	}
}

// Run polls the files every ReloadInterval.
func TestRunPollsTheFiles(t *testing.T) {
	w := newReloadWorld(t, probeYAML("a", "a"), 10*time.Millisecond)
	write(t, w.config, probeYAML("b", "b"))
	w.waitRounds(t, "b")
	if got := w.svc.Targets(); !slices.Equal(got, []string{"b"}) {
		t.Errorf("targets %v", got)
	}
}

// A new CA file is trusted from the next round on, and the one-shot
// ProbeAll probes the targets of the last reload.
func TestReloadAppliesTheCAFile(t *testing.T) {
	l := newLab(t, "")
	dir := t.TempDir()
	settings := Settings{ConfigFile: filepath.Join(dir, "probe.yml"), CAFile: filepath.Join(dir, "ca.pem"),
		ProxyURL: l.Squid.URL, LogWait: time.Second}
	write(t, settings.ConfigFile, targetYAML(l.target("public", l.Quay.Public, "ubi9/ubi", false)))
	write(t, settings.CAFile, string(pkitest.NewCA(t, "not the bump CA").CertPEM()))
	svc, err := NewService(settings, l.Log, log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if svc.ProbeAll(context.Background(), &out) || !strings.HasPrefix(out.String(), "FAIL public: tls") {
		t.Errorf("without the bump CA:\n%s", out.String())
	}
	write(t, settings.ConfigFile, targetYAML(l.target("renamed", l.Quay.Public, "ubi9/ubi", false)))
	write(t, settings.CAFile, string(l.Bump.CertPEM()))
	if err := svc.reload(false); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if !svc.ProbeAll(context.Background(), &out) || !strings.HasPrefix(out.String(), "PASS renamed") {
		t.Errorf("with the bump CA:\n%s", out.String())
	}
}
