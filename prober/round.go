package prober

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// round is the state of one Probe.
type round struct {
	p        *Prober
	t        *Target
	r        *Result
	markers  *markers               // one a request, logged by Squid; never printed
	base     http.RoundTripper      // to Squid, on the prober's pool
	client   atomic.Pointer[string] // our address as Squid logs it
	sent     atomic.Int64           // requests Squid counts, CONNECTs included
	unmarked atomic.Int64           // lines like ours in a log without the marker field
}

// gotConn counts a request; its connection's CONNECT, if new, was counted
// when it was dialed.
func (ro *round) gotConn(info httptrace.GotConnInfo) {
	ro.sent.Add(1)
	if host, _, err := net.SplitHostPort(info.Conn.LocalAddr().String()); err == nil {
		ro.client.CompareAndSwap(nil, &host)
	}
}

// pull is what one GET of the blob gave.
type pull struct {
	digest string
	bytes  int64
	final  *url.URL // where the bytes came from: a CDN URL holds a signature, never printed
	prefix []byte   // the blob's first bytes, which a leak check looks for
}

func (ro *round) run(ctx context.Context) error {
	var ref name.Digest
	var client *http.Client
	err := ro.r.time(PhaseAuth, func() (err error) { ref, client, err = ro.authenticate(ctx); return err })
	if err != nil {
		return err
	}
	ro.r.Digest = ref.DigestStr()
	watch := ro.p.Log.Watch(ro.matcher([]byte(ref.DigestStr()[len("sha256:"):])))
	defer watch.Close()

	var pulls [2]pull
	for i, phase := range []Phase{PhaseFirstPull, PhaseSecondPull} {
		ro.markers.startPull(i + 1)
		err := ro.r.time(phase, func() (err error) { pulls[i], err = ro.pull(ctx, client, ref); return err })
		if err != nil {
			return fmt.Errorf("pull %d: %w", i+1, err)
		}
		if ro.p.afterPull != nil {
			ro.p.afterPull(i + 1)
		}
	}
	ro.r.Bytes = pulls[1].bytes
	ro.r.DigestMatch = pulls[0].digest == ref.DigestStr() && pulls[1].digest == ref.DigestStr()
	logErr := ro.r.time(PhaseLogMatch, func() error { return ro.matchLog(ctx, watch) })
	err = ro.verdict(pulls, ref, logErr)
	if ro.t.LeakCheck && ro.r.DigestMatch {
		// A leak outranks every other failure: it is the one that must never happen.
		if leak := ro.r.time(PhaseLeakCheck, func() error { return ro.checkLeak(ctx, ref, pulls[0]) }); leak != nil {
			return leak
		}
	}
	return err
}

// verdict ranks what went wrong: bad bytes matter more than a missed hit.
func (ro *round) verdict(pulls [2]pull, ref name.Digest, logErr error) error {
	ro.r.Hit = slices.Contains(ro.t.HitCodes, ro.r.Codes[1])
	for i, p := range pulls {
		if p.digest != ref.DigestStr() {
			return failf(ReasonDigestMismatch, "pull %d: the %d bytes received hash to %s, want %s", i+1, p.bytes, p.digest, ref.DigestStr())
		}
	}
	if logErr != nil {
		return logErr
	}
	if ro.r.Hit {
		return nil
	}
	return failf(ReasonNotCached, "second pull was %s, want one of %v (first pull: %s)", ro.r.Codes[1], ro.t.HitCodes, ro.r.Codes[0])
}

// time runs f and records how long it took as phase.
func (r *Result) time(phase Phase, f func() error) error {
	start := time.Now()
	err := f()
	r.Durations[phase] = time.Since(start)
	return err
}
