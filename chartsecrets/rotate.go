package chartsecrets

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/squid-cache-exporter/squid-cache-exporter/bumpca"
	"github.com/squid-cache-exporter/squid-cache-exporter/kubeapi"
)

// rotationAnnotation is on the CA Secret the Job made: the --ca.rotation
// token it was made for. The chart renders the same token into the pods'
// checksum/ca, so that a new token rolls Squid onto the new CA without
// the chart reading the Secret.
const rotationAnnotation = "squid-cache.io/ca-rotation"

// rotationOf is the token s was made for; a Secret without the annotation
// (made before it, or not by the Job) reads as the empty token, the
// default, so that a default run keeps it.
func rotationOf(s kubeapi.Secret) string { return s.Annotations[rotationAnnotation] }

// rotateCA replaces the CA in old, made for another token, with a new one
// for this run's. An update, not a delete and create: the Secret is never
// missing for Squid, and what it holds besides the CA stays. When another
// run rotated it first, that CA is the CA.
func (r *run) rotateCA(ctx context.Context, old kubeapi.Secret) (s kubeapi.Secret, outcome string, why []any, err error) {
	token := r.c.CARotation
	certPEM, keyPEM, err := r.newCA()
	if err != nil {
		return kubeapi.Secret{}, "", nil, err
	}
	s = old
	s.Data = maps.Clone(old.Data)
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	s.Data["tls.crt"], s.Data["tls.key"], s.Data["ca.crt"] = certPEM, keyPEM, certPEM
	// keep, as on a CA made here; a Helm release that rendered this
	// Secret would delete it after the upgrade otherwise.
	s.Annotations = withKeep(old.Annotations)
	s.Annotations[rotationAnnotation] = token
	err = r.api.UpdateSecret(ctx, s)
	if errors.Is(err, kubeapi.ErrConflict) {
		return r.rotatedMeanwhile(ctx)
	}
	if err != nil {
		return kubeapi.Secret{}, "", nil, fmt.Errorf("--ca.rotation=%s asks for a new CA in %s/%s: %w", token, r.api.Namespace(), s.Name, err)
	}
	why = []any{"previous_sha256", previousFingerprint(old.Data["tls.crt"]), "rotation", token}
	if release := releaseOf(old.Annotations); release != "" {
		why = append(why, "annotated", "helm.sh/resource-policy=keep", "release", release)
	}
	return s, "rotated", why, nil
}

// rotatedMeanwhile reads the Secret that changed between our read and our
// update: another pod of the Job rotated it for the same token, which is
// then the CA; anything else is a writer this run cannot reason about.
func (r *run) rotatedMeanwhile(ctx context.Context) (kubeapi.Secret, string, []any, error) {
	name, ns, token := r.c.CASecret, r.api.Namespace(), r.c.CARotation
	s, err := r.api.GetSecret(ctx, name)
	if err != nil {
		return kubeapi.Secret{}, "", nil, err
	}
	if got := rotationOf(s); got != token {
		return kubeapi.Secret{}, "", nil, fmt.Errorf("the CA Secret %s/%s changed while this run rotated it for --ca.rotation=%s, "+
			"and now has %s=%q: another run with another token, or someone else, wrote it; the CA was not rotated, run the Job again",
			ns, name, token, rotationAnnotation, got)
	}
	return s, "kept", []any{"why", "another run rotated it first"}, nil
}

// previousFingerprint names the CA a rotation replaced, for an operator
// to tell clients to stop trusting; "none" when it had no readable one.
func previousFingerprint(certPEM []byte) string {
	cert, err := bumpca.ParseCertificate(certPEM)
	if err != nil {
		return "none"
	}
	return bumpca.Fingerprint(cert)
}
