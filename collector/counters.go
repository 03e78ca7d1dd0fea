package collector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/squid-cache-exporter/squid-cache-exporter/cachemgr"
)

func init() {
	registerCollector("counters", true, func() reportCollector { return &countersCollector{} })
}

var (
	clientRequestsDesc = newDesc("client_http_requests_total",
		"HTTP requests from clients, cache manager requests included.")
	clientHitsDesc     = newDesc("client_http_hits_total", "Client HTTP requests served from cache.")
	clientErrorsDesc   = newDesc("client_http_errors_total", "Client HTTP requests that ended in an error.")
	clientReceivedDesc = newDesc("client_http_received_bytes_total", "Bytes received from clients.")
	clientSentDesc     = newDesc("client_http_sent_bytes_total", "Bytes sent to clients.")
	clientHitSentDesc  = newDesc("client_http_hit_sent_bytes_total", "Bytes sent to clients from cache.")

	serverRequestsDesc = newDesc("server_requests_total", "Requests Squid sent to origin servers and peers.", "protocol")
	serverErrorsDesc   = newDesc("server_errors_total", "Requests to servers that ended in an error.", "protocol")
	serverReceivedDesc = newDesc("server_received_bytes_total", "Bytes received from servers.", "protocol")
	serverSentDesc     = newDesc("server_sent_bytes_total", "Bytes sent to servers.", "protocol")

	swapOutsDesc         = newDesc("swap_outs_total", "Objects written to the disk cache.")
	swapInsDesc          = newDesc("swap_ins_total", "Objects read from the disk cache.")
	swapFilesCleanedDesc = newDesc("swap_files_cleaned_total", "Orphaned disk cache files removed.")

	abortedRequestsDesc = newDesc("aborted_requests_total", "Requests whose client went away before the reply was sent.")
	cpuSecondsDesc      = newDesc("cpu_seconds_total", "CPU time Squid has used.")
	pageFaultsDesc      = newDesc("page_faults_total", "Page faults with physical I/O.")
	selectLoopsDesc     = newDesc("select_loops_total", "Turns of Squid's event loop.")
)

// countersCollector keeps Squid's CPU time, which only grows while one
// Squid runs: the scrape tells a restart by it (see slow.go).
type countersCollector struct {
	cpuSeconds float64
}

func (cc *countersCollector) Update(report []byte, ch chan<- prometheus.Metric) error {
	c, err := cachemgr.ParseCounters(report)
	if err != nil {
		return err
	}
	cc.cpuSeconds = c.CPUSeconds
	const ct = prometheus.CounterValue
	send(ch, clientRequestsDesc, ct, c.Client.Requests)
	send(ch, clientHitsDesc, ct, c.ClientHits)
	send(ch, clientErrorsDesc, ct, c.Client.Errors)
	send(ch, clientReceivedDesc, ct, c.Client.ReceivedBytes)
	send(ch, clientSentDesc, ct, c.Client.SentBytes)
	send(ch, clientHitSentDesc, ct, c.HitSentBytes)
	for _, proto := range cachemgr.ServerProtocols {
		t := c.Server[proto]
		send(ch, serverRequestsDesc, ct, t.Requests, proto)
		send(ch, serverErrorsDesc, ct, t.Errors, proto)
		send(ch, serverReceivedDesc, ct, t.ReceivedBytes, proto)
		send(ch, serverSentDesc, ct, t.SentBytes, proto)
	}
	send(ch, swapOutsDesc, ct, c.SwapOuts)
	send(ch, swapInsDesc, ct, c.SwapIns)
	send(ch, swapFilesCleanedDesc, ct, c.SwapFilesCleaned)
	send(ch, abortedRequestsDesc, ct, c.AbortedRequests)
	send(ch, cpuSecondsDesc, ct, c.CPUSeconds)
	send(ch, pageFaultsDesc, ct, c.PageFaults)
	send(ch, selectLoopsDesc, ct, c.SelectLoops)
	return nil
}
