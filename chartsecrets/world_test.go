package chartsecrets

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/squid-cache-exporter/squid-cache-exporter/bumpca"
	"github.com/squid-cache-exporter/squid-cache-exporter/kubeapi"
	"github.com/squid-cache-exporter/squid-cache-exporter/kubeapi/kubeapitest"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/pkitest"
)

const ns = "squid"

// day is the clock of every run here.
var day = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// world is an API server and a client of it.
type world struct {
	api *kubeapitest.Server
	c   *kubeapi.Client
}

func newWorld(t *testing.T) *world {
	t.Helper()
	s := kubeapitest.Start(t)
	c, err := kubeapi.New(s.Config(t, ns))
	if err != nil {
		t.Fatal(err)
	}
	return &world{api: s, c: c}
}

// config is what the chart's Job asks for by default.
func config() Config {
	return Config{
		CASecret:   "squid-cache-ca",
		CAGenerate: true,
		CA: bumpca.Options{CommonName: "squid-cache ssl-bump CA", PermittedDomains: []string{".quay.io", "registry.access.redhat.com"},
			Validity: 8760 * time.Hour, Now: func() time.Time { return day }},
		CAConfigMaps:   []string{"squid-cache-ca"},
		CachemgrSecret: "squid-cache-cachemgr",
		Labels:         map[string]string{"app.kubernetes.io/name": "squid-cache"},
	}
}

// run runs once and returns its log lines (logfmt, without time and
// caller) and the requests it made.
func (w *world) run(t *testing.T, c Config) ([]string, []kubeapitest.Request, error) {
	t.Helper()
	before := len(w.api.Requests())
	var buf bytes.Buffer
	err := Run(context.Background(), w.c, c, log.NewLogfmtLogger(&buf))
	return strings.Split(strings.TrimSpace(buf.String()), "\n"), w.api.Requests()[before:], err
}

// secret is a stored Secret's type, labels, annotations and data.
func (w *world) secret(t *testing.T, name string) storedObject {
	t.Helper()
	return w.object(t, "secrets", name)
}

func (w *world) configMap(t *testing.T, name string) storedObject {
	t.Helper()
	return w.object(t, "configmaps", name)
}

type storedObject struct {
	Metadata struct {
		Labels          map[string]string `json:"labels"`
		Annotations     map[string]string `json:"annotations"`
		ResourceVersion string            `json:"resourceVersion"`
	} `json:"metadata"`
	Type       string            `json:"type"`
	SecretData map[string][]byte `json:"-"`
	Data       map[string]string `json:"data"`
}

func (w *world) object(t *testing.T, resource, name string) storedObject {
	t.Helper()
	raw := w.api.Object(ns, resource, name)
	if raw == nil {
		t.Fatalf("no %s %s", resource, name)
	}
	var o storedObject
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatal(err)
	}
	if resource == "secrets" {
		o.SecretData = w.api.SecretData(ns, name)
	}
	return o
}

// putSecret stores a Secret as someone else made it.
func (w *world) putSecret(t *testing.T, name, typ string, annotations map[string]string, data map[string][]byte) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Secret", "type": typ,
		"metadata": map[string]any{"name": name, "annotations": annotations}, "data": data})
	if err != nil {
		t.Fatal(err)
	}
	w.api.Put(ns, "secrets", b)
}

func (w *world) putConfigMap(t *testing.T, name string, annotations, data map[string]string) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "annotations": annotations}, "data": data})
	if err != nil {
		t.Fatal(err)
	}
	w.api.Put(ns, "configmaps", b)
}

// newCA is a CA as the Job makes it, for domains.
func newCA(t *testing.T, domains ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	certPEM, keyPEM, err := bumpca.New(bumpca.Options{CommonName: "other CA", PermittedDomains: domains, Validity: 8760 * time.Hour,
		Now: func() time.Time { return day }})
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, keyPEM
}

// fingerprint of a PEM certificate.
func fingerprint(t *testing.T, certPEM []byte) string {
	t.Helper()
	c, err := bumpca.ParseCertificate(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	return bumpca.Fingerprint(c)
}

// writes are the requests that change something.
func writes(reqs []kubeapitest.Request) []string {
	var out []string
	for _, r := range reqs {
		if r.Method != "GET" {
			out = append(out, r.Method+" "+r.Resource+"/"+r.Name)
		}
	}
	return out
}

func checkLines(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("log\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// helmGenCA is a CA as the chart's genCA made it before this Job, a year
// before the test's day.
func helmGenCA(t *testing.T) (certPEM, keyPEM []byte) {
	return pkitest.HelmGenCA(t, day.AddDate(-1, 0, 0))
}
