package kubeapi

import "encoding/json"

// meta is the part of an object's metadata this package reads and writes.
type meta struct {
	Name            string            `json:"name"`
	Labels          map[string]string `json:"labels,omitempty"`
	Annotations     map[string]string `json:"annotations,omitempty"`
	ResourceVersion string            `json:"resourceVersion,omitempty"`
}

// encode writes an object of kind: the fields this package knows (m and
// fields) over raw, the object as it was read. An update is a PUT, which
// replaces the object; what raw carries (binaryData, ownerReferences,
// finalizers, labels set by others) thus survives it. A nil field is left
// out.
func encode(raw map[string]json.RawMessage, kind string, m meta, fields map[string]any) ([]byte, error) {
	obj := map[string]any{}
	for k, v := range raw {
		obj[k] = v
	}
	md := map[string]any{}
	if r, ok := raw["metadata"]; ok {
		var read map[string]json.RawMessage
		if err := json.Unmarshal(r, &read); err != nil {
			return nil, err
		}
		for k, v := range read {
			md[k] = v
		}
	}
	set(md, "name", m.Name)
	set(md, "labels", m.Labels)
	set(md, "annotations", m.Annotations)
	set(md, "resourceVersion", m.ResourceVersion)
	obj["apiVersion"], obj["kind"], obj["metadata"] = "v1", kind, md
	for k, v := range fields {
		set(obj, k, v)
	}
	return json.Marshal(obj)
}

// set puts v at k, or removes k for an empty v.
func set(m map[string]any, k string, v any) {
	var empty bool
	switch v := v.(type) {
	case string:
		empty = v == ""
	case map[string]string:
		empty = len(v) == 0
	case map[string][]byte:
		empty = len(v) == 0
	}
	if empty {
		delete(m, k)
		return
	}
	m[k] = v
}

// decode reads an object into typed (a struct with json tags) and returns
// it raw as well, for encode.
func decode(body []byte, typed any) (map[string]json.RawMessage, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, err
	}
	return raw, json.Unmarshal(body, typed)
}
