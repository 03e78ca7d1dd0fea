package kubeapi

import (
	"context"
	"encoding/json"
)

// ConfigMap is a core/v1 ConfigMap, as far as this package needs one.
type ConfigMap struct {
	Name            string
	Labels          map[string]string
	Annotations     map[string]string
	Data            map[string]string
	ResourceVersion string // as read: an update with a stale one Is ErrConflict

	raw map[string]json.RawMessage // as read, for UpdateConfigMap to keep the rest
}

type configMapJSON struct {
	Metadata meta              `json:"metadata"`
	Data     map[string]string `json:"data"`
}

// GetConfigMap reads a ConfigMap; a missing one is an error that Is
// ErrNotFound.
func (c *Client) GetConfigMap(ctx context.Context, name string) (ConfigMap, error) {
	var cm ConfigMap
	err := c.do(ctx, "get", object{"configmaps", "configmap", name}, nil, func(b []byte) error {
		var typed configMapJSON
		raw, err := decode(b, &typed)
		cm = ConfigMap{Name: typed.Metadata.Name, Labels: typed.Metadata.Labels, Annotations: typed.Metadata.Annotations,
			Data: typed.Data, ResourceVersion: typed.Metadata.ResourceVersion, raw: raw}
		return err
	})
	return cm, err
}

// CreateConfigMap creates cm; one that exists already is an error that Is
// ErrAlreadyExists.
func (c *Client) CreateConfigMap(ctx context.Context, cm ConfigMap) error {
	cm.ResourceVersion, cm.raw = "", nil
	return c.sendConfigMap(ctx, "create", cm)
}

// UpdateConfigMap replaces cm, as read by GetConfigMap and changed, on
// the condition that nobody changed it since (its ResourceVersion). The
// fields ConfigMap does not hold are sent back as they were read.
func (c *Client) UpdateConfigMap(ctx context.Context, cm ConfigMap) error {
	return c.sendConfigMap(ctx, "update", cm)
}

func (c *Client) sendConfigMap(ctx context.Context, verb string, cm ConfigMap) error {
	body, err := encode(cm.raw, "ConfigMap",
		meta{Name: cm.Name, Labels: cm.Labels, Annotations: cm.Annotations, ResourceVersion: cm.ResourceVersion},
		map[string]any{"data": cm.Data})
	if err != nil {
		return err
	}
	return c.do(ctx, verb, object{"configmaps", "configmap", cm.Name}, body, func([]byte) error { return nil })
}
