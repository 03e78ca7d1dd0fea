package prober

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultReloadInterval: kubelet brings a ConfigMap's edit to its mount a
// minute or two after it is made, by swapping a symlink, and inotify
// misses such swaps. Reading two small files every 15 s costs nothing and
// adds little to kubelet's delay.
const DefaultReloadInterval = 15 * time.Second

var (
	reloadSuccessDesc = prometheus.NewDesc("squid_exporter_probe_config_last_reload_successful",
		"1 when the probe config and CA file last read were applied; 0 when they were not valid, and the targets before them still run.", nil, nil)
	reloadTimeDesc = prometheus.NewDesc("squid_exporter_probe_config_last_reload_success_timestamp_seconds",
		"When the probe config and CA file were last applied, at start-up or by a reload.", nil, nil)
)

// files are the prober's configuration as read: the targets and the CA
// bundle, or why they could not be read.
type files struct {
	config, ca []byte
	err        error
}

func readFiles(s Settings) files {
	var f files
	if f.config, f.err = os.ReadFile(s.ConfigFile); f.err != nil || s.CAFile == "" {
		return f
	}
	if f.ca, f.err = os.ReadFile(s.CAFile); f.err != nil {
		f.err = fmt.Errorf("CA file: %w", f.err)
	}
	return f
}

// version tells files apart by content, not by modification time: kubelet
// rewrites every file of a ConfigMap when any of its keys changes, and a
// copy can keep an old time.
type version struct {
	config, ca [sha256.Size]byte
	err        string
}

func (f files) version() version {
	if f.err != nil {
		return version{err: f.err.Error()}
	}
	return version{config: sha256.Sum256(f.config), ca: sha256.Sum256(f.ca)}
}

// load parses and checks the files; errors name the file and the field.
func (f files) load(s Settings) (*Config, *x509.CertPool, error) {
	if f.err != nil {
		return nil, nil, f.err
	}
	cfg, err := ParseConfig(f.config)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", s.ConfigFile, err)
	}
	roots, err := rootCAs(f.ca, s.CAFile)
	if err != nil {
		return nil, nil, err
	}
	return cfg, roots, nil
}

// reloads is what the Service knows of its files.
type reloads struct {
	mu      sync.Mutex // held for a whole reload
	seen    version    // last read, applied or not: a bad edit is logged once
	applied version
	ok      bool
	okAt    time.Time
}

func (r *reloads) loaded(v version, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen, r.applied, r.ok, r.okAt = v, v, true, at
}

func (r *reloads) collect(ch chan<- prometheus.Metric) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(reloadSuccessDesc, prometheus.GaugeValue, boolFloat(r.ok))
	ch <- prometheus.MustNewConstMetric(reloadTimeDesc, prometheus.GaugeValue, float64(r.okAt.UnixMilli())/1000)
}

// watch reloads every ReloadInterval until ctx ends.
func (s *Service) watch(ctx context.Context) {
	every := s.settings.ReloadInterval
	if every <= 0 {
		every = DefaultReloadInterval
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.reload(false)
		}
	}
}

// Reload re-reads the config and CA files and applies them, even when
// they look unchanged (a credentials file they name may have appeared):
// what SIGHUP asks for. When they are not valid, the running targets stay,
// the error is logged and returned, and
// squid_exporter_probe_config_last_reload_successful is 0.
func (s *Service) Reload() error { return s.reload(true) }

// reload applies the files when they changed since last read, or when
// forced.
func (s *Service) reload(force bool) error {
	s.reloads.mu.Lock()
	defer s.reloads.mu.Unlock()
	f := readFiles(s.settings)
	v := f.version()
	if v == s.reloads.seen && !force {
		return nil
	}
	s.reloads.seen = v
	cfg, roots, err := f.load(s.settings)
	if err != nil {
		s.reloads.ok = false
		level.Error(s.logger).Log("msg", "probe config not reloaded; the running targets stay", "err", err)
		return err
	}
	caChanged := v.ca != s.reloads.applied.ca
	if caChanged {
		s.scheduler.Prober.SetRootCAs(roots)
	}
	c := s.scheduler.SetTargets(cfg.Targets)
	s.reloads.applied, s.reloads.ok, s.reloads.okAt = v, true, time.Now()
	level.Info(s.logger).Log("msg", "probe config reloaded", "added", strings.Join(c.Added, ","),
		"removed", strings.Join(c.Removed, ","), "changed", strings.Join(c.Changed, ","), "ca_changed", caChanged)
	return nil
}
