package chartsecrets

import (
	"context"
	"fmt"
	"maps"

	"github.com/squid-cache-exporter/squid-cache-exporter/kubeapi"
)

// Before this Job, the chart rendered the CA Secret, its ConfigMap and the
// cache manager Secret itself, so an installed release owns them. The
// chart that runs this Job renders them no more, and Helm deletes what the
// new manifest lacks once the upgrade is done, unless the live object says
// helm.sh/resource-policy: keep. The Job annotates them first: else the
// upgrade would delete the CA that Squid uses, and the next one make a new
// CA that no client trusts.

// releaseOf is the Helm release that owns an object, or "".
func releaseOf(annotations map[string]string) string {
	if annotations["helm.sh/resource-policy"] == "keep" {
		return ""
	}
	return annotations["meta.helm.sh/release-name"]
}

// withKeep is annotations and keep.
func withKeep(annotations map[string]string) map[string]string {
	out := maps.Clone(annotations)
	if out == nil {
		out = map[string]string{}
	}
	out["helm.sh/resource-policy"] = "keep"
	return out
}

// keepSecret annotates a Secret that a Helm release owns with keep, and
// returns the log fields that say so (none for a Secret made by this Job).
func (r *run) keepSecret(ctx context.Context, s kubeapi.Secret) ([]any, error) {
	release := releaseOf(s.Annotations)
	if release == "" {
		return nil, nil
	}
	if err := r.api.AnnotateSecret(ctx, s.Name, map[string]string{"helm.sh/resource-policy": "keep"}); err != nil {
		ns := r.api.Namespace()
		return nil, fmt.Errorf("the Secret %s/%s is Helm release %s's, which deletes it after this upgrade unless it is annotated "+
			"helm.sh/resource-policy=keep; the Job could not annotate it (let its Role patch secrets, or run "+
			"kubectl annotate secret -n %s %s helm.sh/resource-policy=keep): %w", ns, s.Name, release, ns, s.Name, err)
	}
	return []any{"annotated", "helm.sh/resource-policy=keep", "release", release}, nil
}
