package prober

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
)

// dockerConfig is a docker config.json, which is also the content of a
// kubernetes.io/dockerconfigjson pull secret.
type dockerConfig struct {
	Auths map[string]struct {
		Auth     string `json:"auth"`
		Username string `json:"username"`
		Password string `json:"password"`
	} `json:"auths"`
}

// credentialsFor returns the authenticator for registry from a docker
// config file. Errors name the file and the registry, never a secret.
func credentialsFor(path, registry string) (authn.Authenticator, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c dockerConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: not a docker config.json", path)
	}
	for host, a := range c.Auths {
		if normalizeHost(host) != registry {
			continue
		}
		user, pass := a.Username, a.Password
		if a.Auth != "" {
			decoded, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return nil, fmt.Errorf("%s: auths[%q].auth is not base64", path, host)
			}
			user, pass, _ = strings.Cut(string(decoded), ":")
		}
		return authn.FromConfig(authn.AuthConfig{Username: user, Password: pass}), nil
	}
	return nil, fmt.Errorf("%s: no credentials for %s", path, registry)
}

// normalizeHost turns "https://quay.io/v1/" into "quay.io".
func normalizeHost(h string) string {
	h = strings.TrimPrefix(strings.TrimPrefix(h, "https://"), "http://")
	h, _, _ = strings.Cut(h, "/")
	if h == "docker.io" || h == "registry-1.docker.io" {
		return "index.docker.io"
	}
	return h
}
