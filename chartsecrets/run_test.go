package chartsecrets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/go-kit/log"

	"github.com/squid-cache-exporter/squid-cache-exporter/bumpca"
	"github.com/squid-cache-exporter/squid-cache-exporter/kubeapi"
	"github.com/squid-cache-exporter/squid-cache-exporter/kubeapi/kubeapitest"
)

// A first install: the CA, its ConfigMap and the password are made, each
// labelled and annotated keep, and the log names them without a secret.
func TestRunMakesEverythingFromNothing(t *testing.T) {
	w := newWorld(t)
	lines, reqs, err := w.run(t, config())
	if err != nil {
		t.Fatal(err)
	}
	ca := w.secret(t, "squid-cache-ca")
	crt, key := ca.SecretData["tls.crt"], ca.SecretData["tls.key"]
	if ca.Type != "kubernetes.io/tls" || !bytes.Equal(ca.SecretData["ca.crt"], crt) || len(ca.SecretData) != 3 {
		t.Errorf("CA Secret: type %q, keys %v", ca.Type, keys(ca.SecretData))
	}
	if err := bumpca.Check(crt, key, []string{"quay.io", "registry.access.redhat.com"}, day); err != nil {
		t.Errorf("the CA made: %v", err)
	}
	cm := w.configMap(t, "squid-cache-ca")
	if cm.Data["ca.crt"] != string(crt) || len(cm.Data) != 1 {
		t.Errorf("ConfigMap data %q", cm.Data)
	}
	pw := w.secret(t, "squid-cache-cachemgr")
	if pw.Type != "Opaque" || !regexp.MustCompile(`^[A-Za-z0-9]{32}$`).Match(pw.SecretData["password"]) || len(pw.SecretData) != 1 {
		t.Errorf("cache manager Secret: type %q, keys %v", pw.Type, keys(pw.SecretData))
	}
	keep := map[string]string{"helm.sh/resource-policy": "keep"}
	for o, annotations := range map[*storedObject]map[string]string{&ca: {"helm.sh/resource-policy": "keep", rotationAnnotation: ""}, &cm: keep, &pw: keep} {
		if o.Metadata.Labels["app.kubernetes.io/name"] != "squid-cache" || len(o.Metadata.Labels) != 1 ||
			!maps.Equal(o.Metadata.Annotations, annotations) {
			t.Errorf("labels %v, annotations %v, want %v", o.Metadata.Labels, o.Metadata.Annotations, annotations)
		}
	}
	fp := fingerprint(t, crt)
	checkLines(t, lines, []string{
		`level=info msg=created secret=squid-cache-ca namespace=squid sha256=` + fp + ` not_after=2027-03-01T12:00:00Z permitted=quay.io,registry.access.redhat.com`,
		`level=info msg=created configmap=squid-cache-ca namespace=squid key=ca.crt sha256=` + fp,
		`level=info msg=created secret=squid-cache-cachemgr namespace=squid key=password`,
	})
	if got := writes(reqs); !slices.Equal(got, []string{"POST secrets/squid-cache-ca", "POST configmaps/squid-cache-ca", "POST secrets/squid-cache-cachemgr"}) {
		t.Errorf("writes %q", got)
	}
	noSecretIn(t, strings.Join(lines, "\n"), key, pw.SecretData["password"])
}

