package kubeapi

import (
	"context"
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
	ResourceVersion string // set by the API server
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
	var s secretJSON
	err := c.do(ctx, "get", object{"secrets", "secret", name}, nil, func(b []byte) error {
		_, err := decode(b, &s)
		return err
	})
	if err != nil {
		return Secret{}, err
	}
	return Secret{Name: s.Metadata.Name, Type: s.Type, Labels: s.Metadata.Labels, Annotations: s.Metadata.Annotations,
		Data: s.Data, ResourceVersion: s.Metadata.ResourceVersion}, nil
}

// CreateSecret creates s; one that exists already is an error that Is
// ErrAlreadyExists.
func (c *Client) CreateSecret(ctx context.Context, s Secret) error {
	body, err := encode(nil, "Secret", meta{Name: s.Name, Labels: s.Labels, Annotations: s.Annotations},
		map[string]any{"type": s.Type, "data": s.Data})
	if err != nil {
		return err
	}
	return c.do(ctx, "create", object{"secrets", "secret", s.Name}, body, func([]byte) error { return nil })
}
