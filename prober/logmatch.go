package prober

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
	"github.com/squid-cache-exporter/squid-cache-exporter/cdnurl"
	"github.com/squid-cache-exporter/squid-cache-exporter/registries"
)

// matcher picks this round's lines: GETs from our address whose URL holds
// the digest (the registry's /blobs/sha256:<hex> and the CDN's .../<hex>),
// or is a CDN URL that names none (Artifact Registry's, ECR's), and that
// carry our marker. Other clients, other rounds of the same target and
// forged lines lack the marker; the pull's token and manifest requests
// carry it but are neither. Lines like ours in a log without the marker
// field are counted, to say what is wrong.
func (ro *round) matcher(hexDigest []byte) func(*accesslog.Entry) bool {
	return func(e *accesslog.Entry) bool {
		if string(e.Method) != http.MethodGet {
			return false
		}
		if client := ro.client.Load(); client != nil && string(e.Client) != *client {
			return false
		}
		named := bytes.Contains(e.URL, hexDigest)
		if !e.MarkerField {
			if named {
				ro.unmarked.Add(1)
			}
			return false
		}
		if e.Marker == nil {
			return false
		}
		_, ours := ro.markers.pullOf(string(e.Marker))
		return ours && (named || learnedURLs.Match(string(e.URL)))
	}
}

// learnedURLs are the CDN URL shapes that name no digest.
var learnedURLs, _ = cdnurl.NewLearned(registries.Default)

// matchLog waits until the log shows the line that delivered each pull's
// bytes (not the registry's redirect), and records their codes.
func (ro *round) matchLog(ctx context.Context, watch *accesslog.Watch) error {
	wait := ro.p.LogWait
	if wait <= 0 {
		wait = DefaultLogWait
	}
	waitCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	lines, err := watch.Wait(waitCtx, func(r []accesslog.Record) bool { return len(ro.deliveries(r)) >= 2 })
	found := ro.deliveries(lines)
	for i := 0; i < len(found) && i < 2; i++ {
		ro.r.Codes[i] = found[i].Result
		if strings.Contains(found[i].Result, "HIT") {
			ro.r.ProxyHits++
		}
	}
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil: // the round's time is up, not the log's
		return fmt.Errorf("waiting for Squid's access log: %w", ctx.Err())
	case ro.unmarked.Load() > 0:
		return failf(ReasonLogUnavailable, "Squid's access log has no probe marker field, so no line can be tied to this round: "+
			"define `%s` and log with it (access_log ... squid_probe)", accesslog.ProbeLogFormat)
	}
	return failf(ReasonLogUnavailable, "Squid's access log showed %d of the 2 pulls within %s: is the log followed or received "+
		"(see --squid.access-log), and does Squid log in the squid_probe format?", len(found), wait)
}

// deliveries are the lines that sent each pull's bytes (not a registry's
// redirect), pull 1's first: for each pull, the first line that carries
// one of its markers, in the order the log showed them. The matcher let
// only this round's lines in.
func (ro *round) deliveries(lines []accesslog.Record) []accesslog.Record {
	var byPull [2]*accesslog.Record
	seen := map[string]bool{}
	for i, l := range lines {
		first := !seen[l.Marker]
		seen[l.Marker] = true
		pull, _ := ro.markers.pullOf(l.Marker)
		if !first || pull < 1 || pull > 2 || byPull[pull-1] != nil || (l.Status >= 300 && l.Status < 400) {
			continue
		}
		byPull[pull-1] = &lines[i]
	}
	var out []accesslog.Record
	for _, l := range byPull {
		if l == nil {
			break
		}
		out = append(out, *l)
	}
	return out
}