// Every later install or upgrade: nothing is written, and each object is
// logged as kept.
func TestRunAgainKeepsEverything(t *testing.T) {
	w := newWorld(t)
	if _, _, err := w.run(t, config()); err != nil {
		t.Fatal(err)
	}
	before := [][]byte{w.api.Object(ns, "secrets", "squid-cache-ca"), w.api.Object(ns, "configmaps", "squid-cache-ca"),
		w.api.Object(ns, "secrets", "squid-cache-cachemgr")}
	lines, reqs, err := w.run(t, config())
	if err != nil {
		t.Fatal(err)
	}
	if got := writes(reqs); got != nil {
		t.Errorf("writes %q", got)
	}
	after := [][]byte{w.api.Object(ns, "secrets", "squid-cache-ca"), w.api.Object(ns, "configmaps", "squid-cache-ca"),
		w.api.Object(ns, "secrets", "squid-cache-cachemgr")}
	for i := range before {
		if !bytes.Equal(before[i], after[i]) {
			t.Errorf("changed:\n%s\n%s", before[i], after[i])
		}
	}
	fp := fingerprint(t, w.secret(t, "squid-cache-ca").SecretData["tls.crt"])
	checkLines(t, lines, []string{
		`level=info msg=kept secret=squid-cache-ca namespace=squid sha256=` + fp + ` not_after=2027-03-01T12:00:00Z permitted=quay.io,registry.access.redhat.com`,
		`level=info msg=kept configmap=squid-cache-ca namespace=squid key=ca.crt sha256=` + fp,
		`level=info msg=kept secret=squid-cache-cachemgr namespace=squid key=password`,
	})
}

