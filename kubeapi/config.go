// Package kubeapi is the little of the Kubernetes API that the chart's
// hook Job needs: get, create, update and annotate a Secret or a
// ConfigMap in one namespace, as JSON over HTTPS, with a pod's service
// account. It is not
// client-go: no informers, no retries, no kubeconfig, no dependencies.
package kubeapi

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ServiceAccountDir is where the kubelet mounts a pod's service account.
const ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// Config says which API server to talk to, as whom, and where.
type Config struct {
	Server    string // https://host:port
	CAFile    string // the API server's CA
	TokenFile string // read for every request: the kubelet rotates bound tokens
	Namespace string
	Timeout   time.Duration // of each request; DefaultTimeout when zero
}

// DefaultTimeout bounds a request: an API server that hangs must fail the
// Job, which Helm then reports, rather than hold the install forever.
const DefaultTimeout = 30 * time.Second

// InCluster is the Config of a pod: the API server from the environment
// the kubelet sets, the CA, token and namespace from ServiceAccountDir.
func InCluster() (Config, error) {
	return ServiceAccount(ServiceAccountDir, os.Getenv)
}

// ServiceAccount is InCluster reading dir and getenv. A missing namespace
// file leaves Namespace empty, for the caller to fill in.
func ServiceAccount(dir string, getenv func(string) string) (Config, error) {
	host, port := getenv("KUBERNETES_SERVICE_HOST"), getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return Config{}, errors.New("not in a pod: KUBERNETES_SERVICE_HOST or KUBERNETES_SERVICE_PORT is unset")
	}
	c := Config{
		Server:    "https://" + net.JoinHostPort(host, port), // an IPv6 host gets its brackets
		CAFile:    filepath.Join(dir, "ca.crt"),
		TokenFile: filepath.Join(dir, "token"),
	}
	ns, err := os.ReadFile(filepath.Join(dir, "namespace"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Config{}, fmt.Errorf("service account namespace: %w", err)
	}
	c.Namespace = strings.TrimSpace(string(ns))
	return c, nil
}
