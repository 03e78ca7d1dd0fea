package charts

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite the values table in squid-cache/README.md")

// value is one documented entry of values.yaml: a key whose head comment
// starts with "# --" (helm-docs style), with its default.
type value struct {
	path, kind, description string
	def                     any
}

// documentedValues reads values.yaml. A key without a "# --" comment must
// be a map of documented keys; anything else is an error, so that every
// value is in the README.
func documentedValues(t testing.TB) []value {
	t.Helper()
	b, err := os.ReadFile(chartDir + "/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var out []value
	var walk func(prefix string, m *yaml.Node)
	walk = func(prefix string, m *yaml.Node) {
		for i := 0; i < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			path := prefix + k.Value
			var desc string
			for _, line := range strings.Split(k.HeadComment, "\n") {
				if d, ok := strings.CutPrefix(line, "# -- "); ok {
					desc = d
				} else if desc != "" {
					desc += " " + strings.TrimPrefix(strings.TrimPrefix(line, "#"), " ")
				}
			}
			if desc == "" {
				if v.Kind != yaml.MappingNode || len(v.Content) == 0 {
					t.Errorf("values.yaml: %s has no \"# -- description\" comment", path)
					continue
				}
				walk(path+".", v)
				continue
			}
			var def any
			if err := v.Decode(&def); err != nil {
				t.Fatal(err)
			}
			out = append(out, value{path: path, kind: kindOf(v), description: desc, def: def})
		}
	}
	walk("", doc.Content[0])
	return out
}

func kindOf(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "object"
	case n.Kind == yaml.SequenceNode:
		return "list"
	case n.Tag == "!!bool":
		return "bool"
	case n.Tag == "!!int":
		return "int"
	}
	return "string"
}

func (v value) defaultJSON() string {
	b, _ := json.Marshal(v.def)
	return string(b)
}

// valuesTable is the README's table of values.
func valuesTable(values []value) string {
	var b strings.Builder
	b.WriteString("| Key | Type | Default | Description |\n|---|---|---|---|\n")
	for _, v := range values {
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s |\n", v.path, v.kind, strings.ReplaceAll(v.defaultJSON(), "|", `\|`),
			strings.ReplaceAll(v.description, "|", `\|`))
	}
	return b.String()
}

const (
	tableBegin = "<!-- values table: generated from values.yaml by `go test ./charts -update` -->\n"
	tableEnd   = "<!-- end of values table -->\n"
)

func TestREADMEValuesTableIsValuesYAML(t *testing.T) {
	path := chartDir + "/README.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start, end := strings.Index(readme, tableBegin), strings.Index(readme, tableEnd)
	if start < 0 || end < start {
		t.Fatalf("%s: no values table between %q and %q", path, tableBegin, tableEnd)
	}
	want := readme[:start+len(tableBegin)] + valuesTable(documentedValues(t)) + readme[end:]
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want != readme {
		t.Errorf("%s: the values table differs from values.yaml; run go test ./charts -update", path)
	}
}

