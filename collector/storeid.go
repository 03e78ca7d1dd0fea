package collector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/squid-cache-exporter/squid-cache-exporter/cachemgr"
)

func init() {
	registerCollector("store_id", true, func() reportCollector { return helperCollector{"store_id"} })
}

// Squid's view of a helper, from its manager report. The helper label
// names the report (store_id); Squid prints the redirector's and the
// external ACLs' in the same format. Under SMP every kid's helpers are
// added up.
var (
	helperRequestsDesc = newDesc("helper_requests_total", "Requests Squid sent to the helper.", "helper")
	helperRepliesDesc  = newDesc("helper_replies_total", "Replies Squid received from the helper.", "helper")
	helperTimeoutsDesc = newDesc("helper_timeouts_total", "Helper requests that timed out.", "helper")
	helperQueueDesc    = newDesc("helper_queue_length", "Requests waiting for a free helper child.", "helper")
	helperActiveDesc   = newDesc("helper_children_active", "Helper children running.", "helper")
	helperMaxDesc      = newDesc("helper_children_max", "Helper children Squid may start (the children setting).", "helper")
	helperBusyDesc     = newDesc("helper_children_busy", "Helper children with a request pending.", "helper")
	helperServiceDesc  = newDesc("helper_average_service_time_seconds",
		"Squid's moving average of the time the helper took to answer, in whole milliseconds.", "helper")
	helperBypassedDesc = newDesc("helper_bypassed_requests_total",
		"Requests Squid answered without the helper because all its children were busy "+
			"(always 0 with the helper's bypass setting off).", "helper")
)

type helperCollector struct {
	helper string
}

func (c helperCollector) Update(report []byte, ch chan<- prometheus.Metric) error {
	h, err := cachemgr.ParseHelperStats(report)
	if err != nil || h.Processes == 0 {
		return err // none configured: nothing to say
	}
	ct, g := prometheus.CounterValue, prometheus.GaugeValue
	send(ch, helperRequestsDesc, ct, h.Requests, c.helper)
	send(ch, helperRepliesDesc, ct, h.Replies, c.helper)
	send(ch, helperTimeoutsDesc, ct, h.TimedOut, c.helper)
	send(ch, helperBypassedDesc, ct, bypassed(h), c.helper)
	send(ch, helperQueueDesc, g, h.QueueLength, c.helper)
	send(ch, helperActiveDesc, g, h.ActiveChildren, c.helper)
	send(ch, helperMaxDesc, g, h.MaxChildren, c.helper)
	send(ch, helperBusyDesc, g, h.BusyChildren, c.helper)
	send(ch, helperServiceDesc, g, h.AverageServiceSeconds, c.helper)
	return nil
}

// bypassed is the bypass count. Squid prints it only with the helper's
// bypass setting on (store_id_bypass, its default); off, Squid never
// bypasses the helper, so 0 is the count, and the series, its panel and
// its alert work whatever the setting.
func bypassed(h *cachemgr.HelperStats) float64 {
	if cachemgr.IsMissing(h.Bypassed) {
		return 0
	}
	return h.Bypassed
}
