package main

import (
	"errors"

	"github.com/go-kit/log"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
	"github.com/squid-cache-exporter/squid-cache-exporter/prober"
)

// newProber sets up the prober from the flags, on the access log feed.
// Rounds start when the caller runs the service.
func newProber(o options, feed *accesslog.Feed, logger log.Logger) (*prober.Service, error) {
	if feed == nil {
		return nil, errors.New("the prober reads Squid's access log: set --squid.access-log (a file, or tcp://HOST:PORT)")
	}
	settings := prober.Settings{ConfigFile: o.probe.config, ProxyURL: o.probe.proxy, CAFile: o.probe.caFile, LogWait: o.probe.logWait}
	if settings.ProxyURL == "" {
		settings.ProxyURL = o.squidAddress
	}
	return prober.NewService(settings, feed.Hub, logger)
}
