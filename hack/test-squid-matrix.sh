#!/usr/bin/env bash
# The end-to-end suite on the Squids besides the host's 5.7 (make test):
# Squid 6 (Debian trixie) and 7 (sid), each as one process and with SMP
# workers. The roots are made once by hack/squid-root.sh and kept under
# $SQUID_ROOTS. Needs root (chroot, mount namespaces) and debootstrap.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
export SQUID_ROOTS=${SQUID_ROOTS:-/var/cache/squid-cache-exporter/roots}
suites=(trixie sid)

# Both roots at once: each is mostly waiting on the mirror.
pids=()
for suite in "${suites[@]}"; do
  hack/squid-root.sh "$suite" >/dev/null &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done

# Every package whose tests start a Squid, and the harness itself.
mapfile -t packages < <(grep -rlE --include='*_test.go' 'squidtest\.Start\(|testenv\.Start\(' . |
  xargs -n1 dirname | sort -u)
packages+=(./internal/test/squidtest)
# With workers 2, the packages whose features SMP users have: the exporter
# on every report, the binary, the traffic metrics from the access log that
# all workers write, the harness itself. The prober's verdicts need a
# single process (squidtest.MemHitNeedsOneProcess).
smp_packages=(./internal/test/squidtest ./exporter ./cmd/... ./traffic)

run() {
  local name=$1; shift
  local start=$SECONDS
  echo "== $name"
  "$@"
  echo "== $name: $((SECONDS - start))s"
}
for suite in "${suites[@]}"; do
  root=$SQUID_ROOTS/$suite
  run "$(cat "$root/.squid-root-ready")" env SQUID_ROOT="$root" \
    $GO test -count=1 -timeout 15m "${packages[@]}"
  run "$(cat "$root/.squid-root-ready"), workers 2" env SQUID_ROOT="$root" SQUID_WORKERS=2 \
    $GO test -count=1 -timeout 15m "${smp_packages[@]}"
done
