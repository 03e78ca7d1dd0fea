package charts

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
	"github.com/squid-cache-exporter/squid-cache-exporter/cdnurl"
	"github.com/squid-cache-exporter/squid-cache-exporter/icap"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/pkitest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/quaytest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
)

// renderedSquid runs the chart's squid.conf, rendered with sets, on a real
// Squid on loopback in front of the quay emulation q, bumping with bump, with the store-ID
// helper and the ICAP service as the pod runs them. What differs from the
// pod, and only that: the mounted paths are the Squid's directory, quay.io
// is the emulation's quay.test, Squid listens on a free loopback port and
// logs to files, and the rules denying loopback destinations and ports
// other than 80 and 443 are left out (the emulation lives on 127.0.0.x, on
// random ports; charts/access_test.go tests those rules).
func renderedSquid(t *testing.T, q *quaytest.Quay, bump *pkitest.CA, sets map[string]any) *squidtest.Squid {
	t.Helper()
	if sets == nil {
		sets = map[string]any{}
	}
	sets["squid.upstreamCA.existingConfigMap"] = "origin-ca"
	sets["squid.extraConfig"] = "hosts_file /etc/squid-cache/hosts\ndns_nameservers 127.0.0.1"
	objs := objects(t, mustRender(t, nil, sets))
	icapAddr := startICAP(t)
	local := func(dir string) *strings.Replacer {
		return strings.NewReplacer(
			"/var/run/squid/ssl_db", dir+"/ssl_db",
			"tls-cert=/etc/squid-cache/ca/tls.crt tls-key=/etc/squid-cache/ca/tls.key", "tls-cert="+dir+"/bump.pem",
			"/etc/squid-cache/upstream-ca/ca.crt", dir+"/origin-ca.pem",
			"/etc/squid-cache/hosts", dir+"/hosts",
			"/usr/local/bin/squid-store-id-helper", helperBinary,
			"/etc/squid-cache/", dir+"/etc/",
			"/var/run/squid", dir+"/run",
			"/var/spool/squid", dir+"/cache",
			`\.quay\.io`, `\.quay\.test`,
			" .quay.io", " .quay.test",
			"icap://127.0.0.1:1344/", "icap://"+icapAddr+"/",
			"cache_log stdio:/dev/stderr", "cache_log "+dir+"/logs/cache.log",
			"http_access deny to_localhost\n", "",
			"http_access deny !Safe_ports\n", "",
			"http_access deny CONNECT !SSL_ports\n", "",
		)
	}
	files := map[string]string{
		"run/cachemgr.conf":  "cachemgr_passwd secret info counters storedir service_times store_id active_requests\n",
		"run/logformat.conf": accesslog.ProbeLogFormat + "\n",
		"run/learn.conf":     "adaptation_meta " + icap.SecretHeader + ` "0123456789abcdef" learned_registries blob_paths` + "\n",
	}
	return squidtest.StartRendered(t, squidtest.Options{Hosts: q.Hosts, BumpCA: bump, OriginCA: q.CA}, files,
		func(dir string, port int) string {
			r := local(dir)
			conf := r.Replace(configData(t, objs, "squid.conf"))
			conf = strings.Replace(conf, "\nhttp_port 3128 ", "\nhttp_port 127.0.0.1:"+itoa(port)+" ", 1)
			conf = regexpAccessLog.ReplaceAllString(conf, "access_log stdio:"+dir+"/logs/access.log logformat=squid_probe")
			if !strings.Contains(conf, "include "+dir+"/etc/conf/squid-private-blobs.conf") {
				return conf
			}
			write(t, dir+"/etc/conf/squid-private-blobs.conf", r.Replace(configData(t, objs, "squid-private-blobs.conf")))
			flags := r.Replace(configData(t, objs, "store-id-helper.flags"))
			flags = strings.Replace(flags, "--web.listen-address=:9303", "--web.listen-address=", 1) +
				"--url-pattern=" + quaytest.CDNPattern + "\n--hosts-file=" + dir + "/hosts\n"
			write(t, dir+"/etc/conf/store-id-helper.flags", flags)
			return conf
		})
}

// startICAP serves the ICAP service on a free loopback port until the test
// ends, for the emulated CDN.
func startICAP(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	urls, err := cdnurl.New(quaytest.CDNPattern)
	if err != nil {
		t.Fatal(err)
	}
	srv := &icap.Server{URLs: urls, Logger: log.NewLogfmtLogger(io.Discard), Metrics: icap.NewMetrics(prometheus.NewRegistry())}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx, l); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return l.Addr().String()
}

// regexpAccessLog is the chart's access_log line, to the exporter's port.
var regexpAccessLog = regexp.MustCompile(`access_log tcp://127\.0\.0\.1:[0-9]+ logformat=squid_probe`)

func itoa(n int) string { return strconv.Itoa(n) }

// write writes a file of the rendered Squid's directory, readable by Squid.
func write(t *testing.T, path, content string) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
