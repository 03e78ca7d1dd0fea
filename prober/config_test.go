package prober

import (
	"strings"
	"testing"
	"time"
)

func TestLoadConfig(t *testing.T) {
	c, err := LoadConfig("testdata/probe.yml")
	if err != nil {
		t.Fatal(err)
	}
	public, private := c.Targets[0], c.Targets[1]
	if public.Interval != DefaultInterval || public.Timeout != DefaultTimeout || public.HitCodes[0] != "TCP_MEM_HIT" {
		t.Errorf("defaults not applied: %+v", public)
	}
	if private.Interval != 10*time.Minute || private.Layer != -1 || len(private.HitCodes) != 2 {
		t.Errorf("private target: %+v", private)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	const digest = "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct{ yaml, wantErr string }{
		{"targets: []", "targets: no targets"},
		{"targets:\n- blob: q.io/a" + digest, "targets[0]: name: missing"},
		{"targets:\n- name: a", "targets[0]: blob, image: give exactly one"},
		{"targets:\n- name: a\n  blob: quay.io/org/repo:latest", "targets[0]: blob: \"quay.io/org/repo:latest\" is not registry/repo@sha256"},
		{"targets:\n- name: a\n  blob: q.io/a" + digest + "\n  private: true", "targets[0]: credentials: a private target needs"},
		{"targets:\n- name: a\n  blob: q.io/a" + digest + "\n  credentials: /nonexistent", "targets[0]: credentials: stat /nonexistent"},
		{"targets:\n- name: a\n  blob: q.io/a" + digest + "\n  leak_check: true", "targets[0]: leak_check: only for a private target"},
		{"targets:\n- name: a\n  blob: q.io/a" + digest + "\n  timeout: 10m", "targets[0]: timeout: 10m0s is longer than interval 5m0s"},
		{"targets:\n- name: a\n  blob: q.io/a" + digest + "\n- name: a\n  blob: q.io/b" + digest, "targets[1].name: \"a\" is used twice"},
		{"targets:\n- name: a\n  blob: q.io/a" + digest + "\n  password: hunter2", "field password not found"},
		{"targets:\n- name: a\n  blob: q.io/a" + digest + "\n  interval: often", "cannot unmarshal"},
	}
	for _, tt := range tests {
		_, err := ParseConfig([]byte(tt.yaml))
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%q:\n error %v\n want %q", tt.yaml, err, tt.wantErr)
		}
	}
}
