package kubeapi_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/kubeapi"
	"github.com/squid-cache-exporter/squid-cache-exporter/kubeapi/kubeapitest"
)

const ns = "squid"

func client(t *testing.T, s *kubeapitest.Server) *kubeapi.Client {
	t.Helper()
	c, err := kubeapi.New(s.Config(t, ns))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// What goes over the wire: the paths, methods, token and JSON the API
// server wants, Secret data in base64.
func TestRequestsOnTheWire(t *testing.T) {
	s := kubeapitest.Start(t)
	c := client(t, s)
	ctx := context.Background()
	secret := kubeapi.Secret{Name: "ca", Type: "kubernetes.io/tls", Labels: map[string]string{"app": "squid"},
		Annotations: map[string]string{"helm.sh/resource-policy": "keep"}, Data: map[string][]byte{"tls.crt": []byte("CERT")}}
	if err := c.CreateSecret(ctx, secret); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetSecret(ctx, "ca")
	if err != nil {
		t.Fatal(err)
	}
	if got.ResourceVersion == "" || string(got.Data["tls.crt"]) != "CERT" || got.Type != secret.Type ||
		!reflect.DeepEqual(got.Labels, secret.Labels) || !reflect.DeepEqual(got.Annotations, secret.Annotations) {
		t.Errorf("read back %#v", got)
	}
	cm := kubeapi.ConfigMap{Name: "ca", Data: map[string]string{"ca.crt": "CERT"}}
	if err := c.CreateConfigMap(ctx, cm); err != nil {
		t.Fatal(err)
	}
	cm, err = c.GetConfigMap(ctx, "ca")
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["ca.crt"] = "NEW"
	if err := c.UpdateConfigMap(ctx, cm); err != nil {
		t.Fatal(err)
	}
	if err := c.AnnotateSecret(ctx, "ca", map[string]string{"helm.sh/resource-policy": "keep"}); err != nil {
		t.Fatal(err)
	}
	if data := s.SecretData(ns, "ca"); string(data["tls.crt"]) != "CERT" {
		t.Errorf("annotating changed the data: %q", data)
	}
	want := []struct{ method, path, body string }{
		{"POST", "/api/v1/namespaces/squid/secrets", `{"apiVersion":"v1","data":{"tls.crt":"Q0VSVA=="},"kind":"Secret",` +
			`"metadata":{"annotations":{"helm.sh/resource-policy":"keep"},"labels":{"app":"squid"},"name":"ca"},"type":"kubernetes.io/tls"}`},
		{"GET", "/api/v1/namespaces/squid/secrets/ca", ""},
		{"POST", "/api/v1/namespaces/squid/configmaps", `{"apiVersion":"v1","data":{"ca.crt":"CERT"},"kind":"ConfigMap","metadata":{"name":"ca"}}`},
		{"GET", "/api/v1/namespaces/squid/configmaps/ca", ""},
		{"PUT", "/api/v1/namespaces/squid/configmaps/ca", `{"apiVersion":"v1","data":{"ca.crt":"NEW"},"kind":"ConfigMap",` +
			`"metadata":{"name":"ca","namespace":"squid","resourceVersion":"` + cm.ResourceVersion + `"}}`},
		{"PATCH", "/api/v1/namespaces/squid/secrets/ca", `{"metadata":{"annotations":{"helm.sh/resource-policy":"keep"}}}`},
	}
	reqs := s.Requests()
	if len(reqs) != len(want) {
		t.Fatalf("%d requests, want %d", len(reqs), len(want))
	}
	for i, w := range want {
		r := reqs[i]
		if r.Method != w.method || r.Path != w.path || string(r.Body) != w.body {
			t.Errorf("request %d: %s %s %s\nwant %s %s %s", i, r.Method, r.Path, r.Body, w.method, w.path, w.body)
		}
		if r.Authorization != "Bearer "+kubeapitest.Token {
			t.Errorf("request %d: Authorization %q", i, r.Authorization)
		}
		wantType := map[string]string{"POST": "application/json", "PUT": "application/json", "PATCH": "application/merge-patch+json"}[w.method]
		if r.ContentType != wantType {
			t.Errorf("request %d: Content-Type %q, want %q", i, r.ContentType, wantType)
		}
	}
}

// Each failure Is the error a caller tests for, and says which object,
// which status, and the API server's message: never Secret data.
func TestErrors(t *testing.T) {
	s := kubeapitest.Start(t)
	c := client(t, s)
	ctx := context.Background()
	s.Put(ns, "secrets", []byte(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"taken"}}`))
	rv := s.Put(ns, "configmaps", []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"}}`))
	s.Put(ns, "configmaps", []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"}}`)) // someone else's write
	secret := func(name string) kubeapi.Secret {
		return kubeapi.Secret{Name: name, Type: "Opaque", Data: map[string][]byte{"password": []byte("s3cr3t-pa55word")}}
	}
	for _, tc := range []struct {
		name   string
		forbid string // "verb resource"
		call   func() error
		is     error
		msg    string
	}{
		{"missing", "", func() error { _, err := c.GetSecret(ctx, "nope"); return err }, kubeapi.ErrNotFound,
			`get secret squid/nope: 404 Not Found: secrets "nope" not found`},
		{"taken", "", func() error { return c.CreateSecret(ctx, secret("taken")) }, kubeapi.ErrAlreadyExists,
			`create secret squid/taken: 409 Conflict: secrets "taken" already exists`},
		{"stale", "", func() error {
			return c.UpdateConfigMap(ctx, kubeapi.ConfigMap{Name: "cm", ResourceVersion: rv})
		}, kubeapi.ErrConflict, `update configmap squid/cm: 409 Conflict: Operation cannot be fulfilled on configmaps "cm": ` +
			`the object has been modified; please apply your changes to the latest version and try again`},
		{"update of a missing one", "", func() error { return c.UpdateConfigMap(ctx, kubeapi.ConfigMap{Name: "gone"}) },
			kubeapi.ErrNotFound, `update configmap squid/gone: 404 Not Found: configmaps "gone" not found`},
		{"update of a missing Secret", "", func() error { return c.UpdateSecret(ctx, secret("gone")) },
			kubeapi.ErrNotFound, `update secret squid/gone: 404 Not Found: secrets "gone" not found`},
		{"update forbidden", "update secrets", func() error { return c.UpdateSecret(ctx, secret("taken")) }, kubeapi.ErrForbidden,
			`update secret squid/taken: 403 Forbidden: secrets "taken" is forbidden: User "system:serviceaccount:squid:test" ` +
				`cannot update resource "secrets" in API group "" in the namespace "squid"`},
		{"forbidden", "create secrets", func() error { return c.CreateSecret(ctx, secret("new")) }, kubeapi.ErrForbidden,
			`create secret squid/new: 403 Forbidden: secrets "new" is forbidden: User "system:serviceaccount:squid:test" ` +
				`cannot create resource "secrets" in API group "" in the namespace "squid"`},
		{"no name", "", func() error { return c.CreateSecret(ctx, secret("")) }, nil, "create secret squid/: no name"},
		{"another namespace", "", func() error { _, err := c.In("cert-manager").GetConfigMap(ctx, "cm"); return err }, kubeapi.ErrNotFound,
			`get configmap cert-manager/cm: 404 Not Found: configmaps "cm" not found`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.forbid != "" {
				verb, res, _ := strings.Cut(tc.forbid, " ")
				s.Forbid(verb, res)
			}
			err := tc.call()
			if err == nil || err.Error() != tc.msg {
				t.Fatalf("err %v\nwant %s", err, tc.msg)
			}
			for _, e := range []error{kubeapi.ErrNotFound, kubeapi.ErrAlreadyExists, kubeapi.ErrConflict, kubeapi.ErrForbidden} {
				if errors.Is(err, e) != (e == tc.is) {
					t.Errorf("errors.Is(err, %v) = %v", e, !(e == tc.is))
				}
			}
			if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "czNjcjN0") {
				t.Errorf("the error quotes Secret data: %v", err)
			}
		})
	}
}

