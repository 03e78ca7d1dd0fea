package bumpca

import (
	"crypto/x509"
	"errors"
	"testing"
)

// verifies, as a test's wanted reason, is no error at all.
const verifies x509.InvalidReason = -1

// Go's verifier, as a client of Squid (skopeo, podman, the exporter's
// prober) runs it: the CA signs for the bumped domains and nothing else,
// and whoever holds its key cannot make a CA that could.
func TestGoVerifiesOnlyPermittedNames(t *testing.T) {
	ca := newCA(t, Options{PermittedDomains: []string{".quay.io", "registry.access.redhat.com"}})
	for _, tc := range []struct {
		name   string
		leaf   *x509.Certificate
		host   string
		viaSub bool // signed by an intermediate the CA signed
		want   x509.InvalidReason
	}{
		{"the domain itself", leaf("quay.io"), "quay.io", false, verifies},
		{"a subdomain", leaf("cdn01.quay.io"), "cdn01.quay.io", false, verifies},
		{"a host", leaf("registry.access.redhat.com"), "registry.access.redhat.com", false, verifies},
		{"a subdomain of the host", leaf("x.registry.access.redhat.com"), "x.registry.access.redhat.com", false, verifies},
		{"another domain", leaf("example.com"), "example.com", false, x509.CANotAuthorizedForThisName},
		{"a suffix that is no subdomain", leaf("evilquay.io"), "evilquay.io", false, x509.CANotAuthorizedForThisName},
		{"the host's parent", leaf("access.redhat.com"), "access.redhat.com", false, x509.CANotAuthorizedForThisName},
		{"one SAN outside", leaf("quay.io", "example.com"), "quay.io", false, x509.CANotAuthorizedForThisName},
		{"an IPv4 SAN", leaf("192.0.2.1"), "192.0.2.1", false, x509.CANotAuthorizedForThisName},
		{"an IPv6 SAN", leaf("2001:db8::1"), "2001:db8::1", false, x509.CANotAuthorizedForThisName},
		{"a permitted name beside an IP SAN", leaf("quay.io", "192.0.2.1"), "quay.io", false, x509.CANotAuthorizedForThisName},
		{"through an intermediate", leaf("quay.io"), "quay.io", true, x509.TooManyIntermediates},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent, parentKey := ca.cert, ca.key
			intermediates := x509.NewCertPool()
			if tc.viaSub {
				parent, parentKey = sign(t, subCA(), ca.cert, ca.key)
				intermediates.AddCert(parent)
			}
			cert, _ := sign(t, tc.leaf, parent, parentKey)
			roots := x509.NewCertPool()
			roots.AddCert(ca.cert)
			_, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: intermediates, DNSName: tc.host})
			if tc.want == verifies {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			var invalid x509.CertificateInvalidError
			if !errors.As(err, &invalid) || invalid.Reason != tc.want {
				t.Fatalf("err %v, want reason %d", err, tc.want)
			}
		})
	}
}
