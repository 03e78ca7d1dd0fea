package charts

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"go.yaml.in/yaml/v3"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
	"github.com/squid-cache-exporter/squid-cache-exporter/collector"
	"github.com/squid-cache-exporter/squid-cache-exporter/icap"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
	"github.com/squid-cache-exporter/squid-cache-exporter/prober"
)

// The chart's files/ are copies of these (helm warns about, and ct lint
// refuses, links that leave the chart): the chart must carry the current
// snippet, rules and dashboard. The render tests below check what helm
// makes of them.
var carried = map[string]string{
	"squid-cache/files/squid-private-blobs.conf":       "../conf/squid-private-blobs.conf",
	"squid-cache/files/squid-cache-exporter.rules.yml": "../alerts/squid-cache-exporter.rules.yml",
	"squid-cache/files/squid-cache-exporter.json":      "../dashboards/squid-cache-exporter.json",
}

func TestChartCarriesTheCurrentFiles(t *testing.T) {
	for copied, source := range carried {
		want, err := os.ReadFile(source)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.Lstat(copied)
		if err == nil && got.Mode()&os.ModeSymlink != 0 {
			t.Errorf("%s is a symbolic link: helm packages it, but warns, and ct lint refuses it; copy %s there", copied, source)
			continue
		}
		if b, err := os.ReadFile(copied); err != nil || !bytes.Equal(b, want) {
			t.Errorf("%s is not the current %s (%v): cp %s charts/%s", copied, source, err, strings.TrimPrefix(source, "../"), copied)
		}
	}
}

