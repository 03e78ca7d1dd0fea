package chartsecrets

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-kit/log"

	"github.com/squid-cache-exporter/squid-cache-exporter/kubeapi"
)

// Run makes what c asks for, or keeps what exists, and logs one line per
// object: created, kept or updated. The first error ends it.
func Run(ctx context.Context, api *kubeapi.Client, c Config, logger log.Logger) error {
	if err := c.validate(); err != nil {
		return err
	}
	r := &run{api: api, c: c, logger: logger, now: time.Now}
	if c.CA.Now != nil {
		r.now = c.CA.Now
	}
	return explain(r.all(ctx), api.Namespace())
}

// run is one Run.
type run struct {
	api    *kubeapi.Client
	c      Config
	logger log.Logger
	now    func() time.Time
}

func (r *run) all(ctx context.Context) error {
	if r.c.CASecret != "" {
		certPEM, err := r.ca(ctx)
		if err != nil {
			return err
		}
		for _, cm := range r.c.CAConfigMaps {
			if err := r.caConfigMap(ctx, cm, certPEM); err != nil {
				return err
			}
		}
	}
	if r.c.CachemgrSecret != "" {
		return r.cachemgr(ctx)
	}
	return nil
}

// line is a log line's key-values for one object: what happened to it
// (created, kept, updated), which it is, then details.
func line(outcome, kind, name, namespace string, details ...any) []any {
	return append([]any{"msg", outcome, kind, name, "namespace", namespace}, details...)
}

// raced is a log line's reason when a create found the object made: two
// pods of the Job ran at once, and the other one won.
var raced = []any{"why", "another run created it first"}

// newAnnotations are a new object's: Helm does not own what is made here
// (no manifest has it), so it would not delete it anyway; the annotation
// says so to a reader.
func newAnnotations() map[string]string {
	return map[string]string{"helm.sh/resource-policy": "keep"}
}

// explain puts the API errors a chart user can fix in words that say how.
func explain(err error, namespace string) error {
	var api *kubeapi.APIError
	if !errors.As(err, &api) {
		return err
	}
	switch {
	case errors.Is(err, kubeapi.ErrForbidden):
		return fmt.Errorf("the Job's ServiceAccount may not %s %ss in namespace %s (see its Role): %w", api.Verb, api.Resource, namespace, err)
	case api.Code == http.StatusUnauthorized:
		return fmt.Errorf("the API server does not accept the Job's service account token: %w", err)
	}
	return err
}
