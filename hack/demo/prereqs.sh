#!/bin/sh
# What make run needs, checked before anything else: Go, at least the
# version go.mod names, and a Squid that can bump TLS (Debian's
# squid-openssl). For each one missing it says how to install it, and
# installs it when asked: INSTALL=1, or "y" to its question on a terminal.
# It prints the go command to use on stdout, everything else on stderr.
set -eu
cd "$(dirname "$0")/../.."
GO=${GO:-go}
want=$(sed -n 's/^go \([0-9.]*\)$/\1/p' go.mod)
sdk=$HOME/sdk/go$want
tarball=https://go.dev/dl/go$want.linux-$(dpkg --print-architecture 2>/dev/null || echo amd64).tar.gz
sudo=$([ "$(id -u)" = 0 ] || echo "sudo ")

say() { printf '%s\n' "$*" >&2; }

# find_go sets $go to the go binary of the first of $GO and ~/sdk/goVERSION
# that runs Go $want or later here (a Go from 1.21 fetches a newer one
# itself, unless GOTOOLCHAIN=local), and $found to the last version seen.
go="" found="no go"
find_go() {
  for g in "$GO" "$sdk/bin/go"; do
    command -v "$g" >/dev/null 2>&1 || continue
    found=$(cd / && GOTOOLCHAIN=local "$g" env GOVERSION 2>/dev/null) || found=$g
    v=$("$g" env GOVERSION) || continue
    case $v in
      go[0-9]*) [ "$(printf '%s\n%s\n' "$want" "${v#go}" | sort -V | head -n1)" = "$want" ] || continue ;;
    esac
    go=$("$g" env GOROOT)/bin/go
    return
  done
}

ask() {
  [ "${INSTALL:-}" = 1 ] && return 0
  [ -t 0 ] || return 1
  printf '%s [y/N] ' "$1" >&2
  read -r answer || return 1
  case $answer in [yY]*) return 0 ;; *) return 1 ;; esac
}

has_squid() { [ -x /usr/lib/squid/security_file_certgen ] && { command -v squid || [ -x /usr/sbin/squid ]; } >/dev/null; }

find_go
packages=""
if ! has_squid; then
  packages=squid-openssl
  say "missing: Squid with ssl-bump, Debian's squid-openssl. To install it:"
  say "  ${sudo}apt-get update && ${sudo}apt-get install squid-openssl"
fi
if [ -z "$go" ]; then
  command -v curl >/dev/null || packages="$packages curl ca-certificates"
  say "missing: Go $want or later, as go.mod says (found: $found; Debian 12's golang-go, 1.19, is too old). To install Go $want:"
  say "  mkdir -p $sdk && curl -fsSL $tarball | tar -C $sdk --strip-components=1 -xz"
  say "  (make run finds it there; add $sdk/bin to PATH for the rest: make test, go)"
fi
if [ -z "$packages" ] && [ -n "$go" ]; then
  echo "$go"
  exit 0
fi
if ! ask "Install what is missing now?"; then
  say "make run INSTALL=1 installs it."
  exit 1
fi
if [ -n "$packages" ]; then
  # shellcheck disable=SC2086 # one word per package
  ${sudo}apt-get update -qq && DEBIAN_FRONTEND=noninteractive ${sudo}apt-get install -y -qq --no-install-recommends $packages >&2
fi
if [ -z "$go" ]; then
  mkdir -p "$sdk" && curl -fsSL "$tarball" | tar -C "$sdk" --strip-components=1 -xz
  find_go
fi
has_squid || { say "squid-openssl did not install"; exit 1; }
[ -n "$go" ] || { say "Go $want did not install in $sdk"; exit 1; }
echo "$go"
