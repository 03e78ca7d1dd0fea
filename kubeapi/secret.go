package kubeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Secret is a core/v1 Secret, as far as this package needs one.
type Secret struct {
	Name            string
	Type            string // kubernetes.io/tls, Opaque
	Labels          map[string]string
	Annotations     map[string]string
	Data            map[string][]byte
	ResourceVersion string // as read: an update with a stale one Is ErrConflict

	raw map[string]json.RawMessage // as read, for UpdateSecret to keep the rest; never printed
}

// String names the Secret and its keys, never its data: a Secret that
// reaches a log line by mistake leaks nothing.
func (s Secret) String() string {
	keys := make([]string, 0, len(s.Data))
	for k := range s.Data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return fmt.Sprintf("Secret %s (%s; keys %s)", s.Name, s.Type, strings.Join(keys, ", "))
}

// GoString is String, for %#v.
func (s Secret) GoString() string { return s.String() }

// secretJSON is a Secret on the wire; []byte is base64 in JSON, as the
// API wants data.
type secretJSON struct {
	Metadata meta              `json:"metadata"`
	Type     string            `json:"type"`
	Data     map[string][]byte `json:"data"`
}

// GetSecret reads a Secret; a missing one is an error that Is ErrNotFound.
func (c *Client) GetSecret(ctx context.Context, name string) (Secret, error) {
	var s Secret
	err := c.do(ctx, "get", object{"secrets", "secret", name}, nil, func(b []byte) error {
		var typed secretJSON
		raw, err := decode(b, &typed)
		s = Secret{Name: typed.Metadata.Name, Type: typed.Type, Labels: typed.Metadata.Labels, Annotations: typed.Metadata.Annotations,
			Data: typed.Data, ResourceVersion: typed.Metadata.ResourceVersion, raw: raw}
		return err
	})
	if err != nil {
		return Secret{}, err
	}
	return s, nil
}

// CreateSecret creates s; one that exists already is an error that Is
// ErrAlreadyExists.
func (c *Client) CreateSecret(ctx context.Context, s Secret) error {
	s.ResourceVersion, s.raw = "", nil
	return c.sendSecret(ctx, "create", s)
}

// UpdateSecret replaces s, as read by GetSecret and changed, on the
// condition that nobody changed it since (its ResourceVersion). The fields
// Secret does not hold (immutable, ownerReferences, finalizers) are sent
// back as they were read; Data replaces the data whole. It needs RBAC's
// update verb.
func (c *Client) UpdateSecret(ctx context.Context, s Secret) error {
	return c.sendSecret(ctx, "update", s)
}

func (c *Client) sendSecret(ctx context.Context, verb string, s Secret) error {
	body, err := encode(s.raw, "Secret",
		meta{Name: s.Name, Labels: s.Labels, Annotations: s.Annotations, ResourceVersion: s.ResourceVersion},
		map[string]any{"type": s.Type, "data": s.Data})
	if err != nil {
		return err
	}
	return c.do(ctx, verb, object{"secrets", "secret", s.Name}, body, func([]byte) error { return nil })
}