// A PUT replaces the object: what ConfigMap does not hold must go back as
// it came, or an update would drop others' binaryData, owners, labels.
func TestUpdateKeepsWhatItDoesNotKnow(t *testing.T) {
	s := kubeapitest.Start(t)
	c := client(t, s)
	ctx := context.Background()
	s.Put(ns, "configmaps", []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ca","labels":{"team":"x"},`+
		`"ownerReferences":[{"kind":"Deployment","name":"d"}],"finalizers":["f"]},"data":{"ca.crt":"OLD","other":"kept"},"binaryData":{"b":"AAE="}}`))
	cm, err := c.GetConfigMap(ctx, "ca")
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["ca.crt"] = "NEW"
	if err := c.UpdateConfigMap(ctx, cm); err != nil {
		t.Fatal(err)
	}
	var stored struct {
		Metadata struct {
			Labels          map[string]string `json:"labels"`
			OwnerReferences []any             `json:"ownerReferences"`
			Finalizers      []string          `json:"finalizers"`
		} `json:"metadata"`
		Data       map[string]string `json:"data"`
		BinaryData map[string]string `json:"binaryData"`
	}
	if err := json.Unmarshal(s.Object(ns, "configmaps", "ca"), &stored); err != nil {
		t.Fatal(err)
	}
	if stored.Data["ca.crt"] != "NEW" || stored.Data["other"] != "kept" || stored.BinaryData["b"] != "AAE=" ||
		stored.Metadata.Labels["team"] != "x" || len(stored.Metadata.OwnerReferences) != 1 || len(stored.Metadata.Finalizers) != 1 {
		t.Errorf("stored %s", s.Object(ns, "configmaps", "ca"))
	}
}

