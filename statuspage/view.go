package statuspage

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/prober"
)

// view is what the template shows; every string in it is escaped there.
type view struct {
	Squid      *Squid
	Prober     bool
	Probes     []probeRow
	Traffic    bool
	Ratios     []ratioRow
	RecentSpan string // "5m0s", or shorter just after start
}

type probeRow struct {
	Target, Verdict, Class string // Class: pass, fail or wait
	Reason, Detail, Codes  string
	Age, LastPass          string
	DebugURL               string
}

type ratioRow struct {
	Registry, SinceStart, Recent string
}

func (p *Page) view(ctx context.Context) view {
	now := p.now()
	var v view
	if p.sources.Squid != nil {
		s := p.sources.Squid(ctx)
		v.Squid = &s
	}
	if p.sources.Verdicts != nil {
		v.Prober = true
		for _, vd := range p.sources.Verdicts() {
			v.Probes = append(v.Probes, probeRowOf(vd, now))
		}
	}
	if p.sources.Blobs != nil {
		v.Traffic = true
		v.Ratios, v.RecentSpan = p.ratios(now)
	}
	return v
}

func probeRowOf(v prober.Verdict, now time.Time) probeRow {
	r := probeRow{Target: v.Target, Verdict: "waiting", Class: "wait", Age: "no round yet", LastPass: "never",
		DebugURL: "/probe?target=" + url.QueryEscape(v.Target) + "&debug=true"}
	if !v.LastSuccess.IsZero() {
		r.LastPass = ago(now, v.LastSuccess)
	}
	if !v.Ran {
		return r
	}
	r.Age = ago(now, v.Finished)
	r.Codes = strings.Join(nonEmpty(v.Codes[:]), ", ")
	if v.Success {
		r.Verdict, r.Class = "PASS", "pass"
		return r
	}
	r.Verdict, r.Class, r.Reason, r.Detail = "FAIL", "fail", string(v.Reason), v.Err
	return r
}

// ratios are the blob hit ratios by registry since start and since the
// window's base, with the span that covers.
func (p *Page) ratios(now time.Time) ([]ratioRow, string) {
	current := p.sources.Blobs()
	base, ok := p.recent.base(now)
	span := ""
	if ok {
		span = now.Sub(base.at).Round(time.Second).String()
	}
	rows := make([]ratioRow, len(current))
	for i, c := range current {
		rows[i] = ratioRow{Registry: c.Registry, SinceStart: ratio(c.Hits, c.Deliveries), Recent: "–"}
		if ok && i < len(base.blobs) {
			rows[i].Recent = ratio(c.Hits-base.blobs[i].Hits, c.Deliveries-base.blobs[i].Deliveries)
		}
	}
	return rows, span
}

// ratio shows hits among deliveries as a percentage with its counts, so a
// 100% of 1 reads differently from a 100% of 10,000.
func ratio(hits, deliveries float64) string {
	if deliveries <= 0 {
		return "no blob requests"
	}
	return fmt.Sprintf("%.1f%% (%.0f of %.0f)", 100*hits/deliveries, hits, deliveries)
}

// ago says how long ago t was, to the second.
func ago(now, t time.Time) string {
	return now.Sub(t).Round(time.Second).String() + " ago"
}

func nonEmpty(s []string) []string {
	var out []string
	for _, x := range s {
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}
