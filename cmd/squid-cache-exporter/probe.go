package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"

	"github.com/go-kit/log"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
	"github.com/squid-cache-exporter/squid-cache-exporter/prober"
)

// startProber opens Squid's access log and sets up the prober on it, from
// the flags. Rounds start when the caller runs the service.
func startProber(ctx context.Context, o probeOptions, squidAddress string, logger log.Logger) (*accesslog.Feed, *prober.Service, error) {
	peers, err := parsePeers(o.allowedPeers)
	if err != nil {
		return nil, nil, err
	}
	feedConfig := accesslog.FeedConfig{File: o.accessLog, Listen: o.listen, AllowedPeers: peers, Logger: logger}
	if o.echo {
		feedConfig.Echo = os.Stdout
	}
	if err := feedConfig.Check(); err != nil {
		return nil, nil, fmt.Errorf("the prober reads Squid's access log: set one of --probe.access-log (a file) "+
			"and --probe.access-log.listen-address (Squid's tcp module): %w", err)
	}
	feed, err := accesslog.StartFeed(ctx, feedConfig)
	if err != nil {
		return nil, nil, err
	}
	settings := prober.Settings{ConfigFile: o.config, ProxyURL: o.proxy, CAFile: o.caFile, LogWait: o.logWait}
	if settings.ProxyURL == "" {
		settings.ProxyURL = squidAddress
	}
	svc, err := prober.NewService(settings, feed.Hub, logger)
	return feed, svc, err
}

// parsePeers reads --probe.access-log.allowed-peers.
func parsePeers(cidrs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("--probe.access-log.allowed-peers: %w", err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
