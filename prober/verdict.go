package prober

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/redact"
)

// Reason says why a round failed. The set is fixed, so metric labels stay
// bounded.
type Reason string

// The reasons a round can fail.
const (
	ReasonProxyUnreachable Reason = "proxy_unreachable" // cannot connect to Squid
	ReasonTLS              Reason = "tls"               // a certificate was not trusted, here or at Squid
	ReasonAuth             Reason = "auth"              // the registry refused the credentials
	ReasonUpstream         Reason = "upstream_error"    // the registry or CDN failed, or Squid could not reach it
	ReasonDigestMismatch   Reason = "digest_mismatch"   // the bytes do not hash to the digest: a poisoned cache or upstream
	ReasonNotCached        Reason = "not_cached"        // the second pull was not served from cache
	ReasonLogUnavailable   Reason = "log_unavailable"   // Squid's access log did not show the pulls
	ReasonTimeout          Reason = "timeout"           // the round ran out of time
	ReasonLeak             Reason = "leak"              // a request without access got bytes of the private blob
)

// Reasons lists every Reason, for metrics that must show each one.
var Reasons = []Reason{ReasonProxyUnreachable, ReasonTLS, ReasonAuth, ReasonUpstream,
	ReasonDigestMismatch, ReasonNotCached, ReasonLogUnavailable, ReasonTimeout, ReasonLeak}

// Phase is a step of a round.
type Phase string

// The phases of a round, in order.
const (
	PhaseAuth       Phase = "auth" // ping, token and, for an image target, the manifest
	PhaseFirstPull  Phase = "first_pull"
	PhaseSecondPull Phase = "second_pull"
	PhaseLogMatch   Phase = "log_match"  // waiting for Squid's access log lines
	PhaseLeakCheck  Phase = "leak_check" // asking for the blob without access (leak_check targets)
)

// Phases lists every Phase in order.
var Phases = []Phase{PhaseAuth, PhaseFirstPull, PhaseSecondPull, PhaseLogMatch, PhaseLeakCheck}

// Result is the verdict of one round.
type Result struct {
	Target      string
	Digest      string
	Success     bool
	Reason      Reason // empty on success
	Err         error  // what went wrong, for people
	Durations   map[Phase]time.Duration
	Total       time.Duration
	Codes       [2]string // Squid's result code for each pull ("" when not found)
	Hit         bool      // the second code is one of the target's hit codes
	DigestMatch bool
	Bytes       int64 // size of the blob as pulled
	// LeakChecked: the round asked for the blob without access (a
	// leak_check target whose pulls got the right bytes); Leaked: and
	// some of the blob came back.
	LeakChecked, Leaked bool
	Finished            time.Time

	// What the round added to Squid's own counters, so that dashboards can
	// leave the prober out of the hit ratio: requests (a CONNECT for each
	// new connection, then each request in it) and hits Squid logged.
	ProxyRequests, ProxyHits int
}

// fail records why the round failed. The error is redacted here, where it
// enters the Result, so that no reader of it (String, the debug page, the
// log) sees a signed CDN URL's signature or a URL's password: the errors of
// the HTTP client and of go-containerregistry quote whole URLs.
func (r *Result) fail(reason Reason, err error) *Result {
	r.Success, r.Reason, r.Err = false, reason, redact.Error(err)
	return r
}

// failure is an error that knows its reason.
type failure struct {
	reason Reason
	err    error
}

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

func failf(reason Reason, format string, args ...any) error {
	return &failure{reason, fmt.Errorf(format, args...)}
}

// classify finds the reason for an error from a pull or a token exchange.
func classify(ctx context.Context, err error) Reason {
	var f *failure
	var op *net.OpError
	var te *transport.Error
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	switch {
	case errors.As(err, &f):
		return f.reason
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
		return ReasonTimeout
	case errors.As(err, &op) && op.Op == "proxyconnect":
		return ReasonProxyUnreachable
	case errors.As(err, &unknownAuthority), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify):
		return ReasonTLS
	case errors.As(err, &te):
		return statusReason(te.StatusCode, "")
	}
	return ReasonUpstream
}

// statusReason classifies a failed HTTP status; squidError is Squid's
// X-Squid-Error code when Squid made the answer itself.
func statusReason(status int, squidError string) Reason {
	switch {
	case strings.HasPrefix(squidError, "ERR_SECURE_CONNECT_FAIL"):
		return ReasonTLS
	case squidError != "":
		return ReasonUpstream
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ReasonAuth
	}
	return ReasonUpstream
}
