package kubeapi

import (
	"errors"
	"fmt"
	"net/http"
)

// What an API error can be tested for with errors.Is.
var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists") // a create lost a race
	ErrConflict      = errors.New("conflict")       // an update with a stale resourceVersion
	ErrForbidden     = errors.New("forbidden")      // RBAC said no
)

// APIError is an answer of the API server other than success. It names
// the object, the status and the server's message; request bodies, and so
// Secret data, never reach it.
type APIError struct {
	Verb      string // get, create, update, patch
	Resource  string // secret, configmap
	Namespace string
	Name      string
	Code      int    // HTTP status
	Reason    string // the Status's reason: NotFound, AlreadyExists, Conflict, Forbidden...
	Message   string // the Status's message, or what the body was when it was no Status
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%s %s %s/%s: %d %s", e.Verb, e.Resource, e.Namespace, e.Name, e.Code, http.StatusText(e.Code))
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is matches the Err values. A 409 is AlreadyExists or Conflict by the
// Status's reason, and by the verb when a proxy dropped the Status.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Code == http.StatusNotFound
	case ErrForbidden:
		return e.Code == http.StatusForbidden
	case ErrAlreadyExists:
		return e.Code == http.StatusConflict && (e.Reason == "AlreadyExists" || e.Reason == "" && e.Verb == "create")
	case ErrConflict:
		return e.Code == http.StatusConflict && !e.Is(ErrAlreadyExists)
	}
	return false
}
