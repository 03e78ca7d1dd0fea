package main

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/testenv"
	"github.com/squid-cache-exporter/squid-cache-exporter/kubeapi/kubeapitest"
)

var binary string

func TestMain(m *testing.M) { os.Exit(testenv.RunWithBinary(m, "squid-cache-secrets", &binary)) }

// job runs the binary as the chart's Job does, in a pod whose service
// account talks to api.
func job(t *testing.T, api *kubeapitest.Server, args ...string) (string, int) {
	t.Helper()
	cfg := api.Config(t, "squid")
	u, err := url.Parse(api.URL)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, append([]string{"--kube.service-account-dir=" + filepath.Dir(cfg.TokenFile)}, args...)...)
	cmd.Env = append(os.Environ(), "KUBERNETES_SERVICE_HOST="+u.Hostname(), "KUBERNETES_SERVICE_PORT="+u.Port())
	out, err := cmd.CombinedOutput()
	if exit, ok := err.(*exec.ExitError); ok {
		return string(out), exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

var chartArgs = []string{"--ca.secret=squid-cache-ca", "--ca.generate", "--ca.permitted-domain=.quay.io",
	"--ca.permitted-domain=registry.access.redhat.com", "--ca.configmap=squid-cache-ca", "--ca.configmap=cert-manager/squid-cache-trust",
	"--cachemgr.secret=squid-cache-cachemgr", "--label=app.kubernetes.io/name=squid-cache", "--label=app.kubernetes.io/instance=squid"}

// The flags reach the objects; a second run keeps them; exit 0 both times.
func TestBinaryMakesThenKeeps(t *testing.T) {
	api := kubeapitest.Start(t)
	for _, want := range []string{"created", "kept"} {
		out, code := job(t, api, chartArgs...)
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		for _, object := range []string{"secret=squid-cache-ca namespace=squid", "configmap=squid-cache-ca namespace=squid",
			"configmap=squid-cache-trust namespace=cert-manager", "secret=squid-cache-cachemgr namespace=squid"} {
			if !regexp.MustCompile(`(?m)^level=info ts=\S+ caller=\S+ msg=` + want + ` ` + object + ` `).MatchString(out) {
				t.Errorf("no %s %s line:\n%s", want, object, out)
			}
		}
	}
	for _, resource := range []string{"secrets", "configmaps"} {
		if o := string(api.Object("squid", resource, "squid-cache-ca")); !strings.Contains(o, `"app.kubernetes.io/instance":"squid"`) {
			t.Errorf("%s without the labels: %s", resource, o)
		}
	}
}

// A new --ca.rotation token replaces the CA, and the ConfigMaps follow;
// the same token again keeps it.
func TestBinaryRotates(t *testing.T) {
	api := kubeapitest.Start(t)
	for _, step := range []struct{ token, secret, configmap string }{
		{"", "created", "created"},
		{"2026-12", "rotated", "updated"},
		{"2026-12", "kept", "kept"},
	} {
		out, code := job(t, api, append(chartArgs, "--ca.rotation="+step.token)...)
		if code != 0 {
			t.Fatalf("--ca.rotation=%s: exit %d:\n%s", step.token, code, out)
		}
		for _, want := range []string{`msg=` + step.secret + ` secret=squid-cache-ca namespace=squid `,
			`msg=` + step.configmap + ` configmap=squid-cache-trust namespace=cert-manager `} {
			if !strings.Contains(out, want) {
				t.Errorf("--ca.rotation=%s: no %q in\n%s", step.token, want, out)
			}
		}
		if step.secret == "rotated" && !regexp.MustCompile(` previous_sha256=(?:[0-9A-F]{2}:){31}[0-9A-F]{2} rotation=2026-12\n`).MatchString(out) {
			t.Errorf("the rotated line does not name the previous CA and the token:\n%s", out)
		}
		if o := string(api.Object("squid", "secrets", "squid-cache-ca")); !strings.Contains(o, `"squid-cache.io/ca-rotation":"`+step.token+`"`) {
			t.Errorf("--ca.rotation=%s: the Secret is %s", step.token, o)
		}
	}
}

// Failures exit 1 with one error line that says what to do.
func TestBinaryFails(t *testing.T) {
	for _, tc := range []struct {
		name   string
		forbid string
		args   []string
		want   string
		code   int
	}{
		{"may not create secrets", "create", chartArgs, `level=error ts=\S+ caller=\S+ msg=failed err="the Job's ServiceAccount may not create secrets in namespace squid \(see its Role\): create secret squid/squid-cache-ca: 403 Forbidden: `, 1},
		{"no CA and no --ca.generate", "", []string{"--ca.secret=mine"}, `err="the CA Secret squid/mine does not exist: create it`, 1},
		{"nothing to do", "", nil, `err="nothing to do: give --ca.secret, --cachemgr.secret or both"`, 1},
		{"a bad flag", "", []string{"--log.level=loud"}, `enum value must be one of debug,info,warn,error`, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := kubeapitest.Start(t)
			if tc.forbid != "" {
				api.Forbid(tc.forbid, "secrets")
			}
			out, code := job(t, api, tc.args...)
			if code != tc.code || !regexp.MustCompile(tc.want).MatchString(out) {
				t.Errorf("exit %d, output\n%s\nwant exit %d and %s", code, out, tc.code, tc.want)
			}
		})
	}
}

// Outside a pod, it says so.
func TestBinaryOutsideAPod(t *testing.T) {
	cmd := exec.Command(binary, "--cachemgr.secret=x")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "not in a pod: KUBERNETES_SERVICE_HOST or KUBERNETES_SERVICE_PORT is unset") {
		t.Errorf("err %v, output %s", err, out)
	}
}
