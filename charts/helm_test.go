package charts

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const (
	chartDir = "squid-cache"
	// kubeVersion renders as the cluster of make test-k8s; a helm built
	// without version ldflags would otherwise claim Kubernetes 1.20, which
	// the chart's kubeVersion refuses.
	kubeVersion = "1.31.4"
	// helmVersion is the helm that make test-deps installs and the cluster
	// tool builds.
	helmVersion = "v3.16.3"
)

// helmBinary finds helm: $HELM, PATH, the cluster tool's cache, GOPATH/bin.
// Without one the test fails under CI and skips on a workstation.
func helmBinary(t testing.TB) string {
	t.Helper()
	candidates := []string{os.Getenv("HELM")}
	if p, err := exec.LookPath("helm"); err == nil {
		candidates = append(candidates, p)
	}
	candidates = append(candidates, "/var/cache/sce-k8s/helm-"+helmVersion+"/helm")
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		candidates = append(candidates, filepath.Join(strings.TrimSpace(string(gopath)), "bin", "helm"))
	}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	msg := "helm not found: make test-deps installs helm " + helmVersion
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg + "; CI=true makes this a failure")
	return ""
}

// release is the name the tests render the chart as.
const release = "cache"

// render runs helm template with the values files and --set-json pairs and
// returns the objects, or the error output.
func render(t testing.TB, files []string, sets map[string]any, extra ...string) (string, error) {
	t.Helper()
	// Every render starts from ci/default-values.yaml: the defaults, with
	// the proxy's clients that an install must name.
	args := []string{"template", release, chartDir, "--namespace", "proxy", "--kube-version", kubeVersion, "-f", defaultValues}
	for _, f := range files {
		args = append(args, "-f", f)
	}
	if len(sets) > 0 {
		// Not t.TempDir: helm splits -f at commas, which subtest names hold.
		dir, err := os.MkdirTemp("", "chart-values")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		b, err := yaml.Marshal(nest(sets))
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, "set.yaml")
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-f", f)
	}
	args = append(args, extra...)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(helmBinary(t), args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

func mustRender(t testing.TB, files []string, sets map[string]any, extra ...string) string {
	t.Helper()
	out, err := render(t, files, sets, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// nest turns {"a.b": 1} into {"a": {"b": 1}}.
func nest(flat map[string]any) map[string]any {
	root := map[string]any{}
	for path, v := range flat {
		m := root
		parts := strings.Split(path, ".")
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = v
	}
	return root
}

// object is one rendered Kubernetes object.
type object map[string]any

func (o object) kind() string { s, _ := o["kind"].(string); return s }
func (o object) name() string {
	s, _ := o.get("metadata", "name").(string)
	return s
}

// get walks maps by keys.
func (o object) get(keys ...string) any {
	var v any = map[string]any(o)
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func objects(t testing.TB, manifest string) []object {
	t.Helper()
	var out []object
	dec := yaml.NewDecoder(strings.NewReader(manifest))
	for {
		var o map[string]any // not object: yaml.v3 would decode nested maps as objects too
		if err := dec.Decode(&o); err != nil {
			if err.Error() == "EOF" {
				return out
			}
			t.Fatalf("rendered YAML: %v", err)
		}
		if o != nil {
			out = append(out, object(o))
		}
	}
}

// find returns the object of kind whose name ends in suffix.
func find(t testing.TB, objs []object, kind, suffix string) object {
	t.Helper()
	for _, o := range objs {
		if o.kind() == kind && strings.HasSuffix(o.name(), suffix) {
			return o
		}
	}
	t.Fatalf("no %s named *%s rendered", kind, suffix)
	return nil
}

func has(objs []object, kind string) bool {
	for _, o := range objs {
		if o.kind() == kind {
			return true
		}
	}
	return false
}

// configData returns a key of the chart's main ConfigMap.
func configData(t testing.TB, objs []object, key string) string {
	t.Helper()
	for _, o := range objs {
		if o.kind() == "ConfigMap" && o.name() == release+"-squid-cache" {
			s, ok := o.get("data", key).(string)
			if !ok {
				t.Fatalf("ConfigMap has no %s", key)
			}
			return s
		}
	}
	t.Fatal("no main ConfigMap rendered")
	return ""
}

// random matches what changes on every render: generated keys, certificates
// and passwords.
var random = regexp.MustCompile(`(?m)^(\s+(tls\.crt|tls\.key|ca\.crt|password): )\S+$|-----BEGIN [A-Z ]+-----[\s\S]*?-----END [A-Z ]+-----`)

func stable(manifest string) string { return random.ReplaceAllString(manifest, "${1}RANDOM") }

var allFeatures = []string{"squid-cache/ci/all-features-values.yaml"}

const defaultValues = "squid-cache/ci/default-values.yaml"
