#!/usr/bin/env bash
# Makes (once) a Debian root with squid-openssl for one suite, for the test
# harness's SQUID_ROOT: trixie has Squid 6, sid Squid 7. Prints the root's
# path. A root that exists is reused; delete it to rebuild.
#
#   hack/squid-root.sh trixie    # -> /var/cache/squid-cache-exporter/roots/trixie
#
# Needs root and debootstrap. The host's apt sources and state are left
# alone: the suite is fetched from the mirror the host's apt already uses
# (or $MIRROR) into the new root only.
set -euo pipefail
suite=${1:?usage: $0 SUITE}
base=${SQUID_ROOTS:-/var/cache/squid-cache-exporter/roots}
root=$base/$suite

if [ -f "$root/.squid-root-ready" ]; then
  echo "$root"
  exit 0
fi

# The first Debian archive the host's apt uses (deb822 or one-line form).
mirror=${MIRROR:-$(sed -n 's/^URIs: *\([^ ]*\/debian\)\/*$/\1/p; s/^deb  *\(\[[^]]*\]  *\)\?\([^ ]*\/debian\)\/*  .*/\2/p' \
  /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -1 || true)}
mirror=${mirror:-http://deb.debian.org/debian}

# Build beside the final place and rename at the end, so that a root that
# exists is always complete.
work=$root.partial
rm -rf "$work"
mkdir -p "$base"
echo "debootstrap $suite from $mirror into $work" >&2
debootstrap --variant=minbase "$suite" "$work" "$mirror" >"$base/$suite.debootstrap.log" 2>&1 ||
  { tail -20 "$base/$suite.debootstrap.log" >&2; exit 1; }

# Services must not start inside the root; apt then skips their start-up.
printf '#!/bin/sh\nexit 101\n' >"$work/usr/sbin/policy-rc.d"
chmod 755 "$work/usr/sbin/policy-rc.d"
# sid's Release file may be past its Valid-Until on a machine whose mirror is
# a snapshot; the packages are still signed.
echo 'Acquire::Check-Valid-Until "false";' >"$work/etc/apt/apt.conf.d/99no-check-valid-until"

# /proc only in a mount namespace of this command, so that nothing stays
# mounted. --no-install-recommends: no systemd, whose postinst fails here.
unshare --mount --propagation private sh -ec '
  mount -t proc proc "$1/proc"
  chroot "$1" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive chroot "$1" apt-get install -y -qq --no-install-recommends squid-openssl ca-certificates
  chroot "$1" apt-get clean
' sh "$work" >"$base/$suite.apt.log" 2>&1 || { tail -20 "$base/$suite.apt.log" >&2; exit 1; }

chroot "$work" squid -v | head -1 >"$work/.squid-root-ready"
mv "$work" "$root"
echo "$(cat "$root/.squid-root-ready") in $root" >&2
echo "$root"
