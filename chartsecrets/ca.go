package chartsecrets

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-kit/log/level"

	"github.com/squid-cache-exporter/squid-cache-exporter/bumpca"
	"github.com/squid-cache-exporter/squid-cache-exporter/kubeapi"
)

// ca makes the CA Secret when it is missing and asked to, replaces its CA
// when asked to for another rotation token, keeps it otherwise, and
// returns its certificate.
func (r *run) ca(ctx context.Context) ([]byte, error) {
	name, ns := r.c.CASecret, r.api.Namespace()
	s, err := r.api.GetSecret(ctx, name)
	outcome, why := "kept", []any(nil)
	switch {
	case errors.Is(err, kubeapi.ErrNotFound) && !r.c.CAGenerate:
		return nil, fmt.Errorf("the CA Secret %s/%s does not exist: create it (type kubernetes.io/tls, with tls.crt and tls.key), "+
			"have cert-manager issue it, or pass --ca.generate to have one made", ns, name)
	case errors.Is(err, kubeapi.ErrNotFound):
		s, outcome, why, err = r.createCA(ctx)
	case err == nil && r.c.CAGenerate && rotationOf(s) != r.c.CARotation:
		s, outcome, why, err = r.rotateCA(ctx, s)
	}
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM := s.Data["tls.crt"], s.Data["tls.key"]
	if len(certPEM) == 0 || len(keyPEM) == 0 {
		return nil, fmt.Errorf("the CA Secret %s/%s lacks tls.crt or tls.key: Squid needs both", ns, name)
	}
	cert, err := bumpca.ParseCertificate(certPEM)
	if err != nil {
		return nil, fmt.Errorf("the CA Secret %s/%s: tls.crt: %w", ns, name, err)
	}
	if r.c.CAGenerate && outcome == "kept" && unconstrained(cert) {
		return nil, fmt.Errorf("the CA Secret %s/%s has no name constraints or no pathlen:0: an earlier chart made it, it can sign "+
			"for any name, and its key is in Helm's release history. Replace it: set ca.rotation (--ca.rotation), and have clients "+
			"trust the new certificate from the clients' ConfigMap; or keep it knowingly with ca.mode existingSecret", ns, name)
	}
	kept, err := r.keepSecret(ctx, s)
	if err != nil {
		return nil, err
	}
	level.Info(r.logger).Log(line(outcome, "secret", name, ns, slices.Concat(caFields(cert), why, kept)...)...)
	r.check(name, certPEM, keyPEM)
	return certPEM, nil
}

// createCA makes a CA and its Secret; when another run made one first,
// that one is the CA.
func (r *run) createCA(ctx context.Context) (s kubeapi.Secret, outcome string, why []any, err error) {
	certPEM, keyPEM, err := r.newCA()
	if err != nil {
		return kubeapi.Secret{}, "", nil, err
	}
	annotations := newAnnotations()
	annotations[rotationAnnotation] = r.c.CARotation
	s = kubeapi.Secret{Name: r.c.CASecret, Type: "kubernetes.io/tls", Labels: r.c.Labels, Annotations: annotations,
		Data: map[string][]byte{"tls.crt": certPEM, "tls.key": keyPEM, "ca.crt": certPEM}}
	err = r.api.CreateSecret(ctx, s)
	if errors.Is(err, kubeapi.ErrAlreadyExists) {
		s, err = r.api.GetSecret(ctx, r.c.CASecret)
		return s, "kept", raced, err
	}
	return s, "created", nil, err
}

// newCA is a CA as the flags ask for, made now.
func (r *run) newCA() (certPEM, keyPEM []byte, err error) {
	o := r.c.CA
	o.Now = r.now
	return bumpca.New(o)
}

// caFields say which CA it is, for an operator to compare with what
// clients trust: never the key.
func caFields(cert *x509.Certificate) []any {
	permitted := strings.Join(cert.PermittedDNSDomains, ",")
	if permitted == "" {
		permitted = "any name (no name constraints)"
	}
	return []any{"sha256", bumpca.Fingerprint(cert), "not_after", cert.NotAfter.UTC().Format(time.RFC3339), "permitted", permitted}
}

// check warns when the CA is not what the flags ask for. It never
// replaces it: clients trust this CA, and when to make them trust another
// is the operator's decision (with --ca.generate, a new --ca.rotation).
func (r *run) check(name string, certPEM, keyPEM []byte) {
	var want []string
	if len(r.c.CA.PermittedDomains) > 0 {
		want = r.c.CA.PermittedDomains
	}
	if err := bumpca.Check(certPEM, keyPEM, want, r.now()); err != nil {
		level.Warn(r.logger).Log("msg", "the CA is not as wanted: rotate it (the chart: a new ca.rotation; README, The CA)", "secret", name,
			"namespace", r.api.Namespace(), "problems", err)
	}
}

// unconstrained says whether a CA can sign for any name or sign other CAs:
// not one this Job makes. With --ca.generate such a CA is refused, not kept.
func unconstrained(cert *x509.Certificate) bool {
	return len(cert.PermittedDNSDomains) == 0 || !(cert.MaxPathLenZero && cert.MaxPathLen == 0)
}
