package charts

import (
	"context"
	"io"
	"net"
	"net/http/httptest"
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
	"github.com/squid-cache-exporter/squid-cache-exporter/learned"
	"github.com/squid-cache-exporter/squid-cache-exporter/registries"
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
	return startRendered(t, q, bump, renderedObjects(t, sets), "squid.conf", nil)
}

// renderedObjects renders the chart with sets, for the emulation.
func renderedObjects(t *testing.T, sets map[string]any) []object {
	t.Helper()
	if sets == nil {
		sets = map[string]any{}
	}
	sets["squid.upstreamCA.existingConfigMap"] = "origin-ca"
	sets["squid.extraConfig"] = "hosts_file /etc/squid-cache/hosts\ndns_nameservers 127.0.0.1"
	return objects(t, mustRender(t, nil, sets))
}

// startRendered runs the configuration key of the rendered objects (a
// squid.conf) on a real Squid, edited last by edit (nil: none).
func startRendered(t *testing.T, q *quaytest.Quay, bump *pkitest.CA, objs []object, key string, edit func(conf string) string) *squidtest.Squid {
	t.Helper()
	icapAddr, digestsURL := startICAP(t)
	local := func(dir string) *strings.Replacer {
		return strings.NewReplacer(
			"/var/run/squid/ssl_db", dir+"/ssl_db",
			"tls-cert=/etc/squid-cache/ca/tls.crt tls-key=/etc/squid-cache/ca/tls.key", "tls-cert="+dir+"/bump.pem",
			"cafile=/etc/squid-cache/ca/tls.crt", "cafile="+dir+"/bump.pem",
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
		"run/learn.conf":     "adaptation_meta " + icap.SecretHeader + ` "` + learnSecret + `" learned_registries blob_paths` + "\n",
	}
	return squidtest.StartRendered(t, squidtest.Options{Hosts: q.Hosts, BumpCA: bump, OriginCA: q.CA}, files,
		func(dir string, port int) string {
			r := local(dir)
			conf := r.Replace(configData(t, objs, key))
			conf = strings.ReplaceAll(conf, "access_log stdio:/dev/stdout ", "access_log stdio:"+dir+"/logs/access.log ")
			if edit != nil {
				conf = edit(conf)
			}
			conf = strings.Replace(conf, "\nhttp_port 3128 ", "\nhttp_port 127.0.0.1:"+itoa(port)+" ", 1)
			conf = regexpAccessLog.ReplaceAllString(conf, "access_log stdio:"+dir+"/logs/access.log logformat=squid_probe")
			if !strings.Contains(conf, "include "+dir+"/etc/conf/squid-private-blobs.conf") {
				return conf
			}
			write(t, dir+"/etc/conf/squid-private-blobs.conf", r.Replace(configData(t, objs, "squid-private-blobs.conf")))
			flags := r.Replace(configData(t, objs, "store-id-helper.flags"))
			flags = strings.Replace(flags, "--web.listen-address=:9303", "--web.listen-address=", 1) +
				"--url-pattern=" + quaytest.CDNPattern + "\n--hosts-file=" + dir + "/hosts\n--digests-url=" + digestsURL + "\n"
			write(t, dir+"/etc/conf/store-id-helper.flags", flags)
			return conf
		})
}

// learnSecret is the secret the rendered Squid's learn.conf sends, as the
// start script would draw it.
const learnSecret = "0123456789abcdef"

// startICAP serves the ICAP service on a free loopback port until the test
// ends, for the emulated CDN, learning digests with learnSecret and
// answering the helper's lookups at the URL it returns.
func startICAP(t *testing.T) (addr, digestsURL string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	urls, err := cdnurl.New(quaytest.CDNPattern)
	if err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "learn-secret")
	write(t, secret, learnSecret+"\n")
	learner := &icap.Learner{Store: &learned.Store{}, Secret: &icap.SecretFile{Path: secret}}
	if learner.URLs, err = cdnurl.NewLearned(registries.Default); err != nil {
		t.Fatal(err)
	}
	lookups := httptest.NewServer(learner.Store.Handler())
	t.Cleanup(lookups.Close)
	srv := &icap.Server{URLs: urls, Learner: learner, Logger: log.NewLogfmtLogger(io.Discard), Metrics: icap.NewMetrics(prometheus.NewRegistry())}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx, l); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return l.Addr().String(), lookups.URL
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
