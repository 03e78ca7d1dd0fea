// Package collector turns Squid's cache manager reports into Prometheus
// metrics. Each report has its own file with a reportCollector; this file
// holds the one mechanism that fetches them, times them and reports success.
package collector

import (
	"context"
	"fmt"
	"net/http/httptrace"
	"slices"
	"strings"
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
		"1 when every enabled cache manager report's last read succeeded, 0 otherwise.", nil, nil)
	reportDurationDesc = prometheus.NewDesc(namespace+"_exporter_report_duration_seconds",
		"Time the report's last read took to fetch and parse.", []string{"report"}, nil)
	reportSuccessDesc = prometheus.NewDesc(namespace+"_exporter_report_success",
		"1 when the report's last read was fetched and parsed, 0 otherwise.", []string{"report"}, nil)
	reportAgeDesc = prometheus.NewDesc(namespace+"_exporter_report_age_seconds",
		"Seconds since the report's metrics were read from Squid: about 0 when read by this scrape, up to "+
			"--collector.slow-interval for the reports other than counters.", []string{"report"}, nil)
	managerRequestsDesc = prometheus.NewDesc(namespace+"_exporter_manager_requests_total",
		"Requests this exporter sent to the cache manager. Squid counts each as a client request (a miss), "+
			"so subtract this from squid_client_http_requests_total for an honest hit ratio.", nil, nil)
)

// countersReport is read before the others (see readCountersFirst), and
// at every scrape: its counters are what rates are made of.
const countersReport = "counters"

// Config is what a Squid collector reads, and how often.
type Config struct {
	Reports []string // the reports to read
	// SlowInterval is how often the reports other than counters are read:
	// at most once per interval, their last reading exported in between
	// (see slow.go). 0 reads every report at every scrape.
	SlowInterval time.Duration
}

// FlagConfig is the Config the command line asks for.
func FlagConfig() Config {
	return Config{Reports: EnabledReports(), SlowInterval: *slowInterval}
}

// Squid collects the enabled reports of one Squid.
type Squid struct {
	client   *cachemgr.Client
	counters bool     // counters is enabled
	others   []string // the other enabled reports
	slow     *slowReports
	logger   log.Logger
}

// New returns a collector for the configured reports; an unknown name is an
// error.
func New(client *cachemgr.Client, cfg Config, logger log.Logger) (*Squid, error) {
	for _, r := range cfg.Reports {
		if factories[r] == nil {
			return nil, fmt.Errorf("unknown report %q", r)
		}
	}
	if cfg.SlowInterval < 0 {
		return nil, fmt.Errorf("slow report interval %v is negative", cfg.SlowInterval)
	}
	others := slices.DeleteFunc(slices.Clone(cfg.Reports), func(r string) bool { return r == countersReport })
	return &Squid{
		client: client, counters: len(others) < len(cfg.Reports), others: others,
		slow: newSlowReports(cfg.SlowInterval), logger: logger,
	}, nil
}

// Scrape returns a prometheus.Collector whose fetches are bounded by ctx,
// so each scrape can carry its own deadline.
func (s *Squid) Scrape(ctx context.Context) prometheus.Collector {
	return scrape{Squid: s, ctx: ctx}
}

type scrape struct {
	*Squid
	ctx context.Context
}

// Describe sends nothing: the metrics depend on what Squid reports, so this
// is an unchecked collector.
func (scrape) Describe(chan<- *prometheus.Desc) {}

// Collect reads the reports that are due and reuses the slow reports'
// last readings, unless the counters say Squid restarted or cannot be
// read: then those are read again too, so a scrape never shows a reading
// of a Squid that is gone.
func (s scrape) Collect(ch chan<- prometheus.Metric) {
	due, kept := s.slow.plan(s.reports(), time.Now())
	got := s.read(due)
	if len(kept) > 0 && !s.slow.sameSquid(got, s.counters) {
		got = append(got, s.read(reportsOf(kept))...)
		kept = nil
	}
	s.slow.remember(got)
	readings := append(got, kept...)
	slices.SortFunc(readings, func(a, b reading) int { return strings.Compare(a.report, b.report) })
	s.send(ch, readings)
}

// reports are the enabled reports, counters first.
func (s *Squid) reports() []string {
	if s.counters {
		return append([]string{countersReport}, s.others...)
	}
	return s.others
}

// read fetches the reports at once: a scrape then costs about as much as
// its slowest report rather than their sum. The counters report goes
// first, and the others only once its request is on the wire.
func (s scrape) read(reports []string) []reading {
	got := make([]reading, len(reports))
	var wg sync.WaitGroup
	for i, report := range reports {
		read := func(ctx context.Context) { got[i] = s.readReport(ctx, report) }
		if report == countersReport {
			s.readCountersFirst(&wg, read) // returns once its request is on the wire
			continue
		}
		wg.Go(func() { read(s.ctx) })
	}
	wg.Wait()
	return got
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

// readReport fetches one report and turns it into metrics.
func (s scrape) readReport(ctx context.Context, report string) reading {
	start := time.Now()
	r := reading{report: report}
	body, err := s.client.Fetch(ctx, report)
	if err == nil {
		rc := factories[report]()
		r.metrics, err = collectMetrics(rc, body)
		if err == nil {
			r.memory = memoryOf(rc)
			r.cpu = cpuOf(rc)
		}
	}
	r.err, r.at = err, time.Now()
	r.duration = r.at.Sub(start)
	return r
}

// collectMetrics runs a report collector and keeps what it sends: none of it when
// it fails, as it parses the whole report before it sends anything.
func collectMetrics(rc reportCollector, body []byte) ([]prometheus.Metric, error) {
	ch := make(chan prometheus.Metric)
	kept := make(chan []prometheus.Metric)
	go func() {
		var metrics []prometheus.Metric
		for m := range ch {
			metrics = append(metrics, m)
		}
		kept <- metrics
	}()
	err := rc.Update(body, ch)
	close(ch)
	metrics := <-kept
	if err != nil {
		return nil, err
	}
	return metrics, nil
}

// send exports the readings, each with its duration, success and age, and
// Squid's up.
func (s scrape) send(ch chan<- prometheus.Metric, readings []reading) {
	memory := &memoryChoice{}
	up := 1.0
	for _, r := range readings {
		for _, m := range r.metrics {
			ch <- m
		}
		memory.offer(r.memory)
		ch <- prometheus.MustNewConstMetric(reportDurationDesc, prometheus.GaugeValue, r.duration.Seconds(), r.report)
		ch <- prometheus.MustNewConstMetric(reportSuccessDesc, prometheus.GaugeValue, boolFloat(r.err == nil), r.report)
		if r.err != nil {
			up = 0
			level.Error(s.logger).Log("msg", "cannot read cache manager report", "report", r.report, "err", r.err)
			continue
		}
		ch <- prometheus.MustNewConstMetric(reportAgeDesc, prometheus.GaugeValue, time.Since(r.at).Seconds(), r.report)
	}
	memory.send(ch)
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(managerRequestsDesc, prometheus.CounterValue, float64(s.client.Requests()))
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