func TestLintStrict(t *testing.T) {
	files, _ := filepath.Glob(chartDir + "/ci/*.yaml")
	for _, f := range append([]string{""}, files...) {
		args := []string{"lint", "--strict", chartDir, "--kube-version", kubeVersion}
		if f != "" {
			args = append(args, "-f", f)
		}
		if out, err := exec.Command(helmBinary(t), args...).CombinedOutput(); err != nil {
			t.Errorf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

func TestSchemaRejectsUnknownKeysAndWrongTypes(t *testing.T) {
	for _, c := range []struct {
		set  map[string]any
		want string
	}{
		{map[string]any{"replicaCont": 2}, "Additional property replicaCont is not allowed"},
		{map[string]any{"squid.cachMem": "1 GB"}, "Additional property cachMem is not allowed"},
		{map[string]any{"serviceMonitor.intervall": "1m"}, "Additional property intervall is not allowed"},
		{map[string]any{"probe.targets": []any{map[string]any{"name": "x", "image": "a/b", "privat": true}}}, "Additional property privat is not allowed"},
		{map[string]any{"replicaCount": "two"}, "replicaCount"},
		{map[string]any{"squid.cacheMem": 256}, "cacheMem"},
		{map[string]any{"squid.cacheMem": "lots"}, "cacheMem"},
		{map[string]any{"privateBlobs.enabled": "yes"}, "enabled"},
		{map[string]any{"squid.otherDomains": "allow"}, "otherDomains"},
		{map[string]any{"probe.targets": []any{map[string]any{"name": "x"}}}, "targets"},
		{map[string]any{"serviceMonitor.additionalLabels": []any{"release"}}, "additionalLabels"},
		{map[string]any{"podAntiAffinity": "always"}, "podAntiAffinity"},
	} {
		_, err := render(t, nil, c.set)
		if err == nil {
			t.Errorf("%v: rendered, want the schema to refuse it", c.set)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error does not name %q:\n%v", c.set, c.want, err)
		}
	}
}

func TestLabelsAndNamespaces(t *testing.T) {
	objs := objects(t, mustRender(t, allFeatures, nil))
	for _, o := range objs {
		labels, _ := o.get("metadata", "labels").(map[string]any)
		for _, l := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
			"app.kubernetes.io/managed-by", "helm.sh/chart", "team"} {
			if labels[l] == nil {
				t.Errorf("%s %s has no label %s", o.kind(), o.name(), l)
			}
		}
		if o.get("metadata", "namespace") == nil && o.kind() != "Bundle" { // trust-manager's Bundle is cluster-wide
			t.Errorf("%s %s has no namespace", o.kind(), o.name())
		}
	}
}

// Restricted Pod Security Standard: non-root, no privilege escalation,
// all capabilities dropped, RuntimeDefault seccomp; and a read-only root.
func TestRestrictedSecurityContext(t *testing.T) {
	objs := objects(t, mustRender(t, allFeatures, nil))
	pods := map[string]map[string]any{
		"StatefulSet": find(t, objs, "StatefulSet", "squid-cache").get("spec", "template", "spec").(map[string]any),
		"test Pod":    find(t, objs, "Pod", "test-probe").get("spec").(map[string]any),
	}
	for name, spec := range pods {
		psc, _ := spec["securityContext"].(map[string]any)
		if psc["runAsNonRoot"] != true {
			t.Errorf("%s: pod securityContext.runAsNonRoot is not true", name)
		}
		if sp, _ := psc["seccompProfile"].(map[string]any); sp["type"] != "RuntimeDefault" {
			t.Errorf("%s: pod seccompProfile is not RuntimeDefault", name)
		}
		var containers []any
		for _, key := range []string{"initContainers", "containers"} {
			c, _ := spec[key].([]any)
			containers = append(containers, c...)
		}
		if len(containers) == 0 {
			t.Fatalf("%s: no containers", name)
		}
		for _, c := range containers {
			c := c.(map[string]any)
			sc, _ := c["securityContext"].(map[string]any)
			caps, _ := sc["capabilities"].(map[string]any)
			if sc["allowPrivilegeEscalation"] != false || sc["readOnlyRootFilesystem"] != true ||
				!slices.Equal(caps["drop"].([]any), []any{"ALL"}) {
				t.Errorf("%s container %s: securityContext %v is not restricted", name, c["name"], sc)
			}
			if env, ok := c["env"]; ok {
				t.Errorf("%s container %s has environment variables %v: secrets go in files", name, c["name"], env)
			}
		}
	}
}

// squid.conf as the chart renders it passes `squid -k parse`, with its
// mounted files stood in for by local ones.
func TestSquidConfParses(t *testing.T) {
	squid := squidtest.RequireTool(t, "squid", "/usr/sbin/squid", "squid-openssl")
	for _, c := range []struct {
		name  string
		files []string
		sets  map[string]any
	}{
		{"defaults", nil, nil},
		{"all features", allFeatures, nil},
		{"private blobs, no cache_dir, deny others", nil, map[string]any{
			"privateBlobs.enabled": true, "squid.cacheDir.enabled": false, "squid.otherDomains": "deny"}},
		{"self-serving registries, manifests by digest", nil, map[string]any{
			"privateBlobs.selfServingRegistries": []any{"harbor.example.com", "registry.example.com:5000"},
			"privateBlobs.manifestsByDigest":     []any{"registry-1.docker.io"},
			"squid.cachedDomains":                []any{"quay.io", "registry-1.docker.io", "harbor.example.com", "registry.example.com"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			objs := objects(t, mustRender(t, c.files, c.sets))
			dir := t.TempDir()
			paths := strings.NewReplacer(
				"/usr/local/bin/", dir+"/bin/",
				"/etc/squid-cache/", dir+"/etc/",
				"/var/run/squid", dir+"/run",
				"/var/spool/squid", dir+"/spool",
			)
			write := func(name, content string) {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			crt, key := testCA(t)
			write("etc/ca/tls.crt", crt)
			write("etc/ca/tls.key", key)
			write("etc/upstream-ca/bundle.pem", crt)
			write("run/cachemgr.conf", "cachemgr_passwd secret info counters storedir service_times store_id\n")
			write("run/logformat.conf", "logformat squid_probe 0123456789abcdef "+strings.TrimPrefix(accesslog.ProbeLogFormat, "logformat squid_probe ")+"\n")
			write("run/learn.conf", "adaptation_meta "+icap.SecretHeader+" \"0123456789abcdef\" learned_registries blob_paths\n")
			write("bin/squid-store-id-helper", "#!/bin/sh\n")
			if err := os.Chmod(filepath.Join(dir, "bin/squid-store-id-helper"), 0o755); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"squid.conf", "squid-private-blobs.conf", "store-id-helper.flags", "squid-frontend.conf"} {
				if s, ok := find(t, objs, "ConfigMap", "squid-cache").get("data", f).(string); ok {
					write("etc/conf/"+f, paths.Replace(s))
				}
			}
			for _, conf := range []string{"squid.conf", "squid-frontend.conf"} { // the fleet's frontends: all features
				if _, err := os.Stat(filepath.Join(dir, "etc/conf", conf)); err != nil {
					continue
				}
				out, err := exec.Command(squid, "-k", "parse", "-f", filepath.Join(dir, "etc/conf", conf)).CombinedOutput()
				if err != nil {
					t.Fatalf("squid -k parse %s: %v\n%s", conf, err, out)
				}
				for _, line := range strings.Split(string(out), "\n") {
					if regexp.MustCompile(`ERROR|FATAL|WARNING|Bungled|UPGRADE`).MatchString(line) {
						t.Errorf("squid -k parse %s: %s", conf, line)
					}
				}
			}
		})
	}
}

// testCA is a throwaway CA certificate and key, PEM.
func testCA(t testing.TB) (crt, key string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
}

// Squid logs in the exporter's format, with the pod's token first, to the
// exporter's port, and keeps the marker from the registry; the exporter
// reads the same token.
func TestAccessLogGoesToTheExporterInItsFormat(t *testing.T) {
	objs := objects(t, mustRender(t, nil, map[string]any{"exporter.accessLogPort": 5199}))
	conf := configData(t, objs, "squid.conf")
	for _, want := range []string{
		"include /var/run/squid/logformat.conf",
		"access_log tcp://127.0.0.1:5199 logformat=squid_probe on-error=drop has_request !healthcheck",
		"request_header_access " + accesslog.MarkerHeader + " deny all",
	} {
		if !slices.Contains(strings.Split(conf, "\n"), want) {
			t.Errorf("squid.conf has no line %q", want)
		}
	}
	// The start script writes the logformat: the token, then the fields.
	script := configData(t, objs, "start-squid.sh")
	fields := strings.TrimPrefix(accesslog.ProbeLogFormat, "logformat squid_probe ")
	want := `printf 'logformat squid_probe %s %s\n' "$token" '` + fields + `' >"$run/logformat.conf"`
	if !strings.Contains(script, want) {
		t.Errorf("start-squid.sh does not write the logformat %q:\n%s", want, script)
	}
	if !strings.Contains(script, "/var/run/squid-log-token/token") {
		t.Error("start-squid.sh does not write the token where the exporter reads it")
	}
	args := fmt.Sprint(find(t, objs, "StatefulSet", "squid-cache").get("spec", "template", "spec", "initContainers"))
	if !strings.Contains(args, "--squid.access-log.token-file=/var/run/squid-log-token/token") {
		t.Error("the exporter does not read the token")
	}
}

// With the helpers, the chart includes the snippet as it is, but for the
// helper's flags file; without, its blob rules are the snippet's own lines.
func TestPrivateBlobSnippetIsTheCurrentOne(t *testing.T) {
	source, err := os.ReadFile("../conf/squid-private-blobs.conf")
	if err != nil {
		t.Fatal(err)
	}
	const helper = "/usr/local/bin/squid-store-id-helper"
	if !bytes.Contains(source, []byte("store_id_program "+helper)) {
		t.Fatalf("conf/squid-private-blobs.conf no longer runs %s: update the chart's replacement", helper)
	}
	want := strings.Replace(string(source), helper, helper+" @/etc/squid-cache/conf/store-id-helper.flags", 1)

	objs := objects(t, mustRender(t, nil, nil)) // the helpers are on by default: quay.io needs them
	if got := configData(t, objs, "squid-private-blobs.conf"); got != want {
		t.Errorf("rendered snippet differs from conf/squid-private-blobs.conf:\n%s", got)
	}
	conf := configData(t, objs, "squid.conf")
	if !strings.Contains(conf, "\ninclude /etc/squid-cache/conf/squid-private-blobs.conf\n") {
		t.Error("squid.conf does not include the snippet")
	}

	snippet := strings.Split(string(source), "\n")
	conf = configData(t, objects(t, mustRender(t, nil, map[string]any{"privateBlobs.enabled": false})), "squid.conf")
	rules := 0
	for _, line := range strings.Split(conf, "\n") {
		if strings.HasPrefix(line, "acl cdn_blobs ") || strings.HasPrefix(line, "acl blob_paths ") ||
			strings.HasPrefix(line, "acl cdn_blob_paths ") || strings.HasPrefix(line, "cache allow ") || line == "cache deny all" ||
			strings.HasPrefix(line, "collapsed_forwarding") || strings.HasPrefix(line, "range_offset_limit ") ||
			strings.HasPrefix(line, "quick_abort_min ") {
			rules++
			if !slices.Contains(snippet, line) {
				t.Errorf("squid.conf line %q is not in conf/squid-private-blobs.conf", line)
			}
		}
	}
	if rules != 14 {
		t.Errorf("squid.conf without the helpers has %d of the snippet's 14 blob rules", rules)
	}
}

// The PrometheusRule is the rules file, scoped to the release's job, with
// the alerts asked for left out, overridden and labelled; promtool checks it.
func TestPrometheusRuleIsTheRulesFile(t *testing.T) {
	objs := objects(t, mustRender(t, nil, map[string]any{
		"prometheusRule.enabled": true, "prometheusRule.namespace": "monitoring",
		"prometheusRule.additionalLabels": map[string]any{"release": "monitoring"}}))
	rule := find(t, objs, "PrometheusRule", "squid-cache")
	b, err := os.ReadFile("../alerts/squid-cache-exporter.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := yaml.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	// Unscoped, the rendered rules are the file's.
	got, _ := json.Marshal(rule.get("spec", "groups"))
	unscope := strings.NewReplacer(`{job=\"cache-squid-cache-metrics\",`, "{", `{job=\"cache-squid-cache-metrics\"}`, "",
		`squid-cache-exporter.proxy.cache`, "squid-cache-exporter").Replace
	wantJSON, _ := json.Marshal(want["groups"])
	// up{job=~".*squid.*"} is the file's stand-in for the release's job.
	scopedUp := strings.ReplaceAll(string(wantJSON), `{job=~\".*squid.*\"}`, `{job=\"cache-squid-cache-metrics\"}`)
	if unscope(string(got)) != unscope(scopedUp) {
		t.Error("the PrometheusRule's groups, unscoped, are not those of alerts/squid-cache-exporter.rules.yml")
	}
	for _, g := range rule.get("spec", "groups").([]any) {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			if expr := r.(map[string]any)["expr"].(string); !strings.Contains(expr, `job="cache-squid-cache-metrics"`) {
				t.Errorf("expression not scoped to the release's job: %s", expr)
			}
		}
	}
	if rule.get("metadata", "namespace") != "monitoring" || rule.get("metadata", "labels", "release") != "monitoring" {
		t.Errorf("PrometheusRule metadata %v", rule.get("metadata"))
	}
	promtool := squidtest.RequireTool(t, "promtool", "/usr/bin/promtool", "prometheus")
	for _, files := range [][]string{nil, allFeatures} {
		spec := find(t, objects(t, mustRender(t, files, map[string]any{"prometheusRule.enabled": true})), "PrometheusRule", "squid-cache").get("spec")
		b, _ := yaml.Marshal(spec)
		f := filepath.Join(t.TempDir(), "rules.yml")
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(promtool, "check", "rules", f).CombinedOutput(); err != nil {
			t.Errorf("promtool check rules: %v\n%s", err, out)
		}
	}
}

// Tuning: an alert left out, one overridden, labels added to every alert.
func TestPrometheusRuleTuning(t *testing.T) {
	rule := find(t, objects(t, mustRender(t, allFeatures, nil)), "PrometheusRule", "squid-cache")
	alerts := map[string]map[string]any{}
	for _, g := range rule.get("spec", "groups").([]any) {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			if name, ok := r.(map[string]any)["alert"].(string); ok {
				alerts[name] = r.(map[string]any)
			}
		}
	}
	if _, ok := alerts["SquidHitRatioLow"]; ok {
		t.Error("SquidHitRatioLow is in disabledAlerts but rendered")
	}
	failing := alerts["SquidProbeFailing"]
	labels, _ := failing["labels"].(map[string]any)
	if failing["for"] != "30m" || labels["severity"] != "info" || labels["team"] != "platform" {
		t.Errorf("SquidProbeFailing not overridden: %v", failing)
	}
	if l, _ := alerts["SquidDown"]["labels"].(map[string]any); l["team"] != "platform" || l["severity"] != "critical" {
		t.Errorf("SquidDown labels %v, want team added and severity kept", l)
	}
}

func TestDashboardConfigMap(t *testing.T) {
	objs := objects(t, mustRender(t, nil, map[string]any{"dashboard.enabled": true, "dashboard.folder": "Caches"}))
	cm := find(t, objs, "ConfigMap", "-dashboard")
	want, err := os.ReadFile("../dashboards/squid-cache-exporter.json")
	if err != nil {
		t.Fatal(err)
	}
	// The uid is the release's, so that two releases' dashboards do not
	// overwrite each other; the rest is the file.
	mine := strings.Replace(string(want), `"uid": "squid-cache-exporter",`, `"uid": "squid-cache-cache",`, 1)
	if got, _ := cm.get("data", "squid-cache-exporter.json").(string); got != strings.TrimRight(mine, "\n") {
		t.Error("the dashboard ConfigMap does not hold dashboards/squid-cache-exporter.json with the release's uid")
	}
	if cm.get("metadata", "labels", "grafana_dashboard") != "1" || cm.get("metadata", "annotations", "grafana_folder") != "Caches" {
		t.Errorf("dashboard ConfigMap metadata %v", cm.get("metadata"))
	}
}

func TestServiceMonitor(t *testing.T) {
	objs := objects(t, mustRender(t, allFeatures, nil))
	sm := find(t, objs, "ServiceMonitor", "squid-cache")
	endpoints, _ := sm.get("spec", "endpoints").([]any)
	var ports []string
	for _, e := range endpoints {
		e := e.(map[string]any)
		ports = append(ports, e["port"].(string))
		if e["interval"] != "15s" || e["scrapeTimeout"] != "5s" || e["relabelings"] == nil || e["metricRelabelings"] == nil {
			t.Errorf("endpoint %v lacks the configured scrape settings", e)
		}
	}
	if !slices.Equal(ports, []string{"metrics", "icap-metrics", "storeid-metrics"}) {
		t.Errorf("ServiceMonitor scrapes ports %v", ports)
	}
	// It selects the Service, not the headless one (each target once).
	sel, _ := sm.get("spec", "selector", "matchLabels").(map[string]any)
	matching := 0
	for _, o := range objs {
		if o.kind() != "Service" {
			continue
		}
		labels, _ := o.get("metadata", "labels").(map[string]any)
		all := true
		for k, v := range sel {
			all = all && labels[k] == v
		}
		if all {
			matching++
		}
	}
	if matching != 1 {
		t.Errorf("the ServiceMonitor selects %d Services, want 1", matching)
	}
}

// The probe configuration is the exporter's, private targets get the
// mounted credentials and the leak check, and the helm test asks every
// replica.
func TestProbeConfigAndHelmTest(t *testing.T) {
	objs := objects(t, mustRender(t, allFeatures, nil))
	var c prober.Config
	probeYML, _ := find(t, objs, "ConfigMap", "-probe").get("data", "probe.yml").(string)
	dec := yaml.NewDecoder(strings.NewReader(probeYML))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("probe.yml is not the exporter's format: %v", err)
	}
	if len(c.Targets) != 2 || c.Targets[1].Credentials != "/etc/squid-cache-exporter/credentials/.dockerconfigjson" || c.Targets[0].Credentials != "" ||
		!c.Targets[1].LeakCheck || c.Targets[0].LeakCheck {
		t.Errorf("probe targets %+v", c.Targets)
	}
	args, _ := find(t, objs, "Pod", "test-probe").get("spec", "containers").([]any)[0].(map[string]any)["args"].([]any)
	var urls []string
	for _, a := range args {
		if u, ok := strings.CutPrefix(a.(string), "--exporter-url="); ok {
			urls = append(urls, u)
		}
	}
	want := []string{
		"http://cache-squid-cache-0.cache-squid-cache-headless.proxy.svc:9301",
		"http://cache-squid-cache-1.cache-squid-cache-headless.proxy.svc:9301",
		"http://cache-squid-cache-2.cache-squid-cache-headless.proxy.svc:9301",
	}
	if !slices.Equal(urls, want) {
		t.Errorf("helm test asks %v, want every replica %v", urls, want)
	}

	if _, err := render(t, nil, map[string]any{"probe.targets": []any{map[string]any{"name": "p", "image": "quay.io/a/b:1", "private": true}}}); err == nil ||
		!strings.Contains(err.Error(), "probe.credentialsSecret") {
		t.Errorf("a private target without credentials: %v, want an error naming probe.credentialsSecret", err)
	}
	objs = objects(t, mustRender(t, nil, map[string]any{"probe.targets": []any{}}))
	if has(objs, "Pod") {
		t.Error("a helm test pod without probe targets")
	}
}

// ca.mode certManager: a Certificate for an ECDSA CA with the cached domains
// as name constraints; without cert-manager's API, a clear refusal.
func TestCertManagerMode(t *testing.T) {
	objs := objects(t, mustRender(t, nil, map[string]any{"ca.mode": "certManager"}, "--api-versions", "cert-manager.io/v1"))
	cert := find(t, objs, "Certificate", "-ca")
	if cert.get("spec", "isCA") != true || cert.get("spec", "secretName") != "cache-squid-cache-ca" ||
		cert.get("spec", "issuerRef", "name") != "cache-squid-cache-selfsigned" ||
		cert.get("spec", "privateKey", "algorithm") != "ECDSA" || cert.get("spec", "nameConstraints", "critical") != true {
		t.Errorf("Certificate spec %v", cert.get("spec"))
	}
	domains := fmt.Sprint(cert.get("spec", "nameConstraints", "permitted", "dnsDomains"))
	if domains != "[quay.io registry.access.redhat.com registry.access.stage.redhat.com registry.redhat.io registry.stage.redhat.io]" {
		t.Errorf("permitted domains %s, want squid.cachedDomains without leading dots", domains)
	}
	find(t, objs, "Issuer", "-selfsigned")
	if job := find(t, objs, "Job", "-secrets"); !strings.Contains(fmt.Sprint(job.get("metadata", "annotations")), "post-install,post-upgrade") {
		t.Errorf("with cert-manager the Job must run after the Certificate exists: %v", job.get("metadata", "annotations"))
	}
	// The pods mount the password: it must exist before them, or helm
	// install --wait would wait for pods that wait for a post-install hook.
	if job := find(t, objs, "Job", "-secrets-password"); !strings.Contains(fmt.Sprint(job.get("metadata", "annotations")), "pre-install,pre-upgrade") ||
		!strings.Contains(fmt.Sprint(job.get("spec")), "--cachemgr.secret=") || strings.Contains(fmt.Sprint(job.get("spec")), "--ca.secret") {
		t.Errorf("with cert-manager the password Job must run before the pods, and make only the password: %v", job)
	}
	if _, err := render(t, nil, map[string]any{"ca.mode": "certManager"}); err == nil || !strings.Contains(err.Error(), "no cert-manager.io/v1 API") {
		t.Errorf("certManager mode without cert-manager: %v, want a clear refusal", err)
	}
	// An existing Secret: mounted as it is, nothing of cert-manager's.
	objs = objects(t, mustRender(t, nil, map[string]any{"ca.mode": "existingSecret", "ca.existingSecret": "mine"}, "--api-versions", "cert-manager.io/v1"))
	if has(objs, "Certificate") || has(objs, "Issuer") {
		t.Error("cert-manager objects although ca.mode is existingSecret")
	}
	if !strings.Contains(fmt.Sprint(find(t, objs, "StatefulSet", "squid-cache").get("spec", "template", "spec", "volumes")), "secretName:mine") {
		t.Error("the pods do not mount ca.existingSecret")
	}
	if _, err := render(t, nil, map[string]any{"ca.mode": "existingSecret"}); err == nil || !strings.Contains(err.Error(), "set ca.existingSecret") {
		t.Errorf("existingSecret mode without a Secret: %v, want a clear refusal", err)
	}
}

// A PVC per replica with persistence, an emptyDir on disk by default.
func TestCacheStorage(t *testing.T) {
	sts := find(t, objects(t, mustRender(t, nil, nil)), "StatefulSet", "squid-cache")
	vols, _ := sts.get("spec", "template", "spec", "volumes").([]any)
	var cache map[string]any
	for _, v := range vols {
		if v.(map[string]any)["name"] == "cache" {
			cache = v.(map[string]any)
		}
	}
	if ed, _ := cache["emptyDir"].(map[string]any); ed["medium"] != nil || ed["sizeLimit"] != "22544Mi" {
		t.Errorf("default cache volume %v, want an emptyDir on the node's disk, 20 GiB and the journal", cache)
	}
	sts = find(t, objects(t, mustRender(t, allFeatures, nil)), "StatefulSet", "squid-cache")
	claims, _ := sts.get("spec", "volumeClaimTemplates").([]any)
	if len(claims) != 1 || claims[0].(map[string]any)["metadata"].(map[string]any)["name"] != "cache" {
		t.Errorf("with persistence: claims %v", claims)
	}
}

// squid.enabled false: the exporter alone, for a Squid the chart does not run.
func TestExistingSquid(t *testing.T) {
	objs := objects(t, mustRender(t, []string{"testdata/existing-squid-values.yaml"}, nil))
	sts := find(t, objs, "StatefulSet", "squid-cache")
	spec := sts.get("spec", "template", "spec").(map[string]any)
	containers, _ := spec["containers"].([]any)
	if len(containers) != 1 || containers[0].(map[string]any)["name"] != "exporter" || spec["initContainers"] != nil || sts.get("spec", "replicas") != 1 {
		t.Fatalf("want one exporter container and one replica, got %v", spec)
	}
	args := strings.Join(func() (a []string) {
		for _, x := range containers[0].(map[string]any)["args"].([]any) {
			a = append(a, x.(string))
		}
		return
	}(), " ")
	for _, want := range []string{"--squid.address=http://squid.proxy.svc:3128", "--squid.access-log=tcp://0.0.0.0:5140",
		"--squid.access-log.allowed-peers=10.244.0.0/16", "--squid.password-file=", "--probe.ca-file="} {
		if !strings.Contains(args, want) {
			t.Errorf("exporter args %q lack %q", args, want)
		}
	}
	for _, o := range objs {
		if o.kind() == "Secret" || (o.kind() == "ConfigMap" && strings.HasSuffix(o.name(), "-ca")) {
			t.Errorf("%s %s rendered for an existing Squid", o.kind(), o.name())
		}
	}
	for _, o := range objs {
		if o.kind() == "ConfigMap" && o.get("data", "squid.conf") != nil || o.kind() == "Job" {
			t.Errorf("%s %s rendered for an existing Squid", o.kind(), o.name())
		}
	}
	for suffix, want := range map[string][]any{"squid-cache": {"access-log"}, "-metrics": {"metrics"}} {
		var ports []any
		for _, p := range find(t, objs, "Service", suffix).get("spec", "ports").([]any) {
			ports = append(ports, p.(map[string]any)["name"])
		}
		if !slices.Equal(ports, want) {
			t.Errorf("Service *%s ports %v, want %v", suffix, ports, want)
		}
	}
	for _, c := range []struct {
		unset, want string
	}{
		{"existingSquid.address", "existingSquid.address"},
		{"existingSquid.accessLogFrom", "existingSquid.accessLogFrom"},
		{"probe.caConfigMap", "probe.caConfigMap"},
	} {
		var empty any = ""
		if c.unset == "existingSquid.accessLogFrom" {
			empty = []any{}
		}
		_, err := render(t, []string{"testdata/existing-squid-values.yaml"}, map[string]any{c.unset: empty})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("without %s: %v, want an error naming it", c.unset, err)
		}
	}
}

