package bumpca

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/pkitest"
)

// Each problem is one sentence an operator can act on, in a fixed order:
// the key, the CA bits, the constraints, the dates.
func TestCheckSaysWhatIsOff(t *testing.T) {
	now := func() time.Time { return day }
	ours := newCA(t, Options{PermittedDomains: quayAndRedHat, Now: now})
	other := newCA(t, Options{PermittedDomains: quayAndRedHat, Now: now})
	helmCA, helmKey := pkitest.HelmGenCA(t, time.Now())
	leafCert, leafKey := sign(t, aYear(leaf("quay.io")), ours.cert, ours.key)
	noIPs := selfSigned(t, aYear(&x509.Certificate{IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign, PermittedDNSDomains: []string{"quay.io"}}))
	noSign := selfSigned(t, aYear(&x509.Certificate{IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCRLSign, PermittedDNSDomains: []string{"quay.io"}, ExcludedIPRanges: allAddresses()}))
	for _, tc := range []struct {
		name            string
		certPEM, keyPEM []byte
		want            []string
		now             time.Time
		problems        Problems // nil: no problem
	}{
		{"as made", ours.certPEM, ours.keyPEM, quayAndRedHat, day, nil},
		{"as made, the domains spelled otherwise", ours.certPEM, ours.keyPEM,
			[]string{"registry.access.redhat.com", "quay.io", ".QUAY.io"}, day, nil},
		{"a wanted subdomain is covered", ours.certPEM, ours.keyPEM, []string{"cdn01.quay.io", "registry.access.redhat.com"}, day,
			Problems{"it also permits quay.io, which is not wanted"}},
		{"domains not compared", ours.certPEM, ours.keyPEM, nil, day, nil},
		{"a domain added since", ours.certPEM, ours.keyPEM, slices.Concat(quayAndRedHat, []string{"registry.redhat.io", ".redhat.com"}), day,
			Problems{"it permits quay.io, registry.access.redhat.com but not registry.redhat.io, redhat.com"}},
		{"a domain dropped since", ours.certPEM, ours.keyPEM, []string{".quay.io"}, day,
			Problems{"it also permits registry.access.redhat.com, which is not wanted"}},
		{"an unusable wanted domain", ours.certPEM, ours.keyPEM, []string{"*.quay.io"}, day,
			Problems{`permitted domain "*.quay.io": '*' is not allowed in a DNS name (no wildcards, spaces or underscores)`}},
		{"another CA's key", ours.certPEM, other.keyPEM, quayAndRedHat, day,
			Problems{"the key does not belong to the certificate"}},
		{"no key", ours.certPEM, nil, quayAndRedHat, day, Problems{"the key is no PEM PRIVATE KEY"}},
		{"Helm's genCA", helmCA, helmKey, quayAndRedHat, time.Now(),
			Problems{"no pathlen:0: it can sign other CAs",
				"no name constraints: it can sign for any name"}},
		{"a leaf", certPEM(leafCert), pemKey(t, leafKey), quayAndRedHat, day,
			Problems{"the certificate is not a CA (no basicConstraints CA:TRUE)", "no name constraints: it can sign for any name"}},
		{"IPs not excluded", noIPs.certPEM, noIPs.keyPEM, []string{"quay.io"}, day,
			Problems{"IP addresses are not excluded: it can sign for any IP address"}},
		{"no Certificate Sign", noSign.certPEM, noSign.keyPEM, nil, day,
			Problems{"its key usage lacks Certificate Sign: Squid's certificates will not verify"}},
		{"expires in 29 days", ours.certPEM, ours.keyPEM, quayAndRedHat, ours.cert.NotAfter.Add(-29*24*time.Hour - time.Minute),
			Problems{"it expires on 2027-03-01, in 29 days"}},
		{"expires in 31 days", ours.certPEM, ours.keyPEM, quayAndRedHat, ours.cert.NotAfter.Add(-31 * 24 * time.Hour), nil},
		{"expired", ours.certPEM, ours.keyPEM, quayAndRedHat, ours.cert.NotAfter, Problems{"it expired on 2027-03-01"}},
		{"not yet valid", ours.certPEM, ours.keyPEM, quayAndRedHat, day.Add(-2 * time.Hour),
			Problems{"it is not valid before 2026-03-01T11:00:00Z"}},
		{"everything at once", helmCA, other.keyPEM, []string{"quay.io"}, time.Now().Add(20 * 365 * 24 * time.Hour),
			Problems{"the key does not belong to the certificate",
				"no pathlen:0: it can sign other CAs",
				"no name constraints: it can sign for any name", "it expired on " + helmNotAfter(t, helmCA)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.certPEM, tc.keyPEM, tc.want, tc.now)
			var got Problems
			if err != nil && !errors.As(err, &got) {
				t.Fatalf("not Problems: %v", err)
			}
			if strings.Join(got, "\n") != strings.Join(tc.problems, "\n") {
				t.Fatalf("problems\n  %q\nwant\n  %q", got, tc.problems)
			}
			if err != nil && err.Error() != strings.Join(tc.problems, "; ") {
				t.Errorf("message %q", err)
			}
			for _, line := range strings.Split(string(tc.keyPEM), "\n") {
				if err != nil && len(line) > 8 && !strings.HasPrefix(line, "-----") && strings.Contains(err.Error(), line) {
					t.Errorf("the message quotes the key: %q", line)
				}
			}
		})
	}
}

// A key that cannot be read is named by its PEM type, with the parser's
// complaint (Go's words, so only their start is checked here).
func TestCheckBrokenKey(t *testing.T) {
	ca := newCA(t, Options{PermittedDomains: quayAndRedHat})
	broken := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0}})
	err := Check(ca.certPEM, broken, quayAndRedHat, time.Now())
	if err == nil || !strings.HasPrefix(err.Error(), "the key (PRIVATE KEY) cannot be read: ") {
		t.Fatalf("err %v", err)
	}
}

// A certificate that cannot be read is no list of problems: there is
// nothing to check.
func TestCheckUnreadableCertificate(t *testing.T) {
	for _, tc := range []struct {
		name, certPEM, want string // want: the message's start
	}{
		{"empty", "", "no PEM CERTIFICATE block"},
		{"a key instead", "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n", "no PEM CERTIFICATE block"},
		{"broken DER", "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n", "certificate: x509: malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check([]byte(tc.certPEM), nil, nil, day)
			var p Problems
			if err == nil || errors.As(err, &p) || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q… and no Problems", err, tc.want)
			}
		})
	}
}

func helmNotAfter(t *testing.T, certPEM []byte) string {
	c, err := ParseCertificate(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c.NotAfter.UTC().Format(time.DateOnly)
}

// selfSigned is tmpl signed by its own fresh key.
func selfSigned(t *testing.T, tmpl *x509.Certificate) testCA {
	t.Helper()
	tmpl.Subject = pkix.Name{CommonName: "self-signed"}
	cert, key := sign(t, tmpl, tmpl, nil)
	return testCA{certPEM: certPEM(cert), keyPEM: pemKey(t, key), cert: cert, key: key}
}

func pemKey(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// aYear makes tmpl valid for a year from the tests' day.
func aYear(tmpl *x509.Certificate) *x509.Certificate {
	tmpl.NotBefore, tmpl.NotAfter = day, day.AddDate(1, 0, 0)
	return tmpl
}