// cachedDomains grew since the CA was made: the CA stays (clients trust
// it), and the log says what it lacks and what to do.
func TestRunWarnsOfACANotAsWanted(t *testing.T) {
	for _, tc := range []struct {
		name     string
		generate bool
		certPEM  func(*testing.T) ([]byte, []byte)
		warning  string
	}{
		{"a domain added", true, func(t *testing.T) ([]byte, []byte) { return newCA(t, ".quay.io") },
			`problems="it permits quay.io but not registry.access.redhat.com"`},
		{"a user's CA without constraints", false, helmGenCA,
			`problems="no pathlen:0: it can sign other CAs; no name constraints: it can sign for any name"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			crt, key := tc.certPEM(t)
			w.putSecret(t, "squid-cache-ca", "kubernetes.io/tls", nil, map[string][]byte{"tls.crt": crt, "tls.key": key})
			c := config()
			c.CAGenerate = tc.generate
			lines, reqs, err := w.run(t, c)
			if err != nil {
				t.Fatal(err)
			}
			if len(lines) != 4 || !strings.HasPrefix(lines[0], "level=info msg=kept secret=squid-cache-ca") {
				t.Fatalf("log:\n%s", strings.Join(lines, "\n"))
			}
			want := `level=warn msg="the CA is not as wanted: rotate it (the chart: a new ca.rotation; README, The CA)" secret=squid-cache-ca namespace=squid ` + tc.warning
			if lines[1] != want {
				t.Errorf("warning\n%s\nwant\n%s", lines[1], want)
			}
			if got := w.secret(t, "squid-cache-ca").SecretData["tls.crt"]; !bytes.Equal(got, crt) {
				t.Error("the CA was replaced")
			}
			if got := writes(reqs); !slices.Equal(got, []string{"POST configmaps/squid-cache-ca", "POST secrets/squid-cache-cachemgr"}) {
				t.Errorf("writes %q", got)
			}
		})
	}
}

// Without --ca.generate the CA is the user's (or cert-manager's) to make:
// a missing one fails the Job, saying which and what to do.
func TestRunWithoutGenerateNeedsTheCA(t *testing.T) {
	w := newWorld(t)
	c := config()
	c.CAGenerate = false
	_, reqs, err := w.run(t, c)
	want := "the CA Secret squid/squid-cache-ca does not exist: create it (type kubernetes.io/tls, with tls.crt and tls.key), " +
		"have cert-manager issue it, or pass --ca.generate to have one made"
	if err == nil || err.Error() != want {
		t.Fatalf("err %v\nwant %s", err, want)
	}
	if got := writes(reqs); got != nil {
		t.Errorf("writes %q", got)
	}
}

// Two pods of the Job at once (a retried Job, two upgrades): whoever
// creates first wins, the other reads that object back and goes on with it.
func TestRunLosesARace(t *testing.T) {
	otherCrt, otherKey := newCA(t, ".quay.io", "registry.access.redhat.com")
	for _, tc := range []struct {
		name     string
		resource string
		object   string
		put      func(w *world)
		line     string // the loser's line for the object, after the level
	}{
		{"CA", "secrets", "squid-cache-ca", func(w *world) {
			w.putSecret(t, "squid-cache-ca", "kubernetes.io/tls", map[string]string{"helm.sh/resource-policy": "keep"},
				map[string][]byte{"tls.crt": otherCrt, "tls.key": otherKey, "ca.crt": otherCrt})
		}, `msg=kept secret=squid-cache-ca namespace=squid sha256=` + fingerprint(t, otherCrt) +
			` not_after=2027-03-01T12:00:00Z permitted=quay.io,registry.access.redhat.com why="another run created it first"`},
		{"password", "secrets", "squid-cache-cachemgr", func(w *world) {
			w.putSecret(t, "squid-cache-cachemgr", "Opaque", nil, map[string][]byte{"password": []byte("theirs")})
		}, `msg=kept secret=squid-cache-cachemgr namespace=squid key=password why="another run created it first"`},
		{"ConfigMap, same CA", "configmaps", "squid-cache-ca", func(w *world) {
			w.putConfigMap(t, "squid-cache-ca", nil, map[string]string{"ca.crt": string(w.secret(t, "squid-cache-ca").SecretData["tls.crt"])})
		}, `msg=kept configmap=squid-cache-ca namespace=squid key=ca.crt sha256=`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			raced := false
			w.api.OnRequest = func(r kubeapitest.Request) {
				if r.Method == "POST" && r.Resource == tc.resource && r.Name == tc.object && !raced {
					raced = true
					tc.put(w)
				}
			}
			lines, _, err := w.run(t, config())
			if err != nil {
				t.Fatal(err)
			}
			if !raced {
				t.Fatal("no race")
			}
			found := false
			for _, l := range lines {
				found = found || strings.HasPrefix(l, "level=info "+tc.line)
			}
			if !found {
				t.Errorf("no line %q in\n%s", tc.line, strings.Join(lines, "\n"))
			}
			if cm := w.configMap(t, "squid-cache-ca"); cm.Data["ca.crt"] != string(w.secret(t, "squid-cache-ca").SecretData["tls.crt"]) {
				t.Error("the ConfigMap does not hold the winner's CA")
			}
			if tc.name == "password" && string(w.secret(t, "squid-cache-cachemgr").SecretData["password"]) != "theirs" {
				t.Error("the password was replaced")
			}
		})
	}
}

// The clients' ConfigMap follows the CA Secret (cert-manager renewed it,
// the operator rotated it), keeps its other keys, and survives someone
// writing it between our read and our write.
func TestRunUpdatesTheConfigMap(t *testing.T) {
	w := newWorld(t)
	crt, key := newCA(t, ".quay.io", "registry.access.redhat.com")
	w.putSecret(t, "squid-cache-ca", "kubernetes.io/tls", nil, map[string][]byte{"tls.crt": crt, "tls.key": key})
	w.putConfigMap(t, "squid-cache-ca", map[string]string{"note": "mine"}, map[string]string{"ca.crt": "old", "extra.pem": "kept"})
	interfered := false
	w.api.OnRequest = func(r kubeapitest.Request) {
		if r.Method == "PUT" && !interfered {
			interfered = true
			w.putConfigMap(t, "squid-cache-ca", map[string]string{"note": "mine"}, map[string]string{"ca.crt": "older", "extra.pem": "kept"})
		}
	}
	lines, reqs, err := w.run(t, config())
	if err != nil {
		t.Fatal(err)
	}
	cm := w.configMap(t, "squid-cache-ca")
	if cm.Data["ca.crt"] != string(crt) || cm.Data["extra.pem"] != "kept" || cm.Metadata.Annotations["note"] != "mine" {
		t.Errorf("ConfigMap %+v", cm)
	}
	if got := writes(reqs); !slices.Equal(got, []string{"PUT configmaps/squid-cache-ca", "PUT configmaps/squid-cache-ca", "POST secrets/squid-cache-cachemgr"}) {
		t.Errorf("writes %q (want a PUT refused for a stale resourceVersion, then one that works)", got)
	}
	checkLines(t, lines[1:2], []string{`level=info msg=updated configmap=squid-cache-ca namespace=squid key=ca.crt sha256=` +
		fingerprint(t, crt) + ` why="it held another certificate"`})
}

// An upgrade from the chart that rendered these objects: Helm owns them,
// and would delete them after the upgrade since the chart renders them no
// more. The Job annotates them keep first, and changes nothing else.
func TestRunKeepsWhatHelmRendered(t *testing.T) {
	crt, key := helmGenCA(t)
	helm := map[string]string{"meta.helm.sh/release-name": "squid", "meta.helm.sh/release-namespace": ns}
	setup := func(t *testing.T) *world {
		w := newWorld(t)
		w.putSecret(t, "squid-cache-ca", "kubernetes.io/tls", helm, map[string][]byte{"tls.crt": crt, "tls.key": key, "ca.crt": crt})
		w.putConfigMap(t, "squid-cache-ca", helm, map[string]string{"ca.crt": strings.TrimSpace(string(crt)) + "\n"})
		w.putSecret(t, "squid-cache-cachemgr", "Opaque", helm, map[string][]byte{"password": []byte("rendered")})
		return w
	}
	// With --ca.generate such a CA is refused: it can sign for any name and
	// its key is in the release's history. Kept, it is the user's choice.
	t.Run("refused with --ca.generate", func(t *testing.T) {
		w := setup(t)
		_, reqs, err := w.run(t, config())
		if err == nil || !strings.Contains(err.Error(), "set ca.rotation") || writes(reqs) != nil {
			t.Errorf("%v, writes %q; want a refusal that names ca.rotation and no write", err, writes(reqs))
		}
	})
	kept := config()
	kept.CAGenerate = false
	t.Run("annotated", func(t *testing.T) {
		w := setup(t)
		lines, reqs, err := w.run(t, kept)
		if err != nil {
			t.Fatal(err)
		}
		fp := fingerprint(t, crt)
		checkLines(t, lines, []string{
			`level=info msg=kept secret=squid-cache-ca namespace=squid sha256=` + fp + ` not_after=2035-03-01T12:00:00Z ` +
				`permitted="any name (no name constraints)" annotated="helm.sh/resource-policy=keep" release=squid`,
			`level=warn msg="the CA is not as wanted: rotate it (the chart: a new ca.rotation; README, The CA)" secret=squid-cache-ca namespace=squid ` +
				`problems="no pathlen:0: it can sign other CAs; no name constraints: it can sign for any name"`,
			`level=info msg=updated configmap=squid-cache-ca namespace=squid key=ca.crt sha256=` + fp +
				` annotated="helm.sh/resource-policy=keep" release=squid`,
			// The rendered password is in the release's history: a new one.
			`level=info msg=replaced secret=squid-cache-cachemgr namespace=squid key=password why="an earlier chart rendered it: it is in Helm's release history" annotated="helm.sh/resource-policy=keep" release=squid`,
		})
		if got := writes(reqs); !slices.Equal(got, []string{"PATCH secrets/squid-cache-ca", "PUT configmaps/squid-cache-ca", "PUT secrets/squid-cache-cachemgr"}) {
			t.Errorf("writes %q", got)
		}
		for _, o := range []storedObject{w.secret(t, "squid-cache-ca"), w.configMap(t, "squid-cache-ca"), w.secret(t, "squid-cache-cachemgr")} {
			if o.Metadata.Annotations["helm.sh/resource-policy"] != "keep" || o.Metadata.Annotations["meta.helm.sh/release-name"] != "squid" {
				t.Errorf("annotations %v", o.Metadata.Annotations)
			}
		}
		if !bytes.Equal(w.secret(t, "squid-cache-ca").SecretData["tls.key"], key) {
			t.Error("the CA kept knowingly changed")
		}
		if p := string(w.secret(t, "squid-cache-cachemgr").SecretData["password"]); p == "rendered" || len(p) != 32 {
			t.Errorf("the rendered password was not replaced: %q", p)
		}
		if lines, reqs, _ := w.run(t, kept); writes(reqs) != nil || strings.Contains(strings.Join(lines, "\n"), "annotated") {
			t.Errorf("the next run annotates again: %q", writes(reqs))
		}
	})
	t.Run("not allowed to", func(t *testing.T) {
		w := setup(t)
		w.api.Forbid("patch", "secrets")
		_, _, err := w.run(t, kept)
		want := `the Job's ServiceAccount may not patch secrets in namespace squid (see its Role): the Secret squid/squid-cache-ca ` +
			`is Helm release squid's, which deletes it after this upgrade unless it is annotated helm.sh/resource-policy=keep; ` +
			`the Job could not annotate it (let its Role patch secrets, or run kubectl annotate secret -n squid squid-cache-ca ` +
			`helm.sh/resource-policy=keep): patch secret squid/squid-cache-ca: 403 Forbidden: secrets "squid-cache-ca" is ` +
			`forbidden: User "system:serviceaccount:squid:test" cannot patch resource "secrets" in API group "" in the namespace "squid"`
		if err == nil || err.Error() != want {
			t.Fatalf("err %v\nwant %s", err, want)
		}
	})
}

