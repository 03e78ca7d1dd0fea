// Package prober pulls known blobs through the Squid proxy twice and checks
// that they arrive intact and that the second pull was served from cache.
// Like blackbox_exporter's probers, a probe is a function of a context and
// a target that returns a verdict; the verdict becomes metrics.
package prober

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"go.yaml.in/yaml/v3"
)

// Config is the probe configuration file (--probe.config).
type Config struct {
	Targets []Target `yaml:"targets"`
}

// Target is one blob to probe.
type Target struct {
	Name string `yaml:"name"`
	// Blob is registry/repo@sha256:<hex>. Or Image and Layer name an image
	// and which of its layers (0 the first, -1 the last) to pull.
	Blob  string `yaml:"blob"`
	Image string `yaml:"image"`
	Layer int    `yaml:"layer"`
	// Private targets need Credentials: a docker config.json or a mounted
	// kubernetes.io/dockerconfigjson pull secret. Never inline.
	Private     bool   `yaml:"private"`
	Credentials string `yaml:"credentials"`
	// LeakCheck has a private target's round, after its authorized pulls,
	// ask Squid for the blob as a client without access would: the round
	// fails with reason leak if any of the blob comes back.
	LeakCheck bool `yaml:"leak_check"`
	// HitCodes are the result codes that count as served from cache.
	HitCodes []string      `yaml:"hit_codes"`
	Interval time.Duration `yaml:"interval"`
	Timeout  time.Duration `yaml:"timeout"`
}

// Defaults for a target's fields left out.
const (
	DefaultInterval = 5 * time.Minute
	DefaultTimeout  = time.Minute
)

// DefaultHitCodes: Squid serves small blobs from memory. Set TCP_HIT too for
// cache_mem 0 or blobs over maximum_object_size_in_memory.
var DefaultHitCodes = []string{"TCP_MEM_HIT"}

// LoadConfig reads and validates a config file.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConfig parses and validates a config; errors name the bad field.
func ParseConfig(b []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, err
	}
	if len(c.Targets) == 0 {
		return nil, errors.New("targets: no targets")
	}
	names := map[string]bool{}
	for i := range c.Targets {
		t := &c.Targets[i]
		if err := t.validate(); err != nil {
			return nil, fmt.Errorf("targets[%d]: %w", i, err)
		}
		if names[t.Name] {
			return nil, fmt.Errorf("targets[%d].name: %q is used twice", i, t.Name)
		}
		names[t.Name] = true
	}
	return &c, nil
}

func (t *Target) validate() error {
	switch {
	case t.Name == "":
		return errors.New("name: missing")
	case (t.Blob == "") == (t.Image == ""):
		return errors.New("blob, image: give exactly one")
	case t.Private && t.Credentials == "":
		return errors.New("credentials: a private target needs a docker config.json or pull secret file")
	case t.LeakCheck && !t.Private:
		return errors.New("leak_check: only for a private target: a public blob is everyone's")
	case t.Interval < 0 || t.Timeout < 0:
		return errors.New("interval, timeout: must not be negative")
	}
	if t.Blob != "" {
		if _, err := name.NewDigest(t.Blob); err != nil {
			return fmt.Errorf("blob: %q is not registry/repo@sha256:<64 hex digits>: %w", t.Blob, err)
		}
	} else if _, err := name.ParseReference(t.Image); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	if t.Credentials != "" {
		if _, err := os.Stat(t.Credentials); err != nil {
			return fmt.Errorf("credentials: %w", err)
		}
	}
	if len(t.HitCodes) == 0 {
		t.HitCodes = DefaultHitCodes
	}
	if t.Interval == 0 {
		t.Interval = DefaultInterval
	}
	if t.Timeout == 0 {
		t.Timeout = DefaultTimeout
	}
	if t.Timeout > t.Interval {
		return fmt.Errorf("timeout: %s is longer than interval %s", t.Timeout, t.Interval)
	}
	return nil
}