// Kubernetes resolves a Service's named targetPort in the pod's containers,
// not in its native sidecars (init containers): a name must be a port of a
// container, or the endpoint is silently missing (seen: no metrics target).
func TestServicePortsReachAContainer(t *testing.T) {
	for _, files := range [][]string{allFeatures, {"testdata/existing-squid-values.yaml"}} {
		objs := objects(t, mustRender(t, files, nil))
		spec := find(t, objs, "StatefulSet", "squid-cache").get("spec", "template", "spec").(map[string]any)
		named, numbered := map[string]bool{}, map[int]bool{}
		for _, c := range spec["containers"].([]any) {
			for _, p := range c.(map[string]any)["ports"].([]any) {
				named[p.(map[string]any)["name"].(string)] = true
			}
		}
		for _, key := range []string{"initContainers", "containers"} {
			cs, _ := spec[key].([]any)
			for _, c := range cs {
				ports, _ := c.(map[string]any)["ports"].([]any)
				for _, p := range ports {
					numbered[p.(map[string]any)["containerPort"].(int)] = true
				}
			}
		}
		for _, o := range objs {
			if o.kind() != "Service" {
				continue
			}
			for _, p := range o.get("spec", "ports").([]any) {
				switch tp := p.(map[string]any)["targetPort"].(type) {
				case string:
					if !named[tp] {
						t.Errorf("%v: Service %s port %v: targetPort %q is no port of a container", files, o.name(), p, tp)
					}
				case int:
					if !numbered[tp] {
						t.Errorf("%v: Service %s targetPort %d is no container's port", files, o.name(), tp)
					}
				}
			}
		}
	}
}

