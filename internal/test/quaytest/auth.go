package quaytest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// tokenAuth is quay's Docker token auth: a registry request without a
// bearer token that grants its repository gets 401 and a challenge naming
// the token endpoint, /v2/auth, which hands out tokens for HTTP basic
// credentials (or anonymously, for public repositories).
type tokenAuth struct {
	host   string // host:port of the registry
	flavor Flavor // where the token endpoint is, and the service it names
	users  map[string]string

	mu      sync.Mutex
	private map[string]bool
	denied  map[string]bool            // "repo:user" that may not pull repo
	tokens  map[string]map[string]bool // token -> "repo:action" granted
}

func newTokenAuth(host string, f Flavor, users map[string]string) *tokenAuth {
	all := map[string]string{Admin: AdminPassword}
	for u, p := range users {
		all[u] = p
	}
	return &tokenAuth{host: host, flavor: f, users: all, private: map[string]bool{}, denied: map[string]bool{}, tokens: map[string]map[string]bool{}}
}

func (a *tokenAuth) makePrivate(repo string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.private[repo] = true
}

func (a *tokenAuth) deny(repo, user string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.denied[repo+":"+user] = true
}

func (a *tokenAuth) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == a.flavor.TokenPath && !a.flavor.BasicAuth {
			a.serveToken(w, r)
			return
		}
		repo, action := repoAction(r)
		if a.flavor.BasicAuth && !a.basicAllowed(r, repo, action) {
			// ECR's challenge: basic credentials on every request.
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Basic realm="https://%s/",service="%s"`, a.host, a.flavor.Service))
			http.Error(w, "Not Authorized", http.StatusUnauthorized)
			return
		}
		if !a.flavor.BasicAuth && !a.allowed(r, repo, action) {
			challenge := fmt.Sprintf(`Bearer realm="https://%s%s",service="%s"`, a.host, a.flavor.TokenPath, a.flavor.Service)
			if repo != "" {
				challenge += fmt.Sprintf(`,scope="repository:%s:%s"`, repo, action)
			}
			w.Header().Set("WWW-Authenticate", challenge)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"access to the requested resource is not authorized"}]}`)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// repoAction reads the repository and the action a request needs.
func repoAction(r *http.Request) (repo, action string) {
	path := strings.TrimPrefix(r.URL.Path, "/v2/")
	for _, kind := range []string{"/blobs/", "/manifests/", "/tags/"} {
		if i := strings.LastIndex(path, kind); i > 0 {
			repo = path[:i]
			break
		}
	}
	action = "pull"
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		action = "push"
	}
	return repo, action
}

func (a *tokenAuth) allowed(r *http.Request, repo, action string) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	a.mu.Lock()
	defer a.mu.Unlock()
	grants, known := a.tokens[token]
	if !ok || !known {
		return false
	}
	return repo == "" || grants[repo+":"+action]
}

// basicAllowed: valid credentials may pull anything (push: Admin only);
// none may pull a repository that is not private; wrong ones nothing.
func (a *tokenAuth) basicAllowed(r *http.Request, repo, action string) bool {
	user, password, hasCreds := r.BasicAuth()
	a.mu.Lock()
	defer a.mu.Unlock()
	if hasCreds {
		return a.users[user] != "" && a.users[user] == password && (action == "pull" && !a.denied[repo+":"+user] || user == Admin)
	}
	return repo != "" && action == "pull" && !a.private[repo]
}

func (a *tokenAuth) serveToken(w http.ResponseWriter, r *http.Request) {
	user, password, hasCreds := r.BasicAuth()
	if hasCreds && (a.users[user] == "" || a.users[user] != password) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error": "Invalid Username or Password"}`)
		return
	}
	grants := map[string]bool{}
	for _, scope := range r.URL.Query()["scope"] {
		a.grant(grants, scope, hasCreds, user)
	}
	raw := make([]byte, 16)
	rand.Read(raw)
	token := hex.EncodeToString(raw)
	a.mu.Lock()
	a.tokens[token] = grants
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"token": token, "expires_in": 300})
}

// grant adds what a "repository:org/repo:pull,push" scope may have.
func (a *tokenAuth) grant(grants map[string]bool, scope string, authenticated bool, user string) {
	parts := strings.Split(scope, ":")
	if len(parts) != 3 || parts[0] != "repository" {
		return
	}
	repo := parts[1]
	a.mu.Lock()
	private, denied := a.private[repo], a.denied[repo+":"+user]
	a.mu.Unlock()
	for _, action := range strings.Split(parts[2], ",") {
		switch {
		case action == "pull" && (!private || authenticated && !denied):
			grants[repo+":pull"] = true
		case action == "push" && authenticated && user == Admin:
			grants[repo+":push"] = true
		}
	}
}
