package main

import (
	"errors"
	"os"
	"os/signal"
	"syscall"

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

// reloadOnHangup has the prober re-read its config and CA files on SIGHUP,
// as Prometheus and blackbox_exporter do, besides its own polling.
func reloadOnHangup(probe *prober.Service) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			probe.Reload() // it logs what went wrong
		}
	}()
}
