package collector

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/squid-cache-exporter/squid-cache-exporter/cachemgr"
)

func init() {
	registerCollector("service_times", true, func() reportCollector { return serviceTimesCollector{} })
}

// serviceTimeDesc's percentile label is not called quantile: Squid's
// percentiles are gauges over its own windows, with no count or sum, and
// promtool refuses a quantile label outside a summary.
var serviceTimeDesc = newDesc("service_time_seconds",
	"Percentile of the time Squid took to serve a request of the category over the window "+
		"(under SMP, the mean of its kids' percentiles).",
	"category", "percentile", "window")

// percentileLabels are "5", "10", ... "95", made once.
var percentileLabels = func() (l [cachemgr.NumPercentiles]string) {
	for i := range l {
		l[i] = strconv.Itoa(cachemgr.Percentile(i))
	}
	return l
}()

type serviceTimesCollector struct{}

func (serviceTimesCollector) Update(report []byte, ch chan<- prometheus.Metric) error {
	st, err := cachemgr.ParseServiceTimes(report)
	if err != nil {
		return err
	}
	for c, series := range st.Seconds {
		for i, w := range series {
			sendWindows(ch, serviceTimeDesc, w, cachemgr.ServiceCategories[c], percentileLabels[i])
		}
	}
	return nil
}
