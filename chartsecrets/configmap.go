package chartsecrets

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/go-kit/log/level"

	"github.com/squid-cache-exporter/squid-cache-exporter/bumpca"
	"github.com/squid-cache-exporter/squid-cache-exporter/kubeapi"
)

// attempts bounds the read-and-write rounds on the ConfigMap: another
// writer between our read and our write costs one round.
const attempts = 3

// caConfigMap makes a clients' ConfigMap ([NAMESPACE/]NAME) hold the CA's
// certificate under ca.crt: created when missing, updated when it holds
// another, kept otherwise; its other keys are left alone.
func (r *run) caConfigMap(ctx context.Context, ref string, certPEM []byte) error {
	cert, err := bumpca.ParseCertificate(certPEM)
	if err != nil {
		return err
	}
	namespace, name, err := splitRef(ref)
	if err != nil {
		return err
	}
	api := r.api
	if namespace != "" {
		api = api.In(namespace)
	}
	for i := 1; ; i++ {
		outcome, why, err := r.syncConfigMap(ctx, api, name, string(certPEM))
		if i < attempts && (errors.Is(err, kubeapi.ErrAlreadyExists) || errors.Is(err, kubeapi.ErrConflict)) {
			continue
		}
		if err != nil {
			return err
		}
		details := slices.Concat([]any{"key", "ca.crt", "sha256", bumpca.Fingerprint(cert)}, why)
		level.Info(r.logger).Log(line(outcome, "configmap", name, api.Namespace(), details...)...)
		return nil
	}
}

// syncConfigMap is one round: read, then create or update if need be.
func (r *run) syncConfigMap(ctx context.Context, api *kubeapi.Client, name, certPEM string) (outcome string, why []any, err error) {
	cm, err := api.GetConfigMap(ctx, name)
	if errors.Is(err, kubeapi.ErrNotFound) {
		cm = kubeapi.ConfigMap{Name: name, Labels: r.c.Labels, Annotations: newAnnotations(), Data: map[string]string{"ca.crt": certPEM}}
		return "created", nil, api.CreateConfigMap(ctx, cm)
	}
	if err != nil {
		return "", nil, err
	}
	// Space aside: the chart's templates wrote the certificate trimmed.
	if strings.TrimSpace(cm.Data["ca.crt"]) != strings.TrimSpace(certPEM) {
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data["ca.crt"] = certPEM
		why = append(why, "why", "it held another certificate")
	}
	if release := releaseOf(cm.Annotations); release != "" {
		cm.Annotations = withKeep(cm.Annotations)
		why = append(why, "annotated", "helm.sh/resource-policy=keep", "release", release)
	}
	if why == nil {
		return "kept", nil, nil
	}
	return "updated", why, api.UpdateConfigMap(ctx, cm)
}
