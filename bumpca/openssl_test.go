package bumpca

import (
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// OpenSSL is what Squid 5.7 signs with and what curl, git and the
// container runtimes on RHEL verify with: it must read the CA as Go does.
func TestOpenSSLReadsTheCA(t *testing.T) {
	openssl := requireOpenSSL(t)
	ca := newCA(t, Options{PermittedDomains: quayAndRedHat})
	dir := t.TempDir()
	caFile, keyFile := write(t, dir, "ca.pem", ca.certPEM), write(t, dir, "key.pem", ca.keyPEM)
	text := run(t, openssl, "x509", "-in", caFile, "-noout", "-text")
	// Patterns, not strings: OpenSSL versions indent and print IPv6
	// ranges differently.
	for _, want := range []string{
		`CA:TRUE, pathlen:0`,
		`Certificate Sign, CRL Sign`,
		`X509v3 Name Constraints: critical\s+Permitted:\s+DNS:quay\.io\s+DNS:registry\.access\.redhat\.com\s+` +
			`Excluded:\s+IP:0\.0\.0\.0/0\.0\.0\.0\s+IP:[0:]+/[0:]+\s`,
		`prime256v1|P-256`,
		`X509v3 Subject Key Identifier`,
	} {
		if !regexp.MustCompile(want).MatchString(text) {
			t.Errorf("openssl x509 -text lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "Extended Key Usage") {
		t.Errorf("an extended key usage:\n%s", text)
	}
	// Squid reads the key from the same file as the certificate; OpenSSL
	// must read the PKCS#8 key, and it must be the certificate's.
	keyPub := run(t, openssl, "pkey", "-in", keyFile, "-pubout")
	certPub := run(t, openssl, "x509", "-in", caFile, "-noout", "-pubkey")
	if keyPub != certPub {
		t.Errorf("the key's public key\n%s\nis not the certificate's\n%s", keyPub, certPub)
	}
}

// openssl verify applies the constraints as Go does, with its own errors.
func TestOpenSSLVerifiesOnlyPermittedNames(t *testing.T) {
	openssl := requireOpenSSL(t)
	ca := newCA(t, Options{PermittedDomains: quayAndRedHat})
	dir := t.TempDir()
	caFile := write(t, dir, "ca.pem", ca.certPEM)
	for _, tc := range []struct {
		name   string
		leaf   *x509.Certificate
		viaSub bool
		want   string // in openssl verify's output
	}{
		{"a permitted subdomain", leaf("cdn01.quay.io"), false, ": OK"},
		{"a permitted host", leaf("registry.access.redhat.com"), false, ": OK"},
		{"another domain", leaf("example.com"), false, "permitted subtree violation"},
		{"a suffix that is no subdomain", leaf("evilquay.io"), false, "permitted subtree violation"},
		{"an IP SAN", leaf("192.0.2.1"), false, "excluded subtree violation"},
		{"through an intermediate", leaf("quay.io"), true, "path length constraint exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"verify", "-CAfile", caFile}
			parent, parentKey := ca.cert, ca.key
			if tc.viaSub {
				parent, parentKey = sign(t, subCA(), ca.cert, ca.key)
				args = append(args, "-untrusted", write(t, t.TempDir(), "sub.pem", certPEM(parent)))
			}
			cert, _ := sign(t, tc.leaf, parent, parentKey)
			args = append(args, write(t, t.TempDir(), "leaf.pem", certPEM(cert)))
			out, err := exec.Command(openssl, args...).CombinedOutput()
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("openssl %s: %v\n%s\nwant %q", strings.Join(args, " "), err, out, tc.want)
			}
			if ok := tc.want == ": OK"; ok != (err == nil) {
				t.Errorf("openssl verify exit: %v (want success %v)", err, ok)
			}
		})
	}
}

// requireOpenSSL finds openssl, or fails the test in CI, where a missing
// tool is a broken runner, and skips it elsewhere. (squidtest.RequireTool
// does the same, but would bring Squid's test world into this package.)
func requireOpenSSL(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err == nil {
		return path
	}
	msg := "openssl not found: install Debian package openssl"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg + "; CI=true makes this a failure")
	return ""
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func write(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
