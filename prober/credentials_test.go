package prober

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// A fake docker-credential helper: "get" answers for quay.io only.
const credentialHelper = `#!/bin/sh
read server
case "$1/$server" in
  get/quay.io) echo '{"ServerURL":"quay.io","Username":"helper-user","Secret":"helper-secret"}' ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`

func TestCredentialsFor(t *testing.T) {
	bin := t.TempDir()
	os.WriteFile(filepath.Join(bin, "docker-credential-fake"), []byte(credentialHelper), 0o755)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	tests := []struct {
		name, config, repo string
		want               authn.AuthConfig
		wantErr            string // in the error; it must never hold a secret
	}{
		{"pull secret, auth", "testdata/pull-secret.json", "quay.io/org/private",
			authn.AuthConfig{Username: "robot", Password: "token"}, ""},
		{"username and password", `{"auths":{"https://quay.io/v1/":{"username":"u","password":"p"}}}`, "quay.io/org/x",
			authn.AuthConfig{Username: "u", Password: "p"}, ""},
		{"identity token", `{"auths":{"quay.io":{"identitytoken":"refresh-me"}}}`, "quay.io/org/x",
			authn.AuthConfig{IdentityToken: "refresh-me"}, ""},
		{"the repository's entry wins", `{"auths":{"quay.io":{"auth":"YTpi"},"quay.io/org/x":{"auth":"Yzpk"}}}`, "quay.io/org/x",
			authn.AuthConfig{Username: "c", Password: "d"}, ""},
		{"Docker Hub", `{"auths":{"https://index.docker.io/v1/":{"auth":"aHViOnB3"}}}`, "docker.io/library/ubi",
			authn.AuthConfig{Username: "hub", Password: "pw"}, ""},
		{"credential helper", `{"credHelpers":{"quay.io":"fake"}}`, "quay.io/org/x",
			authn.AuthConfig{Username: "helper-user", Password: "helper-secret"}, ""},
		{"credential store", `{"credsStore":"fake"}`, "quay.io/org/x",
			authn.AuthConfig{Username: "helper-user", Password: "helper-secret"}, ""},
		{"no entry for the registry", "testdata/pull-secret.json", "registry.redhat.io/rhel9/x", authn.AuthConfig{}, "no credentials for registry.redhat.io"},
		{"not JSON", `auths: {}`, "quay.io/org/x", authn.AuthConfig{}, "not a docker config.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.config
			if strings.HasPrefix(tt.config, "{") || !strings.HasPrefix(tt.config, "testdata/") {
				path = filepath.Join(t.TempDir(), "config.json")
				os.WriteFile(path, []byte(tt.config), 0o600)
			}
			repo, _ := name.NewRepository(tt.repo)
			auth, err := credentialsFor(path, repo)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				for _, secret := range []string{"token", "cm9ib3Q6dG9rZW4="} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("the error shows a secret: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := auth.Authorization()
			if *got != tt.want {
				t.Errorf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
}
