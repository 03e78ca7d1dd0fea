#!/usr/bin/env bash
# Starts a throwaway Squid on 127.0.0.1:3128 (or $SQUID_PORT), sends it some
# cacheable traffic, and runs the exporter against it on 127.0.0.1:9301.
# Ctrl-C stops everything and removes the temporary directory.
set -euo pipefail
exporter=${1:-./squid-cache-exporter}
port=${SQUID_PORT:-3128}
command -v squid >/dev/null || { echo "squid is not installed: make test-deps" >&2; exit 1; }

dir=$(mktemp -d /tmp/squid-demo-XXXXXX)
chmod 755 "$dir"
mkdir -p "$dir"/{cache,logs,run,www}
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

user_line=""
[ "$(id -u)" = 0 ] && user_line="cache_effective_user proxy"
cat > "$dir/squid.conf" <<CONF
http_port 127.0.0.1:$port
visible_hostname squid-demo
pid_filename $dir/run/squid.pid
$user_line
pinger_enable off
dns_nameservers 127.0.0.1
cache_mem 16 MB
cache_dir ufs $dir/cache 64 4 16
logformat squid_probe %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt %{X-Squid-Cache-Probe}>h
access_log stdio:$dir/logs/access.log squid_probe
cache_log $dir/logs/cache.log
http_access allow localhost manager
http_access deny manager
http_access allow localhost
http_access deny all
refresh_pattern . 60 20% 4320
shutdown_lifetime 0 seconds
CONF
[ "$(id -u)" = 0 ] && chown -R proxy:proxy "$dir"

squid -z -N -f "$dir/squid.conf" 2>/dev/null
squid -N -f "$dir/squid.conf" & pids+=($!)
until curl -s -o /dev/null "http://127.0.0.1:$port/squid-internal-mgr/info"; do sleep 0.1; done

# An origin with a few objects, each fetched twice: one miss, then a hit.
for i in 1 2 3; do head -c 100000 /dev/urandom > "$dir/www/blob$i"; done
python3 -m http.server 18080 --bind 127.0.0.1 --directory "$dir/www" >/dev/null 2>&1 & pids+=($!)
sleep 0.5
for i in 1 2 3 1 2 3; do curl -s -o /dev/null --proxy "http://127.0.0.1:$port" "http://127.0.0.1:18080/blob$i"; done

"$exporter" --squid.address="http://127.0.0.1:$port" --web.listen-address=127.0.0.1:9301 & pids+=($!)
echo
echo "Squid:     http://127.0.0.1:$port (access log: $dir/logs/access.log)"
echo "Exporter:  http://127.0.0.1:9301/metrics   (try: curl -s 127.0.0.1:9301/metrics | grep ^squid_)"
echo "Press Ctrl-C to stop."
wait
