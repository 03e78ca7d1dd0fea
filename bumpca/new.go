// Package bumpca makes and checks the certificate authority Squid signs the
// certificates of bumped sites with. The CA it makes cannot sign for the
// world: name constraints limit it to the domains Squid bumps, pathlen 0
// keeps it from making other CAs, and it may sign only certificates and
// CRLs. A copy of its key (in a Secret, on a node's disk) is then worth a
// man in the middle for those domains only.
package bumpca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// MaxValidity is the longest a CA made here may live. Rotation is the only
// remedy for a leaked key; ten years is already generous.
const MaxValidity = 10 * 365 * 24 * time.Hour

// clockSkew backdates NotBefore, so a node whose clock is a little behind
// still accepts the CA as soon as it is made.
const clockSkew = time.Hour

// Options shape a CA.
type Options struct {
	CommonName string
	// PermittedDomains are the domains Squid bumps, as Squid's dstdomain
	// writes them: ".quay.io" and "quay.io" both mean quay.io and its
	// subdomains, which is what the DNS name constraint "quay.io" means.
	PermittedDomains []string
	Validity         time.Duration
	Now              func() time.Time // time.Now when nil
}

// New makes a CA: its certificate, and its key as PKCS#8 ("PRIVATE KEY"),
// both PEM. The key is ECDSA P-256: Squid (OpenSSL 3) signs with it, and it
// is small and fast where RSA-2048 is neither.
func New(o Options) (certPEM, keyPEM []byte, err error) {
	domains, err := o.validate()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, err
	}
	t := now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: o.CommonName},
		NotBefore:             t.Add(-clockSkew),
		NotAfter:              t.Add(o.Validity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            0,
		MaxPathLenZero:        true, // pathlen:0: it signs leaves, never another CA
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		// Critical, so that a verifier that does not understand name
		// constraints rejects the chain rather than ignoring them.
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         domains,
		// Squid mints a certificate for a CONNECT to an IP literal too;
		// no IP constraint would let that certificate verify.
		ExcludedIPRanges: allAddresses(),
		// SubjectKeyId: CreateCertificate derives it from the key for a CA.
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), nil
}

// Validate says what New would refuse o for.
func (o Options) Validate() error {
	_, err := o.validate()
	return err
}

// validate returns the DNS name constraints: the domains without a leading
// dot, once each.
func (o Options) validate() ([]string, error) {
	if o.CommonName == "" {
		return nil, errors.New("bump CA: no common name")
	}
	if o.Validity <= 0 || o.Validity > MaxValidity {
		return nil, fmt.Errorf("bump CA: validity %v: want more than 0 and at most %v (10 years)", o.Validity, MaxValidity)
	}
	domains, err := Constraints(o.PermittedDomains)
	if err != nil {
		return nil, fmt.Errorf("bump CA: %w", err)
	}
	return domains, nil
}

// allAddresses are 0.0.0.0/0 and ::/0.
func allAddresses() []*net.IPNet {
	return []*net.IPNet{
		{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)},
		{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)},
	}
}
