package bumpca

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"net"
	"strings"
	"time"
)

// ExpiryWarning is how long before NotAfter Check starts to say so: time
// to rotate, and for clients to take the new CA, before Squid's
// certificates stop verifying.
const ExpiryWarning = 30 * 24 * time.Hour

// Problems is what Check found off with a CA, each as a sentence.
type Problems []string

func (p Problems) Error() string { return strings.Join(p, "; ") }

// Check says what is off with an existing CA, as New would have made it
// for wantDomains, at now: a key that does not belong to the certificate,
// a certificate that is no CA or may make other CAs, missing or different
// name constraints, and an expiry that is near or past. A nil wantDomains
// skips the comparison of domains (the constraints must still be there).
// It returns nil or Problems; a certificate it cannot read is an error of
// its own.
func Check(certPEM, keyPEM []byte, wantDomains []string, now time.Time) error {
	cert, err := ParseCertificate(certPEM)
	if err != nil {
		return err
	}
	var p Problems
	p = append(p, keyProblems(cert, keyPEM)...)
	p = append(p, caProblems(cert)...)
	p = append(p, constraintProblems(cert, wantDomains)...)
	p = append(p, timeProblems(cert, now)...)
	if len(p) == 0 {
		return nil
	}
	return p
}

func keyProblems(cert *x509.Certificate, keyPEM []byte) []string {
	key, err := ParsePrivateKey(keyPEM)
	if err != nil {
		return []string{err.Error()}
	}
	pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return []string{"the key does not belong to the certificate"}
	}
	return nil
}

func caProblems(cert *x509.Certificate) []string {
	if !cert.IsCA || !cert.BasicConstraintsValid {
		return []string{"the certificate is not a CA (no basicConstraints CA:TRUE)"}
	}
	var p []string
	if cert.MaxPathLen != 0 || !cert.MaxPathLenZero {
		p = append(p, "no pathlen:0: it can sign other CAs")
	}
	if cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		p = append(p, "its key usage lacks Certificate Sign: Squid's certificates will not verify")
	}
	return p
}

func constraintProblems(cert *x509.Certificate, want []string) []string {
	if len(cert.PermittedDNSDomains) == 0 {
		return []string{"no name constraints: it can sign for any name"}
	}
	var p []string
	if !excludesAllAddresses(cert) {
		p = append(p, "IP addresses are not excluded: it can sign for any IP address")
	}
	if want == nil {
		return p
	}
	wanted, err := Constraints(want)
	if err != nil {
		return append(p, err.Error())
	}
	has := cert.PermittedDNSDomains
	if missing := notCovered(wanted, has); len(missing) > 0 {
		p = append(p, fmt.Sprintf("it permits %s but not %s",
			strings.Join(has, ", "), strings.Join(missing, ", ")))
	}
	if extra := notCovered(has, wanted); len(extra) > 0 {
		p = append(p, fmt.Sprintf("it also permits %s, which is not wanted", strings.Join(extra, ", ")))
	}
	return p
}

// notCovered are the names that no domain covers (a domain covers itself
// and its subdomains, as a DNS name constraint does).
func notCovered(names, domains []string) []string {
	var out []string
	for _, n := range names {
		if !covered(n, domains) {
			out = append(out, n)
		}
	}
	return out
}

func covered(name string, domains []string) bool {
	name = strings.ToLower(name)
	for _, d := range domains {
		d = strings.ToLower(d)
		if name == d || strings.HasSuffix(name, "."+d) {
			return true
		}
	}
	return false
}

// excludesAllAddresses: 0.0.0.0/0 and ::/0 among the excluded ranges.
func excludesAllAddresses(cert *x509.Certificate) bool {
	var v4, v6 bool
	for _, r := range cert.ExcludedIPRanges {
		if ones, _ := r.Mask.Size(); ones != 0 {
			continue
		}
		if len(r.IP) == net.IPv4len {
			v4 = true
		} else {
			v6 = true
		}
	}
	return v4 && v6
}

func timeProblems(cert *x509.Certificate, now time.Time) []string {
	day := cert.NotAfter.UTC().Format(time.DateOnly)
	switch left := cert.NotAfter.Sub(now); {
	case left <= 0:
		return []string{fmt.Sprintf("it expired on %s", day)}
	case left < ExpiryWarning:
		return []string{fmt.Sprintf("it expires on %s, in %d days", day, int(left.Hours()/24))}
	}
	if now.Before(cert.NotBefore) {
		return []string{fmt.Sprintf("it is not valid before %s", cert.NotBefore.UTC().Format(time.RFC3339))}
	}
	return nil
}
