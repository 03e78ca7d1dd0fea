package accesslog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
)

// FeedConfig says where Squid's access log comes from: a file to follow, or
// an address where Squid's tcp logging module sends it. Exactly one.
type FeedConfig struct {
	File         string         // follow this file
	Listen       string         // or receive on this address; a bare :PORT binds 127.0.0.1
	AllowedPeers []netip.Prefix // who may send to Listen; empty means the loopback
	TokenFile    string         // Squid's token, which every line sent to Listen must begin with (Receiver.TokenFile)
	Echo         io.Writer      // copy received lines here (their probe markers masked)
	Tap          func(*Entry)   // sees every well-formed line (Hub.Tap)
	Logger       log.Logger
}

// Check says what is wrong with c. A file and a receiver fed by the same
// Squid would deliver every line twice, and a probe round would take its
// first pull's line for its second.
func (c FeedConfig) Check() error {
	switch {
	case c.File == "" && c.Listen == "":
		return errors.New("no access log: follow a file or listen for Squid's tcp logging module")
	case c.File != "" && c.Listen != "":
		return errors.New("one access log source, not both: the same log read twice doubles every line")
	case c.Listen == "" && len(c.AllowedPeers) > 0:
		return errors.New("allowed peers are for the receiver: give a listen address")
	case c.Listen == "" && c.TokenFile != "":
		return errors.New("a token file is for the receiver: give a listen address")
	}
	return nil
}

// Feed is Squid's access log, one line at a time, to whatever watches its
// Hub. It is also a prometheus.Collector of how many lines it read.
type Feed struct {
	Hub      *Hub
	receiver *Receiver
}

// StartFeed opens the source now (the file, or the listening socket), so
// that every line Squid writes once it returns is seen, and reads it until
// ctx ends.
func StartFeed(ctx context.Context, c FeedConfig) (*Feed, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	f := &Feed{Hub: &Hub{Tap: c.Tap}}
	if c.File != "" {
		return f, (&Follower{Path: c.File, Hub: f.Hub, Logger: c.Logger}).Start(ctx)
	}
	l, err := ListenLoopbackDefault(c.Listen)
	if err != nil {
		return nil, fmt.Errorf("access log receiver: %w", err)
	}
	f.receiver = &Receiver{Hub: f.Hub, Logger: c.Logger, AllowedPeers: c.AllowedPeers, Echo: c.Echo, TokenFile: c.TokenFile}
	go f.receiver.Serve(ctx, l)
	return f, nil
}

var (
	linesDesc = prometheus.NewDesc("squid_exporter_access_log_lines_total",
		"Access log lines read.", nil, nil)
	malformedDesc = prometheus.NewDesc("squid_exporter_access_log_malformed_lines_total",
		"Access log lines in neither Squid's native format nor squid_probe (the prober needs access_log ... squid_probe).", nil, nil)
	rejectedDesc = prometheus.NewDesc("squid_exporter_access_log_rejected_connections_total",
		"Connections the access log receiver closed, by reason: peer (not in the allowed peers) or limit (too many open), "+
			"both at once; token (a line without Squid's token, or no token in the token file).",
		[]string{"reason"}, nil)
)

// Describe sends the feed's metrics.
func (f *Feed) Describe(ch chan<- *prometheus.Desc) {
	ch <- linesDesc
	ch <- malformedDesc
	if f.receiver != nil {
		ch <- rejectedDesc
	}
}

// Collect counts the lines read and, for a receiver, the connections it
// turned away: either growing means something other than Squid connects.
func (f *Feed) Collect(ch chan<- prometheus.Metric) {
	c := prometheus.CounterValue
	ch <- prometheus.MustNewConstMetric(linesDesc, c, float64(f.Hub.Lines.Load()))
	ch <- prometheus.MustNewConstMetric(malformedDesc, c, float64(f.Hub.Malformed.Load()))
	if r := f.receiver; r != nil {
		ch <- prometheus.MustNewConstMetric(rejectedDesc, c, float64(r.RejectedPeer.Load()), "peer")
		ch <- prometheus.MustNewConstMetric(rejectedDesc, c, float64(r.RejectedLimit.Load()), "limit")
		ch <- prometheus.MustNewConstMetric(rejectedDesc, c, float64(r.RejectedToken.Load()), rejectToken)
	}
}
