package prober

import (
	"fmt"
	"os"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// credentialsFor returns the authenticator for repo from a docker config
// file (also the content of a kubernetes.io/dockerconfigjson pull secret),
// read as docker, podman and go-containerregistry's keychain read theirs:
// auths (auth, or username and password, or identitytoken), credHelpers and
// credsStore. The repository's own entry wins over its registry's. Errors
// name the file and the registry, never a secret.
func credentialsFor(path string, repo name.Repository) (authn.Authenticator, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cf, err := config.LoadFromReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: not a docker config.json", path)
	}
	for _, key := range []string{repo.String(), repo.RegistryStr()} {
		if key == name.DefaultRegistry {
			key = authn.DefaultAuthKey // Docker Hub's key in config files
		}
		ac, err := cf.GetAuthConfig(key)
		if err != nil {
			return nil, fmt.Errorf("%s: credentials for %s: %w", path, repo.RegistryStr(), err)
		}
		if ac.ServerAddress = ""; ac != (types.AuthConfig{}) {
			return authn.FromConfig(authn.AuthConfig{Username: ac.Username, Password: ac.Password, Auth: ac.Auth,
				IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken}), nil
		}
	}
	return nil, fmt.Errorf("%s: no credentials for %s", path, repo.RegistryStr())
}
