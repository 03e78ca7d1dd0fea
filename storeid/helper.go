package storeid

import (
	"bufio"
	"context"
	"io"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/squid-cache-exporter/squid-cache-exporter/cdnurl"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/redact"
)

// Helper answers Squid's store-ID requests.
type Helper struct {
	URLs  *cdnurl.Matcher
	Check func(ctx context.Context, rawURL string) (bool, error)
	// Registries serve their own private blobs; CheckRegistry asks the
	// registry whether a client's Authorization may read one. Both nil:
	// such requests are not matched.
	Registries    *cdnurl.Registries
	CheckRegistry func(ctx context.Context, rawURL, authorization string) (bool, error)
	// Learned CDN URLs name no digest: Digest asks the ICAP service which
	// blob the registry's redirect named for that very URL. Digest nil:
	// such URLs are filed apart, never shared; Learned nil: not matched.
	Learned *cdnurl.Learned
	Digest  func(ctx context.Context, rawURL string) (hex string, ok bool, err error)
	Timeout time.Duration // bound of one check
	Logger  log.Logger
	Metrics *Metrics

	out sync.Mutex
}

// Serve reads requests from in and writes replies to out until in ends;
// then it finishes the checks under way. Each check runs on its own, so a
// slow one delays only its own request.
func (h *Helper) Serve(ctx context.Context, in io.Reader, out io.Writer) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	lines := bufio.NewScanner(in)
	lines.Buffer(make([]byte, 0, 16<<10), 1<<20)
	for lines.Scan() {
		req, err := ParseLine(lines.Text())
		if err != nil {
			h.Metrics.observe(resultMalformed, 0)
			h.write(out, req.reply(replyBH(err)))
			continue
		}
		if key, ok := h.URLs.SharedKey(req.URL); ok {
			check := func(ctx context.Context) (bool, error) { return h.Check(ctx, req.URL) }
			wg.Go(func() { h.write(out, req.reply(h.decide(ctx, req.URL, check, replyOK(key)))) })
			continue
		}
		if key, ok := h.Registries.SharedKey(req.URL); ok && h.CheckRegistry != nil {
			check := func(ctx context.Context) (bool, error) { return h.CheckRegistry(ctx, req.URL, req.Authorization) }
			wg.Go(func() { h.write(out, req.reply(h.decide(ctx, req.URL, check, replyVerifiedByRegistry(key)))) })
			continue
		}
		if h.Learned.Match(req.URL) {
			wg.Go(func() { h.write(out, req.reply(h.decideLearned(ctx, req.URL))) })
			continue
		}
		h.Metrics.observe(resultNotMatching, 0)
		h.write(out, req.reply(replyERR))
	}
	return lines.Err()
}

// decideLearned files a CDN URL that names no digest under the key of the
// blob its registry's redirect named, once the CDN has authorized it as
// any CDN URL; a URL whose digest was not learned (its redirect did not
// pass through this Squid, or was forgotten) is filed apart.
func (h *Helper) decideLearned(ctx context.Context, rawURL string) string {
	if h.Digest == nil { // lookups off: fetched, and filed apart like any URL not shared
		h.Metrics.observe(resultNotLearned, 0)
		return replyUnverified(cdnurl.UnverifiedKey(rawURL))
	}
	lookupCtx, cancel := context.WithTimeout(ctx, h.Timeout)
	hex, ok, err := h.Digest(lookupCtx, rawURL)
	cancel()
	if err != nil || !ok {
		h.Metrics.observe(resultNotLearned, 0)
		if err != nil {
			level.Warn(h.Logger).Log("msg", "digest lookup failed", "url", redact.URL(rawURL), "err", redact.Error(err))
		}
		return replyUnverified(cdnurl.UnverifiedKey(rawURL))
	}
	check := func(ctx context.Context) (bool, error) { return h.Check(ctx, rawURL) }
	return h.decide(ctx, rawURL, check, replyOK(cdnurl.BlobKey(hex)))
}

// decide answers verified when check says the origin authorized the
// request, and otherwise files it under a key of its own that no client
// can ask for (see cdnurl). Neither "ERR" nor the bare URL: with either, a
// refused request would be keyed on a URL that other refused requests can
// send too.
func (h *Helper) decide(ctx context.Context, rawURL string, check func(context.Context) (bool, error), verified string) string {
	ctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	start := time.Now()
	h.Metrics.inFlight.Inc()
	ok, err := check(ctx)
	h.Metrics.inFlight.Dec()
	took := time.Since(start)
	switch {
	case err != nil:
		h.Metrics.observe(resultError, took)
		// The signed query is a credential: it stays out of cache.log.
		level.Warn(h.Logger).Log("msg", "authorization check failed", "url", redact.URL(rawURL), "err", redact.Error(err))
	case ok:
		h.Metrics.observe(resultVerified, took)
		return verified
	default:
		h.Metrics.observe(resultDenied, took)
	}
	return replyUnverified(cdnurl.UnverifiedKey(rawURL))
}

func (h *Helper) write(out io.Writer, line string) {
	h.out.Lock()
	defer h.out.Unlock()
	if _, err := io.WriteString(out, line); err != nil {
		level.Error(h.Logger).Log("msg", "cannot answer squid", "err", err)
	}
}
