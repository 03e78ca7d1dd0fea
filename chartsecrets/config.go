// Package chartsecrets makes, in the cluster, the objects the Helm chart's
// Squid needs and that must not be in rendered manifests: the ssl-bump CA
// (a kubernetes.io/tls Secret), a ConfigMap with its certificate for
// clients, and the cache manager password. It runs as a Helm hook Job on
// every install and upgrade, so each object is made once, when it is
// missing, and otherwise kept: a second run, or a second pod of the
// Job racing the first, changes nothing. The CA changes only when the
// operator says so: a CA the Job made carries the --ca.rotation token it
// was made for, and a run with another token replaces it (an existing CA
// without a token counts as made for the empty one). Otherwise the run
// only says when the CA is no longer what the flags ask for. A CA the Job
// does not make (no --ca.generate) is never replaced.
//
// Errors and log lines name flags of squid-cache-secrets, the one command
// that runs this.
package chartsecrets

import (
	"errors"
	"fmt"
	"strings"

	"github.com/squid-cache-exporter/squid-cache-exporter/bumpca"
)

// Config is what to make.
type Config struct {
	CASecret   string         // the CA's kubernetes.io/tls Secret; none when empty
	CAGenerate bool           // make the CA when its Secret is missing
	CARotation string         // with CAGenerate, the CA's token: one made for another is replaced
	CA         bumpca.Options // how to make it, and what Check compares an existing one with
	// CAConfigMaps hold the CA's certificate for clients, as [NAMESPACE/]NAME:
	// the release's own, and trust-manager's source in its namespace.
	CAConfigMaps []string

	CachemgrSecret string // the cache manager password's Secret; none when empty

	Labels map[string]string // on every object made
}

func (c Config) validate() error {
	if c.CASecret == "" && c.CachemgrSecret == "" {
		return errors.New("nothing to do: give --ca.secret, --cachemgr.secret or both")
	}
	if c.CASecret == "" && (c.CAGenerate || len(c.CAConfigMaps) > 0) {
		return errors.New("--ca.generate and --ca.configmap need --ca.secret")
	}
	for _, cm := range c.CAConfigMaps {
		if _, _, err := splitRef(cm); err != nil {
			return err
		}
	}
	// Bad CA flags fail every run, not only the one that would make the
	// CA: an existing CA is checked against them.
	if c.CAGenerate {
		if err := c.CA.Validate(); err != nil {
			return fmt.Errorf("--ca.generate: %w", err)
		}
	} else if len(c.CA.PermittedDomains) > 0 {
		if _, err := bumpca.Constraints(c.CA.PermittedDomains); err != nil {
			return fmt.Errorf("--ca.permitted-domain: %w", err)
		}
	}
	return nil
}

// splitRef reads [NAMESPACE/]NAME; an empty namespace means the client's.
func splitRef(ref string) (namespace, name string, err error) {
	namespace, name, found := strings.Cut(ref, "/")
	if !found {
		namespace, name = "", ref
	}
	if name == "" || found && namespace == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("--ca.configmap=%s: want NAME or NAMESPACE/NAME", ref)
	}
	return namespace, name, nil
}
