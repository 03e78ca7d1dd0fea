package kubeapi

import (
	"context"
	"encoding/json"
)

// AnnotateSecret sets annotations on a Secret with a JSON merge patch of
// its metadata: no data goes over the wire, and no resourceVersion is
// needed, since nothing else of the object is touched. It needs RBAC's
// patch verb.
func (c *Client) AnnotateSecret(ctx context.Context, name string, annotations map[string]string) error {
	return c.annotate(ctx, object{"secrets", "secret", name}, annotations)
}

// AnnotateConfigMap is AnnotateSecret for a ConfigMap.
func (c *Client) AnnotateConfigMap(ctx context.Context, name string, annotations map[string]string) error {
	return c.annotate(ctx, object{"configmaps", "configmap", name}, annotations)
}

func (c *Client) annotate(ctx context.Context, o object, annotations map[string]string) error {
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": annotations}})
	if err != nil {
		return err
	}
	return c.do(ctx, "patch", o, body, func([]byte) error { return nil })
}
