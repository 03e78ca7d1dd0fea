// Package kubeapitest is a Kubernetes API server for tests: Secrets and
// ConfigMaps in memory, behind TLS and a bearer token, answering as the
// real one does (201 on create, 409 AlreadyExists, 409 Conflict on a stale
// resourceVersion, 404 NotFound, each with its Status), and able to forbid
// a verb as RBAC would.
package kubeapitest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/squid-cache-exporter/squid-cache-exporter/kubeapi"
)

// Token is the service account token the server accepts.
const Token = "test-token"

// Server is the fake API server; it stops when the test ends.
type Server struct {
	*httptest.Server
	// OnRequest, when set, sees every authorized request before it is
	// served: a test makes another writer's move there.
	OnRequest func(Request)

	mu        sync.Mutex
	objects   map[string]map[string]any // "namespace/resource/name" -> object
	forbidden map[string]bool           // "verb resource"
	requests  []Request
	version   int
}

// Request is a request as the server saw it.
type Request struct {
	Method, Path, Authorization, ContentType string
	Body                                     []byte
	Resource, Name                           string // secrets or configmaps; the object's name, from the path or the body
}

// Start runs a server.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{objects: map[string]map[string]any{}, forbidden: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/namespaces/{ns}/{resource}/{name}", s.get)
	mux.HandleFunc("POST /api/v1/namespaces/{ns}/{resource}", s.create)
	mux.HandleFunc("PUT /api/v1/namespaces/{ns}/{resource}/{name}", s.update)
	mux.HandleFunc("PATCH /api/v1/namespaces/{ns}/{resource}/{name}", s.patch)
	s.Server = httptest.NewTLSServer(s.authorized(mux))
	t.Cleanup(s.Close)
	return s
}

