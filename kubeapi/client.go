package kubeapi

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// maxBody bounds what is read of an answer: an object is at most 1 MiB
// in etcd, base64 makes that 1.4.
const maxBody = 4 << 20

// Client talks to one API server about one namespace.
type Client struct {
	server    string
	namespace string
	tokenFile string
	http      *http.Client
}

// New checks c and reads the API server's CA.
func New(c Config) (*Client, error) {
	if c.Namespace == "" {
		return nil, errors.New("no namespace")
	}
	if _, err := url.ParseRequestURI(c.Server); err != nil || !strings.HasPrefix(c.Server, "https://") {
		return nil, fmt.Errorf("API server %q: want https://host:port", c.Server)
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("API server CA: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("API server CA %s: no PEM certificate", c.CAFile)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	// Straight to the API server, never through HTTPS_PROXY: in this chart
	// the proxy may be the very Squid the Job prepares.
	transport := &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}
	return &Client{server: strings.TrimSuffix(c.Server, "/"), namespace: c.Namespace, tokenFile: c.TokenFile,
		http: &http.Client{Transport: transport, Timeout: c.Timeout}}, nil
}

// Namespace is the namespace the client works in.
func (c *Client) Namespace() string { return c.namespace }

// In is a client like c for another namespace (trust-manager's, say).
func (c *Client) In(namespace string) *Client {
	other := *c
	other.namespace = namespace
	return &other
}

// object names an object for a request and for its errors.
type object struct {
	resource string // secrets, configmaps: the URL's
	kind     string // secret, configmap: the errors'
	name     string
}

// do sends body (JSON, when not nil) to the object's URL, or to its
// collection's for a create, and decodes a 2xx answer into out.
func (c *Client) do(ctx context.Context, verb string, o object, body []byte, out func([]byte) error) error {
	fail := func(err error) error { return fmt.Errorf("%s %s %s/%s: %w", verb, o.kind, c.namespace, o.name, err) }
	if o.name == "" {
		return fail(errors.New("no name"))
	}
	req, err := c.request(ctx, verb, o, body)
	if err != nil {
		return fail(err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fail(err)
	}
	if resp.StatusCode/100 != 2 {
		return c.apiError(verb, o, resp, data)
	}
	if err := out(data); err != nil {
		return fail(fmt.Errorf("reading the answer: %w", err))
	}
	return nil
}

func (c *Client) request(ctx context.Context, verb string, o object, body []byte) (*http.Request, error) {
	path := "/api/v1/namespaces/" + url.PathEscape(c.namespace) + "/" + o.resource
	method := map[string]string{"get": http.MethodGet, "create": http.MethodPost, "update": http.MethodPut, "patch": http.MethodPatch}[verb]
	if verb != "create" {
		path += "/" + url.PathEscape(o.name)
	}
	token, err := os.ReadFile(c.tokenFile)
	if err != nil {
		return nil, fmt.Errorf("service account token: %w", err)
	}
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	req.Header.Set("Accept", "application/json")
	switch {
	case verb == "patch":
		req.Header.Set("Content-Type", "application/merge-patch+json")
	case body != nil:
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// apiError reads the Status the API server sends with a failure.
func (c *Client) apiError(verb string, o object, resp *http.Response, body []byte) error {
	e := &APIError{Verb: verb, Resource: o.kind, Namespace: c.namespace, Name: o.name, Code: resp.StatusCode}
	var status struct {
		Kind    string `json:"kind"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &status) == nil && status.Kind == "Status" {
		e.Reason, e.Message = status.Reason, status.Message
		return e
	}
	// No Status: a proxy or load balancer answered. Say what it sent,
	// not the body itself, which nothing here has vetted.
	if len(body) > 0 {
		mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		e.Message = fmt.Sprintf("no Status in the answer (%d bytes of %s)", len(body), cmp.Or(mt, "unknown type"))
	}
	return e
}
