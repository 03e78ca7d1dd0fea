// Package collector turns Squid's cache manager reports into Prometheus
// metrics. Each report has its own file with a reportCollector; this file
// holds the one mechanism that fetches them, times them and reports success.
package collector

import (
	"context"
	"fmt"
	"net/http/httptrace"
	"slices"
	"sync"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/squid-cache-exporter/squid-cache-exporter/cachemgr"
)

const namespace = "squid"

// A reportCollector turns the body of one cache manager report into
// metrics. It parses the whole report before it sends anything, so a bad
// report yields no metrics rather than some.
type reportCollector interface {
	Update(report []byte, ch chan<- prometheus.Metric) error
}

var (
	factories      = map[string]func() reportCollector{}
	reportsEnabled = map[string]*bool{}
)

// registerCollector makes a report known, with its --[no-]collector.<report>
// flag, as node_exporter does for its collectors.
func registerCollector(report string, defaultEnabled bool, factory func() reportCollector) {
	help := fmt.Sprintf("Read the cache manager's %s report (default: %t).", report, defaultEnabled)
	reportsEnabled[report] = kingpin.Flag("collector."+report, help).Default(fmt.Sprint(defaultEnabled)).Bool()
	factories[report] = factory
}

// EnabledReports lists the reports the flags enable, sorted.
func EnabledReports() []string {
	var names []string
	for name, on := range reportsEnabled {
		if *on {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

var (
	upDesc = prometheus.NewDesc(namespace+"_up",
		"1 when every enabled cache manager report was read, 0 otherwise.", nil, nil)
	reportDurationDesc = prometheus.NewDesc(namespace+"_exporter_report_duration_seconds",
		"Time to fetch and parse one cache manager report.", []string{"report"}, nil)
	reportSuccessDesc = prometheus.NewDesc(namespace+"_exporter_report_success",
		"1 when the report was fetched and parsed, 0 otherwise.", []string{"report"}, nil)
	managerRequestsDesc = prometheus.NewDesc(namespace+"_exporter_manager_requests_total",
		"Requests this exporter sent to the cache manager. Squid counts each as a client request (a miss), "+
			"so subtract this from squid_client_http_requests_total for an honest hit ratio.", nil, nil)
)

// countersReport is read before the others: see readCountersFirst.
const countersReport = "counters"

// Squid collects the enabled reports of one Squid.
type Squid struct {
	client   *cachemgr.Client
	counters bool     // counters is enabled
	others   []string // the other enabled reports
	logger   log.Logger
}

// New returns a collector for the given reports; an unknown name is an error.
func New(client *cachemgr.Client, reports []string, logger log.Logger) (*Squid, error) {
	for _, r := range reports {
		if factories[r] == nil {
			return nil, fmt.Errorf("unknown report %q", r)
		}
	}
	others := slices.DeleteFunc(slices.Clone(reports), func(r string) bool { return r == countersReport })
	return &Squid{client: client, counters: len(others) < len(reports), others: others, logger: logger}, nil
}

// Scrape returns a prometheus.Collector whose fetches are bounded by ctx,
// so each scrape can carry its own deadline.
func (s *Squid) Scrape(ctx context.Context) prometheus.Collector {
	return scrape{Squid: s, ctx: ctx}
}

type scrape struct {
	*Squid
	ctx    context.Context
	memory *memoryChoice // set by Collect, for each collection
}

// Describe sends nothing: the metrics depend on what Squid reports, so this
// is an unchecked collector.
func (scrape) Describe(chan<- *prometheus.Desc) {}

// Collect fetches all reports at once: a scrape then costs about as much as
// its slowest report rather than their sum. The counters report goes
// first, and the others only once its request is on the wire.
func (s scrape) Collect(ch chan<- prometheus.Metric) {
	s.memory = &memoryChoice{}
	reports := s.reports()
	errs := make([]error, len(reports))
	var wg sync.WaitGroup
	for i, report := range reports {
		read := func(ctx context.Context) { errs[i] = s.collectReport(ctx, report, ch) }
		if report == countersReport {
			s.readCountersFirst(&wg, read) // returns once its request is on the wire
			continue
		}
		wg.Go(func() { read(s.ctx) })
	}
	wg.Wait()
	s.memory.send(ch)

	up := 1.0
	for i, report := range reports {
		if err := errs[i]; err != nil {
			up = 0
			level.Error(s.logger).Log("msg", "cannot read cache manager report", "report", report, "err", err)
		}
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(managerRequestsDesc, prometheus.CounterValue, float64(s.client.Requests()))
}

// reports are the enabled reports, counters first.
func (s *Squid) reports() []string {
	if s.counters {
		return append([]string{countersReport}, s.others...)
	}
	return s.others
}

// readCountersFirst starts the counters report and returns once its
// request is on the wire. Squid counts a request when it completes, and
// answers ready connections in the order they became ready; so counters
// never counts this scrape's other requests, and
// squid_exporter_manager_requests_total can be subtracted exactly.
func (s scrape) readCountersFirst(wg *sync.WaitGroup, read func(context.Context)) {
	sent := make(chan struct{})
	var once sync.Once
	done := func() { once.Do(func() { close(sent) }) }
	ctx := httptrace.WithClientTrace(s.ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { done() },
	})
	wg.Go(func() {
		defer done() // it may fail before it writes anything
		read(ctx)
	})
	<-sent
}

func (s scrape) collectReport(ctx context.Context, report string, ch chan<- prometheus.Metric) error {
	start := time.Now()
	body, err := s.client.Fetch(ctx, report)
	if err == nil {
		rc := factories[report]()
		if err = rc.Update(body, ch); err == nil {
			s.memory.offer(rc)
		}
	}
	ch <- prometheus.MustNewConstMetric(reportDurationDesc, prometheus.GaugeValue, time.Since(start).Seconds(), report)
	ch <- prometheus.MustNewConstMetric(reportSuccessDesc, prometheus.GaugeValue, boolFloat(err == nil), report)
	return err
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// send emits a metric unless the report did not contain its value.
func send(ch chan<- prometheus.Metric, desc *prometheus.Desc, typ prometheus.ValueType, v float64, labels ...string) {
	if cachemgr.IsMissing(v) {
		return
	}
	ch <- prometheus.MustNewConstMetric(desc, typ, v, labels...)
}

func newDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(namespace+"_"+name, help, labels, nil)
}