// Errors end the run with what to fix.
func TestRunFails(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(*world)
		change func(*Config)
		err    string
	}{
		{"may not create secrets", func(w *world) { w.api.Forbid("create", "secrets") }, nil,
			`the Job's ServiceAccount may not create secrets in namespace squid (see its Role): create secret squid/squid-cache-ca: ` +
				`403 Forbidden: secrets "squid-cache-ca" is forbidden: User "system:serviceaccount:squid:test" cannot create resource ` +
				`"secrets" in API group "" in the namespace "squid"`},
		{"may not read configmaps", func(w *world) { w.api.Forbid("get", "configmaps") }, nil,
			`the Job's ServiceAccount may not get configmaps in namespace squid (see its Role): get configmap squid/squid-cache-ca: 403 Forbidden: `},
		{"a CA Secret without a key", func(w *world) {
			crt, _ := newCA(t, "quay.io")
			w.putSecret(t, "squid-cache-ca", "Opaque", nil, map[string][]byte{"tls.crt": crt})
		}, nil, "the CA Secret squid/squid-cache-ca lacks tls.crt or tls.key: Squid needs both"},
		{"a CA Secret without a certificate", func(w *world) {
			w.putSecret(t, "squid-cache-ca", "kubernetes.io/tls", nil, map[string][]byte{"tls.crt": []byte("junk"), "tls.key": []byte("junk")})
		}, nil, "the CA Secret squid/squid-cache-ca: tls.crt: no PEM CERTIFICATE block"},
		{"a password Secret without a password", func(w *world) {
			w.putSecret(t, "squid-cache-cachemgr", "Opaque", nil, map[string][]byte{"pass": []byte("x")})
		}, nil, "the Secret squid/squid-cache-cachemgr has no password key: put the cache manager password there, or delete the Secret to have one made"},
		{"nothing to do", nil, func(c *Config) { *c = Config{} }, "nothing to do: give --ca.secret, --cachemgr.secret or both"},
		{"a ConfigMap without a CA", nil, func(c *Config) { c.CASecret, c.CAGenerate = "", false }, "--ca.generate and --ca.configmap need --ca.secret"},
		{"a ConfigMap in no namespace", nil, func(c *Config) { c.CAConfigMaps = []string{"/x"} }, "--ca.configmap=/x: want NAME or NAMESPACE/NAME"},
		{"a ConfigMap of no name", nil, func(c *Config) { c.CAConfigMaps = []string{"ns/"} }, "--ca.configmap=ns/: want NAME or NAMESPACE/NAME"},
		{"a ConfigMap path", nil, func(c *Config) { c.CAConfigMaps = []string{"a/b/c"} }, "--ca.configmap=a/b/c: want NAME or NAMESPACE/NAME"},
		{"a bad domain", nil, func(c *Config) { c.CA.PermittedDomains = []string{"*.quay.io"} },
			`--ca.generate: bump CA: permitted domain "*.quay.io": '*' is not allowed in a DNS name (no wildcards, spaces or underscores)`},
		{"a bad domain to check", nil, func(c *Config) { c.CAGenerate, c.CA.PermittedDomains = false, []string{"10.0.0.1"} },
			`--ca.permitted-domain: permitted domain "10.0.0.1": an IP address, not a domain`},
		{"no domains", nil, func(c *Config) { c.CA.PermittedDomains = nil },
			`--ca.generate: bump CA: no permitted domains: a CA without them could sign for any name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			if tc.setup != nil {
				tc.setup(w)
			}
			c := config()
			if tc.change != nil {
				tc.change(&c)
			}
			_, _, err := w.run(t, c)
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Fatalf("err %v\nwant %s", err, tc.err)
			}
		})
	}
}

// An API error keeps its kind through explain.
func TestExplainKeepsTheError(t *testing.T) {
	w := newWorld(t)
	w.api.Forbid("get", "secrets")
	err := Run(context.Background(), w.c, config(), log.NewNopLogger())
	if !errors.Is(err, kubeapi.ErrForbidden) {
		t.Errorf("%v is not ErrForbidden", err)
	}
}

func TestPassword(t *testing.T) {
	seen := map[byte]bool{}
	for range 200 {
		p := password()
		if !regexp.MustCompile(`^[A-Za-z0-9]{32}$`).Match(p) {
			t.Fatalf("password %q", p)
		}
		for _, c := range p {
			seen[c] = true
		}
	}
	if len(seen) != 62 {
		t.Errorf("%d of 62 characters in 6400", len(seen))
	}
}

// noSecretIn fails if the log holds a line of the key's PEM or the
// password.
func noSecretIn(t *testing.T, log string, keyPEM, password []byte) {
	t.Helper()
	if bytes.Contains([]byte(log), password) {
		t.Error("the log holds the password")
	}
	for _, l := range strings.Split(string(keyPEM), "\n") {
		if len(l) > 16 && !strings.HasPrefix(l, "-----") && strings.Contains(log, l) {
			t.Errorf("the log holds the key: %q", l)
		}
	}
}

func keys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// trust-manager reads its sources from its own namespace: a second
// ConfigMap there holds the same certificate.
func TestRunFillsAConfigMapInAnotherNamespace(t *testing.T) {
	w := newWorld(t)
	c := config()
	c.CAConfigMaps = append(c.CAConfigMaps, "cert-manager/squid-cache-squid-ca")
	lines, _, err := w.run(t, c)
	if err != nil {
		t.Fatal(err)
	}
	crt := w.secret(t, "squid-cache-ca").SecretData["tls.crt"]
	var trust storedObject
	if err := json.Unmarshal(w.api.Object("cert-manager", "configmaps", "squid-cache-squid-ca"), &trust); err != nil {
		t.Fatal(err)
	}
	if trust.Data["ca.crt"] != string(crt) || trust.Metadata.Labels["app.kubernetes.io/name"] != "squid-cache" {
		t.Errorf("trust-manager's source %+v", trust)
	}
	checkLines(t, lines[2:3], []string{`level=info msg=created configmap=squid-cache-squid-ca namespace=cert-manager key=ca.crt sha256=` + fingerprint(t, crt)})
}