// UpdateSecret is a PUT to the Secret's own path, with the resourceVersion
// read, the data it is given in base64 and nothing of the old data, and
// what Secret does not hold sent back as it came.
func TestUpdateSecretOnTheWire(t *testing.T) {
	s := kubeapitest.Start(t)
	c := client(t, s)
	ctx := context.Background()
	s.Put(ns, "secrets", []byte(`{"apiVersion":"v1","kind":"Secret","type":"kubernetes.io/tls","immutable":false,`+
		`"metadata":{"name":"ca","labels":{"team":"x"},"annotations":{"note":"mine"},"ownerReferences":[{"kind":"Deployment","name":"d"}],`+
		`"finalizers":["f"]},"data":{"tls.crt":"T0xE","tls.key":"b2xkLWtleQ=="}}`))
	sec, err := c.GetSecret(ctx, "ca")
	if err != nil {
		t.Fatal(err)
	}
	sec.Data = map[string][]byte{"tls.crt": []byte("NEW"), "tls.key": []byte("new-key")}
	sec.Annotations["squid-cache.io/ca-rotation"] = "a"
	if err := c.UpdateSecret(ctx, sec); err != nil {
		t.Fatal(err)
	}
	put := s.Requests()[1]
	want := `{"apiVersion":"v1","data":{"tls.crt":"TkVX","tls.key":"bmV3LWtleQ=="},"immutable":false,"kind":"Secret",` +
		`"metadata":{"annotations":{"note":"mine","squid-cache.io/ca-rotation":"a"},"finalizers":["f"],"labels":{"team":"x"},` +
		`"name":"ca","namespace":"squid","ownerReferences":[{"kind":"Deployment","name":"d"}],"resourceVersion":"` +
		sec.ResourceVersion + `"},"type":"kubernetes.io/tls"}`
	if put.Method != "PUT" || put.Path != "/api/v1/namespaces/squid/secrets/ca" || put.ContentType != "application/json" || string(put.Body) != want {
		t.Errorf("%s %s (%s) %s\nwant PUT /api/v1/namespaces/squid/secrets/ca (application/json) %s", put.Method, put.Path, put.ContentType, put.Body, want)
	}
	if data := s.SecretData(ns, "ca"); string(data["tls.key"]) != "new-key" || len(data) != 2 {
		t.Errorf("stored data %q", data)
	}
	sec.Data["tls.key"] = []byte("another")
	if err := c.UpdateSecret(ctx, sec); !errors.Is(err, kubeapi.ErrConflict) {
		t.Errorf("an update with the resourceVersion of before: %v, want a conflict", err)
	}
}