// The cache manager password covers every report the exporter reads by
// default: Squid refuses an action the password line does not name, and
// squid_up would be 0.
func TestCachemgrPasswordCoversTheExportersReports(t *testing.T) {
	if _, err := kingpin.CommandLine.Parse(nil); err != nil { // the collectors' flags, at their defaults
		t.Fatal(err)
	}
	script := configData(t, objects(t, mustRender(t, nil, nil)), "start-squid.sh")
	m := regexp.MustCompile(`printf 'cachemgr_passwd %s ([a-z_ ]+)\\n'`).FindStringSubmatch(script)
	if m == nil {
		t.Fatalf("no cachemgr_passwd line in start-squid.sh:\n%s", script)
	}
	actions := strings.Fields(m[1])
	if len(collector.EnabledReports()) < 3 {
		t.Fatalf("the exporter reads only %v by default?", collector.EnabledReports())
	}
	for _, report := range collector.EnabledReports() {
		if !slices.Contains(actions, report) {
			t.Errorf("cachemgr_passwd names %v, not the exporter's report %q", actions, report)
		}
	}
}

// SMP workers: Squid runs in the foreground with its kids (-N would run one
// process), shares its memory cache and rock store through a /dev/shm the
// chart sizes, and the probe also counts a hit from the rock store, which a
// second pull reaching the other worker gets. One process keeps -N, no
// /dev/shm and the prober's default hit codes.
func TestSMPWorkers(t *testing.T) {
	for _, c := range []struct {
		name       string
		files      []string
		workers    bool
		cacheDir   string
		shm        string
		hitCodes   []string
		foreground bool
	}{
		{"defaults", nil, false, "cache_dir ufs /var/spool/squid 20480 16 256", "", nil, false},
		{"2 workers, rock", allFeatures, true, "cache_dir rock /var/spool/squid 4096", "640Mi", []string{"TCP_MEM_HIT", "TCP_HIT"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			objs := objects(t, mustRender(t, c.files, nil))
			conf := configData(t, objs, "squid.conf")
			if got := strings.Contains(conf, "\nworkers 2\n"); got != c.workers {
				t.Errorf("squid.conf has workers 2: %v, want %v", got, c.workers)
			}
			dir, size := strings.Index(conf, "\n"+c.cacheDir+"\n"), strings.Index(conf, "\nmaximum_object_size ")
			if dir < 0 || size < 0 || size > dir {
				t.Errorf("squid.conf must set maximum_object_size, then %q:\n%s", c.cacheDir, conf)
			}
			start := configData(t, objs, "start-squid.sh")
			if got := strings.Contains(start, "exec squid --foreground "); got != c.foreground {
				t.Errorf("start-squid.sh runs squid --foreground: %v, want %v", got, c.foreground)
			}
			shm := ""
			vols, _ := find(t, objs, "StatefulSet", "squid-cache").get("spec", "template", "spec", "volumes").([]any)
			for _, v := range vols {
				if v := v.(map[string]any); v["name"] == "shm" {
					ed := v["emptyDir"].(map[string]any)
					if ed["medium"] != "Memory" {
						t.Errorf("/dev/shm volume %v, want memory", ed)
					}
					shm, _ = ed["sizeLimit"].(string)
				}
			}
			if shm != c.shm {
				t.Errorf("/dev/shm volume of %q, want %q", shm, c.shm)
			}
			var pc prober.Config
			probeYML, _ := find(t, objs, "ConfigMap", "-probe").get("data", "probe.yml").(string)
			if err := yaml.Unmarshal([]byte(probeYML), &pc); err != nil {
				t.Fatal(err)
			}
			for _, target := range pc.Targets {
				if !slices.Equal(target.HitCodes, c.hitCodes) {
					t.Errorf("target %s counts %v as hits, want %v", target.Name, target.HitCodes, c.hitCodes)
				}
			}
		})
	}
}

