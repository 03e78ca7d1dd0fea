// Package statuspage serves the page a person opens first: exporter-toolkit's
// landing page (same look, links and version) with the state they came
// to check: whether Squid answers, each probe target's last verdict, and
// the blob hit ratio per registry since start and over the last minutes.
package statuspage

import (
	"bytes"
	"context"
	_ "embed"
	"html/template"
	"net/http"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/squid-cache-exporter/squid-cache-exporter/prober"
	"github.com/squid-cache-exporter/squid-cache-exporter/traffic"
)

// Sources are where the page reads its state; a nil source is a part the
// exporter does not run (no prober, no access log), and its section says so.
type Sources struct {
	Squid    func(context.Context) Squid
	Verdicts func() []prober.Verdict
	Blobs    func() []traffic.BlobCount
}

// Page is the status page. Run must run for the recent hit ratio.
type Page struct {
	landing web.LandingConfig // what exporter-toolkit's page shows around ours
	sources Sources
	recent  *window
	now     func() time.Time
}

// New returns the page for the landing config (name, description,
// version, links) and the sources.
func New(landing web.LandingConfig, s Sources) *Page {
	landing.Profiling = "false" // the exporter serves no pprof: its links would be dead
	landing.ExtraCSS += css
	return &Page{landing: landing, sources: s, recent: newWindow(), now: time.Now}
}

// Run samples the traffic counters for the recent hit ratio until ctx ends.
func (p *Page) Run(ctx context.Context) {
	if p.sources.Blobs == nil {
		return
	}
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		p.recent.add(p.now(), p.sources.Blobs())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// squidWait bounds the page's one request to Squid: a hung Squid must not
// hang the page that is there to say so.
const squidWait = 2 * time.Second

func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), squidWait)
	defer cancel()
	var status bytes.Buffer
	if err := statusTemplate.Execute(&status, p.view(ctx)); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	landing := p.landing
	// NewLandingPage rewrites the links it is given: each view gets a copy.
	landing.Links = append([]web.LandingLinks(nil), p.landing.Links...)
	landing.ExtraHTML = status.String()
	h, err := web.NewLandingPage(landing)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Cache-Control", "no-store") // it is a status: always now
	h.ServeHTTP(w, r)
}

var (
	//go:embed status.html
	statusHTML     string
	statusTemplate = template.Must(template.New("status").Parse(statusHTML))
	//go:embed status.css
	css string
)