// changed holds, for values whose default leaves nothing to flip, a valid
// other value; the rest are flipped (bool), incremented (int) or set to a
// sentinel (free string).
var changed = map[string]any{
	"squid.enabled":                        true, // the existing-Squid base has it false
	"commonLabels":                         map[string]any{"team": "x"},
	"image.digest":                         "sha256:" + strings.Repeat("ab", 32),
	"image.pullPolicy":                     "Always",
	"imagePullSecrets":                     []any{"regcred2"},
	"serviceAccount.annotations":           map[string]any{"a": "b"},
	"podAnnotations":                       map[string]any{"a": "b"},
	"podLabels":                            map[string]any{"a": "b"},
	"podSecurityContext":                   map[string]any{"runAsNonRoot": true, "runAsUser": 1000},
	"containerSecurityContext":             map[string]any{"readOnlyRootFilesystem": true, "runAsNonRoot": true},
	"nodeSelector":                         map[string]any{"a": "b"},
	"tolerations":                          []any{map[string]any{"key": "a", "operator": "Exists"}},
	"affinity":                             map[string]any{"podAffinity": map[string]any{}},
	"podAntiAffinity":                      "none",
	"topologySpreadConstraints":            []any{map[string]any{"maxSkew": 2, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"}},
	"hostAliases":                          []any{map[string]any{"ip": "10.0.0.1", "hostnames": []any{"a.example"}}},
	"updateStrategy":                       map[string]any{"type": "OnDelete"},
	"podManagementPolicy":                  "OrderedReady",
	"squid.resources":                      map[string]any{"limits": map[string]any{"memory": "3Gi"}},
	"squid.cacheMem":                       "128 MB",
	"squid.maximumObjectSizeInMemory":      "8 MB",
	"squid.maximumObjectSize":              "3 GB",
	"squid.cacheDir.medium":                "Memory", // fits the existing-CA base's small cache_dir
	"squid.workers":                        3,
	"squid.cacheDir.type":                  "aufs",
	"squid.cacheDir.resetToken":            "42",
	"squid.persistence.accessModes":        []any{"ReadWriteMany"},
	"squid.persistence.size":               "6Gi",
	"squid.persistence.annotations":        map[string]any{"a": "b"},
	"squid.cachedDomains":                  []any{"quay.io"},
	"squid.cachedRegistries":               []any{"ghcr.io"},
	"squid.otherDomains":                   "deny",
	"squid.allowedClients":                 []any{"10.1.0.0/16"},
	"squid.upstreamCA.key":                 "other.pem",
	"squid.extraConfig":                    "forwarded_for delete",
	"ca.certManager.issuerRef":             map[string]any{"name": "x", "kind": "ClusterIssuer"},
	"privateBlobs.urlPatterns":             []any{"^https://cdn[.]example/.+$"},
	"privateBlobs.extraCDNDomains":         []any{`^cdn\.example$`},
	"privateBlobs.selfServingRegistries":   []any{"harbor.example.com", "registry.example.com:5000"},
	"privateBlobs.manifestsByDigest":       []any{"registry-1.docker.io"},
	"privateBlobs.icapResources":           map[string]any{"limits": map[string]any{"memory": "32Mi"}},
	"exporter.image.digest":                "sha256:" + strings.Repeat("cd", 32),
	"exporter.logLevel":                    "warn",
	"exporter.logFormat":                   "json",
	"existingSquid.address":                "http://other.proxy.svc:3128",
	"existingSquid.accessLogFrom":          []any{"10.9.0.0/16"},
	"exporter.registries":                  []any{"internal=registry.internal.example,*.cdn.internal.example"},
	"exporter.extraArgs":                   []any{"--squid.timeout=3s"},
	"exporter.resources":                   map[string]any{"limits": map[string]any{"memory": "99Mi"}},
	"probe.targets":                        []any{map[string]any{"name": "x", "blob": "quay.io/a/b@sha256:" + strings.Repeat("ef", 32)}},
	"probe.logWait":                        "7s",
	"probe.test.timeout":                   "1m",
	"probe.test.resources":                 map[string]any{"limits": map[string]any{"memory": "77Mi"}},
	"service.type":                         "NodePort",
	"service.annotations":                  map[string]any{"a": "b"},
	"serviceMonitor.additionalLabels":      map[string]any{"a": "b"},
	"serviceMonitor.interval":              "1m",
	"serviceMonitor.scrapeTimeout":         "20s",
	"serviceMonitor.relabelings":           []any{map[string]any{"targetLabel": "a", "replacement": "b"}},
	"serviceMonitor.metricRelabelings":     []any{map[string]any{"targetLabel": "c", "replacement": "d"}},
	"prometheusRule.additionalLabels":      map[string]any{"a": "b"},
	"dashboard.labels":                     map[string]any{"grafana_dashboard": "2"},
	"networkPolicy.proxyFrom":              []any{map[string]any{"podSelector": map[string]any{}}},
	"networkPolicy.metricsFrom":            []any{map[string]any{"podSelector": map[string]any{"matchLabels": map[string]any{"x": "y"}}}},
	"networkPolicy.egress":                 []any{map[string]any{"ports": []any{map[string]any{"port": 8443}}}},
	"podDisruptionBudget.maxUnavailable":   2,
	"squid.persistence.storageClassName":   "fast",
	"serviceMonitor.namespace":             "monitoring",
	"prometheusRule.namespace":             "monitoring",
	"dashboard.namespace":                  "grafana",
	"squid.upstreamCA.existingConfigMap":   "corp-ca",
	"probe.credentialsSecret":              "pull-secret",
	"probe.caConfigMap":                    "bundle",
	"ca.clientConfigMap":                   "trusted-ca",
	"ca.existingSecret":                    "my-ca",
	"ca.mode":                              "generate",
	"ca.validity":                          "2160h",
	"sidecarSecurityContext":               map[string]any{"runAsUser": 1000, "runAsGroup": 1000},
	"squid.deniedDestinations":             []any{"10.0.0.0/8"},
	"squid.allowedDestinations":            []any{"10.1.2.3/32"},
	"squid.safePorts":                      []any{80, 443, 8443},
	"ca.trustManager.namespaceSelector":    map[string]any{"matchLabels": map[string]any{"x": "y"}},
	"secretsJob.resources":                 map[string]any{"limits": map[string]any{"memory": "48Mi"}},
	"service.loadBalancerSourceRanges":     []any{"192.168.0.0/16"},
	"prometheusRule.disabledAlerts":        []any{"SquidDown"},
	"prometheusRule.alertOverrides":        map[string]any{"SquidDown": map[string]any{"for": "5m"}},
	"prometheusRule.additionalAlertLabels": map[string]any{"x": "y"},
	"networkPolicy.proxyFromNamespaces":    []any{"other"},
	"fleet.resources":                      map[string]any{"limits": map[string]any{"memory": "256Mi"}},
	"networkPolicy.metricsFromNamespaces":  []any{"other"},
	"networkPolicy.egress.extraRules":      []any{map[string]any{"ports": []any{map[string]any{"port": 8443}}}},
	"cachemgr.existingSecret":              "my-cachemgr",
	"service.name":                         "http",
	"dashboard.folderAnnotation":           "k8s-sidecar-target-directory",
	"podAntiAffinityTopologyKey":           "topology.kubernetes.io/zone",
	"image.tag":                            "9.9.9",
	"exporter.image.tag":                   "9.9.9",
	"global.imageRegistry":                 "registry.example.com",
	"nameOverride":                         "other",
	"fullnameOverride":                     "other",
	"serviceAccount.name":                  "other-sa",
	"priorityClassName":                    "high",
	"dashboard.folder":                     "Elsewhere",
	"image.registry":                       "registry.example.com",
	"image.repository":                     "example/squid",
	"exporter.image.registry":              "registry.example.com",
	"exporter.image.repository":            "example/exporter",
	"automountServiceAccountToken":         true,
	"terminationGracePeriodSeconds":        31,
	"squid.cacheDir.sizeMiB":               2048,
	"replicaCount":                         3,
	"exporter.port":                        9399,
	"exporter.accessLogPort":               5141,
	"service.port":                         3129,
	"squid.port":                           3130,
	"squid.cacheDir.enabled":               false,
	"squid.persistence.enabled":            false,
	"privateBlobs.enabled":                 false,
	"probe.enabled":                        false,
	"probe.test.enabled":                   false,
	"serviceMonitor.enabled":               false,
	"prometheusRule.enabled":               false,
	"dashboard.enabled":                    false,
	"networkPolicy.enabled":                false,
	"podDisruptionBudget.enabled":          false,
	"serviceAccount.create":                false,
}

// bases are the renders a changed value is compared with: everything on
// (and cert-manager's API present), the defaults, and the exporter alone for
// an existing Squid. A value is used when changing it changes at least one.
var bases = []struct {
	name  string
	files []string
	extra []string
}{
	{"all features", allFeatures, nil},
	{"all features, cert-manager", append(slices.Clip(allFeatures), "testdata/cert-manager-values.yaml"), []string{"--api-versions", "cert-manager.io/v1"}},
	{"defaults, an existing CA Secret", []string{"testdata/existing-ca-values.yaml"}, nil},
	{"defaults", nil, nil},
	{"existing Squid", []string{"testdata/existing-squid-values.yaml"}, nil},
}

func TestEveryValueChangesTheRender(t *testing.T) {
	values := documentedValues(t)
	base := make([]string, len(bases))
	for i, b := range bases {
		base[i] = stable(mustRender(t, b.files, nil, b.extra...))
	}
	// Two helm processes at a time: the CI machine has two cores.
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for _, v := range values {
		to, ok := changed[v.path]
		if !ok {
			switch d := v.def.(type) {
			case bool:
				to = !d
			case int:
				to = d + 1
			case string:
				to = "sentinel-" + d
			default:
				t.Errorf("%s: add a changed value for it to the test's table", v.path)
				continue
			}
		}
		wg.Add(1)
		go func(v value, to any) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			var errs []error // a value may be invalid beside some bases' values
			for i, b := range bases {
				out, err := render(t, b.files, map[string]any{v.path: to}, b.extra...)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if stable(out) != base[i] {
					return
				}
			}
			if len(errs) == len(bases) {
				t.Errorf("%s=%v renders with no base: %v", v.path, to, errs)
				return
			}
			t.Errorf("%s: setting it to %v changes nothing the chart renders", v.path, to)
		}(v, to)
	}
	wg.Wait()
}

// No key material in the render: the hook Job makes the CA, constrained to
// the cached domains, with the validity asked for, and the password.
func TestSecretsJob(t *testing.T) {
	objs := objects(t, mustRender(t, nil, map[string]any{"ca.validity": "2160h"}))
	for _, o := range objs {
		if o.kind() == "Secret" {
			t.Errorf("Secret %s rendered: key material belongs in the cluster, made by the Job", o.name())
		}
	}
	job := find(t, objs, "Job", "-secrets")
	args := fmt.Sprint(job.get("spec", "template", "spec", "containers"))
	for _, want := range []string{"--ca.generate", "--ca.validity=2160h", "--ca.secret=cache-squid-cache-ca",
		"--ca.permitted-domain=.quay.io", "--ca.permitted-domain=registry.redhat.io", "--ca.configmap=cache-squid-cache-ca",
		"--cachemgr.secret=cache-squid-cache-cachemgr", "--label=app.kubernetes.io/instance=cache", "--ca.rotation="} {
		if !strings.Contains(args, want) {
			t.Errorf("the secrets Job's args lack %s: %s", want, args)
		}
	}
	if hook := fmt.Sprint(job.get("metadata", "annotations")); !strings.Contains(hook, "pre-install,pre-upgrade") {
		t.Errorf("the Job is not a pre-install, pre-upgrade hook: %s", hook)
	}
	// With an existing Secret the Job only checks it and copies its
	// certificate for the clients.
	objs = objects(t, mustRender(t, nil, map[string]any{"ca.mode": "existingSecret", "ca.existingSecret": "mine"}))
	if args := fmt.Sprint(find(t, objs, "Job", "-secrets").get("spec", "template", "spec", "containers")); strings.Contains(args, "--ca.generate") || !strings.Contains(args, "--ca.secret=mine") {
		t.Errorf("existingSecret: the Job's args %s", args)
	}
}

// Values that cannot work are refused at install, with what to do.
func TestChartRefusesBadValues(t *testing.T) {
	for _, c := range []struct {
		name string
		sets map[string]any
		want string
	}{
		{"no proxy clients", map[string]any{"networkPolicy.proxyFromNamespaces": []any{}}, "networkPolicy.proxyFromNamespaces"},
		{"no metrics clients", map[string]any{"networkPolicy.metricsFromNamespaces": []any{}}, "networkPolicy.metricsFromNamespaces"},
		{"a load balancer open to all", map[string]any{"service.type": "LoadBalancer"}, "service.loadBalancerSourceRanges"},
		{"a memory limit below cache_mem and the tmpfs cache", map[string]any{"squid.cacheDir.medium": "Memory", "squid.cacheDir.sizeMiB": 1024},
			"squid.resources.limits.memory 1Gi (1024 MiB) is below what Squid needs: cacheMem 256 MB + 1142 MiB of tmpfs cache_dir + 128 MiB a worker = 1526 MiB"},
		{"workers with a ufs cache_dir", map[string]any{"squid.workers": 2}, "squid.workers 2 needs squid.cacheDir.type rock"},
		{"persistence without a size", map[string]any{"squid.persistence.enabled": true, "squid.persistence.size": ""}, "squid.persistence.size: Does not match pattern"},
		{"a size Squid cannot read: no space", map[string]any{"squid.maximumObjectSize": "10GB"}, "squid.maximumObjectSize: Does not match pattern '^[0-9]+ (bytes|KB|MB|GB)$'"},
		{"a size Squid cannot read: Kubernetes units", map[string]any{"squid.cacheMem": "256 MiB"}, "squid.cacheMem: Does not match pattern"},
		{"a claim smaller than the cache_dir", map[string]any{"squid.persistence.enabled": true, "squid.persistence.size": "1Gi"},
			"squid.persistence.size 1Gi (1024 MiB) cannot hold the cache_dir"},
		{"a size neither Squid nor Kubernetes writes", map[string]any{"squid.resources": map[string]any{"limits": map[string]any{"memory": "lots"}}}, `not a size: "lots"`},
		{"an unknown CA mode", map[string]any{"ca.mode": "selfSigned"}, "ca.mode"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := render(t, nil, c.sets)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("rendered, or refused without saying %q: %v", c.want, err)
			}
		})
	}
	// A tmpfs cache within the limit, and one on disk, render.
	for _, sets := range []map[string]any{
		{"squid.resources": map[string]any{"limits": map[string]any{"memory": "1526Mi"}}, "squid.cacheDir.medium": "Memory", "squid.cacheDir.sizeMiB": 1024},
		{"squid.resources": map[string]any{"limits": map[string]any{"memory": "512Mi"}}},
		{"squid.workers": 2, "squid.cacheDir.type": "rock", "squid.resources": map[string]any{"limits": map[string]any{"memory": "1Gi"}}},
	} {
		if _, err := render(t, nil, sets); err != nil {
			t.Errorf("%v: %v", sets, err)
		}
	}
}

