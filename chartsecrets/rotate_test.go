package chartsecrets

import (
	"bytes"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/squid-cache-exporter/squid-cache-exporter/kubeapi/kubeapitest"
)

// rotation is the chart's Job with --ca.rotation=token.
func rotation(token string) Config {
	c := config()
	c.CARotation = token
	return c
}

const permitted = ` not_after=2027-03-01T12:00:00Z permitted=quay.io,registry.access.redhat.com`

// The life of a CA the Job made: a run with the token it was made for
// keeps it; a run with another replaces it in the Secret, and the
// clients' ConfigMap follows.
func TestRunRotatesOnANewToken(t *testing.T) {
	w := newWorld(t)
	if _, _, err := w.run(t, rotation("")); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		token   string
		rotated bool
	}{
		{"", false},
		{"a", true},
		{"a", false},
		{"", true}, // back to the default is another token too
	} {
		before := w.secret(t, "squid-cache-ca")
		lines, reqs, err := w.run(t, rotation(step.token))
		if err != nil {
			t.Fatalf("--ca.rotation=%q: %v", step.token, err)
		}
		after := w.secret(t, "squid-cache-ca")
		oldFP, newFP := fingerprint(t, before.SecretData["tls.crt"]), fingerprint(t, after.SecretData["tls.crt"])
		if !step.rotated {
			if got := writes(reqs); got != nil || newFP != oldFP {
				t.Errorf("--ca.rotation=%q on a CA made for it: writes %q", step.token, got)
			}
			checkLines(t, lines[:1], []string{`level=info msg=kept secret=squid-cache-ca namespace=squid sha256=` + oldFP + permitted})
			continue
		}
		if newFP == oldFP || after.Metadata.Annotations[rotationAnnotation] != step.token {
			t.Errorf("--ca.rotation=%q: the CA is %s (was %s), annotations %v", step.token, newFP, oldFP, after.Metadata.Annotations)
		}
		for k, v := range after.SecretData {
			if bytes.Equal(v, before.SecretData["tls.key"]) {
				t.Errorf("--ca.rotation=%q: the old key is still in %s", step.token, k)
			}
		}
		if !bytes.Equal(after.SecretData["ca.crt"], after.SecretData["tls.crt"]) || len(after.SecretData) != 3 ||
			!maps.Equal(after.Metadata.Labels, before.Metadata.Labels) {
			t.Errorf("--ca.rotation=%q: keys %v, labels %v", step.token, keys(after.SecretData), after.Metadata.Labels)
		}
		if cm := w.configMap(t, "squid-cache-ca"); cm.Data["ca.crt"] != string(after.SecretData["tls.crt"]) {
			t.Errorf("--ca.rotation=%q: the ConfigMap holds the old CA", step.token)
		}
		checkLines(t, lines[:2], []string{
			`level=info msg=rotated secret=squid-cache-ca namespace=squid sha256=` + newFP + permitted +
				` previous_sha256=` + oldFP + ` rotation=` + step.token,
			`level=info msg=updated configmap=squid-cache-ca namespace=squid key=ca.crt sha256=` + newFP + ` why="it held another certificate"`,
		})
		if got := writes(reqs); !slices.Equal(got, []string{"PUT secrets/squid-cache-ca", "PUT configmaps/squid-cache-ca"}) {
			t.Errorf("--ca.rotation=%q: writes %q", step.token, got)
		}
		noSecretIn(t, strings.Join(lines, "\n"), after.SecretData["tls.key"], []byte("no password here"))
	}
}

