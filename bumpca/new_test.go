package bumpca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"strings"
	"testing"
	"time"
)

var quayAndRedHat = []string{".quay.io", "registry.access.redhat.com"}

// What the chart relies on: a P-256 CA in PKCS#8 that may sign leaves for
// the bumped domains and nothing else, valid from an hour before now.
func TestNewMakesAConstrainedCA(t *testing.T) {
	ca := newCA(t, Options{CommonName: "squid-cache ssl-bump CA", PermittedDomains: quayAndRedHat,
		Validity: 90 * 24 * time.Hour, Now: func() time.Time { return day }})
	c := ca.cert
	if b, _ := pem.Decode(ca.keyPEM); b.Type != "PRIVATE KEY" {
		t.Errorf("key PEM type %q, want PRIVATE KEY (PKCS#8)", b.Type)
	}
	if k, ok := ca.key.(*ecdsa.PrivateKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("key %T, want ECDSA P-256", ca.key)
	}
	checks := []struct {
		what string
		ok   bool
	}{
		{"common name", c.Subject.CommonName == "squid-cache ssl-bump CA"},
		{"self-signed", c.CheckSignatureFrom(c) == nil},
		{"CA:TRUE", c.IsCA && c.BasicConstraintsValid},
		{"pathlen:0", c.MaxPathLen == 0 && c.MaxPathLenZero},
		{"key usage exactly CertSign|CRLSign", c.KeyUsage == x509.KeyUsageCertSign|x509.KeyUsageCRLSign},
		{"no extended key usage", len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0},
		{"permitted DNS without leading dots", strings.Join(c.PermittedDNSDomains, ",") == "quay.io,registry.access.redhat.com"},
		{"name constraints critical", c.PermittedDNSDomainsCritical && extensionCritical(c, asn1.ObjectIdentifier{2, 5, 29, 30})},
		{"every IP excluded", excludesAllAddresses(c) && len(c.ExcludedIPRanges) == 2},
		{"nothing else constrained", len(c.ExcludedDNSDomains)+len(c.PermittedIPRanges)+len(c.PermittedEmailAddresses)+len(c.PermittedURIDomains) == 0},
		{"NotBefore an hour back", c.NotBefore.Equal(day.Add(-time.Hour))},
		{"NotAfter now+validity", c.NotAfter.Equal(day.Add(90 * 24 * time.Hour))},
		{"serial of about 128 bits", c.SerialNumber.Sign() > 0 && c.SerialNumber.BitLen() > 100 && c.SerialNumber.BitLen() <= 128},
		{"subject key id", len(c.SubjectKeyId) > 0},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("%s: no", ch.what)
		}
	}
	if err := Check(ca.certPEM, ca.keyPEM, quayAndRedHat, day); err != nil {
		t.Errorf("Check of a new CA: %v", err)
	}
}

func extensionCritical(c *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return e.Critical
		}
	}
	return false
}

// Two CAs never share a key or a serial.
func TestNewIsFreshEachTime(t *testing.T) {
	a, b := newCA(t, Options{PermittedDomains: quayAndRedHat}), newCA(t, Options{PermittedDomains: quayAndRedHat})
	if a.cert.SerialNumber.Cmp(b.cert.SerialNumber) == 0 || string(a.keyPEM) == string(b.keyPEM) {
		t.Error("two CAs share a serial or a key")
	}
}

func TestNewRefuses(t *testing.T) {
	domains := func(d ...string) func(*Options) { return func(o *Options) { o.PermittedDomains = d } }
	validity := func(v time.Duration) func(*Options) { return func(o *Options) { o.Validity = v } }
	for _, tc := range []struct {
		name   string
		change func(*Options) // of a valid Options
		want   string
	}{
		{"no domains", domains(), "no permitted domains"},
		{"wildcard", domains("*.quay.io"), `"*.quay.io": '*' is not allowed`},
		{"space", domains("quay .io"), `' ' is not allowed`},
		{"IPv4", domains("10.0.0.1"), "an IP address"},
		{"IPv6", domains("::1"), "an IP address"},
		{"a dot alone", domains("."), `".": empty`},
		{"empty", domains("quay.io", ""), `"": empty`},
		{"trailing dot", domains("quay.io."), "empty label"},
		{"underscore", domains("my_host.example"), `'_' is not allowed`},
		{"hyphen at the edge", domains("-quay.io"), "hyphen"},
		{"numeric top label", domains("10.0.0"), "numeric label"},
		{"long label", domains(strings.Repeat("a", 64) + ".io"), "longer than 63"},
		{"zero validity", validity(0), "validity 0s"},
		{"negative validity", validity(-time.Hour), "validity -1h0m0s"},
		{"over 10 years", validity(MaxValidity + time.Hour), "at most 87600h0m0s"},
		{"no common name", func(o *Options) { o.CommonName = "" }, "no common name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{CommonName: "CA", PermittedDomains: quayAndRedHat, Validity: 365 * 24 * time.Hour}
			tc.change(&o)
			certPEM, keyPEM, err := New(o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one containing %q", err, tc.want)
			}
			if certPEM != nil || keyPEM != nil {
				t.Error("returned PEM with an error")
			}
		})
	}
}

func TestConstraints(t *testing.T) {
	for _, tc := range []struct {
		in, want []string
	}{
		{[]string{".quay.io"}, []string{"quay.io"}},
		{[]string{"quay.io", ".quay.io", "QUAY.io"}, []string{"quay.io"}},
		{[]string{"registry.access.redhat.com", ".quay.io"}, []string{"registry.access.redhat.com", "quay.io"}},
		{[]string{"localhost"}, []string{"localhost"}},
		{[]string{"xn--bcher-kva.example"}, []string{"xn--bcher-kva.example"}},
	} {
		got, err := Constraints(tc.in)
		if err != nil || strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("Constraints(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
