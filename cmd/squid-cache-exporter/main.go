// Command squid-cache-exporter exports a Squid caching proxy's state to
// Prometheus and probes that its cache serves container image blobs.
package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/logging"
)

const program = "squid-cache-exporter"

// options are the parsed flags.
type options struct {
	squidAddress, passwordFile string
	timeout                    time.Duration
	metricsPath                string
	web                        *web.FlagConfig
	logLevel, logFormat        string
	accessLog                  accessLogOptions
	probe                      probeOptions
}

// accessLogOptions are Squid's access log: the traffic metrics and the
// prober read it.
type accessLogOptions struct {
	source       string // a file, or tcp://HOST:PORT
	allowedPeers []string
	echo         bool
	tokenFile    string
	registries   []string
	// The flags of one release before, kept as aliases.
	oldFile, oldListen string
	oldPeers           []string
	oldEcho            bool
}

type probeOptions struct {
	config, proxy, caFile string
	logWait               time.Duration
	exporterURLs          []string
	oneShotTimeout        time.Duration
}

// tuneGC keeps the sidecar under 20 MiB resident unless GOGC says
// otherwise. The live heap is about 3 MiB, so collecting at 50% growth
// costs little CPU. Over half of the resident memory is the binary's own
// pages, which no setting changes.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
}

func main() {
	app := kingpin.CommandLine
	app.Name, app.Help = program, "Exports a Squid caching proxy's state to Prometheus, and probes that its cache serves blobs."
	var o options
	app.Flag("squid.address", "Squid's http_port, where its cache manager answers.").Default("http://127.0.0.1:3128").StringVar(&o.squidAddress)
	app.Flag("squid.password-file", "File holding the cache manager password (cachemgr_passwd).").StringVar(&o.passwordFile)
	app.Flag("squid.timeout", "Longest a scrape of Squid may take; a shorter Prometheus scrape timeout wins.").Default("10s").DurationVar(&o.timeout)
	app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").StringVar(&o.metricsPath)
	o.web = kingpinflag.AddFlags(app, ":9301")
	app.Flag("log.level", "Only log messages with the given severity or above: debug, info, warn, error.").Default("info").EnumVar(&o.logLevel, "debug", "info", "warn", "error")
	app.Flag("log.format", "Output format of log messages: logfmt, json.").Default("logfmt").EnumVar(&o.logFormat, "logfmt", "json")
	app.Flag("probe.config", "Probe targets (YAML). Without it, nothing is probed.").StringVar(&o.probe.config)
	app.Flag("probe.proxy-url", "The Squid the probe pulls through (default: --squid.address).").StringVar(&o.probe.proxy)
	app.Flag("probe.ca-file", "PEM bundle the probe trusts besides the system roots: Squid's ssl-bump CA.").StringVar(&o.probe.caFile)
	app.Flag("squid.access-log", "Squid's access log (squid or squid_probe format): a file to follow, or tcp://HOST:PORT to receive "+
		"Squid's access_log tcp:// module on (a bare tcp://:PORT binds 127.0.0.1). Feeds the traffic metrics and the prober.").StringVar(&o.accessLog.source)
	app.Flag("squid.access-log.allowed-peers", "Network (CIDR) allowed to send access log lines over tcp:// (repeatable); default: the loopback only.").StringsVar(&o.accessLog.allowedPeers)
	app.Flag("squid.access-log.echo", "Copy received access log lines to stdout (probe markers masked), so kubectl logs shows them.").BoolVar(&o.accessLog.echo)
	app.Flag("squid.access-log.token-file", "File holding a token Squid prefixes to every log line sent over tcp:// "+
		"(the chart writes one per pod); lines without it close the connection.").StringVar(&o.accessLog.tokenFile)
	app.Flag("squid.access-log.registry", "A registry for the traffic metrics' registry label, NAME=HOST[,HOST...] "+
		"(*.domain for subdomains; repeatable); replaces the built-in list.").StringsVar(&o.accessLog.registries)
	app.Flag("probe.access-log", "Deprecated: --squid.access-log=FILE.").Hidden().StringVar(&o.accessLog.oldFile)
	app.Flag("probe.access-log.listen-address", "Deprecated: --squid.access-log=tcp://ADDRESS.").Hidden().StringVar(&o.accessLog.oldListen)
	app.Flag("probe.access-log.allowed-peers", "Deprecated: --squid.access-log.allowed-peers.").Hidden().StringsVar(&o.accessLog.oldPeers)
	app.Flag("probe.access-log.echo", "Deprecated: --squid.access-log.echo.").Hidden().BoolVar(&o.accessLog.oldEcho)
	app.Flag("probe.log-wait", "How long a round waits for the access log to show its pulls.").Default("3s").DurationVar(&o.probe.logWait)
	app.Command("serve", "Serve metrics and /probe, and probe in the background (the default).").Default()
	probeCmd := app.Command("probe", "Run every probe target once, print a verdict for each, exit 1 if any fails.")
	probeCmd.Flag("exporter-url", "Ask the exporter sidecar at this URL to probe (repeatable); a name with several addresses, "+
		"like a headless service, means every replica. Without it, probe from here.").StringsVar(&o.probe.exporterURLs)
	probeCmd.Flag("timeout", "Longest the whole one-shot probe may take.").Default("5m").DurationVar(&o.probe.oneShotTimeout)
	app.DefaultEnvars() // every flag also reads SQUID_CACHE_EXPORTER_<FLAG>
	app.Version(version.Print(program))
	app.HelpFlag.Short('h')
	command := kingpin.MustParse(app.Parse(os.Args[1:]))
	tuneGC()
	logger, slogger, err := logging.New(o.logLevel, o.logFormat)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if command == probeCmd.FullCommand() {
		os.Exit(probeOnce(o, logger))
	}
	os.Exit(serve(o, logger, slogger))
}
