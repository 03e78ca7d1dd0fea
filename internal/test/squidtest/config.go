package squidtest

import (
	"fmt"
	"os"
	"strings"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
)

// config renders squid.conf for a test Squid in dir listening on port,
// with SMP workers when workers > 1.
func config(dir string, port, workers int, opts Options) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	if opts.BumpCA != nil {
		// Bumps every CONNECT: the certificates it makes are signed by the
		// bump CA, which the test's clients trust.
		line("http_port 127.0.0.1:%d ssl-bump generate-host-certificates=on dynamic_cert_mem_cache_size=4MB tls-cert=%s/bump.pem", port, dir)
		line("sslcrtd_program %s -s %s/ssl_db -M 4MB", certgen, dir)
		line("sslcrtd_children 3 startup=1 idle=1")
		line("ssl_bump bump all")
		line("tls_outgoing_options cafile=%s/origin-ca.pem", dir)
	} else {
		line("http_port 127.0.0.1:%d", port)
	}
	if opts.StoreID != "" {
		line("store_id_program %s/storeid.sh", dir)
		line("store_id_children 3 startup=1 idle=1 concurrency=0")
	}
	line("visible_hostname squidtest")
	line("pid_filename %s/run/squid.pid", dir)
	if os.Geteuid() == 0 {
		line("cache_effective_user proxy")
	}
	// Everything stays on loopback: names come from hosts_file, and a name
	// not there is looked up on 127.0.0.1, where nothing answers.
	line("hosts_file %s/hosts", dir)
	line("dns_nameservers 127.0.0.1")
	line("pinger_enable off") // the pinger outlives squid -N
	line("cache_mem %s", or(opts.CacheMem, "16 MB"))
	line("maximum_object_size_in_memory %s", or(opts.MaxObjectSizeInMemory, "4 MB"))
	line("maximum_object_size %s", or(opts.MaxObjectSize, "64 MB"))
	if workers > 1 {
		line("workers %d", workers)
	}
	// ufs is not SMP-aware: workers would share one dir unsynchronised.
	// rock is shared, and served by a disker process of its own.
	dirType := or(opts.CacheDirType, map[bool]string{true: "rock", false: "ufs"}[workers > 1])
	dirMiB := opts.CacheDirMiB
	if dirMiB == 0 {
		dirMiB = 64
	}
	dirLine := fmt.Sprintf("cache_dir %s %s/cache %d", dirType, dir, dirMiB)
	if dirType != "rock" {
		dirLine += " 4 16" // L1 and L2 directories
	}
	if opts.CacheDirOptions != "" {
		dirLine += " " + opts.CacheDirOptions
	}
	line("%s", dirLine)
	// Squid 5.7 crashes on mgr:config when no logformat is defined (bug
	// 5344). squid_probe is the built-in squid format plus the prober's
	// marker, which a round needs to tell its own lines from others'.
	line("%s", accesslog.ProbeLogFormat)
	line("access_log stdio:%s/logs/access.log squid_probe", dir)
	// The marker stays between the prober and Squid: it is logged, not sent on.
	line("request_header_access %s deny all", accesslog.MarkerHeader)
	line("cache_log %s/logs/cache.log", dir)
	line("cache_store_log none")
	line("logfile_rotate 0")
	line("coredump_dir %s/run", dir)
	if opts.Password != "" {
		actions := opts.PasswordActions
		if len(actions) == 0 {
			actions = []string{"info", "counters", "storedir"}
		}
		line("cachemgr_passwd %s %s", opts.Password, strings.Join(actions, " "))
	}
	// Extra lines come before the access rules so that they can add rules
	// that win.
	for _, l := range opts.Extra {
		line("%s", strings.ReplaceAll(l, "{dir}", dir))
	}
	line("http_access allow localhost manager")
	line("http_access deny manager")
	line("http_access allow localhost")
	line("http_access deny all")
	line("refresh_pattern . 0 20%% 4320")
	line("shutdown_lifetime 0 seconds")
	return b.String()
}

// or returns v, or def when v is empty.
func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
