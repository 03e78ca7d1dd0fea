package kubeapi

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestServiceAccount(t *testing.T) {
	withNamespace := t.TempDir()
	if err := os.WriteFile(filepath.Join(withNamespace, "namespace"), []byte("squid\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir, host, port string
		server, namespace     string
		err                   string
	}{
		{"IPv4", withNamespace, "10.96.0.1", "443", "https://10.96.0.1:443", "squid", ""},
		{"IPv6", withNamespace, "fd00:10:96::1", "443", "https://[fd00:10:96::1]:443", "squid", ""},
		{"a name", withNamespace, "kubernetes.default.svc", "6443", "https://kubernetes.default.svc:6443", "squid", ""},
		{"no namespace file", t.TempDir(), "10.96.0.1", "443", "https://10.96.0.1:443", "", ""},
		{"no host", withNamespace, "", "443", "", "", "KUBERNETES_SERVICE_HOST or KUBERNETES_SERVICE_PORT is unset"},
		{"no port", withNamespace, "10.96.0.1", "", "", "", "KUBERNETES_SERVICE_HOST or KUBERNETES_SERVICE_PORT is unset"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"KUBERNETES_SERVICE_HOST": tc.host, "KUBERNETES_SERVICE_PORT": tc.port}
			c, err := ServiceAccount(tc.dir, func(k string) string { return env[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			want := Config{Server: tc.server, CAFile: filepath.Join(tc.dir, "ca.crt"), TokenFile: filepath.Join(tc.dir, "token"), Namespace: tc.namespace}
			if err != nil || c != want {
				t.Fatalf("got %+v, %v\nwant %+v", c, err, want)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		c    Config
		err  string
	}{
		{"no namespace", Config{Server: "https://10.96.0.1:443", CAFile: notPEM}, "no namespace"},
		{"plain HTTP", Config{Server: "http://10.96.0.1:80", CAFile: notPEM, Namespace: "ns"}, "want https://host:port"},
		{"no CA file", Config{Server: "https://10.96.0.1:443", CAFile: filepath.Join(dir, "missing"), Namespace: "ns"}, "API server CA: open "},
		{"no PEM in the CA file", Config{Server: "https://10.96.0.1:443", CAFile: notPEM, Namespace: "ns"}, "no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.c); err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err %v, want %q", err, tc.err)
			}
		})
	}
}
