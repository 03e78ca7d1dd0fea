package collector

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/squid-cache-exporter/squid-cache-exporter/cachemgr"
)

func init() {
	registerCollector("service_times", true, func() reportCollector { return serviceTimesCollector{} })
}

// serviceTimeDescs holds a desc for each of the 266 series, its labels
// fixed: a const metric then shares them instead of building and sorting
// label pairs for every series of every scrape, which tripled the
// exporter's allocations per scrape.
//
// The percentile label is not called quantile: Squid's percentiles are
// gauges over its own windows, with no count or sum, and promtool refuses
// a quantile label outside a summary.
var serviceTimeDescs = func() (d [len(cachemgr.ServiceCategories)][cachemgr.NumPercentiles][2]*prometheus.Desc) {
	const help = "Percentile of the time Squid took to serve a request of the category over the window " +
		"(under SMP, the mean of its kids' percentiles)."
	for c, category := range cachemgr.ServiceCategories {
		for i := range cachemgr.NumPercentiles {
			for w, window := range [...]string{"5m", "60m"} {
				d[c][i][w] = prometheus.NewDesc(namespace+"_service_time_seconds", help, nil, prometheus.Labels{
					"category": category, "percentile": strconv.Itoa(cachemgr.Percentile(i)), "window": window,
				})
			}
		}
	}
	return d
}()

type serviceTimesCollector struct{}

func (serviceTimesCollector) Update(report []byte, ch chan<- prometheus.Metric) error {
	st, err := cachemgr.ParseServiceTimes(report)
	if err != nil {
		return err
	}
	for c, series := range st.Seconds {
		for i, w := range series {
			send(ch, serviceTimeDescs[c][i][0], prometheus.GaugeValue, w.Last5m)
			send(ch, serviceTimeDescs[c][i][1], prometheus.GaugeValue, w.Last60m)
		}
	}
	return nil
}