// Config is a kubeapi.Config for the server, with the CA and token files
// the kubelet would mount.
func (s *Server) Config(t testing.TB, namespace string) kubeapi.Config {
	t.Helper()
	dir := t.TempDir()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	for name, data := range map[string][]byte{"ca.crt": ca, "token": []byte(Token + "\n"), "namespace": []byte(namespace)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return kubeapi.Config{Server: s.URL, CAFile: filepath.Join(dir, "ca.crt"), TokenFile: filepath.Join(dir, "token"), Namespace: namespace}
}

// Forbid makes the server refuse verb (get, create, update, patch) on resource
// (secrets, configmaps) with 403, as RBAC does.
func (s *Server) Forbid(verb, resource string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forbidden[verb+" "+resource] = true
}

// Requests are the requests served so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Put stores obj, a Kubernetes object as JSON, as if someone had created
// or updated it, and returns its new resourceVersion.
func (s *Server) Put(namespace, resource string, obj []byte) string {
	var o map[string]any
	if err := json.Unmarshal(obj, &o); err != nil {
		panic(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.store(namespace, resource, o)
}

// Object is the stored object as JSON, or nil.
func (s *Server) Object(namespace, resource, name string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[namespace+"/"+resource+"/"+name]
	if !ok {
		return nil
	}
	b, _ := json.Marshal(o)
	return b
}

// SecretData is a stored Secret's data, decoded; nil when there is none.
func (s *Server) SecretData(namespace, name string) map[string][]byte {
	var sec struct {
		Data map[string][]byte `json:"data"`
	}
	if b := s.Object(namespace, "secrets", name); b != nil {
		_ = json.Unmarshal(b, &sec)
	}
	return sec.Data
}

func (s *Server) authorized(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := Request{Method: r.Method, Path: r.URL.Path, Authorization: r.Header.Get("Authorization"),
			ContentType: r.Header.Get("Content-Type"), Body: body}
		req.Resource, req.Name = names(r.URL.Path, body)
		s.mu.Lock()
		s.requests = append(s.requests, req)
		s.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+Token {
			status(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized", "", "")
			return
		}
		if s.OnRequest != nil {
			s.OnRequest(req)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// names are the resource and the object's name of a request.
func names(path string, body []byte) (resource, name string) {
	parts := strings.Split(strings.TrimPrefix(path, "/api/v1/namespaces/"), "/")
	if len(parts) > 1 {
		resource = parts[1]
	}
	if len(parts) > 2 {
		return resource, parts[2]
	}
	var o struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(body, &o)
	return resource, o.Metadata.Name
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	ns, res, name := r.PathValue("ns"), r.PathValue("resource"), r.PathValue("name")
	if s.refused(w, "get", ns, res, name) {
		return
	}
	s.mu.Lock()
	o, ok := s.objects[ns+"/"+res+"/"+name]
	s.mu.Unlock()
	if !ok {
		status(w, http.StatusNotFound, "NotFound", fmt.Sprintf("%s %q not found", res, name), res, name)
		return
	}
	reply(w, http.StatusOK, o)
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	ns, res := r.PathValue("ns"), r.PathValue("resource")
	o, name, ok := readObject(w, r, res)
	if !ok || s.refused(w, "create", ns, res, name) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, exists := s.objects[ns+"/"+res+"/"+name]; exists {
		status(w, http.StatusConflict, "AlreadyExists", fmt.Sprintf("%s %q already exists", res, name), res, name)
		return
	}
	s.store(ns, res, o)
	reply(w, http.StatusCreated, o)
}

func (s *Server) update(w http.ResponseWriter, r *http.Request) {
	ns, res, name := r.PathValue("ns"), r.PathValue("resource"), r.PathValue("name")
	o, bodyName, ok := readObject(w, r, res)
	if !ok || s.refused(w, "update", ns, res, name) {
		return
	}
	if bodyName != name {
		status(w, http.StatusBadRequest, "BadRequest", "the name of the object does not match the name on the URL", res, name)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, exists := s.objects[ns+"/"+res+"/"+name]
	if !exists {
		status(w, http.StatusNotFound, "NotFound", fmt.Sprintf("%s %q not found", res, name), res, name)
		return
	}
	if rv := metadata(o)["resourceVersion"]; rv != nil && rv != metadata(old)["resourceVersion"] {
		status(w, http.StatusConflict, "Conflict", fmt.Sprintf("Operation cannot be fulfilled on %s %q: the object has been "+
			"modified; please apply your changes to the latest version and try again", res, name), res, name)
		return
	}
	s.store(ns, res, o)
	reply(w, http.StatusOK, o)
}

// patch applies a JSON merge patch (RFC 7386), the one kind this server
// knows.
func (s *Server) patch(w http.ResponseWriter, r *http.Request) {
	ns, res, name := r.PathValue("ns"), r.PathValue("resource"), r.PathValue("name")
	var p map[string]any
	if r.Header.Get("Content-Type") != "application/merge-patch+json" || json.NewDecoder(r.Body).Decode(&p) != nil {
		status(w, http.StatusUnsupportedMediaType, "UnsupportedMediaType", "want a JSON merge patch", res, name)
		return
	}
	if s.refused(w, "patch", ns, res, name) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, exists := s.objects[ns+"/"+res+"/"+name]
	if !exists {
		status(w, http.StatusNotFound, "NotFound", fmt.Sprintf("%s %q not found", res, name), res, name)
		return
	}
	o := mergePatch(clone(old), p)
	s.store(ns, res, o)
	reply(w, http.StatusOK, o)
}

func mergePatch(target, patch map[string]any) map[string]any {
	for k, v := range patch {
		sub, isObject := v.(map[string]any)
		switch {
		case v == nil:
			delete(target, k)
		case isObject:
			t, _ := target[k].(map[string]any)
			if t == nil {
				t = map[string]any{}
			}
			target[k] = mergePatch(t, sub)
		default:
			target[k] = v
		}
	}
	return target
}

// clone deep-copies a JSON object, so that a stored object is never
// changed under a reader.
func clone(o map[string]any) map[string]any {
	b, _ := json.Marshal(o)
	var c map[string]any
	_ = json.Unmarshal(b, &c)
	return c
}

// refused answers 403 for a forbidden verb.
func (s *Server) refused(w http.ResponseWriter, verb, ns, res, name string) bool {
	s.mu.Lock()
	no := s.forbidden[verb+" "+res]
	s.mu.Unlock()
	if no {
		status(w, http.StatusForbidden, "Forbidden", fmt.Sprintf("%s %q is forbidden: User \"system:serviceaccount:%s:test\" "+
			"cannot %s resource %q in API group \"\" in the namespace %q", res, name, ns, verb, res, ns), res, name)
	}
	return no
}

// store files o with a new resourceVersion; s.mu is held.
func (s *Server) store(ns, res string, o map[string]any) string {
	s.version++
	md := metadata(o)
	md["namespace"], md["resourceVersion"] = ns, strconv.Itoa(s.version)
	s.objects[ns+"/"+res+"/"+md["name"].(string)] = o
	return md["resourceVersion"].(string)
}

// readObject reads a request's object as the API server validates one:
// JSON of the URL's kind, named, with base64 Secret data.
func readObject(w http.ResponseWriter, r *http.Request, res string) (map[string]any, string, bool) {
	var o map[string]any
	if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&o) != nil {
		status(w, http.StatusBadRequest, "BadRequest", "the body is no JSON object", res, "")
		return nil, "", false
	}
	kind := map[string]string{"secrets": "Secret", "configmaps": "ConfigMap"}[res]
	name, _ := metadata(o)["name"].(string)
	if o["apiVersion"] != "v1" || o["kind"] != kind || name == "" {
		status(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("want a named v1 %s", kind), res, name)
		return nil, "", false
	}
	if key := badSecretData(o); res == "secrets" && key != "" {
		status(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("data[%s]: not base64", key), res, name)
		return nil, "", false
	}
	return o, name, true
}

// badSecretData is the first key of o's data whose value is no base64
// string, as the API server would refuse it.
func badSecretData(o map[string]any) string {
	data, _ := o["data"].(map[string]any)
	for k, v := range data {
		str, ok := v.(string)
		if _, err := base64.StdEncoding.DecodeString(str); !ok || err != nil {
			return k
		}
	}
	return ""
}

func metadata(o map[string]any) map[string]any {
	md, ok := o["metadata"].(map[string]any)
	if !ok {
		md = map[string]any{}
		o["metadata"] = md
	}
	return md
}

func status(w http.ResponseWriter, code int, reason, message, res, name string) {
	reply(w, code, map[string]any{"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{}, "status": "Failure",
		"message": message, "reason": reason, "details": map[string]any{"name": name, "kind": res}, "code": code})
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
