package charts

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/squid-cache-exporter/squid-cache-exporter/registries"
)

const registriesFile = chartDir + "/files/registries.yaml"

// files/registries.yaml, the names squid.cachedRegistries takes and the
// domains each adds, is the registries table's (go test ./charts -update).
func TestRegistriesFileIsTheTable(t *testing.T) {
	var b strings.Builder
	b.WriteString("# Generated from registries/registries.go by `go test ./charts -update`: the names\n" +
		"# squid.cachedRegistries takes, and the domains (Squid's dstdomain spelling) each adds.\n")
	for _, r := range registries.Default {
		fmt.Fprintf(&b, "%s:\n", r.Name)
		for _, d := range r.SquidDomains() {
			fmt.Fprintf(&b, "  - %s\n", d)
		}
	}
	got, _ := os.ReadFile(registriesFile)
	if *update {
		if err := os.WriteFile(registriesFile, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if string(got) != b.String() {
		t.Errorf("%s differs from registries.Default; run go test ./charts -update", registriesFile)
	}
}

// squid.cachedRegistries adds each registry's hosts to what Squid bumps
// and caches and to what the generated CA may sign for; an unknown name is
// refused with the table's names.
func TestCachedRegistries(t *testing.T) {
	objs := objects(t, mustRender(t, nil, map[string]any{"squid.cachedRegistries": []any{"docker.io", "ghcr.io"}}))
	conf, _ := find(t, objs, "ConfigMap", "squid-cache").get("data", "squid.conf").(string)
	want := ".quay.io registry.access.redhat.com registry.access.stage.redhat.com registry.redhat.io registry.stage.redhat.io " +
		"registry-1.docker.io docker.io index.docker.io production.cloudfront.docker.com production.cloudflare.docker.com " +
		".r2.cloudflarestorage.com ghcr.io pkg-containers.githubusercontent.com"
	if !strings.Contains(conf, "acl cached_domains dstdomain -n "+want+"\n") || !strings.Contains(conf, "acl cached_servers ssl::server_name "+want+"\n") {
		t.Errorf("squid.conf's cached domains are not the defaults and the two registries':\n%s", grepLines(conf, "cached_"))
	}
	job := mustRender(t, nil, map[string]any{"squid.cachedRegistries": []any{"docker.io"}})
	for _, d := range []string{"--ca.permitted-domain=.quay.io", "--ca.permitted-domain=registry-1.docker.io", "--ca.permitted-domain=.r2.cloudflarestorage.com"} {
		if !strings.Contains(job, d) {
			t.Errorf("the secrets Job lacks %s", d)
		}
	}
	_, err := render(t, nil, map[string]any{"squid.cachedRegistries": []any{"nope.example"}})
	if err == nil || !strings.Contains(err.Error(), `"nope.example" is not in the registries table`) || !strings.Contains(err.Error(), "docker.io") {
		t.Errorf("an unknown registry: %v", err)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
