package main

import (
	"context"
	"fmt"
	"os"

	"github.com/go-kit/log"

	"github.com/squid-cache-exporter/squid-cache-exporter/prober"
)

// Exit codes of the probe command.
const (
	exitPass   = 0
	exitFail   = 1 // a check failed
	exitConfig = 2 // the probe could not be set up
)

// probeOnce runs every target once and prints a verdict for each. With
// --exporter-url it asks each replica's sidecar, whose Squid served the
// pulls and whose log says how; otherwise it probes from here.
func probeOnce(o options, logger log.Logger) int {
	ctx, cancel := context.WithTimeout(context.Background(), o.probe.oneShotTimeout)
	defer cancel()
	if len(o.probe.exporterURLs) > 0 {
		if !prober.AskReplicas(ctx, o.probe.exporterURLs, os.Stdout) {
			return exitFail
		}
		return exitPass
	}
	if o.probe.config == "" {
		fmt.Fprintln(os.Stderr, "probe: give --probe.config (probe from here) or --exporter-url (ask the sidecars)")
		return exitConfig
	}
	feed, _, err := openAccessLog(ctx, o.accessLog, logger)
	var svc *prober.Service
	if err == nil {
		svc, err = newProber(o, feed, logger)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		return exitConfig
	}
	if !svc.ProbeAll(ctx, os.Stdout) {
		return exitFail
	}
	return exitPass
}
