#!/usr/bin/env bash
# Builds the images the Helm chart runs, with buildah, from scratch (no
# registry is pulled from), and writes each as a docker-archive for
# `cluster load-image`, `kind load image-archive` or `skopeo copy`:
#
#   localhost/squid-cache-exporter/squid:TAG                 Squid 5.7 (Debian bookworm squid-openssl) + store-ID helper + health check
#   localhost/squid-cache-exporter/squid-cache-exporter:TAG  the exporter, the ICAP service and the chart's secrets Job (static Go, scratch)
#   localhost/squid-cache-exporter/quayemu:TAG               test only: the quay emulation (hack/quayemu) and its proxy client (hack/proxycheck)
#
# TAG is the chart's appVersion, which the chart's image values default to.
# Containerfiles: hack/images/. The Squid root comes from
# hack/squid-root.sh bookworm (debootstrap, cached). Needs root, buildah, Go.
#
#   hack/build-images.sh [OUT]     # default OUT: _output/images
#
# SRC=head builds the binaries from the last commit (git archive) instead of
# the working tree.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-_output/images}")
tag=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' charts/squid-cache/Chart.yaml)
[ -n "$tag" ] || { echo "no appVersion in charts/squid-cache/Chart.yaml" >&2; exit 1; }
log() { printf '[images %s] %s\n' "$(date +%T)" "$*" >&2; }

command -v buildah >/dev/null || {
  log "installing buildah"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends buildah >/dev/null
}
command -v debootstrap >/dev/null || {
  log "installing debootstrap"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
}

work=$(mktemp -d)
B=(buildah --root "$work/storage" --runroot "$work/run" --storage-driver vfs)
cleanup() { "${B[@]}" rm -a >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$out" "$work/squid" "$work/exporter" "$work/quayemu"

version=$(git describe --tags --always --dirty 2>/dev/null || echo "$tag")
pkg=github.com/prometheus/common/version
ldflags="-s -w -X $pkg.Version=$version -X $pkg.Revision=$(git rev-parse HEAD 2>/dev/null || echo unknown) -X $pkg.Branch=$(git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)"
src=.
if [ "${SRC:-}" = head ]; then
  src=$work/src
  mkdir -p "$src"
  git archive HEAD | tar -x -C "$src"
fi
log "building static binaries from ${SRC:-the working tree}"
gobuild() { (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "$1" -o "$2" "$3"); }
for b in squid-cache-exporter squid-icap-service squid-cache-secrets; do
  gobuild "$ldflags" "$work/exporter/$b" "./cmd/$b"
done
gobuild "$ldflags" "$work/squid/squid-store-id-helper" ./cmd/squid-store-id-helper
gobuild "$ldflags" "$work/squid/squid-cache-healthcheck" ./cmd/squid-cache-healthcheck
gobuild "-s -w" "$work/quayemu/quayemu" ./hack/quayemu
gobuild "-s -w" "$work/quayemu/proxycheck" ./hack/proxycheck
cp /etc/ssl/certs/ca-certificates.crt "$work/exporter/"

root=$(hack/squid-root.sh bookworm)
log "packing the Squid root ($root) without docs, locales and apt lists"
tar -C "$root" --numeric-owner -cf "$work/squid/rootfs.tar" \
  --exclude=./proc/* --exclude=./sys/* --exclude=./dev/* --exclude=./tmp/* \
  --exclude=./var/lib/apt/lists/* --exclude=./var/cache/apt/* --exclude=./var/cache/debconf/*-old \
  --exclude=./usr/share/doc/* --exclude=./usr/share/man/* --exclude=./usr/share/locale/* --exclude=./usr/share/info/* \
  --exclude=./debootstrap .

build() { # NAME CONTEXT
  local image=localhost/squid-cache-exporter/$1:$tag
  log "buildah build $image"
  "${B[@]}" build --quiet --layers=false -f "hack/images/$1.Containerfile" -t "$image" "$2" >/dev/null
  rm -f "$out/$1.tar"
  "${B[@]}" push --quiet "$image" "docker-archive:$out/$1.tar:$image"
  log "wrote $out/$1.tar ($(du -h "$out/$1.tar" | cut -f1))"
}
build squid "$work/squid"
build squid-cache-exporter "$work/exporter"
build quayemu "$work/quayemu"