// A CA Secret the Job did not make (the user's, or one the chart rendered
// before the Job) has no token and no constraints: with --ca.generate, the
// empty token refuses it (it can sign for any name), another replaces the CA
// and keeps the rest.
func TestRunRotatesASecretItDidNotMake(t *testing.T) {
	crt, key := helmGenCA(t)
	helm := map[string]string{"meta.helm.sh/release-name": "squid", "meta.helm.sh/release-namespace": ns}
	for _, tc := range []struct {
		name        string
		annotations map[string]string
		data        map[string][]byte
		token       string
		line        string // after sha256=NEW ... rotation=TOKEN, or the whole line when kept
		writes      []string
	}{
		{"the user's, no token", nil, map[string][]byte{"tls.crt": crt, "tls.key": key}, "",
			`level=info msg=kept secret=squid-cache-ca namespace=squid sha256=` + fingerprint(t, crt) +
				` not_after=2035-03-01T12:00:00Z permitted="any name (no name constraints)"`, []string{"POST configmaps/squid-cache-ca"}},
		{"the user's, a token", map[string]string{"note": "mine"}, map[string][]byte{"tls.crt": crt, "tls.key": key, "extra": []byte("x")}, "2026-12",
			` previous_sha256=` + fingerprint(t, crt) + ` rotation=2026-12`, []string{"PUT secrets/squid-cache-ca", "POST configmaps/squid-cache-ca"}},
		// Annotated keep in the same update: no PATCH.
		{"Helm's", helm, map[string][]byte{"tls.crt": crt, "tls.key": key, "ca.crt": crt}, "2026-12",
			` previous_sha256=` + fingerprint(t, crt) + ` rotation=2026-12 annotated="helm.sh/resource-policy=keep" release=squid`,
			[]string{"PUT secrets/squid-cache-ca", "POST configmaps/squid-cache-ca"}},
		// Not a CA a Job could use, but one it can replace.
		{"without a certificate", nil, map[string][]byte{"tls.crt": []byte("junk")}, "2026-12",
			` previous_sha256=none rotation=2026-12`, []string{"PUT secrets/squid-cache-ca", "POST configmaps/squid-cache-ca"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.putSecret(t, "squid-cache-ca", "kubernetes.io/tls", tc.annotations, tc.data)
			c := rotation(tc.token)
			c.CachemgrSecret = ""
			lines, reqs, err := w.run(t, c)
			if tc.token == "" {
				if err == nil || !strings.Contains(err.Error(), "set ca.rotation") || writes(reqs) != nil {
					t.Errorf("kept an unconstrained CA: %v, writes %q", err, writes(reqs))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := writes(reqs); !slices.Equal(got, tc.writes) {
				t.Errorf("writes %q", got)
			}
			s := w.secret(t, "squid-cache-ca")
			fp := fingerprint(t, s.SecretData["tls.crt"])
			checkLines(t, lines[:1], []string{`level=info msg=rotated secret=squid-cache-ca namespace=squid sha256=` + fp + permitted + tc.line})
			want := maps.Clone(tc.annotations)
			if want == nil {
				want = map[string]string{}
			}
			want["helm.sh/resource-policy"], want[rotationAnnotation] = "keep", tc.token
			if !maps.Equal(s.Metadata.Annotations, want) {
				t.Errorf("annotations %v, want %v", s.Metadata.Annotations, want)
			}
			wantData := maps.Clone(tc.data)
			wantData["ca.crt"], wantData["tls.crt"], wantData["tls.key"] = nil, nil, nil
			if !slices.Equal(keys(s.SecretData), keys(wantData)) || !bytes.Equal(s.SecretData["extra"], tc.data["extra"]) ||
				bytes.Equal(s.SecretData["tls.key"], key) {
				t.Errorf("keys %v, want %v, the others kept and a new key", keys(s.SecretData), keys(wantData))
			}
		})
	}
}

// Two pods of the Job rotate at once: the second one's update finds the
// Secret changed. When the other one rotated it for the same token, that
// CA is the CA; when something else wrote it, the run fails and says so.
func TestRunRotationRaces(t *testing.T) {
	theirs, theirKey := newCA(t, ".quay.io", "registry.access.redhat.com")
	for _, tc := range []struct {
		name  string
		token string // the other writer's
		err   string
	}{
		{"the same token", "a", ""},
		{"another token", "b", `the CA Secret squid/squid-cache-ca changed while this run rotated it for --ca.rotation=a, ` +
			`and now has squid-cache.io/ca-rotation="b": another run with another token, or someone else, wrote it; the CA was not rotated, run the Job again`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			if _, _, err := w.run(t, rotation("")); err != nil {
				t.Fatal(err)
			}
			raced := false
			w.api.OnRequest = func(r kubeapitest.Request) {
				if r.Method == "PUT" && r.Resource == "secrets" && !raced {
					raced = true
					w.putSecret(t, "squid-cache-ca", "kubernetes.io/tls", map[string]string{rotationAnnotation: tc.token},
						map[string][]byte{"tls.crt": theirs, "tls.key": theirKey, "ca.crt": theirs})
				}
			}
			lines, reqs, err := w.run(t, rotation("a"))
			if !raced {
				t.Fatal("no race")
			}
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err %v\nwant %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fp := fingerprint(t, theirs)
			checkLines(t, lines[:2], []string{
				`level=info msg=kept secret=squid-cache-ca namespace=squid sha256=` + fp + permitted + ` why="another run rotated it first"`,
				`level=info msg=updated configmap=squid-cache-ca namespace=squid key=ca.crt sha256=` + fp + ` why="it held another certificate"`,
			})
			if got := writes(reqs); !slices.Equal(got, []string{"PUT secrets/squid-cache-ca", "PUT configmaps/squid-cache-ca"}) {
				t.Errorf("writes %q", got)
			}
		})
	}
}

// A Role without update on Secrets: the run fails before anything changed,
// saying which verb the Role lacks and which flag asked for it.
func TestRunRotationForbidden(t *testing.T) {
	w := newWorld(t)
	if _, _, err := w.run(t, rotation("")); err != nil {
		t.Fatal(err)
	}
	before := w.api.Object(ns, "secrets", "squid-cache-ca")
	w.api.Forbid("update", "secrets")
	_, _, err := w.run(t, rotation("a"))
	want := `the Job's ServiceAccount may not update secrets in namespace squid (see its Role): --ca.rotation=a asks for a new CA ` +
		`in squid/squid-cache-ca: update secret squid/squid-cache-ca: 403 Forbidden: secrets "squid-cache-ca" is forbidden: ` +
		`User "system:serviceaccount:squid:test" cannot update resource "secrets" in API group "" in the namespace "squid"`
	if err == nil || err.Error() != want {
		t.Fatalf("err %v\nwant %s", err, want)
	}
	if !bytes.Equal(w.api.Object(ns, "secrets", "squid-cache-ca"), before) {
		t.Error("the Secret changed")
	}
}

// Without --ca.generate the CA is the user's or cert-manager's: the token
// changes nothing, and the log does not mention it.
func TestRunWithoutGenerateIgnoresTheToken(t *testing.T) {
	for _, annotations := range []map[string]string{nil, {rotationAnnotation: "a"}} {
		w := newWorld(t)
		crt, key := newCA(t, ".quay.io", "registry.access.redhat.com")
		w.putSecret(t, "squid-cache-ca", "kubernetes.io/tls", annotations, map[string][]byte{"tls.crt": crt, "tls.key": key})
		before := w.api.Object(ns, "secrets", "squid-cache-ca")
		c := rotation("b")
		c.CAGenerate = false
		lines, reqs, err := w.run(t, c)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(w.api.Object(ns, "secrets", "squid-cache-ca"), before) || slices.Contains(writes(reqs), "PUT secrets/squid-cache-ca") {
			t.Errorf("annotations %v: the Secret changed", annotations)
		}
		checkLines(t, lines[:1], []string{`level=info msg=kept secret=squid-cache-ca namespace=squid sha256=` + fingerprint(t, crt) + permitted})
	}
}