// The kubelet rotates the token file; each request reads it afresh.
func TestTokenReadPerRequest(t *testing.T) {
	s := kubeapitest.Start(t)
	cfg := s.Config(t, ns)
	c, err := kubeapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetSecret(context.Background(), "x"); !errors.Is(err, kubeapi.ErrNotFound) {
		t.Fatalf("with the token: %v", err)
	}
	if err := os.WriteFile(cfg.TokenFile, []byte("rotated"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetSecret(context.Background(), "x")
	if got := s.Requests()[1].Authorization; got != "Bearer rotated" {
		t.Errorf("second request's Authorization %q (err %v)", got, err)
	}
	if err == nil || err.Error() != "get secret squid/x: 401 Unauthorized: Unauthorized" {
		t.Errorf("err %v", err)
	}
	os.Remove(cfg.TokenFile)
	if _, err := c.GetSecret(context.Background(), "x"); err == nil || !strings.Contains(err.Error(), "get secret squid/x: service account token: open ") {
		t.Errorf("without a token file: %v", err)
	}
}

// Something other than the API server answered: the error says what, and
// does not repeat a body nobody vetted.
func TestAnswerThatIsNoStatus(t *testing.T) {
	proxy := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, "<html>upstream said: password=s3cr3t</html>")
	}))
	defer proxy.Close()
	s := kubeapitest.Start(t)
	cfg := s.Config(t, ns)
	cfg.Server = proxy.URL
	c := newWithCA(t, cfg, proxy)
	_, err := c.GetSecret(context.Background(), "x")
	if err == nil || err.Error() != "get secret squid/x: 502 Bad Gateway: no Status in the answer (43 bytes of text/html)" {
		t.Fatalf("err %v", err)
	}
}

// An API server that hangs fails the call within the timeout.
func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	hung := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer hung.Close()
	defer close(release)
	s := kubeapitest.Start(t)
	cfg := s.Config(t, ns)
	cfg.Server, cfg.Timeout = hung.URL, 100*time.Millisecond
	c := newWithCA(t, cfg, hung)
	start := time.Now()
	_, err := c.GetSecret(context.Background(), "x")
	if err == nil || !strings.Contains(err.Error(), "Client.Timeout exceeded") || time.Since(start) > 5*time.Second {
		t.Fatalf("after %v: %v", time.Since(start), err)
	}
}

// A Secret printed by mistake shows its keys, not its data: neither the
// data it holds nor the object as read, which an update sends back.
func TestSecretPrintsNoData(t *testing.T) {
	s := kubeapitest.Start(t)
	s.Put(ns, "secrets", []byte(`{"apiVersion":"v1","kind":"Secret","type":"Opaque","metadata":{"name":"cachemgr"},`+
		`"data":{"password":"czNjcjN0","a":""}}`))
	read, err := client(t, s).GetSecret(context.Background(), "cachemgr")
	if err != nil {
		t.Fatal(err)
	}
	made := kubeapi.Secret{Name: "cachemgr", Type: "Opaque", Data: map[string][]byte{"password": []byte("s3cr3t"), "a": nil}}
	for _, sec := range []kubeapi.Secret{made, read} {
		for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			for _, v := range []any{sec, &sec, []kubeapi.Secret{sec}, struct{ S kubeapi.Secret }{sec}} {
				out := fmt.Sprintf(format, v)
				if strings.Contains(out, "s3cr3t") || strings.Contains(out, "733363723374") || strings.Contains(out, "czNjcjN0") {
					t.Errorf("%s of %T: %s", format, v, out)
				}
			}
		}
		if got := sec.String(); got != "Secret cachemgr (Opaque; keys a, password)" {
			t.Errorf("String() = %q", got)
		}
	}
}

// newWithCA is a client of cfg that trusts srv's certificate.
func newWithCA(t *testing.T, cfg kubeapi.Config, srv *httptest.Server) *kubeapi.Client {
	t.Helper()
	ca := t.TempDir() + "/ca.crt"
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.CAFile = ca
	c, err := kubeapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
