// Package testenv is the world the end-to-end tests run in: the quay
// emulation, a bumping Squid in front of it that trusts the emulation's CA,
// and Squid's access log followed into a hub, as the exporter follows it.
// Tests add what they test: the prober, the private-blob helpers, the
// exporter binary.
package testenv

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/go-kit/log"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/pkitest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/quaytest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
)

// Env is a running world; it stops when the test ends.
type Env struct {
	Quay  *quaytest.Quay
	Bump  *pkitest.CA // signs the certificates Squid makes when it bumps
	Squid *squidtest.Squid
	Log   *accesslog.Hub // Squid's access log, followed
}

// Options shape an Env. The zero value is a bumping Squid in front of a quay
// emulation whose repositories are all public.
type Options struct {
	Users   map[string]string      // may pull the private repositories
	Flavor  quaytest.Flavor        // the registry emulated; quay's when zero
	Quay    *quaytest.Quay         // an emulation already started (its flavor wins); nil: one is started
	Private []string               // repositories that need credentials, such as "org/private"
	StoreID string                 // a store_id_program script for Squid (squidtest.Options.StoreID)
	Extra   []string               // more squid.conf lines (squidtest.Options.Extra)
	Tap     func(*accesslog.Entry) // sees every line of Squid's access log (accesslog.Hub.Tap)
}

// Start runs the quay emulation and a bumping Squid in front of it, and
// follows Squid's access log.
func Start(t testing.TB, o Options) *Env {
	t.Helper()
	flavor := o.Flavor
	if flavor.Name == "" {
		flavor = quaytest.QuayFlavor
	}
	e := &Env{Quay: o.Quay, Bump: pkitest.NewCA(t, "squid bump CA")}
	if e.Quay == nil {
		e.Quay = quaytest.StartFlavor(t, o.Users, flavor)
	}
	for _, repo := range o.Private {
		e.Quay.MakePrivate(repo)
	}
	e.Squid = squidtest.Start(t, squidtest.Options{Hosts: e.Quay.Hosts, BumpCA: e.Bump, OriginCA: e.Quay.CA,
		StoreID: o.StoreID, Extra: o.Extra})
	e.Log = FollowWith(t, e.Squid.AccessLog, o.Tap)
	return e
}

// Proxy is Squid's URL, for clients that pull through it.
func (e *Env) Proxy() *url.URL { return e.Squid.ProxyURL() }

// Follow tails the access log at path into a new hub until the test ends,
// with the follower's default poll, as deployed. Lines written once it
// returns are seen.
func Follow(t testing.TB, path string) *accesslog.Hub {
	t.Helper()
	return FollowWith(t, path, nil)
}

// FollowWith is Follow with a tap on every line.
func FollowWith(t testing.TB, path string, tap func(*accesslog.Entry)) *accesslog.Hub {
	t.Helper()
	hub := &accesslog.Hub{Tap: tap}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := (&accesslog.Follower{Path: path, Hub: hub, Logger: log.NewNopLogger()}).Start(ctx); err != nil {
		t.Fatal(err)
	}
	return hub
}

// DockerConfig writes a docker config.json holding user's credentials for
// the emulated registry, as a pull secret would, and returns its path.
func (e *Env) DockerConfig(t testing.TB, user, password string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.json")
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	if err := os.WriteFile(path, []byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, e.Quay.Registry, auth)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// SkopeoCopy copies the image ref through Squid, as a client on a build
// pod would, with skopeo trusting the bump CA.
func (e *Env) SkopeoCopy(t testing.TB, ref string) {
	t.Helper()
	skopeo := squidtest.RequireTool(t, "skopeo", "/usr/bin/skopeo", "skopeo")
	certs := t.TempDir()
	e.Bump.WriteCert(t, filepath.Join(certs, "ca.crt"))
	cmd := exec.Command(skopeo, "--insecure-policy", "copy", "--src-cert-dir", certs, "docker://"+ref, "dir:"+filepath.Join(t.TempDir(), "image"))
	cmd.Env = append(os.Environ(), "HTTPS_PROXY="+e.Squid.URL, "https_proxy="+e.Squid.URL, "NO_PROXY=", "no_proxy=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy %s: %v\n%s", ref, err, out)
	}
}