// The start script draws a secret for the ICAP service's /learn at each
// start: Squid sends it (the adaptation_meta line squid.conf includes
// after the snippet) and the service reads it from the file on the
// volume it mounts; the two agree.
func TestLearnSecretReachesSquidAndTheService(t *testing.T) {
	objs := objects(t, mustRender(t, nil, nil))
	conf := configData(t, objs, "squid.conf")
	snippet, learn := strings.Index(conf, "include /etc/squid-cache/conf/squid-private-blobs.conf"), strings.Index(conf, "include /var/run/squid/learn.conf")
	if snippet < 0 || learn < snippet {
		t.Fatal("squid.conf does not include the learn secret after the snippet (whose ACLs it names)")
	}
	dir := t.TempDir()
	var lines []string
	for _, line := range strings.Split(configData(t, objs, "start-squid.sh"), "\n") {
		if strings.Contains(line, "secret") && !strings.HasPrefix(strings.TrimSpace(line), "#") {
			lines = append(lines, strings.NewReplacer("/var/run/squid-log-token", dir, "$run", dir).Replace(line))
		}
	}
	if out, err := exec.Command("sh", "-euc", strings.Join(lines, "\n")).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	meta, _ := os.ReadFile(filepath.Join(dir, "learn.conf"))
	m := regexp.MustCompile(`^adaptation_meta ` + icap.SecretHeader + ` "([0-9a-f]{32})" learned_registries blob_paths\n$`).FindSubmatch(meta)
	if m == nil {
		t.Fatalf("learn.conf: %q", meta)
	}
	icapArgs := fmt.Sprint(find(t, objs, "StatefulSet", "squid-cache").get("spec", "template", "spec", "initContainers"))
	file := "/var/run/squid-log-token/learn-secret"
	if !strings.Contains(icapArgs, "--learn.secret-file="+file) || !strings.Contains(icapArgs, "mountPath:/var/run/squid-log-token") {
		t.Fatalf("the ICAP service does not read %s from the volume", file)
	}
	secret := &icap.SecretFile{Path: filepath.Join(dir, "learn-secret")}
	if !secret.Matches(string(m[1])) {
		t.Error("the service's file does not hold the secret Squid sends")
	}
}
