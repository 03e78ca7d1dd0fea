package chartsecrets

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/go-kit/log/level"

	"github.com/squid-cache-exporter/squid-cache-exporter/kubeapi"
)

// cachemgr makes the cache manager password's Secret when it is missing;
// one that exists is never changed, since Squid and the exporter both
// read it.
func (r *run) cachemgr(ctx context.Context) error {
	name, ns := r.c.CachemgrSecret, r.api.Namespace()
	s, err := r.api.GetSecret(ctx, name)
	outcome, why := "kept", []any(nil)
	if errors.Is(err, kubeapi.ErrNotFound) {
		s = kubeapi.Secret{Name: name, Type: "Opaque", Labels: r.c.Labels, Annotations: newAnnotations(),
			Data: map[string][]byte{"password": password()}}
		outcome = "created"
		err = r.api.CreateSecret(ctx, s)
		if errors.Is(err, kubeapi.ErrAlreadyExists) {
			outcome, why = "kept", raced
			s, err = r.api.GetSecret(ctx, name)
		}
	}
	if err != nil {
		return err
	}
	if len(s.Data["password"]) == 0 {
		return fmt.Errorf("the Secret %s/%s has no password key: put the cache manager password there, or delete the Secret to have one made", ns, name)
	}
	if release := releaseOf(s.Annotations); release != "" && outcome == "kept" {
		// An earlier chart rendered it, so the password is in the
		// release's history: a new one, kept from now on. The upgrade that
		// runs this changes squid.conf, so the pods restart and read it.
		return r.replacePassword(ctx, s, release)
	}
	kept, err := r.keepSecret(ctx, s)
	if err != nil {
		return err
	}
	level.Info(r.logger).Log(line(outcome, "secret", name, ns, slices.Concat([]any{"key", "password"}, why, kept)...)...)
	return nil
}

// replacePassword gives a Secret that Helm rendered a new password, and
// the keep annotation in the same update.
func (r *run) replacePassword(ctx context.Context, s kubeapi.Secret, release string) error {
	s.Annotations = withKeep(s.Annotations)
	s.Data = maps.Clone(s.Data)
	s.Data["password"] = password()
	if err := r.api.UpdateSecret(ctx, s); err != nil {
		return explain(err, r.api.Namespace())
	}
	level.Info(r.logger).Log(line("replaced", "secret", s.Name, r.api.Namespace(), "key", "password",
		"why", "an earlier chart rendered it: it is in Helm's release history", "annotated", "helm.sh/resource-policy=keep", "release", release)...)
	return nil
}

const alphanumerics = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// password is 32 letters and digits (190 bits) from crypto/rand: nothing
// that squid.conf's cachemgr_passwd or a URL would need quoted.
func password() []byte {
	out := make([]byte, 0, 32)
	buf := make([]byte, 64)
	for len(out) < cap(out) {
		rand.Read(buf) // never fails: since Go 1.24 it crashes instead
		for _, b := range buf {
			// 248 is 4*62: bytes above it would favour the first letters.
			if b < 248 && len(out) < cap(out) {
				out = append(out, alphanumerics[b%62])
			}
		}
	}
	return out
}
