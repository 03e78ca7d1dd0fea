package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/go-kit/log"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
	"github.com/squid-cache-exporter/squid-cache-exporter/traffic"
)

// openAccessLog starts reading Squid's access log, when --squid.access-log
// names one, into the traffic metrics; the prober reads the same feed.
// Both are nil without a log.
func openAccessLog(ctx context.Context, o accessLogOptions, logger log.Logger) (*accesslog.Feed, *traffic.Counter, error) {
	config, err := feedConfig(o, logger)
	if err != nil || config == nil {
		return nil, nil, err
	}
	var registries []traffic.Registry
	for _, r := range o.registries {
		reg, err := traffic.ParseRegistry(r)
		if err != nil {
			return nil, nil, fmt.Errorf("--squid.access-log.registry: %w", err)
		}
		registries = append(registries, reg)
	}
	counter, err := traffic.New(registries)
	if err != nil {
		return nil, nil, fmt.Errorf("--squid.access-log.registry: %w", err)
	}
	config.Tap = counter.Observe
	feed, err := accesslog.StartFeed(ctx, *config)
	if err != nil {
		return nil, nil, fmt.Errorf("--squid.access-log: %w", err)
	}
	return feed, counter, nil
}

// feedConfig reads the access log flags, the old ones as aliases; nil
// when no log is given.
func feedConfig(o accessLogOptions, logger log.Logger) (*accesslog.FeedConfig, error) {
	source, err := aliased(o)
	if err != nil || source == "" {
		return nil, err
	}
	peers, err := parsePeers(append(o.allowedPeers, o.oldPeers...))
	if err != nil {
		return nil, err
	}
	c := &accesslog.FeedConfig{AllowedPeers: peers, TokenFile: o.tokenFile, Logger: logger}
	if o.echo || o.oldEcho {
		c.Echo = os.Stdout
	}
	switch scheme, addr, ok := strings.Cut(source, "://"); {
	case ok && scheme == "tcp":
		c.Listen = addr
	case ok:
		return nil, fmt.Errorf("--squid.access-log: %q: a file, or tcp://HOST:PORT", source)
	default:
		c.File = source
	}
	if err := c.Check(); err != nil {
		return nil, fmt.Errorf("--squid.access-log: %w", err)
	}
	return c, nil
}

// aliased is --squid.access-log, or what the old flags said.
func aliased(o accessLogOptions) (string, error) {
	var given []string
	if o.source != "" {
		given = append(given, o.source)
	}
	if o.oldFile != "" {
		given = append(given, o.oldFile)
	}
	if o.oldListen != "" {
		given = append(given, "tcp://"+o.oldListen)
	}
	switch len(given) {
	case 0:
		return "", nil
	case 1:
		return given[0], nil
	}
	return "", errors.New("--squid.access-log: one access log, not several: the same log read twice doubles every line")
}

// parsePeers reads --squid.access-log.allowed-peers.
func parsePeers(cidrs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("--squid.access-log.allowed-peers: %w", err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