// A reset token reads the same from a values file, where YAML makes a large
// number a float (1.7e+09), as from --set: switching between them must not
// empty the cache.
func TestResetTokenFromAFileOrSet(t *testing.T) {
	dir, err := os.MkdirTemp("", "chart-values")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	file := dir + "/token.yaml"
	if err := os.WriteFile(file, []byte("squid:\n  cacheDir:\n    resetToken: 1700000000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fromFile := configData(t, objects(t, mustRender(t, []string{file}, nil)), "start-squid.sh")
	fromSet := configData(t, objects(t, mustRender(t, nil, nil, "--set", "squid.cacheDir.resetToken=1700000000")), "start-squid.sh")
	if fromFile != fromSet || !strings.Contains(fromSet, `"1700000000"`) {
		t.Errorf("the token differs:\nfile: %s\nset:  %s", fromFile, fromSet)
	}
}

// Squid restarts for what it reads and nothing else: the pod template
// changes with squid.conf and the CA's rotation, not with the probe targets
// (the exporter re-reads them), and holds no chart or app version.
func TestSquidRestartsOnlyForWhatItReads(t *testing.T) {
	template := func(sets map[string]any) string {
		sts := find(t, objects(t, mustRender(t, nil, sets)), "StatefulSet", "squid-cache")
		b, _ := json.Marshal(sts.get("spec", "template"))
		return string(b)
	}
	base := template(nil)
	for _, forbidden := range []string{"helm.sh/chart", "app.kubernetes.io/version"} {
		if strings.Contains(base, forbidden) {
			t.Errorf("the pod template carries %s: a chart bump would restart Squid", forbidden)
		}
	}
	targets := []any{map[string]any{"name": "other", "blob": "quay.io/a/b@sha256:" + strings.Repeat("ef", 32)}}
	if template(map[string]any{"probe.targets": targets}) != base {
		t.Error("editing a probe target changes the pod template: it would restart Squid")
	}
	// Labels of the ConfigMap (the chart's version is one) are not what
	// Squid reads; only the pods' own labels change.
	labelled := template(map[string]any{"commonLabels": map[string]any{"team": "x"}})
	if strings.ReplaceAll(labelled, `,"team":"x"`, "") != base {
		t.Error("a label on the objects changes the pods' checksum: a chart bump would restart Squid")
	}
	for name, sets := range map[string]map[string]any{
		"squid.conf":  {"squid.cacheMem": "128 MB"},
		"ca.rotation": {"ca.rotation": "2027-01"},
	} {
		if template(sets) == base {
			t.Errorf("%s changed, the pod template did not: Squid would keep the old one", name)
		}
	}
}
